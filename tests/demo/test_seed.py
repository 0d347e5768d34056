"""`seed_demo_country` and `navreme seed`: repeatable, idempotent, complete reference data."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from navreme.cli.main import app
from navreme.config import Settings
from navreme.db import engine_for, session_scope
from navreme.demo.draw import DrawPlan, draw_chunks
from navreme.demo.pipeline import draw_in_subprocess
from navreme.demo.reference import load_reference
from navreme.demo.seed import SeedError, seed_demo_country
from navreme.identity.models import Department
from navreme.migrate import ensure_database
from navreme.registry.models import Document, Municipality, Person
from navreme.scheduling.models import Office

AS_OF = date(2025, 6, 1)
SKOPJE = ("MK-801", "MK-803", "MK-804", "MK-805", "MK-808", "MK-809", "MK-811", "MK-814",
          "MK-815", "MK-817")  # fmt: skip


def _registry(settings: Settings) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(person id, national id, name) and (kind, number) of every document, sorted."""
    with session_scope(settings) as session:
        people = session.execute(select(Person.id, Person.national_id, Person.given_name)).all()
        documents = session.execute(select(Document.kind, Document.number)).all()
    return (
        sorted((person_id.hex, national_id, name) for person_id, national_id, name in people),
        sorted((kind, number) for kind, number in documents),
    )


def _drawn(plan: DrawPlan) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    people, documents = [], []
    for chunk in draw_chunks(plan):
        people += [(row[0], row[1], row[2]) for row in chunk.rows["persons"]]
        documents += [(row[2], row[3]) for row in chunk.rows["documents"]]
    return sorted(people), sorted(documents)  # type: ignore[arg-type]


def _plan(*, persons: int, seed: int = 11, postgres: bool = False) -> DrawPlan:
    return DrawPlan(seed=seed, as_of=AS_OF, persons=persons, postgres=postgres,
                    municipalities=tuple(load_reference()))  # fmt: skip


def test_seed__same_seed_and_date__same_registry_on_any_database(
    settings: Settings, tmp_path: Path
) -> None:
    seed_demo_country(settings, persons=2_000, seed=11, as_of=AS_OF)
    other = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'other.db'}"})
    ensure_database(other)
    seed_demo_country(other, persons=2_000, seed=11, as_of=AS_OF)
    first, second = _registry(settings), _registry(other)
    engine_for(other.resolved_database_url).dispose()
    assert first == second
    assert len(first[0]) == 2_000
    assert len(first[1]) > 3_000


def test_seed__different_seed__different_people() -> None:
    first, _ = _drawn(_plan(persons=500, seed=1))
    second, _ = _drawn(_plan(persons=500, seed=2))
    assert {p[1] for p in first} != {p[1] for p in second}


@pytest.mark.parametrize("write_method", ["auto", "executemany"])
def test_seed__written_rows_are_the_drawn_rows(settings: Settings, write_method: str) -> None:
    seed_demo_country(settings, persons=1_500, seed=11, as_of=AS_OF, write_method=write_method)
    assert _registry(settings) == _drawn(_plan(persons=1_500, postgres=not settings.is_sqlite))


def test_seed__drawn_in_a_subprocess__same_rows(settings: Settings) -> None:
    seed_demo_country(settings, persons=1_500, seed=11, as_of=AS_OF, parallel=True)
    assert _registry(settings) == _drawn(_plan(persons=1_500, postgres=not settings.is_sqlite))


def test_draw_in_subprocess__same_chunks_as_in_process() -> None:
    plan = _plan(persons=3_000)
    assert list(draw_in_subprocess(plan)) == list(draw_chunks(plan))


def test_draw_in_subprocess__failure__raised_here_with_the_childs_traceback() -> None:
    broken = DrawPlan(seed=1, as_of=AS_OF, persons=10, postgres=False, municipalities=())
    with pytest.raises(SeedError, match="KeyError: .MK-501"):
        list(draw_in_subprocess(broken))


def test_seed__twice__second_run_changes_nothing(settings: Settings) -> None:
    first = seed_demo_country(settings, persons=300, seed=3, as_of=AS_OF)
    again = seed_demo_country(settings, persons=300, seed=4, as_of=AS_OF)
    assert not first.skipped
    assert first.persons == 300
    assert again.skipped
    assert again.persons == 0
    assert "already exist" in again.notes[0]
    with session_scope(settings) as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 300
        assert session.scalar(select(func.count()).select_from(Municipality)) == 80
        assert session.scalar(select(func.count()).select_from(Office)) == first.offices_created


def test_seed__no_people__all_80_municipalities_each_with_an_mvr_office(
    settings: Settings,
) -> None:
    report = seed_demo_country(settings, persons=0, as_of=AS_OF)
    assert report.municipalities_created == 80
    assert report.persons == 0
    with session_scope(settings) as session:
        municipalities = {m.code: m for m in session.scalars(select(Municipality))}
        offices = session.execute(select(Office, Department.code).join(Department)).all()
    assert len(municipalities) == 80
    assert sum(m.population or 0 for m in municipalities.values()) == 1_836_713
    assert municipalities["MK-805"].name_mk == "Ѓорче Петров"
    mvr = {office.municipality_code: office for office, code in offices if code == "MVR"}
    assert set(mvr) == set(municipalities)
    assert all(code in mvr for code in SKOPJE)
    assert all(
        office.address and office.latitude and office.counters >= 1 for office in mvr.values()
    )
    umev = {office.municipality_code for office, code in offices if code == "UMEV"}
    assert {"MK-501", "MK-609", "MK-703", "MK-814"} <= umev < set(municipalities)


def test_seed__without_the_catalogue__refuses_with_a_clear_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "navreme.catalogue.actions", None)
    with pytest.raises(SeedError, match="demo catalogue"):
        seed_demo_country(settings, persons=10, as_of=AS_OF)
    with session_scope(settings) as session:
        assert session.scalar(select(func.count()).select_from(Municipality)) == 0


def test_seed__without_demo_accounts_module__seeds_and_notes_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "navreme.identity.demo", None)
    report = seed_demo_country(settings, persons=50, as_of=AS_OF)
    assert report.persons == 50
    assert report.demo_accounts_created is None
    assert any("demo officer accounts" in note for note in report.notes)


def test_cli_seed__prints_a_summary_then_refuses_to_seed_twice(settings: Settings) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["seed", "--persons", "400", "--as-of", "2025-06-01"])
    assert first.exit_code == 0, first.output
    assert "persons 400 in" in first.output
    assert "rows/s" in first.output
    again = runner.invoke(app, ["seed", "--persons", "400"])
    assert again.exit_code == 0, again.output
    assert "already exist" in again.output
