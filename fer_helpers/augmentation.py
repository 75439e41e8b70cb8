"""Training-time augmentation of faces, in one of two places: Keras layers inside the model (the default), or the
same transforms in numpy on the host, in the batch feed, for backends where those layers are slow (JAX on a GPU:
docs/experiments.md measured a fer_resnet step 60x slower with them)."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from fer_helpers.config import SEED

PLACES = ("model", "host")
LEVELS = ("full", "light")  # all the transforms below; the flip and shift only (for short runs: docs/experiments.md)
ROTATION = 0.04  # share of a full turn, either way
SHIFT = 0.1  # share of the height and width, either way
ZOOM = 0.1  # share of the size, in or out
CONTRAST = 0.3  # the contrast factor's range around 1
ERASED_AREA = (0.02, 0.25)  # share of the face a random-erasing patch covers


def keras_layers(seed: int = SEED, erasing: float = 0.0, level: str = "full") -> keras.Sequential:
    """Random flip, small rotation, shift, zoom and contrast (`level` "light": the flip and shift only), and random
    erasing of a patch (`erasing`: Keras's factor, about half that share of faces get a patch of 2-25% of the face);
    active in training only."""
    check_level(level)
    flip = layers.RandomFlip("horizontal", seed=seed)
    shift = layers.RandomTranslation(SHIFT, SHIFT, fill_mode="nearest", seed=seed)
    steps = [flip, shift] if level == "light" else [
        flip,
        layers.RandomRotation(ROTATION, fill_mode="nearest", seed=seed),
        shift,
        layers.RandomZoom(ZOOM, fill_mode="nearest", seed=seed),
        layers.RandomContrast(CONTRAST, seed=seed),
    ]
    if erasing:
        steps.append(layers.RandomErasing(factor=erasing, scale=ERASED_AREA, value_range=(0, 1), seed=seed))
    return keras.Sequential(steps, name="augmentation")


def check_level(level: str) -> None:
    """Refuse an augmentation level that does not exist."""
    if level not in LEVELS:
        raise ValueError(f"Unknown augmentation level {level!r}; choose one of {LEVELS}")


def augment_batch(images: np.ndarray, rng: np.random.Generator, erasing: float = 0.0, level: str = "full") -> np.ndarray:
    """keras_layers' transforms in numpy for a batch of (n, h, w, 1) faces of 0-255 values: each face flipped or not,
    rotated, shifted and zoomed by one affine warp (bilinear, edges extended), its contrast scaled, and with
    `erasing` a patch filled with noise, each over the ranges Keras's layers use (`level` "light": no rotation, zoom
    or contrast)."""
    check_level(level)
    full = level == "full"
    warped = _warp(images[..., 0].astype("float32"), rng, ROTATION if full else 0.0, ZOOM if full else 0.0)
    mean = warped.mean(axis=(1, 2), keepdims=True)
    contrast = CONTRAST if full else 0.0
    factor = rng.uniform(1 - contrast, 1 + contrast, (len(images), 1, 1))
    faces = np.clip((warped - mean) * factor + mean, 0, 255)
    if erasing:
        faces = _erase(faces, rng, erasing)
    return faces[..., np.newaxis].astype("float32")


def _warp(faces: np.ndarray, rng: np.random.Generator, rotation: float, zoom: float) -> np.ndarray:
    """Sample each (h, w) face where a random flip, rotation, shift and zoom of the output grid lands."""
    n, height, width = faces.shape
    angle = rng.uniform(-rotation, rotation, n).astype("float32") * 2 * np.pi
    scale = rng.uniform(1 - zoom, 1 + zoom, n).astype("float32")
    shift = (rng.uniform(-SHIFT, SHIFT, (n, 2)) * (height, width)).astype("float32")
    flip = np.where(rng.random(n) < 0.5, -1, 1).astype("float32")
    y, x = np.mgrid[:height, :width].astype("float32")
    y, x = y - (height - 1) / 2, x - (width - 1) / 2
    cos, sin = (np.cos(angle) * scale)[:, None, None], (np.sin(angle) * scale)[:, None, None]
    rows = cos * y - sin * x + shift[:, :1, None] + (height - 1) / 2
    cols = flip[:, None, None] * (sin * y + cos * x) + shift[:, 1:, None] + (width - 1) / 2
    return _bilinear(faces, np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1))


def _bilinear(faces: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Each face read at fractional (rows, cols) inside it, blending the four pixels around each point."""
    n, height, width = faces.shape
    top, left = np.minimum(rows.astype(int), height - 2), np.minimum(cols.astype(int), width - 2)
    down, right = rows - top, cols - left
    at = np.arange(n)[:, None, None] * height * width + top * width + left  # index into all the faces' pixels
    upper = np.take(faces, at) * (1 - right) + np.take(faces, at + 1) * right
    lower = np.take(faces, at + width) * (1 - right) + np.take(faces, at + width + 1) * right
    return upper * (1 - down) + lower * down


def _erase(faces: np.ndarray, rng: np.random.Generator, erasing: float) -> np.ndarray:
    """Random erasing as Keras's RandomErasing draws it: a face is erased with a probability drawn from
    (0, erasing), its patch's sides are the square roots of shares drawn from ERASED_AREA, its fill normal noise."""
    n, height, width = faces.shape
    sides = np.sqrt(rng.uniform(*ERASED_AREA, (n, 2))) * (height, width)
    corner = rng.uniform(0, 1, (n, 2)) * ((height, width) - sides)
    erased = rng.uniform(0, 1, n) < rng.uniform(0, erasing, n)
    y, x = np.arange(height)[None, :, None], np.arange(width)[None, None, :]
    inside = ((y >= corner[:, :1, None]) & (y < corner[:, :1, None] + sides[:, :1, None])
              & (x >= corner[:, 1:, None]) & (x < corner[:, 1:, None] + sides[:, 1:, None]))
    faces = faces.copy()
    noise = np.clip(rng.normal(0, 1, (erased.sum(), height, width)), 0, 1) * 255  # Keras's fill: N(0, 1) clipped to 0-1
    faces[erased] = np.where(inside[erased], noise, faces[erased])
    return faces
