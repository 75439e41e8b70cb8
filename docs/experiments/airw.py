"""air48w: air.py's airnet (widths 48-96-192-384) with airbench's patch-whitening stem: a frozen 3x3 convolution
whose 18 filters are the eigenvectors of the train faces' 3x3 patch covariance (after the model's per-face
standardisation), each scaled by 1/sqrt(eigenvalue + eps), and their negatives.

    python3 docs/experiments/airw.py RUN_ID [BATCH] [TRAIN_SEED] [full|light]

`light`: augmentation by random flip and shift only, without augmentation.keras_layers' rotation, zoom and contrast.
"""
import sys

import keras
import numpy as np
from air import airnet, train_and_score
from keras import layers

from fer_helpers import augmentation, data, models

WHITEN_SIZE, WHITEN_EPS, WHITEN_FACES = 3, 5e-4, 5000


def whitening_filters(images: np.ndarray) -> np.ndarray:
    """(k, k, 1, 2*k*k) filters that whiten k x k patches of standardised faces, and their negatives."""
    faces = images[:WHITEN_FACES, :, :, 0].astype("float64") / 255
    faces = (faces - faces.mean(axis=(1, 2), keepdims=True)) / np.sqrt(faces.var(axis=(1, 2), keepdims=True)
                                                                       + models.STANDARDIZE_EPSILON)
    patches = np.lib.stride_tricks.sliding_window_view(faces, (WHITEN_SIZE, WHITEN_SIZE), axis=(1, 2))
    patches = patches.reshape(-1, WHITEN_SIZE * WHITEN_SIZE)
    values, vectors = np.linalg.eigh(patches.T @ patches / len(patches))
    scaled = vectors / np.sqrt(values + WHITEN_EPS)  # column i: eigenvector i, scaled
    kernel = scaled.T.reshape(-1, WHITEN_SIZE, WHITEN_SIZE).transpose(1, 2, 0)[:, :, np.newaxis, :]
    return np.concatenate([kernel, -kernel], axis=-1).astype("float32")


def light_layers(seed: int, erasing: float = 0.0) -> keras.Sequential:
    """augmentation.keras_layers' flip and shift only (erasing is 0 in these runs)."""
    return keras.Sequential([layers.RandomFlip("horizontal", seed=seed),
                             layers.RandomTranslation(augmentation.SHIFT, augmentation.SHIFT, fill_mode="nearest",
                                                      seed=seed)], name="augmentation")


if __name__ == "__main__":
    run_id = sys.argv[1]
    batch_size = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1337
    if len(sys.argv) > 4 and sys.argv[4] == "light":
        augmentation.keras_layers = light_layers
    dataset = data.load_dataset(seed=1337)
    filters = whitening_filters(dataset.arrays("train")[0])
    models.ARCHITECTURES["airnet_whitened"] = lambda num_classes, **options: airnet(num_classes, stem=filters, **options)
    train_and_score(dataset, "airnet_whitened", run_id, batch_size, seed=seed)
