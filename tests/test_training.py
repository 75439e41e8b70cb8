"""Training, resume after a kill, multi-device, saving both formats, and evaluation numbers."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import TINY_NETWORK

from fer_helpers import (
    augmentation,
    data,
    evaluation,
    files,
    lite,
    models,
    pipeline,
    profiling,
    saving,
    training,
)
from fer_helpers.config import PROJECT_ROOT


@pytest.fixture(scope="module")
def tiny(fer_dir):
    """A small real subset: 8 images per class per split."""
    return data.load_dataset(fer_dir, limit_per_class=8)


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    """One short training run, shared by the saving tests."""
    return training.train(tiny, epochs=2, batch_size=16, output_dir=tmp_path_factory.mktemp("run"), model_options=TINY_NETWORK)


def run_python(code: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """Run Python code in a fresh interpreter (a separate process that can be killed)."""
    env = os.environ | (env_extra or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_training_writes_history_and_best_checkpoint(trained):
    assert list(trained.history["epoch"]) == [0, 1]
    assert {"accuracy", "loss", "val_accuracy", "val_loss", "learning_rate"} <= set(trained.history)
    assert (trained.output_dir / training.BEST_FILE).exists()
    assert trained.model.output_shape == (None, 7)


RESUME_SCRIPT = f"""
    import os, signal, sys
    import keras
    from fer_helpers import data, training

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1 and os.environ.get("KILL") == "1":
                os.kill(os.getpid(), signal.SIGKILL)  # as hard as a power cut: no cleanup runs

    class Starts(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            print("EPOCH", epoch, flush=True)
            drawn = self.model.get_layer("augmentation")(dataset.arrays("train")[0][:4].astype("float32"), training=True)
            print("DRAW", float(keras.ops.sum(drawn)), flush=True)  # what the augmentation layers draw now

    dataset = data.load_dataset(os.environ["FER_DATA_DIR"], limit_per_class=5)
    result = training.train(dataset, epochs=4, batch_size=16, output_dir=sys.argv[1] if len(sys.argv) > 1 else os.environ["OUT"],
                            extra_callbacks=[Kill(), Starts()], model_options={TINY_NETWORK!r})
    print("SECONDS", result.seconds)
"""


def test_killed_run_resumes_from_its_last_finished_epoch_and_a_finished_one_is_reused(tmp_path, fer_dir):
    killed = run_python(RESUME_SCRIPT, {"KILL": "1", "OUT": str(tmp_path)})
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert [line for line in killed.stdout.splitlines() if line.startswith("EPOCH")] == ["EPOCH 0", "EPOCH 1"]
    resumed = run_python(RESUME_SCRIPT, {"KILL": "0", "OUT": str(tmp_path)})
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [line for line in resumed.stdout.splitlines() if line.startswith("EPOCH")] == ["EPOCH 2", "EPOCH 3"]
    draws = [line for run in (killed, resumed) for line in run.stdout.splitlines() if line.startswith("DRAW")]
    assert len(draws) == 4 and len(set(draws)) == 4, f"a resumed process replays epoch 0's augmentation: {draws}"
    paces = [line for run in (killed, resumed) for line in run.stdout.splitlines() if "at that pace" in line]
    assert [pace.split(":")[0].split(" took ")[0] for pace in paces] == ["Epoch 1", "Epoch 3"]  # each process's first
    assert "the 3 epochs left would take about" in paces[0] and "the 1 epoch left would take about" in paces[1]
    assert all(profiling.hardware() in pace for pace in paces)
    history = pd.read_csv(tmp_path / training.HISTORY_FILE)
    assert history["epoch"].tolist() == [0, 1, 2, 3]
    seconds = float(resumed.stdout.split("SECONDS")[1].split()[0])  # the whole training time, the killed part included
    assert seconds == history["elapsed_seconds"].max() and history["elapsed_seconds"].is_monotonic_increasing
    assert not (tmp_path / training.BACKUP_DIR).exists()  # removed once training finished
    dataset = data.load_dataset(fer_dir, limit_per_class=5)
    settings = {"epochs": 4, "batch_size": 16, "output_dir": tmp_path, "model_options": TINY_NETWORK}  # the script's settings
    again = training.train(dataset, **settings)  # a rerun, e.g. "Run all" again
    assert again.history.equals(history) and again.seconds == seconds, "a finished run must be reused, not trained again"
    run_file = json.loads((tmp_path / training.RUN_FILE).read_text())
    assert run_file["trained_on"] == [{"hardware": again.hardware, "precision": training.resolve_precision("auto")}]
    assert "cores" in again.hardware and run_file["finished"] is True
    elsewhere = [{"hardware": "NVIDIA H200, 16 cores", "precision": "mixed_bfloat16"}]  # as if it trained on another machine
    (tmp_path / training.RUN_FILE).write_text(json.dumps(run_file | {"trained_on": elsewhere}))
    moved = training.train(dataset, **settings)
    assert (moved.hardware, moved.precision) == ("NVIDIA H200, 16 cores", "mixed_bfloat16")  # the run's, not this machine's
    with pytest.raises(ValueError, match=r"holds another run \(epochs 4 there, 6 now\)"):
        training.train(dataset, **settings | {"epochs": 6})
    (tmp_path / training.RUN_FILE).unlink()  # as a run finished by an earlier version left its folder
    with pytest.raises(ValueError, match="holds a finished run saved before runs recorded their settings"):
        training.train(dataset, **settings)
    for damaged in ("{not json", '{"settings": []}', "[]", json.dumps(run_file | {"trained_on": []})):
        (tmp_path / training.RUN_FILE).write_text(damaged)
        with pytest.raises(ValueError, match="is not a run file as training writes it"):
            training.train(dataset, **settings)


def test_a_run_trained_in_bfloat16_gives_back_a_float32_model_and_records_its_precision(tiny, tmp_path):
    run = training.train(tiny, epochs=1, batch_size=16, precision="mixed_bfloat16", model_options=TINY_NETWORK,
                         output_dir=tmp_path)
    assert "bfloat16" in {layer.compute_dtype for layer in keras.models.load_model(tmp_path / training.BEST_FILE).layers}
    assert {layer.compute_dtype for layer in run.model.layers} == {"float32"}  # trained in bfloat16, given back in float32
    assert run.precision == json.loads((tmp_path / training.RUN_FILE).read_text())["trained_on"][0]["precision"] == "mixed_bfloat16"


def test_a_resumed_run_keeps_its_plateau_and_early_stopping_counters_and_rate_cuts(tmp_path):
    # three logged epochs: validation loss worsens twice after the first, so an uninterrupted seed_plateau run cuts
    # the rate tenfold at the end of the third (after BackupAndRestore saved the optimizer), and patience has run 2 of 10
    pd.DataFrame({"epoch": [0, 1, 2], "val_loss": [1.0, 1.1, 1.2], "val_accuracy": [0.5, 0.4, 0.45],
                  "learning_rate": [5e-4] * 3, "elapsed_seconds": [1.0, 2.0, 3.0]}).to_csv(tmp_path / training.HISTORY_FILE, index=False)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(5e-4), loss="categorical_crossentropy", metrics=["accuracy"])
    found = training.callbacks(tmp_path, "seed_plateau", 5e-4, 60, patience=10, live_plot=False)
    keras.callbacks.CallbackList(found, model=model).on_train_begin()  # as fit() starts a resumed run
    plateau = next(c for c in found if isinstance(c, keras.callbacks.ReduceLROnPlateau))
    stopping = next(c for c in found if isinstance(c, keras.callbacks.EarlyStopping))
    assert (plateau.best, plateau.wait) == (1.0, 0)  # the cut reset its wait
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(5e-5)
    assert (stopping.best, stopping.wait) == (0.5, 2)
    assert plateau.model is model and stopping.model is model and not model.stop_training


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    result = run_python(f"""
        import os, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from fer_helpers import data, training

        class Replicas(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                print("REPLICAS", self.model.distribute_strategy.num_replicas_in_sync)

        dataset = data.load_dataset(os.environ["FER_DATA_DIR"], limit_per_class=10)
        training.train(dataset, epochs=1, batch_size=4, strategy="mirrored", output_dir=os.environ["OUT"],
                       extra_callbacks=[Replicas()], model_options={TINY_NETWORK!r})
    """, {"OUT": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "REPLICAS 2" in result.stdout
    assert pd.read_csv(tmp_path / training.HISTORY_FILE)["epoch"].tolist() == [0]


def test_unknown_strategy_and_schedule_are_clear_errors():
    with pytest.raises(ValueError, match="Unknown strategy"):
        training.distribution_scope("tpu-pod")
    with pytest.raises(ValueError, match="Unknown schedule"):
        training.learning_rate_callback("triangle", 1e-3, 10)


def test_settings_that_cannot_train_are_refused_before_the_run_folder_is_written(tiny, tmp_path):
    small = {"epochs": 1, "batch_size": 16, "model_options": TINY_NETWORK,
             "output_dir": tmp_path / "run"}
    refused = [({"schedule": "cosin"}, "Unknown schedule 'cosin'"), ({"epochs": 0}, "epochs must be a whole number, at least 1"),
               ({"epochs": "10"}, "epochs must be"), ({"mixup": -0.2}, "mixup must be a number, at least 0"),
               ({"erasing": 1.5}, "erasing must be a number, at least 0 and at most 1"),
               ({"learning_rate": 0}, "learning_rate must be a number, above 0"), ({"patience": -1}, "patience must be"),
               ({"minutes": 0}, "minutes must be a number, above 0"), ({"minutes": "15"}, "minutes must be")]
    for bad, message in refused:
        with pytest.raises(ValueError, match=message):
            training.train(tiny, **small | bad)
        assert not (tmp_path / "run" / training.RUN_FILE).exists()  # nothing recorded that the corrected rerun trips on
    assert len(training.train(tiny, schedule="cosine", **small).history) == 1


def test_save_and_load_round_trip_in_both_formats(trained, tiny, tmp_path):
    metadata = training.class_names_metadata(tiny, "fer_resnet", command="test")
    keras_path = saving.save_model(trained.model, tmp_path, metadata)
    images, _ = tiny.arrays("test")
    expected = trained.model.predict(images, verbose=0)
    for path in (keras_path, tmp_path / saving.ARCHITECTURE_FILE):
        model, loaded_metadata = saving.load_model(path, classes=tiny.classes, input_shape=(48, 48, 1))
        np.testing.assert_allclose(model.predict(images, verbose=0), expected, atol=1e-6)
        assert loaded_metadata["classes"] == tiny.classes and loaded_metadata["num_classes"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [saving.MODEL_FILE, saving.ARCHITECTURE_FILE, saving.WEIGHTS_FILE, saving.METADATA_FILE, lite.TFLITE_FILE])
    lite_copy = lite.LiteModel.from_file(tmp_path / lite.TFLITE_FILE)
    assert np.abs(lite_copy(images) - expected).max() <= lite.AGREEMENT_TOLERANCE  # quantised: close, not equal
    np.testing.assert_allclose(lite_copy.predict(images, batch_size=3), lite_copy(images), atol=1e-6)  # in pieces
    assert lite_copy.predict(images[:0]).shape == (0, 7)  # no faces: an empty table, not an error


def test_mismatched_model_is_a_clear_error(trained, tiny, tmp_path):
    path = saving.save_model(trained.model, tmp_path, training.class_names_metadata(tiny, "fer_resnet"))
    with pytest.raises(saving.ModelMismatchError, match="predicts 7 classes, the data has 8"):
        saving.load_model(path, classes=tiny.classes + ["contempt"])
    with pytest.raises(saving.ModelMismatchError, match="trained on classes"):
        saving.load_model(path, classes=list(reversed(tiny.classes)))
    with pytest.raises(saving.ModelMismatchError, match="expects input"):
        saving.load_model(path, input_shape=(64, 64, 1))
    with pytest.raises(FileNotFoundError, match="No model"):
        saving.load_model(tmp_path / "missing.keras")


def test_interrupted_save_leaves_the_good_file(tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(b"good model")

    def crash(tmp: Path) -> None:
        tmp.write_bytes(b"half a mod")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.atomic_write(target, crash)
    assert target.read_bytes() == b"good model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_metrics_on_a_hand_checked_case():
    labels = np.array([0, 0, 1, 2])
    probabilities = np.array([[0.9, 0.1, 0], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0, 0.3, 0.7]])
    result = evaluation.metrics(labels, probabilities, ["a", "b", "c"])
    assert result["accuracy"] == 0.75
    assert result["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert result["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2.0}
    assert result["per_class"]["b"]["precision"] == 0.5
    assert result["macro_f1"] == round((2 / 3 + 2 / 3 + 1) / 3, 4)


def test_macro_f1_is_the_mean_of_exact_f1_not_of_the_rounded_ones():
    labels, predictions = np.array([0, 0, 1, 1, 1]), np.array([0, 1, 0, 1, 1])  # F1 1/2 and 2/3
    result = evaluation.metrics(labels, np.eye(2)[predictions], ["a", "b"])
    assert result["per_class"]["b"]["f1"] == 0.6667
    assert result["macro_f1"] == 0.5833  # (1/2 + 2/3) / 2; the mean of the table's rounded 0.5 and 0.6667 is 0.5834


def test_flip_tta_averages_mirrored_views():
    inputs = keras.Input((4, 4, 1))
    left = keras.layers.Cropping2D(((0, 0), (0, 2)))(inputs)
    right = keras.layers.Cropping2D(((0, 0), (2, 0)))(inputs)
    scores = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(left), keras.layers.GlobalAveragePooling2D()(right)])
    model = keras.Model(inputs, keras.layers.Softmax()(scores))  # "bright on the left" vs "bright on the right"
    image = np.zeros((1, 4, 4, 1), np.uint8)
    image[:, :, :2] = 5
    plain = evaluation.predict_probabilities(model, image)
    assert plain[0, 0] > 0.9
    np.testing.assert_allclose(evaluation.predict_probabilities(model, image, tta="flip"), [[0.5, 0.5]], atol=1e-6)
    assert evaluation.predict_probabilities(model, image, tta="flip+crops").shape == (1, 2)
    with pytest.raises(ValueError, match="Unknown tta"):
        evaluation.predict_probabilities(model, image, tta="rotate")


def test_evaluation_figures(tmp_path):
    result = evaluation.metrics(np.array([0, 1, 1]), np.eye(2)[[0, 0, 1]], ["x", "y"])
    assert len(evaluation.confusion_heatmap(result).axes) == 2  # the heatmap and its colour bar
    gallery = evaluation.confident_mistakes(np.zeros((3, 48, 48)), np.array([0, 1, 1]), np.eye(2)[[0, 0, 1]], ["x", "y"])
    assert sum(bool(axis.images) for axis in gallery.axes) == 1
    assert evaluation.save_metrics(result, tmp_path / "m" / "metrics.json").exists()


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        files.atomic_write(tmp_path / "out.csv", lambda tmp: tmp.write_text("a,b\n"))
    finally:
        os.umask(previous)
    assert (tmp_path / "out.csv").stat().st_mode & 0o777 == 0o644


def test_mixup_blends_real_faces_and_their_labels_by_one_weight(tiny):
    images, labels = tiny.arrays("train")
    one_hot = keras.utils.to_categorical(labels, tiny.num_classes)
    batches = training.TrainingBatches(images, one_hot, batch_size=16, alpha=0.2, seed=3)
    assert len(batches) == -(-len(labels) // 16)
    seen = []
    for index in range(len(batches)):
        mixed, soft = batches[index]
        assert mixed.shape[1:] == images.shape[1:] and soft.shape == (len(mixed), tiny.num_classes)
        np.testing.assert_allclose(soft.sum(axis=1), 1, atol=1e-6)
        assert mixed.min() >= 0 and mixed.max() <= 255
        seen.append(len(mixed))
    assert sum(seen) == len(labels)  # every face once per epoch
    mixed, soft = batches[0]
    source, own = images[batches.order[:16]].astype("float32").reshape(16, -1), one_hot[batches.order[:16]]
    for row in range(16):  # some face j of the batch and one weight w explain both the pixels and the label
        fits = []
        for j in range(16):
            gap = source[row] - source[j]
            w = 1.0 if not gap.any() else float(gap @ (mixed[row].ravel() - source[j]) / (gap @ gap))
            pixels = np.abs(w * source[row] + (1 - w) * source[j] - mixed[row].ravel()).max()
            fits.append(pixels < 0.5 and np.allclose(w * own[row] + (1 - w) * own[j], soft[row], atol=1e-3))
        assert any(fits), f"face {row} is not a blend of two faces of its batch"
    assert (soft.max(axis=1) < 0.999).any(), "alpha 0.2 must blend some pairs of different classes"
    first_order = batches.order.copy()
    batches.on_epoch_end()
    assert not np.array_equal(first_order, batches.order)


def test_mixup_and_erasing_train_and_refuse_what_they_cannot_do(tiny, tmp_path):
    run = training.train(tiny, epochs=1, batch_size=16, mixup=0.2, erasing=0.5, output_dir=tmp_path / "run",
                         model_options=TINY_NETWORK)
    assert np.isfinite(run.history["loss"]).all()
    assert any(isinstance(layer, keras.layers.RandomErasing) for layer in run.model.get_layer("augmentation").layers)
    with pytest.raises(ValueError, match="mixup and host augmentation work with single-device training and no class weights"):
        training.train(tiny, epochs=1, mixup=0.2, class_weights={0: 1.0}, output_dir=tmp_path / "refused")


def test_patience_stops_a_run_that_stops_improving_and_zero_runs_the_schedule_to_its_end(tiny, tmp_path):
    frozen = dict(epochs=4, batch_size=16, schedule="constant", learning_rate=1e-12, augment="none",
                  model_options=TINY_NETWORK)  # val_accuracy cannot improve
    assert len(training.train(tiny, **frozen, patience=1, output_dir=tmp_path / "one").history) == 2
    assert len(training.train(tiny, **frozen, patience=0, output_dir=tmp_path / "zero").history) == 4


def test_ensemble_members_must_share_data_and_validation_split(tiny):
    own = training.class_names_metadata(tiny, "fer_resnet", split_seed=1337, command="second",
                                        ensemble_members=["first"])
    training.check_ensemble_member(own, tiny, 1337, "member.keras")
    for seed, metadata in [(1338, own), (1337, own | {"dataset_fingerprint": "other"}), (1337, {})]:
        with pytest.raises(ValueError, match="member.keras was trained on data .* validation faces may be"):
            training.check_ensemble_member(metadata, tiny, seed, "member.keras")
    with pytest.raises(ValueError, match="member.keras trained on 1436 validation faces, so its validation score"):
        training.check_ensemble_member(own | {"validation_trained_on": 1436}, tiny, 1337, "member.keras")
    assert training.member_commands([own, {"command": "third"}]) == ["first", "second", "third"]


def test_distillation_targets_blend_the_teachers_answers_with_the_labels(trained, tiny, tmp_path):
    path = str(saving.save_model(trained.model, tmp_path / "teacher", training.class_names_metadata(tiny, "fer_resnet", split_seed=1337)))
    teachers = [teacher for teacher, _ in training.load_members([path], tiny, 1337)]
    with pytest.raises(ValueError, match="validation faces may be"):
        training.load_members([path], tiny, 1338)
    images, labels = tiny.arrays("train")
    answers, one_hot = trained.model.predict(images, verbose=0), keras.utils.to_categorical(labels, tiny.num_classes)
    for weight in (0.0, 0.7, 1.0):
        np.testing.assert_allclose(training.teacher_targets(teachers, tiny, weight), weight * answers + (1 - weight) * one_hot, atol=1e-5)
    mirrored = trained.model.predict(images[:, :, ::-1], verbose=0)  # the flip view: each face mirrored left to right
    assert not np.allclose(mirrored, answers, atol=1e-3)
    np.testing.assert_allclose(training.teacher_targets(teachers, tiny, 1.0, "flip"), (answers + mirrored) / 2, atol=1e-5)
    with pytest.raises(ValueError, match="Unknown tta 'mirror'"):
        training.teacher_targets(teachers, tiny, 1.0, "mirror")
    other = models.build_model("fer_resnet", tiny.num_classes, **TINY_NETWORK)
    nested = [models.average_ensemble([trained.model, other]), trained.model]  # three networks, equal weights
    np.testing.assert_allclose(training.teacher_targets(nested, tiny, 1.0),
                               (2 * answers + other.predict(images, verbose=0)) / 3, atol=1e-5)
    for chosen, weight in [(teachers, 1.5), ([], 0.7)]:
        with pytest.raises(ValueError, match="one or more teachers and a teacher_weight between 0 and 1"):
            training.teacher_targets(chosen, tiny, weight)
    small = dict(epochs=1, batch_size=16, model_options=TINY_NETWORK)
    run = training.train(tiny, **small, mixup=0.2, targets=training.teacher_targets(teachers, tiny, 0.7), output_dir=tmp_path / "student")
    assert np.isfinite(run.history["loss"]).all()
    with pytest.raises(ValueError, match="one row per train image"):
        training.train(tiny, **small, targets=one_hot[:5], output_dir=tmp_path / "refused")


def test_teacher_copies_train_the_student_on_the_augmented_faces_its_teachers_answered(trained, tiny, tmp_path):
    images, labels = tiny.arrays("train")
    one_hot = keras.utils.to_categorical(labels, tiny.num_classes)
    views = training.teacher_targets([trained.model], tiny, 0.7, "flip", copies=2, erasing=0.5, seed=4)
    assert views.images.shape == (2, *images.shape) and views.images.dtype == np.uint8 and views.mirrored
    assert np.median(np.abs(views.images.astype("float32") - images).mean(axis=(2, 3, 4))) > 5  # augmented, not the faces
    assert not np.array_equal(views.images[0], views.images[1])
    for copy, target in zip(views.images, views.targets):  # the teacher's answers on the copy and its mirror, and the label
        answers = (trained.model.predict(copy, verbose=0) + trained.model.predict(copy[:, :, ::-1], verbose=0)) / 2
        np.testing.assert_allclose(target, 0.7 * answers + 0.3 * one_hot, atol=1e-5)
    again = training.teacher_targets([trained.model], tiny, 0.7, "flip", copies=2, erasing=0.5, seed=4)
    np.testing.assert_array_equal(again.images, views.images)  # a resumed run's copies are the same
    batches = training.training_feed(images, views.targets, 16, 0.0, 5, True, "full", 0.5, None, views)["x"]  # as train() feeds it
    assert len(batches) == -(-len(images) // 16) and sorted(batches.order) == list(range(len(images)))  # every face once
    faces, targets = batches[1]
    mirrored = []
    for row, face in enumerate(batches.order[16:32]):  # each face of the batch is one of its copies, with that copy's target
        found = [(copy, flip) for copy in (0, 1) for flip in (False, True)
                 if np.array_equal(faces[row], views.images[copy, face][:, ::-1] if flip else views.images[copy, face])]
        assert found and all(np.allclose(targets[row], views.targets[copy, face]) for copy, _ in found)
        mirrored.append(all(flip for _, flip in found))
    assert any(mirrored) and not all(mirrored)
    small = {"epochs": 1, "batch_size": 16, "model_options": TINY_NETWORK}
    run = training.train(tiny, **small, augment_on="host", mixup=0.2, targets=views, output_dir=tmp_path / "student")
    assert np.isfinite(run.history["loss"]).all()
    with pytest.raises(ValueError, match="Teacher views replace augmentation in the host feed"):
        training.train(tiny, **small, targets=views, output_dir=tmp_path / "in_the_model")
    cut = training.TeacherViews(views.images[:, :5], views.targets[:, :5], mirrored=True)
    with pytest.raises(ValueError, match="must be copies of the"):
        training.train(tiny, **small, augment_on="host", targets=cut, output_dir=tmp_path / "cut")
    with pytest.raises(ValueError, match="copies must be a whole number"):
        training.teacher_targets([trained.model], tiny, 0.7, copies=1.5)
    light = training.teacher_targets([trained.model], tiny, 0.7, copies=1, seed=4, augment="light")  # as the run augments
    made = augmentation.augment_batch(images, np.random.default_rng(4), 0.0, "light")
    np.testing.assert_array_equal(light.images[0], np.rint(made).astype("uint8"))
    with pytest.raises(ValueError, match=r"augment must be one of \('full', 'light'\), not 'none'"):
        training.teacher_targets([trained.model], tiny, 0.7, copies=1, augment="none")


def test_a_time_budget_ends_the_run_in_time_with_its_cosine_schedule_run_down(tiny, tmp_path):
    small = {"epochs": 200, "batch_size": 16, "patience": 0, "augment": "none", "model_options": TINY_NETWORK}
    budget = 25 / 60  # 25 s: the first epoch compiles (8 s here), then dozens of epochs of 56 faces, far fewer than 200
    run = training.train(tiny, **small, minutes=budget, output_dir=tmp_path / "budget")
    history, epoch_seconds = run.history, run.history["elapsed_seconds"].diff().median()
    assert 3 <= len(history) < small["epochs"]
    assert history["elapsed_seconds"].iloc[-1] <= budget * 60 + 3 * epoch_seconds  # the pace is re-read every epoch
    rates = history["learning_rate"].to_numpy()
    assert rates[0] == pytest.approx(1e-3) and rates[-1] < 0.1 * rates[0]  # the schedule ran down within the budget
    assert json.loads((tmp_path / "budget" / training.RUN_FILE).read_text())["settings"]["minutes"] == budget
    roomy = training.train(tiny, **small | {"epochs": 3}, minutes=60, output_dir=tmp_path / "roomy")
    plain = training.train(tiny, **small | {"epochs": 3}, output_dir=tmp_path / "plain")
    assert roomy.history["learning_rate"].tolist() == plain.history["learning_rate"].tolist()  # a run that fits: as without


def test_notebook_03s_default_run_leaves_ten_of_its_100_minutes_for_evaluation():
    minutes = pipeline.default_parameters("03")["minutes"]  # None would train all 60 epochs: 3.3 h on a slow 2-core CPU
    assert isinstance(minutes, (int, float)) and 0 < minutes <= 90


def test_a_time_budget_resumed_keeps_the_length_its_earlier_epochs_gave():
    earlier = pd.DataFrame({"epoch": [0, 1, 2], "elapsed_seconds": [20.0, 30.0, 40.0]})  # 20 s to compile, then 10 s each
    budget = training.TimeBudget(1, 60, 1e-3, True, earlier)
    assert budget.length == 5  # 3 done, 20 s of the 60 left: 2 more
    assert budget.rate(0) == pytest.approx(1e-3) and budget.rate(4) < 0.1e-3  # the last epoch that fits: near zero
    assert training.TimeBudget(1, 4, 1e-3, True, earlier).length == 4  # never more than `epochs`
    assert training.TimeBudget(0.5, 60, 1e-3, True, earlier).length == 3  # over budget already: no more epochs
    assert training.TimeBudget(1, 60, 1e-3, True, earlier.head(1)).length == 3  # one epoch done: its pace is all there is
    instant = pd.DataFrame({"epoch": [0, 1, 2], "elapsed_seconds": [5.0, 5.0, 5.0]})  # epochs under the clock's 0.1 s
    assert training.TimeBudget(1, 60, 1e-3, True, instant).length == 60


def test_pace_note_reads_like_a_person_would_say_it():
    assert [training.duration(s) for s in (40, 720, 7.4 * 3600)] == ["40 s", "12 min", "7.4 h"]
    note = training.pace_note(0, 442, 59)  # a default-recipe epoch measured on a 2-core AVX2 CPU, float32
    assert note.startswith("Epoch 1 took 7 min on ") and "the 59 epochs left would take about 7.2 h" in note
    assert training.pace_note(59, 442, 0).endswith(f"on {profiling.hardware()}.")
    assert note.endswith("Set `minutes` to fit the run into a time budget instead.")  # 7.2 h left, no budget set
    assert "minutes" not in training.pace_note(0, 442, 59, budgeted=True) + training.pace_note(0, 40, 59)


def test_a_short_budget_with_erasing_or_mixup_says_what_trains_better_in_it():
    note = training.budget_note(15 * 60, 7, 60, cosine=True, regularised=True)  # notebook 03's recipe, 15 min here
    assert note.startswith("A budget of 15 min fits about 7 of the 60 epochs at this pace: the cosine schedule")
    assert "`erasing=0` and `mixup=0`" in note and '`architecture="fer_fastnet"` with `augment="light"`' in note
    quiet = [training.budget_note(15 * 60, 7, 60, cosine=True, regularised=False),  # already without them
             training.budget_note(90 * 60, training.SHORT_RUN_EPOCHS, 60, cosine=True, regularised=True)]  # enough epochs
    assert not any("erasing" in note for note in quiet)
