"""Model cards: parameters, multiply-adds, CPU latency for 1 and 32 faces, training images per second."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from fer_helpers.models import build_model, multiply_adds

LATENCY_REPEATS = 30
TRAIN_STEPS = 8
# /proc/cpuinfo flag and its name in hardware(), best first: what decides CPU training speed here
VECTOR_EXTENSIONS = (("amx_bf16", "AMX BF16"), ("avx512_bf16", "AVX-512 BF16"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))


def hardware() -> str:
    """What this process runs on, measured: CPU model, usable cores and best vector extension, and the GPUs the backend
    sees. The extension matters: a 2-core CPU without AVX-512 BF16 trains several times slower than one with it."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpu = f"{_cpuinfo('model name') or platform.processor() or platform.machine()}, {cores} cores"
    flags = cpu_flags()
    extension = next((label for flag, label in VECTOR_EXTENSIONS if flag in flags), None)
    cpu += f", {extension}" if extension else ""
    gpus = gpu_names()
    return f"{cpu}; GPU: {', '.join(gpus)}" if gpus else f"{cpu}; no GPU"


def cpu_flags() -> set[str]:
    """The CPU's feature flags as /proc/cpuinfo lists them; empty where there is no such file."""
    return set((_cpuinfo("flags") or "").split())


def _cpuinfo(field: str) -> str | None:
    """The first value of a /proc/cpuinfo field (the first CPU's), or None."""
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        key, _, value = line.partition(":")
        if key.strip() == field:
            return value.strip()
    return None


def gpu_names() -> list[str]:
    """The GPUs the Keras backend sees."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return [device.name for device in tf.config.list_physical_devices("GPU")]
    if keras.backend.backend() == "jax":
        import jax

        return [device.device_kind for device in jax.devices() if device.platform == "gpu"]
    return []


def latency_ms(model: keras.Model, batch: int, repeats: int = LATENCY_REPEATS) -> float:
    """Median milliseconds of one compiled forward call on `batch` random faces (after a warm-up)."""
    faces = np.random.default_rng(0).integers(0, 256, (batch, *model.input_shape[1:]), dtype=np.uint8)
    model.predict_on_batch(faces)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict_on_batch(faces)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def training_images_per_second(model: keras.Model, batch_size: int = 64, steps: int = TRAIN_STEPS) -> float:
    """Median images/s of train_on_batch on random faces (changes the model's weights: use a fresh one)."""
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (batch_size, *model.input_shape[1:]), dtype=np.uint8)
    targets = keras.utils.to_categorical(rng.integers(0, model.output_shape[-1], batch_size), model.output_shape[-1])
    model.train_on_batch(faces, targets)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        model.train_on_batch(faces, targets)
        times.append(time.perf_counter() - started)
    return batch_size / statistics.median(times)


def model_card(name: str, num_classes: int = 7, measure_training: bool = True) -> dict:
    """Size, cost and measured speed of an architecture on this machine."""
    model = build_model(name, num_classes)
    card = {
        "architecture": name,
        "parameters": model.count_params(),
        "multiply_adds_M": round(multiply_adds(model) / 1e6, 1),
        "latency_1_face_ms": round(latency_ms(model, 1), 2),
        "latency_32_faces_ms": round(latency_ms(model, 32), 2),
    }
    if measure_training:
        card["training_images_per_s"] = round(training_images_per_second(build_model(name, num_classes)), 1)
    return card


def compare(names: list[str], num_classes: int = 7, measure_training: bool = True) -> pd.DataFrame:
    """Model cards of several architectures as one table."""
    return pd.DataFrame([model_card(n, num_classes, measure_training) for n in names]).set_index("architecture")

