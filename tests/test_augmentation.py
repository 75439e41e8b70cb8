"""Augmentation in both places it can run: Keras layers inside the model, and numpy on the host, on real faces."""

import keras
import numpy as np
import pytest
from conftest import TINY_NETWORK

from fer_helpers import augmentation, data, training


@pytest.fixture(scope="module")
def faces(fer_dir):
    """128 real train faces, (n, 48, 48, 1) float32 0-255."""
    images = data.load_dataset(fer_dir, limit_per_class=20).arrays("train")[0][:128]
    return images.reshape(len(images), 48, 48, 1).astype("float32")


def changes(augmented: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Each face's mean absolute pixel change."""
    return np.abs(augmented - faces).reshape(len(faces), -1).mean(axis=1)


def test_keras_random_erasing_blanks_a_patch_of_some_faces_in_training_only(faces):
    images = faces[:64] / 255
    layer = augmentation.keras_layers(seed=5, erasing=0.5).layers[-1]
    erased = keras.ops.convert_to_numpy(layer(images, training=True))
    changed = (np.abs(erased - images) > 1e-6).reshape(len(images), -1).mean(axis=1)
    assert 0.05 < (changed > 0).mean() < 0.6  # about a quarter of the faces
    assert changed.max() <= augmentation.ERASED_AREA[1] + 0.05
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images, training=False)), images)


def test_host_augmentation_changes_faces_as_much_as_the_keras_layers(faces):
    host = augmentation.augment_batch(faces, np.random.default_rng(1))
    keras_made = keras.ops.convert_to_numpy(augmentation.keras_layers(seed=1)(faces / 255, training=True)) * 255
    assert host.shape == faces.shape and host.dtype == np.float32 and host.min() >= 0 and host.max() <= 255
    ratio = np.median(changes(host, faces)) / np.median(changes(keras_made, faces))
    assert 0.8 < ratio < 1.25, f"host augmentation changes faces {ratio:.2f}x as much as the Keras layers"
    np.testing.assert_array_equal(host, augmentation.augment_batch(faces, np.random.default_rng(1)))  # seeded
    assert not np.array_equal(host, augmentation.augment_batch(faces, np.random.default_rng(2)))


def test_host_warp_with_no_range_returns_each_face_or_its_mirror_exactly(faces, monkeypatch):
    for name in ("ROTATION", "SHIFT", "ZOOM", "CONTRAST"):
        monkeypatch.setattr(augmentation, name, 0.0)
    out = augmentation.augment_batch(faces, np.random.default_rng(3))
    same = np.isclose(out, faces, atol=1e-3).all(axis=(1, 2, 3))
    mirrored = np.isclose(out, faces[:, :, ::-1], atol=1e-3).all(axis=(1, 2, 3))
    assert (same | mirrored).all() and 0.3 < mirrored.mean() < 0.7


def test_light_augmentation_only_flips_and_shifts(faces, monkeypatch):
    assert [type(layer).__name__ for layer in augmentation.keras_layers(level="light").layers] == ["RandomFlip",
                                                                                                  "RandomTranslation"]
    monkeypatch.setattr(augmentation, "SHIFT", 0.0)  # rotation, zoom and contrast keep their ranges
    for level, kept in (("light", True), ("full", False)):
        out = augmentation.augment_batch(faces, np.random.default_rng(3), level=level)
        same = np.isclose(out, faces, atol=1e-3).all(axis=(1, 2, 3))
        mirrored = np.isclose(out, faces[:, :, ::-1], atol=1e-3).all(axis=(1, 2, 3))
        assert (same | mirrored).all() if kept else not (same | mirrored).any(), level


def test_an_unknown_augmentation_level_is_refused_before_training():
    with pytest.raises(ValueError, match=r"Unknown augmentation level 'heavy'; choose one of \('full', 'light'\)"):
        augmentation.keras_layers(level="heavy")
    with pytest.raises(ValueError, match=r"Unknown augment True; choose one of \('full', 'light', 'none'\)"):
        training.check_settings(1, 8, None, "cosine", 0.0, 0.0, 0, augment=True)  # the old spelling of "full"


def test_host_erasing_fills_one_small_patch_in_about_a_quarter_of_the_faces(faces):
    plain = augmentation.augment_batch(faces, np.random.default_rng(4))
    erased = augmentation.augment_batch(faces, np.random.default_rng(4), erasing=0.5)  # the same draws, then erasing
    changed = np.abs(erased - plain)[..., 0] > 1e-3
    hit = changed.any(axis=(1, 2))
    assert 0.1 < hit.mean() < 0.45  # Keras's factor 0.5: a probability drawn from (0, 0.5), a quarter on average
    for mask in changed[hit]:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        box = (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1) / mask.size
        assert box <= augmentation.ERASED_AREA[1] + 0.05, "the patch is larger than random erasing allows"


def test_training_batches_augment_on_the_host_and_keep_one_hot_labels(faces):
    one_hot = keras.utils.to_categorical(np.arange(len(faces)) % 7, 7)
    batches = training.TrainingBatches(faces, one_hot, batch_size=32, alpha=0.0, seed=5, augment="full", erasing=0.5)
    images, labels = batches[0]
    picked = batches.order[:32]
    np.testing.assert_array_equal(labels, one_hot[picked])
    assert images.shape == (32, 48, 48, 1) and np.median(changes(images, faces[picked])) > 5


def test_host_batches_are_the_same_in_any_order_so_worker_threads_cannot_change_a_run(faces):
    one_hot = keras.utils.to_categorical(np.arange(len(faces)) % 7, 7)
    in_order, backwards = (training.TrainingBatches(faces, one_hot, 16, alpha=0.2, seed=5, augment="full", erasing=0.5,
                                                    workers=4) for _ in range(2))
    first = [in_order[index] for index in range(3)]
    for index in (2, 1, 0, 2):  # asked for out of order, twice: as threads may
        for made, expected in zip(backwards[index], first[index]):
            np.testing.assert_array_equal(made, expected)
    in_order.on_epoch_end()
    assert not np.array_equal(in_order[0][0], first[0][0])  # the next epoch draws afresh


def test_training_with_host_augmentation_has_no_augmentation_layers(fer_dir, tmp_path):
    tiny = data.load_dataset(fer_dir, limit_per_class=8)
    small = {"epochs": 1, "batch_size": 16, "erasing": 0.5, "model_options": TINY_NETWORK}
    run = training.train(tiny, **small, augment_on="host", mixup=0.2, output_dir=tmp_path / "host")
    assert np.isfinite(run.history["loss"]).all()
    assert "augmentation" not in [layer.name for layer in run.model.layers]
    with pytest.raises(ValueError, match="Unknown augment_on 'gpu'"):
        training.train(tiny, **small, augment_on="gpu", output_dir=tmp_path / "refused")
    with pytest.raises(ValueError, match="host augmentation work with single-device training and no class weights"):
        training.train(tiny, **small, augment_on="host", class_weights={0: 1.0}, output_dir=tmp_path / "refused")
