"""The papermill pipeline on the real notebooks, small parameters, real data."""

import json

import nbformat
import pandas as pd
import pytest

from conftest import CI_PARAMS
from fer_helpers import pipeline, saving


def test_series_runs_notebooks_and_writes_summary(tmp_path):
    summary = pipeline.run_series(CI_PARAMS, tmp_path, only=["01"])
    assert [entry["status"] for entry in summary] == ["ok"]
    assert summary[0]["results"]["num_classes"] == 7
    assert json.loads((tmp_path / "summary.json").read_text())[0]["notebook"] == "01_data_exploration.ipynb"
    executed = nbformat.read(tmp_path / "01_data_exploration.ipynb", as_version=4)
    assert any(cell.get("outputs") for cell in executed.cells if cell.cell_type == "code")
    assert (tmp_path / "01_data_exploration" / "mean_faces.png").exists()


def test_smoke_training_through_papermill_saves_a_float32_model_with_honest_metadata(tmp_path):
    summary = pipeline.run_series(CI_PARAMS | {"precision": "mixed_bfloat16", "tta": "flip"}, tmp_path, only=["03"])
    results = summary[0]["results"]
    assert summary[0]["status"] == "ok" and 0 <= results["test_accuracy"] <= 1
    model, metadata = saving.load_model(results["model_path"])
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}  # trained in bfloat16, saved in float32
    assert metadata["precision"] == "mixed_bfloat16" and "-p precision=" in metadata["command"]
    assert metadata["dataset"] == "fer2013" and not any(str(value).startswith("/") for value in metadata.values())
    assert "cores" in metadata["hardware"]
    history = pd.read_csv(tmp_path / "03_training" / "checkpoints" / "history.csv")
    assert history["elapsed_seconds"].is_monotonic_increasing and len(history) == CI_PARAMS["epochs"]
    metrics = json.loads((tmp_path / "03_training" / "test_metrics.json").read_text())
    assert metrics["accuracy"] == results["test_accuracy"] and metrics["tta"]["mode"] == "flip"


def test_failing_notebook_is_named_with_its_cell(tmp_path):
    broken = nbformat.v4.new_notebook()
    broken.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    broken.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('boom')")]
    path = tmp_path / "99_broken.ipynb"
    nbformat.write(broken, path)
    with pytest.raises(pipeline.NotebookFailed, match=r"99_broken.ipynb failed in cell 1 .*ValueError: boom"):
        pipeline.run_notebook(path, {}, tmp_path / "out" / "99_broken")


def test_sweep_writes_a_comparison_table(tmp_path):
    table = pipeline.run_sweep("01", {"limit_per_class": [5, 10]}, {}, tmp_path)
    assert table["status"].tolist() == ["ok", "ok"]
    assert table["limit_per_class"].tolist() == [5, 10]
    assert (tmp_path / "comparison.csv").read_text().count("\n") == 3


def test_parameters_are_parsed_and_filtered():
    assert pipeline.parse_assignments(["epochs=3", "data_dir=null", "name=x"]) == {"epochs": 3, "data_dir": None, "name": "x"}
    assert pipeline.parse_grid(["lr=0.1,0.01", "arch=a"]) == {"lr": [0.1, 0.01], "arch": ["a"]}
    notebook = pipeline.notebooks(["01"])[0]
    chosen = pipeline.parameters_for(notebook, {"limit_per_class": 3, "epochs": 9, "01_data_exploration": {"data_dir": "x"}})
    assert chosen == {"limit_per_class": 3, "data_dir": "x"}
