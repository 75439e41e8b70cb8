"""air48w*: fer_fastnet (widths 48-96-192-384) with airbench's patch-whitening stem, which models.whitening_kernel
computes (these runs fitted it to the first 5,000 train faces; fer_fastnet in training.train takes 5,000 spread
through the train split), in air.py's 15-minute run.

    python3 docs/experiments/airw.py RUN_ID [BATCH] [TRAIN_SEED] [full|light]

`light`: augmentation by random flip and shift only (training's augment="light").
"""
import sys

from air import train_and_score

from fer_helpers import data, models

FIRST_FACES = 5000  # the train faces these runs fitted the stem to (the split is ordered by class)

if __name__ == "__main__":
    run_id = sys.argv[1]
    batch_size = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1337
    level = sys.argv[4] if len(sys.argv) > 4 else "full"
    dataset = data.load_dataset(seed=1337)
    kernel = models.whitening_kernel(dataset.arrays("train")[0][:FIRST_FACES])
    models.ARCHITECTURES["airnet_whitened"] = lambda num_classes, **options: models.fer_fastnet(
        num_classes, whitening=kernel, **options)
    train_and_score(dataset, "airnet_whitened", run_id, batch_size, seed=seed, augment=level)
