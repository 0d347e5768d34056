"""The deployment examples stay true to the code: they parse, and every command, option and
setting they name exists. (Building the image and running the orchestration is not tested
here: docs/operations.md says so.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from navreme.cli.main import app
from navreme.config import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
FILES = sorted(DEPLOY.rglob("*.yaml")) + [DEPLOY / "Containerfile"]


def _commands() -> list[list[str]]:
    """Every `navreme` argument list the examples run."""
    found: list[list[str]] = []
    for path in DEPLOY.rglob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text()):
            found += list(_walk(document))
    containerfile = (DEPLOY / "Containerfile").read_text()
    found.append(yaml.safe_load(re.search(r"^CMD (.+)$", containerfile, re.M)[1]))  # type: ignore[index]
    return [list(arguments) for arguments in sorted({tuple(each) for each in found})]


def _walk(node: object) -> list[list[str]]:
    if isinstance(node, dict):
        out = []
        for key, value in node.items():
            if key in ("command", "args") and isinstance(value, list) and value[0] in COMMANDS:
                out.append([str(part) for part in value])
            else:
                out += _walk(value)
        return out
    if isinstance(node, list):
        return [found for item in node for found in _walk(item)]
    return []


COMMANDS = {"serve", "worker", "db", "demo"}


def test_deploy__every_file_parses() -> None:
    for path in DEPLOY.rglob("*.yaml"):
        assert list(yaml.safe_load_all(path.read_text())), path


@pytest.mark.parametrize("arguments", _commands(), ids=" ".join)
def test_deploy__every_command_and_option_exists(arguments: list[str]) -> None:
    result = CliRunner().invoke(app, [*arguments, "--help"])
    assert result.exit_code == 0, result.output


def test_deploy__every_setting_named_is_a_setting() -> None:
    names = {
        match for path in FILES for match in re.findall(r"\bNAVREME_[A-Z_]+", path.read_text())
    }
    unknown = {
        name for name in names if name[len("NAVREME_") :].lower() not in Settings.model_fields
    }
    assert len(names) >= 5
    assert not unknown
