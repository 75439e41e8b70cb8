"""pyproject.toml and environment.yml list the same packages."""

import re
import tomllib

import yaml

from fer_helpers.config import PROJECT_ROOT


def names(requirements: list[str]) -> set[str]:
    """Package names without version specifiers, lower case."""
    return {re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_pyproject_and_environment_yml_agree():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    pip_packages = names(project["dependencies"] + project["optional-dependencies"]["dev"])
    environment = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert names(pip_section) == pip_packages
    assert "python=3.11" in environment["dependencies"]
