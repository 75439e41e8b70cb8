"""Model architectures by name: the seed CNN of the original design, our more accurate one (fer_resnet) and our
one for short training budgets (fer_fastnet).

Every model takes raw 0-255 grayscale crops (rescaling lives inside the model) and is plain
Keras 3 built from Keras's own layers only, so the same code runs on the TensorFlow and JAX backends
and a saved model loads anywhere without this package.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
from keras import layers

from fer_helpers.config import IMAGE_SIZE

INPUT_SHAPE = (*IMAGE_SIZE, 1)
SEED_LEARNING_RATE = 5e-4
SEED_BLOCKS = ((64, 3), (128, 5), (512, 3), (512, 3))  # (filters, kernel size) of the original design
SEED_DENSE = (256, 512)
SEED_DROPOUT = 0.25
STANDARDIZE_EPSILON = (1 / 255) ** 2  # variance floor of per-image standardisation: one grey level
WHITENING_SIZE = 3  # side of fer_fastnet's whitening stem's filters
WHITENING_EPSILON = 5e-4  # added to each patch-covariance eigenvalue before the stem scales by 1/sqrt of it
WHITENING_FACES = 5000  # train faces whose patches fit the stem


def preprocess(
    inputs: keras.KerasTensor, augmentation: keras.Layer | None = None, standardize: bool = False
) -> keras.KerasTensor:
    """Scale 0-255 pixels to 0-1, augment (active in training only) if a layer is given, then
    optionally standardise each image."""
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = augmentation(x) if augmentation is not None else x
    return standardize_each_image(x) if standardize else x


def standardize_each_image(x: keras.KerasTensor) -> keras.KerasTensor:
    """Each image to zero mean and unit variance (a blank image stays 0): faces differ in contrast between
    data sets and webcams. A LayerNormalization over all pixels with no learned scale is exactly that."""
    return layers.LayerNormalization(axis=(1, 2, 3), center=False, scale=False, epsilon=STANDARDIZE_EPSILON,
                                     name="standardize")(x)


def compile_model(model: keras.Model, learning_rate: float, label_smoothing: float = 0.0) -> keras.Model:
    """Adam and categorical cross-entropy with accuracy, as every architecture here trains."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=["accuracy"],
    )
    return model


def seed_cnn(
    num_classes: int, input_shape: tuple[int, int, int] = INPUT_SHAPE, augmentation: keras.Layer | None = None
) -> keras.Model:
    """The original design: 4 conv blocks (64-128-512-512), dense 256 and 512, softmax of num_classes."""
    inputs = keras.Input(input_shape, name="face")
    x = preprocess(inputs, augmentation)
    for filters, kernel in SEED_BLOCKS:
        x = layers.Conv2D(filters, kernel, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(SEED_DROPOUT)(x)
    x = layers.Flatten()(x)
    for units in SEED_DENSE:
        x = layers.Dense(units)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Dropout(SEED_DROPOUT)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="expression", dtype="float32")(x)
    return compile_model(keras.Model(inputs, outputs, name="seed_cnn"), SEED_LEARNING_RATE)


def conv_bn_relu(x: keras.KerasTensor, filters: int, kernel: int = 3) -> keras.KerasTensor:
    """3x3 convolution (no bias: batch norm follows), batch norm, ReLU."""
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def residual_block(x: keras.KerasTensor, filters: int) -> keras.KerasTensor:
    """Two 3x3 conv-BN layers with an identity (or 1x1 projection) shortcut, then ReLU."""
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False)(x)
        shortcut = layers.BatchNormalization()(shortcut)
    x = conv_bn_relu(x, filters)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(layers.Add()([x, shortcut]))


def fer_resnet(
    num_classes: int,
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
    augmentation: keras.Layer | None = None,
    widths: tuple[int, ...] = (32, 64, 128, 256),
    blocks: int = 2,
    dropout: float = 0.4,
) -> keras.Model:
    """Ours: a conv stem at full resolution, then `blocks` residual blocks per stage at 24, 12 and 6 px, global pooling."""
    inputs = keras.Input(input_shape, name="face")
    x = conv_bn_relu(preprocess(inputs, augmentation, standardize=True), widths[0])
    for filters in widths[1:]:
        x = layers.MaxPooling2D(2)(x)
        for _ in range(blocks):
            x = residual_block(x, filters)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="expression", dtype="float32")(x)
    return compile_model(keras.Model(inputs, outputs, name="fer_resnet"), 1e-3, label_smoothing=0.1)


def fastnet_stage(x: keras.KerasTensor, filters: int) -> keras.KerasTensor:
    """A 3x3 convolution at the higher resolution, 2x2 max pooling, BN-ReLU, then a conv-BN-ReLU."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.BatchNormalization()(x)
    return conv_bn_relu(layers.Activation("relu")(x), filters)


def fer_fastnet(
    num_classes: int,
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
    augmentation: keras.Layer | None = None,
    widths: tuple[int, ...] = (48, 96, 192, 384),
    whitening: np.ndarray | None = None,
) -> keras.Model:
    """Ours for short runs, shaped like the CIFAR-10 speed records' network (airbench): a 3x3 stem, frozen to
    `whitening` (whitening_kernel of the train faces, which training.train passes; None: a learned stem), then per
    stage a convolution at the higher resolution, 2x2 max pooling, BN-ReLU and a conv-BN-ReLU, no shortcuts; global
    max pooling."""
    inputs = keras.Input(input_shape, name="face")
    x = preprocess(inputs, augmentation, standardize=True)
    stem = layers.Conv2D(2 * WHITENING_SIZE**2, WHITENING_SIZE, use_bias=False, trainable=whitening is None, name="stem")
    x = stem(x)
    if whitening is not None:
        stem.set_weights([whitening])
    for filters in widths:
        x = fastnet_stage(x, filters)
    x = layers.GlobalMaxPooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="expression", dtype="float32")(x)
    return compile_model(keras.Model(inputs, outputs, name="fer_fastnet"), 1e-3, label_smoothing=0.1)


def whitening_kernel(faces: np.ndarray) -> np.ndarray:
    """The (3, 3, 1, 18) kernel of fer_fastnet's stem: the eigenvectors of the 3x3 patch covariance of faces
    standardised as the model does, each scaled by 1/sqrt(eigenvalue + WHITENING_EPSILON), and their negatives
    (airbench's whitening), from up to WHITENING_FACES of `faces` ((n, h, w, 1), 0-255), evenly spaced through them."""
    if len(faces) == 0:
        raise ValueError("The whitening stem needs at least one train face")
    sample = faces[:: max(1, len(faces) // WHITENING_FACES)][:WHITENING_FACES, :, :, 0].astype("float64") / 255
    sample = (sample - sample.mean(axis=(1, 2), keepdims=True)) / np.sqrt(
        sample.var(axis=(1, 2), keepdims=True) + STANDARDIZE_EPSILON)
    covariance, count = np.zeros((WHITENING_SIZE**2,) * 2), 0
    for chunk in np.array_split(sample, math.ceil(len(sample) / 500)):  # 500 faces' patches at a time: ~80 MB
        patches = np.lib.stride_tricks.sliding_window_view(chunk, (WHITENING_SIZE,) * 2, axis=(1, 2))
        patches = patches.reshape(-1, WHITENING_SIZE**2)
        covariance, count = covariance + patches.T @ patches, count + len(patches)
    values, vectors = np.linalg.eigh(covariance / count)
    scaled = (vectors / np.sqrt(values + WHITENING_EPSILON)).T  # row i: eigenvector i, scaled
    kernel = scaled.reshape(-1, WHITENING_SIZE, WHITENING_SIZE).transpose(1, 2, 0)[:, :, np.newaxis, :]
    return np.concatenate([kernel, -kernel], axis=-1).astype("float32")


def fitted_options(name: str, faces: np.ndarray) -> dict:
    """The options an architecture takes from the train faces: whitening_kernel for one with a `whitening` option."""
    builder = ARCHITECTURES.get(name)
    takes_whitening = builder is not None and "whitening" in inspect.signature(builder).parameters
    return {"whitening": whitening_kernel(faces)} if takes_whitening else {}


def networks(model: keras.Model) -> list[keras.Model]:
    """The networks a model runs: the members of an average_ensemble (input, whole models, their Average), else the
    model itself (also one of a user's own that happens to end in an Average of plain layers)."""
    inner = model.layers[1:-1]
    if isinstance(model.layers[-1], layers.Average) and inner and all(isinstance(layer, keras.Model) for layer in inner):
        return inner
    return [model]


def first_networks(model: keras.Model, count: int) -> keras.Model:
    """A model that runs only the first `count` of `model`'s networks (their average; one network alone as itself)."""
    found = networks(model)
    if not 1 <= count <= len(found):
        raise ValueError(f"networks must be 1 to {len(found)} for this model, which runs {len(found)}; got {count}")
    if count == len(found):
        return model
    return found[0] if count == 1 else average_ensemble(found[:count])


def average_ensemble(models: list[keras.Model], name: str = "ensemble") -> keras.Model:
    """One model whose output is the mean of its members' class probabilities (members share input and classes);
    a member that is itself an ensemble adds its networks, so each network weighs the same."""
    members = [network for model in models for network in networks(model)]
    shapes = {(tuple(m.input_shape[1:]), m.output_shape[-1]) for m in members}
    if len(members) < 2 or len(shapes) != 1:
        raise ValueError(f"An ensemble needs two or more models with one input shape and class count, got {sorted(shapes)}")
    inputs = keras.Input(members[0].input_shape[1:], name="face")
    renamed = [keras.Model(m.inputs, m.outputs[0], name=f"member_{i}") for i, m in enumerate(members)]
    outputs = layers.Average(name="expression", dtype="float32")([member(inputs) for member in renamed])
    return keras.Model(inputs, outputs, name=name)


ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {"seed_cnn": seed_cnn, "fer_resnet": fer_resnet, "fer_fastnet": fer_fastnet}


def build_model(name: str, num_classes: int, **options) -> keras.Model:
    """Build and compile an architecture by its registry name."""
    if name not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](num_classes, **options)


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds for one image through the convolution and dense layers."""
    total = 0
    for layer in _all_layers(model):
        if isinstance(layer, layers.Conv2D):
            height, width, out_channels = layer.output.shape[1:]
            kernel_h, kernel_w = layer.kernel_size
            total += height * width * out_channels * kernel_h * kernel_w * layer.input.shape[-1] // layer.groups
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)


def _all_layers(model: keras.Model) -> list[keras.Layer]:
    """Layers of a model, with nested models opened up."""
    found = []
    for layer in model.layers:
        found.extend(_all_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return found


def diagram(model: keras.Model, path: str | Path) -> Path:
    """Save plot_model's diagram (shapes and layer names) as PNG; needs Graphviz's `dot` binary."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keras.utils.plot_model(model, to_file=str(path), show_shapes=True, show_layer_names=True, dpi=60)
    if not path.exists():
        raise RuntimeError("plot_model wrote nothing: install Graphviz (apt-get install graphviz) and pydot")
    return path
