"""Fine-tuning a saved model's networks on train plus validation faces (fer_helpers.finetuning), on real faces."""

import json

import keras
import numpy as np
import pytest

from fer_helpers import data, finetuning, models, saving, training

LIMIT = 40  # faces a class and split: 4 a class in validation, so each half has some


@pytest.fixture(scope="module")
def tiny(fer_dir):
    """A small real subset: 40 images per class per split."""
    return data.load_dataset(fer_dir, limit_per_class=LIMIT)


def test_training_faces_add_a_stratified_share_of_validation_and_hold_out_the_rest(tiny):
    x_train, y_train = tiny.arrays("train")
    x_val, y_val = tiny.arrays("val")
    x, y, held_out = finetuning.training_faces(tiny, 0.5, finetuning.SPLIT_SEED)
    added = np.setdiff1d(np.arange(len(y_val)), held_out)
    np.testing.assert_array_equal(x, np.concatenate([x_train, x_val[added]]))
    np.testing.assert_array_equal(y, np.concatenate([y_train, y_val[added]]))
    assert 0 < len(held_out) < len(y_val) and set(y_val[held_out]) == set(y_val[added]) == set(range(tiny.num_classes))
    x, y, held_out = finetuning.training_faces(tiny, 1.0, finetuning.SPLIT_SEED)
    assert len(held_out) == 0 and len(y) == len(y_train) + len(y_val)
    with pytest.raises(ValueError, match="add_validation must be"):
        finetuning.training_faces(tiny, 0, finetuning.SPLIT_SEED)


def test_a_copy_to_train_holds_the_networks_weights_and_refuses_another_shape(tiny):
    network = models.build_model("fer_resnet", tiny.num_classes, blocks=1)
    faces = tiny.arrays("val")[0]
    same = finetuning.trainable_copy(network, tiny.num_classes, 1, "float32")
    np.testing.assert_allclose(same.predict(faces, verbose=0), network.predict(faces, verbose=0), atol=1e-6)
    mixed = finetuning.trainable_copy(network, tiny.num_classes, 1, "mixed_bfloat16")
    dtypes = {layer.compute_dtype for layer in mixed.layers if layer.weights}
    assert dtypes == {"bfloat16", "float32"} and mixed.layers[-1].compute_dtype == "float32"  # the output stays float32
    with pytest.raises(ValueError, match="not a fer_resnet with 2 block"):
        finetuning.trainable_copy(network, tiny.num_classes, 2, "float32")


def test_fine_tuning_an_ensemble_trains_each_network_scores_the_faces_left_out_and_ships(tiny, fer_dir, tmp_path,
                                                                                          monkeypatch):
    monkeypatch.setenv("FER_ARTIFACTS_DIR", str(tmp_path))
    networks = [models.build_model("fer_resnet", tiny.num_classes, blocks=1) for _ in range(2)]
    made = training.class_names_metadata(tiny, "fer_resnet", split_seed=data.SEED, command="first run")
    base = saving.save_model(models.average_ensemble(networks), tmp_path / "base", made)
    args = [str(base), "--run-id", "ft", "--add-validation", "0.5", "--blocks", "1", "1", "--erasing", "0.5", "0",
            "--mixup", "0.2", "0", "--epochs", "1", "--batch-size", "16", "--data-dir", str(fer_dir),
            "--limit-per-class", str(LIMIT)]
    path = finetuning.main(args)
    run_dir = tmp_path / "runs" / "ft"
    metadata = saving.read_metadata(path)
    held_out = finetuning.training_faces(tiny, 0.5, finetuning.SPLIT_SEED)[2]
    assert metadata["validation_trained_on"] == len(tiny.arrays("val")[1]) - len(held_out) > 0
    assert metadata["fine_tuned_from"] == ["first run"] and metadata["networks"] == 2
    assert metadata["command"].startswith("python3 -m fer_helpers.finetuning") and "--add-validation 0.5" in metadata["command"]
    files = [run_dir / "networks" / str(i) / saving.MODEL_FILE for i in range(2)]
    tuned = [keras.models.load_model(file) for file in files]
    for before, after in zip(networks, tuned):
        assert not np.allclose(before.get_weights()[0], after.get_weights()[0])  # each network trained
    x_val, y_val = tiny.arrays("val")
    model, _ = saving.load_model(path, classes=tiny.classes)
    np.testing.assert_allclose(model.predict(x_val, verbose=0), np.mean([t.predict(x_val, verbose=0) for t in tuned], 0),
                               atol=1e-5)
    right = float((model.predict(x_val[held_out], verbose=0).argmax(1) == y_val[held_out]).mean())
    assert metadata["val_accuracy"] == pytest.approx(right, abs=1e-4)  # scored on the faces left out only
    stamps = [file.stat().st_mtime_ns for file in files]
    finetuning.main(args)  # the same run again: its networks are reused, nothing is trained
    assert [file.stat().st_mtime_ns for file in files] == stamps
    with pytest.raises(ValueError, match="holds a fine-tuning run with other options"):
        finetuning.main([*args, "--learning-rate", "0.001"])
    with pytest.raises(ValueError, match="give --blocks, --erasing and --mixup 2 values each"):
        finetuning.main([*args[:6], "1", *args[8:]] + ["--run-id", "other"])
    with pytest.raises(ValueError, match="validation faces, so its validation score would count faces it learned"):
        finetuning.main([str(path), *args[1:], "--run-id", "again"])  # a fine-tuned model is not fine-tuned again
    card = (saving.ship_model(run_dir, tmp_path / "shipped").parent / "MODEL_CARD.md").read_text()
    assert "Fine-tuned: 2 network(s) made by `first run`, each trained 1 epochs more on train plus" in card
    assert "on the validation faces it did not train on" in card and 'ship_model("artifacts/runs/<run-id>",' in card
    metrics = json.loads((run_dir / "test_metrics.json").read_text())
    seen_all = saving.model_card(metrics, metadata | {"val_accuracy": None, "validation_trained_on": 2872})
    assert "none left: it trained on all 2,872 validation faces" in seen_all
