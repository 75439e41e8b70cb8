"""Architectures: shapes, the seed CNN's exact design, learning on real faces, multiply-adds, diagrams."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import TINY_NETWORK
from keras import layers

from fer_helpers import augmentation, data, lite, models, profiling, training

OURS = ("fer_resnet", "fer_fastnet")


@pytest.mark.parametrize("name", sorted(models.ARCHITECTURES))
@pytest.mark.parametrize("num_classes", [7, 8])
def test_output_shape_follows_the_classes(name, num_classes):
    model = models.build_model(name, num_classes)
    assert model.input_shape == (None, 48, 48, 1)
    assert model.output_shape == (None, num_classes)
    probabilities = model.predict(np.zeros((2, 48, 48, 1), np.uint8), verbose=0)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_seed_cnn_is_the_original_design():
    model = models.seed_cnn(8)
    kinds = [type(layer).__name__ for layer in model.layers]
    block = ["Conv2D", "BatchNormalization", "Activation", "MaxPooling2D", "Dropout"]
    dense = ["Dense", "BatchNormalization", "Activation", "Dropout"]
    assert kinds == ["InputLayer", "Rescaling"] + block * 4 + ["Flatten"] + dense * 2 + ["Dense"]
    convs = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    assert [(c.filters, c.kernel_size, c.padding) for c in convs] == [
        (64, (3, 3), "same"), (128, (5, 5), "same"), (512, (3, 3), "same"), (512, (3, 3), "same")]
    assert [layer.units for layer in model.layers if isinstance(layer, layers.Dense)] == [256, 512, 8]
    assert {layer.rate for layer in model.layers if isinstance(layer, layers.Dropout)} == {0.25}
    assert all(layer.activation.__name__ == "relu" for layer in model.layers if isinstance(layer, layers.Activation))
    assert model.layers[-1].activation.__name__ == "softmax"
    assert float(model.optimizer.learning_rate) == pytest.approx(5e-4)
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)


@pytest.mark.parametrize("name", sorted(models.ARCHITECTURES))
def test_a_few_steps_on_real_faces_lower_the_loss(name, fer_dir):
    dataset = data.load_dataset(fer_dir, limit_per_class=3)
    images, labels = dataset.arrays("test")
    targets = keras.utils.to_categorical(labels, 7)
    keras.utils.set_random_seed(0)
    model = models.build_model(name, 7)
    losses = [float(np.ravel(model.train_on_batch(images, targets))[0]) for _ in range(6)]  # 2.8 to 0.6, 2.3 to 1.6
    assert np.mean(losses[-2:]) < losses[0]  # training-mode loss: BN statistics need many steps to settle


def test_multiply_adds_by_hand():
    inputs = keras.Input((8, 8, 2))
    x = layers.Conv2D(4, 3, padding="same")(inputs)  # 8*8*4 outputs x 3*3*2 each = 4608
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(5)(x)  # 64 inputs x 5 = 320
    assert models.multiply_adds(keras.Model(inputs, outputs)) == 4608 + 320


def test_ours_is_cheaper_than_the_seed():
    seed, ours = models.build_model("seed_cnn", 7), models.build_model("fer_resnet", 7)
    assert models.multiply_adds(ours) < models.multiply_adds(seed)  # 227M against 290M multiply-adds
    assert ours.count_params() * 1.5 < seed.count_params()  # 2.8M against 4.5M parameters


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown architecture 'vgg99'"):
        models.build_model("vgg99", 7)


def test_plot_model_writes_a_png(tmp_path):
    path = models.diagram(models.build_model("fer_resnet", 7), tmp_path / "diagram.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_model_card_fields():
    card = profiling.model_card("fer_resnet", measure_training=False)
    assert card["parameters"] > 0 and card["multiply_adds_M"] > 1
    assert 0 < card["latency_1_face_ms"] < card["latency_32_faces_ms"] * 32


def test_fastnet_convolves_before_each_pooling_and_costs_about_half_of_fer_resnet():
    fast = models.build_model("fer_fastnet", 7)
    kinds = [type(layer).__name__ for layer in fast.layers]
    pools = [i for i, kind in enumerate(kinds) if kind == "MaxPooling2D"]
    assert len(pools) == 4 and all(kinds[i - 1] == "Conv2D" for i in pools)
    assert "Add" not in kinds and kinds[-2:] == ["GlobalMaxPooling2D", "Dense"]
    assert models.multiply_adds(fast) < 0.55 * models.multiply_adds(models.build_model("fer_resnet", 7))  # 110M against 227M


def test_fastnet_stem_fitted_to_train_faces_whitens_the_patches_of_test_faces(fer_dir):
    dataset = data.load_dataset(fer_dir, limit_per_class=40)
    model = models.build_model("fer_fastnet", 7, whitening=models.whitening_kernel(dataset.arrays("train")[0]))
    stem = model.get_layer("stem")
    assert not stem.trainable and not stem.trainable_weights
    maps = keras.Model(model.input, stem.output).predict(dataset.arrays("test")[0], verbose=0)
    np.testing.assert_array_equal(maps[..., 9:], -maps[..., :9])  # each filter and its negative
    patches = maps[..., :9].reshape(-1, 9)
    covariance = patches.T @ patches / len(patches)  # of raw 3x3 patches: correlations up to 0.91 here
    assert np.abs(covariance - np.diag(np.diag(covariance))).max() < 0.05  # 0.014 here
    assert 0.8 < np.diag(covariance).min() and np.diag(covariance).max() < 1.05  # 0.89-1.00 here


def test_only_an_architecture_with_a_whitening_stem_is_fitted_to_the_train_faces(fer_dir):
    faces = data.load_dataset(fer_dir, limit_per_class=2).arrays("train")[0]
    assert models.fitted_options("fer_resnet", faces) == {} == models.fitted_options("no_such_network", faces)
    assert models.fitted_options("fer_fastnet", faces)["whitening"].shape == (3, 3, 1, 18)
    with pytest.raises(ValueError, match="at least one train face"):
        models.whitening_kernel(faces[:0])


def test_fastnet_has_a_tflite_copy_that_gives_its_answers(fer_dir):
    images, labels = data.load_dataset(fer_dir, limit_per_class=3).arrays("test")
    keras.utils.set_random_seed(0)
    model = models.build_model("fer_fastnet", 7)
    for _ in range(4):  # trained a little, so that its answers differ from face to face
        model.train_on_batch(images, keras.utils.to_categorical(labels, 7))
    answers = model.predict(images, verbose=0)
    copy = lite.LiteModel(lite.convert(model)).predict(images)
    spread = np.ptp(answers, axis=0).max()  # how far apart its answers for different faces are (0.05 here)
    assert np.abs(copy - answers).max() < min(lite.AGREEMENT_TOLERANCE, spread / 10)


@pytest.mark.parametrize("name", OURS)
def test_ours_ignores_image_contrast(fer_dir, name):
    """FER2013's test images have more contrast than its train images: ours standardises each face."""
    faces = data.load_dataset(fer_dir, limit_per_class=2).arrays("test")[0]
    washed_out = (faces * 0.6 + 40).astype(np.uint8)
    model = models.build_model(name, 7)
    np.testing.assert_allclose(model.predict(faces, verbose=0), model.predict(washed_out, verbose=0), atol=2e-3)


@pytest.mark.parametrize("name", OURS)
def test_a_saved_model_loads_in_a_fresh_process_without_this_package(fer_dir, tmp_path, name):
    faces = data.load_dataset(fer_dir, limit_per_class=2).arrays("test")[0]
    model = models.build_model(name, 7, augmentation=augmentation.keras_layers())
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "faces.npy", faces)
    script = ("import sys, keras, numpy as np; m = keras.models.load_model(sys.argv[1]); "
              "np.save(sys.argv[2], m.predict(np.load(sys.argv[3]), verbose=0)); "
              "assert not any(name.startswith('fer_helpers') for name in sys.modules), 'fer_helpers was imported'")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "model.keras"), str(tmp_path / "out.npy"),
                    str(tmp_path / "faces.npy")], check=True, cwd=tmp_path, env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"})
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), model.predict(faces, verbose=0))


def test_mixed_precision_training_gives_back_a_float32_model(fer_dir):
    faces = data.load_dataset(fer_dir, limit_per_class=2).arrays("test")[0]
    build = lambda: models.build_model("fer_resnet", 7)  # noqa: E731
    with training.dtype_policy("mixed_bfloat16"):
        mixed = build()
    assert keras.config.dtype_policy().name == "float32"  # restored
    copy = training.as_float32(mixed, build)
    assert {layer.compute_dtype for layer in copy.layers} == {"float32"}
    assert "bfloat16" in {layer.compute_dtype for layer in mixed.layers}
    np.testing.assert_allclose(copy.predict(faces, verbose=0), mixed.predict(faces, verbose=0), atol=0.05)  # bf16 has 8 bits
    assert training.as_float32(copy, build) is copy
    assert training.resolve_precision("float32") == "float32"
    assert training.resolve_precision("auto") in ("float32", "mixed_bfloat16")
    with pytest.raises(ValueError, match="precision"):
        training.resolve_precision("float8")


def test_hardware_line_names_the_best_vector_extension_and_auto_precision_follows_the_cpu():
    flags = profiling.cpu_flags()
    if platform.machine() == "x86_64" and Path("/proc/cpuinfo").exists():
        assert {"sse2", "fpu"} <= flags  # every x86-64 CPU has these: the flags line was read
    best = next((label for flag, label in profiling.VECTOR_EXTENSIONS if flag in flags), None)
    cpu, gpu = profiling.hardware().split("; ", 1)
    assert cpu.endswith(f" cores, {best}") if best else cpu.endswith(" cores")
    if gpu == "no GPU":
        native = bool(flags & set(training.BF16_CPU_FLAGS))
        assert training.resolve_precision("auto") == ("mixed_bfloat16" if native else "float32")


def test_average_ensemble_is_the_mean_of_its_members_in_every_saved_format(fer_dir, tmp_path):
    from fer_helpers import evaluation, lite, saving

    faces = data.load_dataset(fer_dir, limit_per_class=2).arrays("test")[0]
    keras.utils.set_random_seed(1)
    members = [models.build_model("fer_resnet", 7, **TINY_NETWORK) for _ in range(2)]
    ensemble = models.average_ensemble(members)
    mean = sum(evaluation.predict_probabilities(member, faces) for member in members) / 2
    np.testing.assert_allclose(evaluation.predict_probabilities(ensemble, faces), mean, atol=1e-6)
    path = saving.save_model(ensemble, tmp_path, {"classes": [str(c) for c in range(7)]})
    for saved in (path, tmp_path / "model.json"):
        np.testing.assert_array_equal(evaluation.predict_probabilities(saving.load_model(saved)[0], faces),
                                      evaluation.predict_probabilities(ensemble, faces))
    if lite.available():
        quantised = lite.LiteModel.from_file(tmp_path / lite.TFLITE_FILE)(faces.astype("float32"))
        assert np.abs(quantised - mean).max() <= lite.AGREEMENT_TOLERANCE
    third = models.build_model("fer_resnet", 7, **TINY_NETWORK)
    nested = models.average_ensemble([third, ensemble])  # an ensemble member adds its networks: equal weights
    assert [layer.name for layer in nested.layers[1:-1]] == ["member_0", "member_1", "member_2"]
    np.testing.assert_allclose(evaluation.predict_probabilities(nested, faces),
                               (2 * mean + evaluation.predict_probabilities(third, faces)) / 3, atol=1e-6)
    inputs = keras.Input((48, 48, 1))
    branches = [keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(inputs)) for _ in range(2)]
    own = keras.Model(inputs, keras.layers.Average()(branches))  # a user's model ending in Average: one network
    assert models.networks(own) == [own] and len(models.networks(nested)) == 3
    with pytest.raises(ValueError, match="two or more models with one input shape and class count"):
        models.average_ensemble([members[0], models.build_model("fer_resnet", 8, **TINY_NETWORK)])
    with pytest.raises(ValueError, match="two or more"):
        models.average_ensemble(members[:1])
