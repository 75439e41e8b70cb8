"""Data loading: decode all of FER2013 to arrays, reload from cache, versus Keras image_dataset_from_directory.

    FER_DATA_DIR=../shared/data/fer2013 python benchmarks/bench_data.py [--repeats 3]
"""

import argparse
import os
import tempfile

import numpy as np

from report import median_seconds, write_section


def keras_load(root: str) -> int:
    """The usual peer: keras.utils.image_dataset_from_directory, iterated into arrays."""
    import keras

    total = 0
    for split in ("train", "test"):
        stream = keras.utils.image_dataset_from_directory(
            os.path.join(root, split), color_mode="grayscale", image_size=(48, 48), batch_size=512, verbose=False
        )
        total += sum(len(np.asarray(images)) for images, _ in stream)
    return total


def main() -> None:
    """Time each loader and write the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ["FER_CACHE_DIR"] = tempfile.mkdtemp(prefix="fer-bench-cache-")
    from fer_helpers import data, profiling

    root = str(data.resolve_data_dir())
    images = sum(len(p) for p in data.load_dataset(root, use_cache=False).splits.values())
    decode, _ = median_seconds(lambda: data.load_dataset(root, use_cache=False), args.repeats)
    data.load_dataset(root)  # writes the cache
    cached, _ = median_seconds(lambda: data.load_dataset(root), args.repeats)
    peer, _ = median_seconds(lambda: keras_load(root), args.repeats)
    rows = [
        ("fer_helpers.data.load_dataset, decode (no cache)", decode),
        ("fer_helpers.data.load_dataset, from cache", cached),
        ("keras image_dataset_from_directory, to arrays", peer),
    ]
    table = "\n".join(f"| {name} | {seconds:.2f} | {peer / seconds:.1f}x |" for name, seconds in rows)
    markdown = f"""
## Data loading (`benchmarks/bench_data.py`)

All {images:,} FER2013 images (train + test) to 48x48 grayscale arrays; median of {args.repeats} runs
on {profiling.hardware()}, side by side in one run.
Targets: decode under 20 s, cached reload under 2 s.

| loader | median seconds | speed vs Keras |
|---|---:|---:|
{table}
"""
    print(markdown)
    write_section("data-loading", markdown)


if __name__ == "__main__":
    main()
