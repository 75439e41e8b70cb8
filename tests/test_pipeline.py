"""The papermill pipeline on the real notebooks, small parameters, real data."""

import ast
import json
import shlex

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest

from conftest import CI_PARAMS, TINY_NETWORK
from fer_helpers import data, evaluation, handover, models, pipeline, saving


def test_series_runs_notebooks_and_writes_summary(tmp_path):
    summary = pipeline.run_series(CI_PARAMS, tmp_path, only=["01"])
    assert [entry["status"] for entry in summary] == ["ok"]
    assert summary[0]["results"]["num_classes"] == 7
    assert json.loads((tmp_path / "summary.json").read_text())[0]["notebook"] == "01_data_exploration.ipynb"
    executed = nbformat.read(tmp_path / "01_data_exploration.ipynb", as_version=4)
    assert any(cell.get("outputs") for cell in executed.cells if cell.cell_type == "code")
    assert (tmp_path / "01_data_exploration" / "mean_faces.png").exists()


def test_a_run_trained_without_jupyter_is_reused_by_notebook_03_which_saves_a_model_with_honest_metadata(tmp_path):
    params = CI_PARAMS | {"precision": "float32", "tta": "flip", "minutes": 60,
                          "model_options": {"widths": list(TINY_NETWORK["widths"]), "blocks": 1}}  # papermill: no tuples
    # bfloat16 to float32: test_training; a budget the run fits in (it trains as without one) and the network's options,
    # so that both sides must pass them for the reuse to be found
    declared = pipeline.default_parameters("03")
    handover.train_run({key: value for key, value in params.items() if key in declared}, tmp_path / "elsewhere")
    handover.unpack(handover.pack(tmp_path / "elsewhere", tmp_path / "run.tar"), tmp_path)
    summary = pipeline.run_series(params, tmp_path, only=["03"])
    outputs = [output.get("text", "") for cell in nbformat.read(tmp_path / "03_training.ipynb", as_version=4).cells
               for output in cell.get("outputs", [])]
    assert any("holds this run, finished: its best checkpoint is used, nothing is trained" in text for text in outputs)
    results = summary[0]["results"]
    assert summary[0]["status"] == "ok" and 0 <= results["test_accuracy"] <= 1
    model, metadata = saving.load_model(results["model_path"])
    assert metadata["precision"] == "float32" and "-p 'precision=\"float32\"'" in metadata["command"]
    assert "-p minutes=60" in metadata["command"] and "-p 'model_options={\"widths\": [8, 16, 32, 64]" in metadata["command"]
    assert model.count_params() == models.build_model("fer_resnet", 7, **TINY_NETWORK).count_params()
    assert metadata["dataset"] == "fer2013" and not any(str(value).startswith("/") for value in metadata.values())
    assert "cores" in metadata["hardware"]
    history = pd.read_csv(tmp_path / "03_training" / "checkpoints" / "history.csv")
    assert history["elapsed_seconds"].is_monotonic_increasing and len(history) == CI_PARAMS["epochs"]
    metrics = json.loads((tmp_path / "03_training" / "test_metrics.json").read_text())
    assert metrics["accuracy"] == results["test_accuracy"] and metrics["tta"]["mode"] == "flip"
    assert abs(metrics["tflite"]["accuracy"] - metrics["accuracy"]) <= 0.02  # the quantised copy the recogniser runs

    ensembled = pipeline.run_series(CI_PARAMS | {"ensemble_with": [results["model_path"]], "distill_from": [results["model_path"]]},
                                    tmp_path / "second", only=["03"])
    trained_here = [output.get("text", "") for cell in nbformat.read(tmp_path / "second" / "03_training.ipynb", as_version=4).cells
                    for output in cell.get("outputs", [])]
    assert any("Epoch 1 took" in text for text in trained_here)  # the pace note, not cleared away by the live plot
    ensemble, ensemble_metadata = saving.load_model(ensembled[0]["results"]["model_path"])
    assert ensemble_metadata["ensemble_members"] == ensemble_metadata["teacher_commands"] == [metadata["command"]]
    assert "-p 'distill_from=" in ensemble_metadata["command"] and "-p teacher_weight=0.7" in ensemble_metadata["command"]
    assert "ensemble_with" in ensemble_metadata["command"] and "-p mixup=0.2" in ensemble_metadata["command"]
    faces = data.load_dataset(limit_per_class=2).arrays("test")[0]
    network, network_metadata = saving.load_model(tmp_path / "second" / "03_training" / "network" / "model.keras")
    own = evaluation.predict_probabilities(network, faces)  # the run's network alone
    earlier = evaluation.predict_probabilities(model, faces)
    np.testing.assert_allclose(evaluation.predict_probabilities(ensemble, faces), (own + earlier) / 2, atol=1e-6)
    assert network_metadata["command"] == ensemble_metadata["command"].replace(
        f"-p {shlex.quote('ensemble_with=' + json.dumps([results['model_path']]))}", "-p 'ensemble_with=[]'")
    assert network_metadata["ensemble_members"] == [] and "test_accuracy" not in network_metadata
    x_val, y_val = data.load_dataset(limit_per_class=CI_PARAMS["limit_per_class"]).arrays("val")
    own_val = evaluation.metrics(y_val, evaluation.predict_probabilities(network, x_val), ensemble_metadata["classes"])
    assert network_metadata["val_accuracy"] == own_val["accuracy"]
    earlier_val = evaluation.metrics(y_val, evaluation.predict_probabilities(model, x_val), ensemble_metadata["classes"])
    first = evaluation.predict_probabilities(models.networks(ensemble)[0], faces)  # stored best first, ties as given
    np.testing.assert_allclose(first, own if own_val["accuracy"] >= earlier_val["accuracy"] else earlier, atol=1e-6)
    card = saving.model_card(metrics, ensemble_metadata)
    assert f"Its TFLite copy (what the recogniser runs), one plain pass per face: {metrics['tflite']['accuracy']:.2%}" in card
    assert f"Ensemble: the mean of the class probabilities of that run's model and 1 earlier model(s), made by: `{metadata['command']}`" in card
    assert f"Distilled: trained on a blend of the labels and the mean answers of teachers made by: `{metadata['command']}`" in card


def test_failing_notebook_is_named_with_its_cell(tmp_path):
    broken = nbformat.v4.new_notebook()
    broken.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    broken.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('boom.')")]
    path = tmp_path / "99_broken.ipynb"
    nbformat.write(broken, path)
    with pytest.raises(pipeline.NotebookFailed, match=r"99_broken.ipynb failed in cell 1 .*ValueError: boom\. Executed copy"):  # one full stop
        pipeline.run_notebook(path, {}, tmp_path / "out" / "99_broken")


def test_notebook_03_checks_the_models_it_names_before_training(tmp_path):
    missing = tmp_path / "nowhere.keras"  # a typo in a path must not cost a whole training run
    with pytest.raises(pipeline.NotebookFailed, match=r"03_training.ipynb failed in cell .*FileNotFoundError: No model at .*nowhere.keras"):
        pipeline.run_notebook(pipeline.NOTEBOOK_DIR / "03_training.ipynb",
                              {"limit_per_class": 5, "ensemble_with": [str(missing)]}, tmp_path / "03_training")
    assert not (tmp_path / "03_training" / "checkpoints").exists()


def test_notebook_03_trains_evaluates_and_saves_fer_fastnet_with_its_tflite_copy(fer_dir, tmp_path):
    params = CI_PARAMS | {"architecture": "fer_fastnet", "minutes": 15, "augment": "light", "erasing": 0, "mixup": 0}  # README's
    pipeline.run_notebook(pipeline.NOTEBOOK_DIR / "03_training.ipynb", params, tmp_path / "03_training")
    model, metadata = saving.load_model(tmp_path / "03_training" / "model" / saving.MODEL_FILE)
    assert model.name == metadata["architecture"] == "fer_fastnet"
    train_faces = data.load_dataset(fer_dir, limit_per_class=params["limit_per_class"]).arrays("train")[0]
    stem = model.get_layer("stem")  # fitted to the notebook's train faces, and left as it was by training
    assert not stem.trainable
    np.testing.assert_array_equal(stem.get_weights()[0], models.whitening_kernel(train_faces))
    assert (tmp_path / "03_training" / "model" / "model.tflite").exists() and 0 <= metadata["test_accuracy"] <= 1


def test_sweep_writes_a_comparison_table_and_goes_on_past_a_failed_run(tmp_path):
    table = pipeline.run_sweep("01", {"limit_per_class": [0, 5]}, {}, tmp_path)
    assert table["status"].tolist() == ["failed", "ok"]
    assert table["limit_per_class"].tolist() == [0, 5]
    assert "limit_per_class must be a whole number, at least 1" in table["error"][0] and table["num_classes"][1] == 7
    assert (tmp_path / "comparison.csv").read_text().count("\n") == 3


def test_recorded_command_gives_back_the_same_parameters_through_a_shell():
    params = {"architecture": "fer_resnet", "learning_rate": None, "augment": "full", "mixup": 0.2,
              "ensemble_with": ["../artifacts/runs/a b/model.keras", "x.keras"]}
    words = shlex.split(pipeline.command_for("03", params))
    assert words[:5] == ["python3", "-m", "fer_helpers.pipeline", "--only", "03"]
    assert pipeline.parse_assignments(words[6::2]) == params and set(words[5::2]) == {"-p"}


def test_parameters_are_parsed_and_filtered():
    assert pipeline.parse_assignments(["epochs=3", "data_dir=null", "name=x"]) == {"epochs": 3, "data_dir": None, "name": "x"}
    assert pipeline.parse_grid(["lr=0.1,0.01", "arch=a"]) == {"lr": [0.1, 0.01], "arch": ["a"]}
    for broken in (pipeline.parse_assignments, pipeline.parse_grid):  # one line naming it, not a YAML traceback
        with pytest.raises(SystemExit, match=r"Cannot read the value in 'ensemble_with=\[a.keras' as YAML"):
            broken(["ensemble_with=[a.keras"])
    notebook = pipeline.notebooks(["01"])[0]
    chosen = pipeline.parameters_for(notebook, {"limit_per_class": 3, "epochs": 9, "01_data_exploration": {"data_dir": "x"}})
    assert chosen == {"limit_per_class": 3, "data_dir": "x"}


def test_a_run_id_is_one_folder_under_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    for escape in ("../../elsewhere", "a/b", "..", ".hidden", ""):
        with pytest.raises(SystemExit) as stopped:
            pipeline.main(["--only", "01", "--run-id", escape])
        assert stopped.value.code == 2 and "is not a plain folder name" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "artifacts").exists()
    assert pipeline.run_id("seed_cnn") == "seed_cnn" and pipeline.run_id("20261201-180000") == "20261201-180000"


def test_default_parameters_are_the_parameters_cell_as_python_values():
    for notebook in pipeline.notebooks():  # read without papermill, they must be what papermill finds
        found = papermill.inspect_notebook(str(notebook))
        assert pipeline.parameters_cell(notebook) == {name: ast.literal_eval(value["default"]) for name, value in found.items()}
    defaults = pipeline.default_parameters("03")
    assert defaults["learning_rate"] is None and defaults["ensemble_with"] == [] and defaults["augment"] == "full"
    assert isinstance(defaults["epochs"], int) and isinstance(defaults["mixup"], float)
