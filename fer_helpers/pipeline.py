"""Run the numbered notebooks in order with papermill, or one notebook over a parameter grid.

    python -m fer_helpers.pipeline                       # 01 -> 04 with each notebook's defaults
    python -m fer_helpers.pipeline --config params.yml -p limit_per_class=50
    python -m fer_helpers.pipeline --sweep 02 --grid architecture=seed_cnn,fer_resnet

Parameters go to every notebook that declares them (its `parameters` cell); a section named
after a notebook (e.g. `03_training: {epochs: 2}`) applies to that notebook only. Each
notebook may write results.json into its output_dir; those values feed the parameters of
later notebooks (03's model_path reaches 04). Everything lands in artifacts/runs/<run-id>/.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from fer_helpers.config import PATH_ENVS, PROJECT_ROOT, artifacts_dir
from fer_helpers.files import atomic_write

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
RESULTS_FILE = "results.json"
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a run folder's name: no separators, nothing hidden, not ..


class NotebookFailed(RuntimeError):
    """A notebook raised an error; the message names the notebook and the cell."""


def notebooks(only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks in order, optionally only those whose names start with one of `only`."""
    found = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [nb for nb in found if any(nb.stem.startswith(prefix) for prefix in only)]
        if not found:
            raise SystemExit(f"No notebook in {NOTEBOOK_DIR} matches {only}")
    return found


def pin_paths() -> None:
    """Make relative paths in the environment ($FER_DATA_DIR, $FER_VIDEOS_DIR, ...) absolute, since notebooks
    run from notebooks/, not from here."""
    for name in PATH_ENVS:
        if os.environ.get(name):
            os.environ[name] = str(Path(os.environ[name]).resolve())


def parameters_cell(notebook: Path) -> dict:
    """The values a notebook's `parameters` cell assigns ({} without one), read as Python literals without papermill
    (so a machine without Jupyter, such as a GPU box training through fer_helpers.handover, gets the same defaults)."""
    cells = json.loads(notebook.read_text())["cells"]
    tagged = [cell for cell in cells if "parameters" in cell.get("metadata", {}).get("tags", [])]
    statements = ast.parse("".join(tagged[0]["source"])).body if tagged else []
    return {node.targets[0].id: ast.literal_eval(node.value) for node in statements if isinstance(node, ast.Assign)}


def declared_parameters(notebook: Path) -> set[str]:
    """Names defined in a notebook's `parameters` cell."""
    return set(parameters_cell(notebook))


def default_parameters(notebook_prefix: str) -> dict:
    """A notebook's parameters as its `parameters` cell sets them (the one place a default recipe is written)."""
    [notebook] = notebooks([notebook_prefix])
    return parameters_cell(notebook)


def parameters_for(notebook: Path, params: dict) -> dict:
    """The subset of `params` a notebook declares, with its own section applied on top."""
    declared = declared_parameters(notebook)
    chosen = {k: v for k, v in params.items() if k in declared}  # a declared name is a parameter, a dict included
    chosen.update({k: v for k, v in params.get(notebook.stem, {}).items() if k in declared})
    return chosen


def check_parameters(params: dict, chosen: list[Path]) -> None:
    """Stop with the declared names when a parameter (or a notebook section) matches none of the chosen
    notebooks: a typo such as `epoch=1` must not start the full default run."""
    declared = {notebook.stem: declared_parameters(notebook) for notebook in chosen}
    everything = set().union(*declared.values())
    unknown = sorted(key for key, value in params.items() if not isinstance(value, dict) and key not in everything)
    for section, values in params.items():
        if isinstance(values, dict) and section not in everything:  # a parameter may hold a dict (model_options)
            if section not in declared:
                unknown.append(f"section {section}")
            else:
                unknown.extend(f"{section}.{key}" for key in values if key not in declared[section])
    if unknown:
        raise SystemExit(f"Unknown parameters {unknown}: the chosen notebooks declare {sorted(everything)} "
                         f"(sections: {sorted(declared)})")


def save_results(output_dir: str | Path, results: dict) -> Path:
    """Called by a notebook: write its headline results (JSON-able scalars and paths) for the pipeline."""
    path = Path(output_dir) / RESULTS_FILE
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(results, indent=2, default=str)))
    return path


def run_notebook(notebook: Path, params: dict, output_dir: Path, prepare_only: bool = False) -> dict:
    """Execute one notebook into output_dir; return its results; raise NotebookFailed naming the cell."""
    import papermill  # only here: the rest of this module also runs where Jupyter is not installed

    output_dir.mkdir(parents=True, exist_ok=True)
    chosen = parameters_for(notebook, params | {"output_dir": str(output_dir)})
    executed = output_dir.parent / notebook.name
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=chosen, cwd=str(NOTEBOOK_DIR),
            kernel_name="python3", progress_bar=False, prepare_only=prepare_only,
        )
    except papermill.PapermillExecutionError as error:
        raise NotebookFailed(
            f"{notebook.name} failed in cell {error.cell_index} (execution count {error.exec_count}): "
            f"{error.ename}: {error.evalue.rstrip('.')}. Executed copy: {executed}"
        ) from None
    results_file = output_dir / RESULTS_FILE
    return json.loads(results_file.read_text()) if results_file.exists() else {}


def run_series(params: dict, run_dir: Path, only: list[str] | None = None) -> list[dict]:
    """Run the notebooks in order; results of each feed the parameters of the next."""
    summary, carried = [], dict(params)
    for notebook in notebooks(only):
        started = time.perf_counter()
        entry = {"notebook": notebook.name, "parameters": parameters_for(notebook, carried)}
        try:
            results = run_notebook(notebook, carried, run_dir / notebook.stem)
        except NotebookFailed as error:
            summary.append(entry | {"status": "failed", "error": str(error), "seconds": round(time.perf_counter() - started, 1)})
            _write_summary(run_dir, summary)
            raise
        carried.update(results)
        summary.append(entry | {"status": "ok", "results": results, "seconds": round(time.perf_counter() - started, 1)})
        _write_summary(run_dir, summary)
    return summary


def run_sweep(notebook_prefix: str, grid: dict[str, list], params: dict, run_dir: Path) -> pd.DataFrame:
    """Run one notebook once per combination of the grid; write and return a comparison table."""
    notebook = notebooks([notebook_prefix])[0]
    rows = []
    for number, values in enumerate(itertools.product(*grid.values())):
        combo = dict(zip(grid, values))
        started = time.perf_counter()
        try:
            results = run_notebook(notebook, params | combo, run_dir / f"combo{number:02d}" / "output")
            status = "ok"
        except NotebookFailed as error:
            results, status = {"error": str(error)}, "failed"
        scalars = {k: v for k, v in results.items() if isinstance(v, (int, float, str, bool))}
        rows.append(combo | {"status": status, "seconds": round(time.perf_counter() - started, 1)} | scalars)
    table = pd.DataFrame(rows)
    atomic_write(run_dir / "comparison.csv", lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(run_dir / "comparison.txt", lambda tmp: tmp.write_text(table.to_string(index=False)))
    return table


def _write_summary(run_dir: Path, summary: list[dict]) -> None:
    """Write the run summary as JSON, whole."""
    atomic_write(run_dir / "summary.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2, default=str)))


def prepare(params: dict, out_dir: Path) -> list[Path]:
    """Write parameterised, unexecuted copies of every notebook (for nbval)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for notebook in notebooks():
        run_notebook(notebook, params, out_dir / notebook.stem, prepare_only=True)
    return sorted(out_dir.glob("*.ipynb"))


def command_for(notebook_prefix: str, params: dict) -> str:
    """The pipeline command that runs one notebook with these parameters."""
    flags = " ".join(f"-p {shlex.quote(f'{key}={json.dumps(value)}')}" for key, value in params.items())
    return f"python3 -m fer_helpers.pipeline --only {notebook_prefix} {flags}"


def read_config(path: Path | None) -> dict:
    """Parameters from a YAML file ({} without one); a missing, unreadable or malformed file stops with its name."""
    if path is None:
        return {}
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise SystemExit(f"Cannot read --config {path}: {getattr(error, 'strerror', None) or error}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise SystemExit(f"--config {path} must hold a mapping of parameters, not {type(loaded).__name__}")
    return loaded or {}


def yaml_value(text: str, given: str) -> object:
    """One parameter value read as YAML; a malformed one stops with the argument it came from."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or error
        raise SystemExit(f"Cannot read the value in {given!r} as YAML ({problem}); quote strings: -p 'name=\"text\"'") from None


def parse_assignments(pairs: list[str]) -> dict:
    """key=value strings as a dict, values read as YAML (numbers, booleans, lists, null)."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"Expected key=value, got {pair!r}")
        parsed[key.strip()] = yaml_value(value, pair)
    return parsed


def parse_grid(pairs: list[str]) -> dict[str, list]:
    """key=v1,v2 strings as a dict of value lists, values read as YAML."""
    grid = {}
    for pair in pairs:
        key, sep, values = pair.partition("=")
        if not sep:
            raise SystemExit(f"Expected key=v1,v2 for --grid, got {pair!r}")
        grid[key.strip()] = [yaml_value(v, pair) for v in values.split(",")]
    return grid


def run_id(text: str) -> str:
    """A run folder's name, as argparse's type: one plain folder name, so no run writes outside artifacts/runs/."""
    if not RUN_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a plain folder name (letters, digits, '.', '_', '-', "
                                         "starting with a letter or digit)")
    return text


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="YAML file of parameters")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="a parameter (repeatable)")
    parser.add_argument("--only", nargs="+", metavar="PREFIX", help="run only these notebooks (e.g. 01 02)")
    parser.add_argument("--run-id", type=run_id, default=time.strftime("%Y%m%d-%H%M%S"),
                        help="folder name under artifacts/runs/")
    parser.add_argument("--sweep", metavar="PREFIX", help="run this one notebook over --grid")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2", help="sweep values (repeatable)")
    args = parser.parse_args(argv)

    pin_paths()
    params = read_config(args.config) | parse_assignments(args.param)
    grid = parse_grid(args.grid)
    check_parameters(params | grid, notebooks([args.sweep]) if args.sweep else notebooks(args.only))
    run_dir = artifacts_dir() / "runs" / args.run_id
    try:
        if args.sweep:
            print(run_sweep(args.sweep, grid, params, run_dir).to_string(index=False))
        else:
            for entry in run_series(params, run_dir, args.only):
                print(f"{entry['notebook']}: {entry['status']} in {entry['seconds']} s")
    except NotebookFailed as error:
        print(f"Pipeline stopped: {error}", file=sys.stderr)
        return 1
    print(f"Outputs in {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
