"""TensorFlow Lite copy of a classifier, for fast inference on the CPU.

The copy is dynamic-range quantised: weights stored as int8, activations quantised on the fly by
TFLite's XNNPACK kernels. On this project's 2-core CPU that classifies a face with a two-network
fer_resnet ensemble in 0.87 ms against 2.38 ms for a float32 copy, and with a four-network one in
1.2 ms against 9.3 ms for a Keras call; it moves the validation accuracy by 0.04-0.18 points (0.10 for the five
networks shipped now) (docs/experiments.md). `saving.save_model` writes
`model.tflite` beside `model.keras` and records both files' digests; the Recogniser uses the copy as it is when
they still match, else after checking, at load time, that it agrees with the Keras model.

    lite = LiteModel.from_file("artifacts/models/fer_resnet/model.tflite")
    probabilities = lite(crops)                  # (n, 48, 48, 1) uint8 -> (n, classes)
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fer_helpers.config import RUNTIMES

if TYPE_CHECKING:  # running a copy needs neither Keras nor TensorFlow (9 s to import); converting one needs both
    import keras

TFLITE_FILE = "model.tflite"
# Largest class-probability difference allowed between the TFLite copy and the Keras model. Quantisation moves a
# probability by at most 0.029 on the 2,872 validation faces (0.003 on the random probe faces) for the ensembles
# measured in docs/experiments.md; a copy of another model differs by 0.14 or more on the probes.
AGREEMENT_TOLERANCE = 0.05
PROBE_FACES = 4


def available() -> bool:
    """Whether this environment can convert Keras models to TFLite (the TensorFlow backend with tf.lite)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return hasattr(tf, "lite") and hasattr(tf.lite, "TFLiteConverter")


def convert(model: keras.Model) -> bytes:
    """The model as a dynamic-range quantised TFLite flatbuffer (int8 weights, float input and output)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]  # no representative data: dynamic-range quantisation
    with contextlib.redirect_stdout(io.StringIO()):  # Keras's export prints where it saved a temporary SavedModel
        return converter.convert()


class LiteModel:
    """A LiteRT (TFLite) interpreter with a batch size that follows its input; safe to call from several threads."""

    def __init__(self, flatbuffer: bytes) -> None:
        # TensorFlow's own tf.lite.Interpreter, packaged without TensorFlow
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_content=flatbuffer, num_threads=os.cpu_count())
        self._input = self._interpreter.get_input_details()[0]
        output = self._interpreter.get_output_details()[0]
        self._output, self.num_classes = output["index"], int(output["shape"][-1])
        self.input_shape = tuple(int(v) for v in self._input["shape"][1:])
        self._interpreter.allocate_tensors()  # now, while a caller may be hiding the runtime's start-up line
        self._batch = 0
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path) -> LiteModel:
        """Load a .tflite file."""
        return cls(Path(path).read_bytes())

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch shaped like the model's input."""
        with self._lock:
            if len(batch) != self._batch:  # re-plan tensors only when the number of faces changes
                self._interpreter.resize_tensor_input(self._input["index"], (len(batch), *self.input_shape))
                self._interpreter.allocate_tensors()
                self._batch = len(batch)
            self._interpreter.set_tensor(self._input["index"], np.asarray(batch, dtype=self._input["dtype"]))
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output).copy()

    def predict(self, images: np.ndarray, batch_size: int = 256, verbose: int = 0) -> np.ndarray:
        """Class probabilities for any number of images (none gives an empty table), `batch_size` at a time
        (Keras's predict, for evaluation)."""
        batches = [self(images[start:start + batch_size]) for start in range(0, len(images), batch_size)]
        return np.concatenate([np.empty((0, self.num_classes), np.float32), *batches])


def disagreement(lite: LiteModel, model: keras.Model) -> float:
    """Largest probability difference between the two copies on a few fixed random faces."""
    probe = np.random.default_rng(0).integers(0, 256, (PROBE_FACES, *model.input_shape[1:]), dtype=np.uint8)
    if lite.input_shape != tuple(model.input_shape[1:]):
        return float("inf")
    return float(np.abs(lite(probe) - np.asarray(model.predict_on_batch(probe))).max())


def unusable(runtime: str, converting: bool = False) -> str | None:
    """Why `runtime` cannot classify with TFLite here ('keras' chose not to; `converting`: the copy must be made first),
    or None; refuses an unknown runtime."""
    if runtime not in RUNTIMES:
        raise ValueError(f"Unknown runtime {runtime!r}; choose one of {RUNTIMES}")
    if runtime == "keras":
        return "runtime keras"
    if importlib.util.find_spec("ai_edge_litert") is None:
        return "TFLite needs the ai-edge-litert package (pip install ai-edge-litert)"
    if converting and not available():
        import keras

        return f"Converting to TFLite needs the TensorFlow backend with tf.lite; this is {keras.backend.backend()}"
    return None


def converted(model: keras.Model, runtime: str = "auto") -> LiteModel | None:
    """A quantised copy of `model` converted now (seconds), for a model with no file of its own; None for runtime
    'keras', or 'auto' where TFLite is unavailable (runtime 'tflite' raises a ValueError there)."""
    problem = unusable(runtime, converting=True)
    if problem and runtime == "tflite":
        raise ValueError(problem)
    return None if problem else LiteModel(convert(model))


def load_beside(model_path: str | Path, model: keras.Model, runtime: str = "auto") -> LiteModel | None:
    """The model.tflite beside `model_path` if `runtime` allows it and it agrees with `model`, else None
    (runtime 'keras'; or 'auto' with no usable copy, which warns if the copy is stale). Runtime 'tflite'
    raises a ValueError saying why instead of falling back."""
    problem = unusable(runtime)
    path = Path(model_path).with_name(TFLITE_FILE)
    if not problem and not path.exists():
        problem = f"No {TFLITE_FILE} beside {model_path} (saving.save_model writes one)"
    if not problem:
        candidate = LiteModel.from_file(path)
        gap = disagreement(candidate, model)
        if gap <= AGREEMENT_TOLERANCE:
            return candidate
        problem = f"{path} disagrees with the Keras model by {gap:.2g} (stale?): re-save the model to rewrite it"
        if runtime == "auto":
            warnings.warn(problem + "; classifying with Keras instead")
    if runtime == "tflite":
        raise ValueError(problem)
    return None
