"""Rule definition files → rule versions: new files become v1, changed files the next version.

The files in `definitions/` are the source of truth for the country's rules; the database
numbers the versions, so a file carries no `version`. Sync is all or nothing: one invalid
file and nothing is written.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.identity.principal import Principal
from navreme.rules.actions import (
    RuleInvalid,
    create_rule_version,
    publish_rule,
    validate_definition,
)
from navreme.rules.models import Rule
from navreme.rules.schemas import RuleDefinition

DEFINITIONS_DIR = Path(__file__).parent / "definitions"


class DefinitionsInvalid(ValueError):
    """Some files are invalid; `problems` maps each file name to every problem in it."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        lines = [f"{name}: {problem}" for name, found in problems.items() for problem in found]
        super().__init__("; ".join(lines))
        self.problems = problems


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)  # "code vN", new versions written
    published: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def definition_files(directory: Path = DEFINITIONS_DIR) -> list[Path]:
    """The rule files, by name."""
    return sorted(directory.glob("*.toml"))


def _read(path: Path) -> dict[str, Any]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data.pop("version", None)  # versions are the database's to number
    return data


def _check_file(session: Session, path: Path) -> tuple[dict[str, Any], list[str]]:
    try:
        data = _read(path)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as broken:
        return {}, [f"not valid TOML: {broken}"]
    try:
        definition = validate_definition(session, data)
    except RuleInvalid as invalid:
        return data, invalid.problems
    if definition.code != path.stem:
        return data, [f"code: {definition.code!r} differs from the file name {path.stem!r}"]
    return data, []


def check_files(session: Session, paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Every file parsed and validated, by code; DefinitionsInvalid lists every problem."""
    problems: dict[str, list[str]] = {}
    parsed: dict[str, dict[str, Any]] = {}
    for path in paths:
        data, found = _check_file(session, path)
        if found:
            problems[path.name] = found
        else:
            parsed[data["code"]] = data
    if problems:
        raise DefinitionsInvalid(problems)
    return parsed


def _latest(session: Session, code: str) -> Rule | None:
    query = select(Rule).where(Rule.code == code).order_by(Rule.version.desc()).limit(1)
    return session.scalar(query)


def same_definition(rule: Rule, data: dict[str, Any]) -> bool:
    """Whether the stored version says exactly what the file says."""
    definition = RuleDefinition.model_validate({**data, "version": rule.version})
    return definition.model_dump(mode="json") == rule.definition


def _sync_one(
    session: Session, data: dict[str, Any], report: SyncReport, *, actor: Principal | None,
    publish: bool,
) -> None:  # fmt: skip
    rule = _latest(session, data["code"])
    if rule is None or not same_definition(rule, data):
        rule = create_rule_version(session, data, actor=actor)
        report.created.append(f"{rule.code} v{rule.version}")
    elif rule.status != "draft" or not publish:
        report.unchanged.append(f"{rule.code} v{rule.version}")
        return
    if publish:
        publish_rule(session, rule, actor=actor)
        report.published.append(f"{rule.code} v{rule.version}")


def sync_definitions(
    session: Session, *, actor: Principal | None = None, publish: bool = True,
    paths: list[Path] | None = None,
) -> SyncReport:  # fmt: skip
    """Bring the rule versions in line with the files (a changed file → a new version)."""
    checked = check_files(session, definition_files() if paths is None else paths)
    report = SyncReport()
    for code in sorted(checked):
        _sync_one(session, checked[code], report, actor=actor, publish=publish)
    session.flush()
    return report
