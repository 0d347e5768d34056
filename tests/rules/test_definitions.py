"""The country's rule files: all valid, synced once, a changed file becomes a new version."""

from __future__ import annotations

import shutil
import tomllib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme.audit.models import AuditEntry
from navreme.catalogue.actions import load_demo_catalogue
from navreme.rules import loader
from navreme.rules.models import Offer, Rule
from navreme.rules.queries import render_reason
from navreme.rules.schemas import PLACEHOLDERS, RuleDefinition


@pytest.fixture
def catalogue(db_session: Session) -> Session:
    load_demo_catalogue(db_session)
    db_session.flush()
    return db_session


def _copies(tmp_path: Path, *names: str) -> list[Path]:
    folder = tmp_path / "definitions"
    folder.mkdir(exist_ok=True)
    for path in loader.definition_files():
        if not names or path.stem in names:
            shutil.copy(path, folder / path.name)
    return loader.definition_files(folder)


def _versions(session: Session, code: str) -> list[tuple[int, str]]:
    query = select(Rule.version, Rule.status).where(Rule.code == code).order_by(Rule.version)
    return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def _rule_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Rule)) or 0


def test_definitions__twenty_files__each_a_valid_rule_named_after_its_code(
    catalogue: Session,
) -> None:
    files = loader.definition_files()

    checked = loader.check_files(catalogue, files)

    assert len(files) == 20
    assert sorted(checked) == sorted(path.stem for path in files)


def test_definitions__every_trigger_kind_and_level_is_used() -> None:
    parsed = [
        RuleDefinition.model_validate(tomllib.loads(path.read_text("utf-8")))
        for path in loader.definition_files()
    ]

    assert {d.trigger.kind for d in parsed} == {
        "document_expiry", "mandated_replacement", "life_event", "age_reached", "eligibility",
    }  # fmt: skip
    assert {d.level for d in parsed} == {"inform", "offer", "automatic"}
    assert all(d.reason.en.strip() and d.reason.mk.strip() and d.reason.sq.strip() for d in parsed)


def test_definitions__reasons_use_the_same_placeholders_in_every_language() -> None:
    import string

    for path in loader.definition_files():
        reason = RuleDefinition.model_validate(tomllib.loads(path.read_text("utf-8"))).reason
        used = [
            {name for _, name, _, _ in string.Formatter().parse(text) if name}
            for text in (reason.mk, reason.sq, reason.en)
        ]
        assert used[0] == used[1] == used[2], path.name
        assert used[0] <= set(PLACEHOLDERS), path.name


def test_sync__first_time__every_rule_published_as_version_1(catalogue: Session) -> None:
    report = loader.sync_definitions(catalogue)

    assert len(report.created) == len(report.published) == 20
    assert _versions(catalogue, "passport-expiry") == [(1, "published")]
    assert _rule_count(catalogue) == 20


def test_sync__run_again__writes_nothing(catalogue: Session) -> None:
    loader.sync_definitions(catalogue)
    audited = catalogue.scalar(select(func.count()).select_from(AuditEntry))

    report = loader.sync_definitions(catalogue)

    assert (report.created, report.published, len(report.unchanged)) == ([], [], 20)
    assert _rule_count(catalogue) == 20
    assert catalogue.scalar(select(func.count()).select_from(AuditEntry)) == audited


def test_sync__changed_file__next_version_published_and_old_one_retired(
    catalogue: Session, tmp_path: Path
) -> None:
    files = _copies(tmp_path, "passport-expiry", "id-card-expiry")
    loader.sync_definitions(catalogue, paths=files)
    changed = tmp_path / "definitions" / "passport-expiry.toml"
    changed.write_text(
        changed.read_text("utf-8").replace("horizons_days = [90, 30, 7]", "horizons_days = [60]"),
        encoding="utf-8",
    )

    report = loader.sync_definitions(catalogue, paths=files)

    assert report.created == ["passport-expiry v2"]
    assert report.unchanged == ["id-card-expiry v1"]
    assert _versions(catalogue, "passport-expiry") == [(1, "retired"), (2, "published")]
    latest = catalogue.scalar(select(Rule).where(Rule.code == "passport-expiry", Rule.version == 2))
    assert latest is not None
    assert latest.definition["trigger"]["horizons_days"] == [60]


def test_sync__without_publishing__new_versions_stay_drafts(
    catalogue: Session, tmp_path: Path
) -> None:
    report = loader.sync_definitions(
        catalogue, publish=False, paths=_copies(tmp_path, "passport-expiry")
    )

    assert (report.created, report.published) == (["passport-expiry v1"], [])
    assert _versions(catalogue, "passport-expiry") == [(1, "draft")]


def test_sync__invalid_files__every_problem_listed_and_nothing_written(
    catalogue: Session, tmp_path: Path
) -> None:
    files = _copies(tmp_path)
    bad = tmp_path / "definitions" / "passport-expiry.toml"
    text = bad.read_text("utf-8")
    text = text.replace('service = "passport"', 'service = "no-such-service"')
    text = text.replace("horizons_days = [90, 30, 7]", "horizons_days = [0]")
    bad.write_text(text.replace('level = "offer"', 'level = "offer"\ncolour = "red"'), "utf-8")
    (tmp_path / "definitions" / "broken.toml").write_text("code = ", encoding="utf-8")

    with pytest.raises(loader.DefinitionsInvalid) as refused:
        loader.sync_definitions(catalogue, paths=[*files, tmp_path / "definitions/broken.toml"])

    problems = refused.value.problems
    assert sorted(problems) == ["broken.toml", "passport-expiry.toml"]
    found = " | ".join(problems["passport-expiry.toml"])
    assert "colour" in found
    assert "horizons_days" in found
    assert "no-such-service" in found
    assert "not valid TOML" in problems["broken.toml"][0]
    assert _rule_count(catalogue) == 0


def test_sync__file_named_differently_from_its_code__refused(
    catalogue: Session, tmp_path: Path
) -> None:
    [original] = _copies(tmp_path, "passport-expiry")
    renamed = original.rename(original.with_name("passports.toml"))

    with pytest.raises(loader.DefinitionsInvalid) as refused:
        loader.sync_definitions(catalogue, paths=[renamed])

    assert "file name" in refused.value.problems["passports.toml"][0]


def _definition(code: str) -> RuleDefinition:
    path = loader.DEFINITIONS_DIR / f"{code}.toml"
    return RuleDefinition.model_validate(tomllib.loads(path.read_text("utf-8")))


def test_reason__age_reached__speaks_of_the_birthday_not_the_birth() -> None:
    offer = Offer(fact_kind="person", fact_date=date(2008, 12, 1), as_of=date(2026, 11, 22))

    reason = render_reason(
        _definition("first-adult-id-card"), offer, language="en", service_name="ID",
        document_number=None, born=date(2008, 12, 1),
    )  # fmt: skip

    assert reason.startswith("You turn 18 on 01.12.2026 ")


def test_reason__every_rule_every_language__no_placeholder_left() -> None:
    offer = Offer(fact_kind="document", fact_date=date(2026, 12, 1), as_of=date(2026, 11, 22))

    for path in loader.definition_files():
        for language in ("mk", "sq", "en"):
            reason = render_reason(
                _definition(path.stem), offer, language=language, service_name="S",
                document_number="P1234567", born=date(1990, 1, 1),
            )  # fmt: skip
            assert "{" not in reason, path.name
            assert "1234567" not in reason, path.name
