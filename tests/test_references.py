"""Benchmarks and notebooks use only names fer_helpers has. CI never runs the benchmarks, so a name moved or removed
from a module would otherwise break them unnoticed (as `inference.VideoSource` once did)."""

import ast
import importlib
import inspect
import json

import pytest

from fer_helpers import pipeline, training
from fer_helpers.config import PROJECT_ROOT

PACKAGE = "fer_helpers"


def sources() -> dict[str, str]:
    """Python source of every benchmark script and of every notebook's code cells (IPython magics and shell lines
    dropped), by path."""
    found = {str(path.relative_to(PROJECT_ROOT)): path.read_text() for path in sorted((PROJECT_ROOT / "benchmarks").glob("*.py"))}
    for path in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")):
        cells = ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]
        lines = [line for cell in cells for line in cell.splitlines() if not line.lstrip().startswith(("%", "!"))]
        found[str(path.relative_to(PROJECT_ROOT))] = "\n".join(lines)
    return found


def missing_names(source: str) -> list[str]:
    """Names used from fer_helpers (`from fer_helpers import m` then `m.name`, or `from fer_helpers.m import name`)
    that the module does not have."""
    tree = ast.parse(source)
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE)]
    modules = {alias.asname or alias.name: f"{PACKAGE}.{alias.name}" for node in imports if node.module == PACKAGE
               for alias in node.names}
    wanted = [(node.module, alias.name) for node in imports if node.module != PACKAGE for alias in node.names]
    wanted += [(modules[node.value.id], node.attr) for node in ast.walk(tree)
               if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules]
    return sorted({f"{module}.{name}" for module, name in wanted if not hasattr(importlib.import_module(module), name)})


@pytest.mark.parametrize("path", sorted(sources()))
def test_benchmarks_and_notebooks_name_only_what_fer_helpers_has(path):
    assert missing_names(sources()[path]) == []


def test_a_removed_name_is_found():
    assert missing_names("from fer_helpers import inference\ninference.VideoSource('x.mp4')") == ["fer_helpers.inference.VideoSource"]
    assert missing_names("from fer_helpers.inference import VideoSource, Recogniser") == ["fer_helpers.inference.VideoSource"]


def test_time_to_accuracy_trains_notebook_03s_default_recipe(monkeypatch):
    """The benchmark's "ours" is notebook 03's default run: every setting train() takes that the notebook sets
    (its `seed` is the split's; train's is the notebook's `train_seed`)."""
    monkeypatch.syspath_prepend(str(PROJECT_ROOT / "benchmarks"))
    ours = importlib.import_module("bench_time_to_accuracy").recipes()["fer_resnet"]
    notebook = pipeline.default_parameters("03")
    train_defaults = {name: parameter.default for name, parameter in inspect.signature(training.train).parameters.items()}
    shared = set(train_defaults) & set(notebook) - {"architecture", "seed", "class_weights", "output_dir"}
    assert {name: ours.get(name, train_defaults[name]) for name in shared} == {name: notebook[name] for name in shared}
    assert (notebook["architecture"], ours["seed"], notebook["class_weights"]) == ("fer_resnet", notebook["train_seed"], False)
