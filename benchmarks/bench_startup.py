"""Time to the first answer: a fresh Python process that labels the faces in one photo, as a user's script or the
command line does once per call (imports, model load, detection, classification). Ours with the shipped model, whose
TFLite copy runs on LiteRT without Keras or TensorFlow; ours with the same model when its copy must first be compared
with the Keras model (its metadata without the files' digests); our command line; the `fer` package; and importing
Keras alone. Runs interleaved, medians reported.

    FER_DATA_DIR=../shared/data/fer2013 python benchmarks/bench_startup.py [--repeats 5]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import pandas as pd
from peers import PEER_DIR, import_fer
from report import markdown_table, write_section

from fer_helpers import config, data, lite, profiling, saving, synthetic

OURS_API = "ours: Recogniser(model).detect_emotions(photo)"
OURS_COMPARED = "ours, the copy compared with the Keras model first"
OURS_CLI = "ours: python -m fer_helpers predict photo"
FER = "fer package: FER(mtcnn=False).detect_emotions(photo)"
IMPORT_ONLY = "import keras (and TensorFlow) alone, for reference"
# Each prints the number of faces it found, so a contender that finds none is seen, not timed as if it worked.
IMPORT_SCRIPT = "import keras; print('-')"
API_SCRIPT = "import sys; from fer_helpers.inference import Recogniser; print(len(Recogniser(sys.argv[1]).detect_emotions(sys.argv[2])))"
FER_SCRIPT = ("import sys; sys.path.insert(0, sys.argv[1]); import cv2; from fer.fer import FER; "
              "print(len(FER(mtcnn=False).detect_emotions(cv2.imread(sys.argv[2]))))")


def model_without_digests(folder: Path) -> Path:
    """A copy of the shipped model's files whose metadata.json lacks the digests, so its TFLite copy is compared."""
    for name in (config.MODEL_FILE, lite.TFLITE_FILE):
        shutil.copyfile(config.SHIPPED_MODEL.with_name(name), folder / name)
    metadata = saving.read_metadata(config.SHIPPED_MODEL)
    metadata.pop(saving.DIGESTS)
    (folder / saving.METADATA_FILE).write_text(json.dumps(metadata))
    return folder / config.MODEL_FILE


def timed_run(command: list[str]) -> tuple[float, str]:
    """Seconds a command takes in a fresh process, and the number of faces it reported (the command line's JSON
    summary, else the last line printed)."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"})
    seconds = time.perf_counter() - started
    printed = done.stdout.strip()
    return seconds, str(json.loads(printed)["faces"]) if printed.startswith("{") else printed.splitlines()[-1]


def main() -> None:
    """Time each contender `repeats` times, interleaved, and write the table to docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import_fer()  # installs the peer on first use, outside the timed runs
    work = Path(tempfile.mkdtemp(prefix="bench_startup-"))
    tile = synthetic.face_tile(data.load_dataset().arrays("train")[0][0])
    photo = work / "photo.png"
    cv2.imwrite(str(photo), tile)
    compared = model_without_digests(work)
    python = sys.executable
    contenders = {
        OURS_API: [python, "-c", API_SCRIPT, str(config.SHIPPED_MODEL), str(photo)],
        OURS_COMPARED: [python, "-c", API_SCRIPT, str(compared), str(photo)],
        OURS_CLI: [python, "-m", "fer_helpers", "predict", str(photo), "--model", str(config.SHIPPED_MODEL),
                   "--output", str(work / "predictions")],
        FER: [python, "-c", FER_SCRIPT, str(PEER_DIR), str(photo)],
        IMPORT_ONLY: [python, "-c", IMPORT_SCRIPT],
    }
    times, faces = {name: [] for name in contenders}, {}
    for _ in range(args.repeats):
        for name, command in contenders.items():
            seconds, faces[name] = timed_run(command)
            times[name].append(seconds)
    shutil.rmtree(work)
    peer = statistics.median(times[FER])
    table = pd.DataFrame.from_dict({name: {"median s": statistics.median(runs), "fastest s": min(runs), "slowest s": max(runs),
                                           "fer package's time / this": peer / statistics.median(runs),
                                           "faces found": faces[name]}
                                    for name, runs in times.items()}, orient="index").rename_axis("fresh process, one photo")
    print(table.to_string())
    write_section("startup", f"""## Time to the first answer (`benchmarks/bench_startup.py`)
A fresh Python process labels the faces in one {tile.shape[1]}x{tile.shape[0]} photo (a FER2013 train face, upscaled and framed): imports,
model load, detection and classification, as a script or each command-line call pays once. Median of {args.repeats}
interleaved runs on {profiling.hardware()}. Ours loads the shipped model, whose `metadata.json` records the SHA-256 of
`model.keras` and `model.tflite`: when both still match, the TFLite copy runs on LiteRT (`ai-edge-litert`) alone,
without importing Keras or TensorFlow. The second row is the same model with the digests removed, so Keras loads and
the copy is first compared with the Keras model, as every load did before. The last row is importing Keras (and so
TensorFlow) alone: what the `fer` package pays before anything else, and ours only when it needs the Keras model.

{markdown_table(table)}
""")


if __name__ == "__main__":
    main()
