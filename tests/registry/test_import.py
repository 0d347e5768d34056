"""`navreme registry import`: every row checked first; all written in one go, or nothing."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from navreme.cli.main import app
from navreme.config import Settings
from navreme.registry import embg, importer
from navreme.registry.models import ContactEndpoint, Person
from tests import factories
from tests.registry.helpers import audit, count, persons

HEADER = "national_id,given_name,family_name,birth_date,sex,municipality,abroad_country,language,accessibility,email,phone"


@pytest.fixture
def registry(settings: Settings, db_session: Session) -> Session:
    """The test database with two municipalities to import into."""
    factories.municipality(db_session, "MK-101")
    db_session.add(
        factories.Municipality(
            code="MK-102",
            name="Gradsko",
            name_mk="Градско",
            region="Vardar",
            in_city_of_skopje=False,
        )
    )
    db_session.commit()
    return db_session


def _row(embg_born: date = date(1990, 5, 17), embg_sex: str = "F", **fields: str) -> str:
    values = {
        "national_id": factories.national_id(embg_born, embg_sex), "given_name": "Ана",
        "family_name": "Стојанова", "birth_date": embg_born.isoformat(), "sex": embg_sex,
        "municipality": "MK-101", "abroad_country": "", "language": "", "accessibility": "",
        "email": "", "phone": "",
    } | fields  # fmt: skip
    return ",".join(values.values())


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, ["registry", "import", *args])


def _write(tmp_path: Path, name: str, lines: list[str], *, ending: str = "\n") -> Path:
    path = tmp_path / name
    path.write_text(ending.join(lines) + ending, encoding="utf-8", newline="")
    return path


def test_import__good_csv__adds_everyone_with_their_contacts_and_audits_counts(
    registry: Session, tmp_path: Path
) -> None:
    lines = [
        HEADER,
        _row(email="ana@example.mk", phone="+389 70 111 222", accessibility="large_print;audio"),
        _row(embg_born=date(1985, 1, 2), embg_sex="M", municipality="велес", language="sq"),
        _row(embg_born=date(2001, 12, 31), municipality="Gradsko"),
        _row(municipality="", abroad_country="DE"),
    ]
    result = _run(str(_write(tmp_path, "people.csv", lines)))
    assert result.exit_code == 0, result.output
    assert "imported 4 person(s) and 2 contact endpoint(s)" in result.stdout
    assert persons(registry) == 4
    rows = registry.scalars(select(Person).order_by(Person.birth_date)).all()
    assert [p.municipality_code for p in rows] == ["MK-101", "MK-101", None, "MK-102"]
    assert sorted(p.accessibility for p in rows)[-1] == ["large_print", "audio"]
    contacts = registry.scalars(select(ContactEndpoint)).all()
    assert sorted((c.channel, c.address, c.verified_at) for c in contacts) == [
        ("email", "ana@example.mk", None), ("sms", "+38970111222", None),
    ]  # fmt: skip
    [entry] = audit(registry, "registry.import")
    assert entry.details == {"format": "csv", "persons": 4, "contacts": 2}


def test_import__bad_rows__reports_each_and_writes_nothing(
    registry: Session, tmp_path: Path
) -> None:
    good = _row()
    duplicate_id = good.split(",")[0]
    wrong_check = duplicate_id[:12] + str((int(duplicate_id[12]) + 1) % 10)
    feb_31 = "310299045001" + str(embg.check_digit("310299045001"))
    lines = [
        HEADER,
        good,                                                              # line 2: fine
        _row(given_name=""),                                               # 3
        _row(national_id=wrong_check),                                     # 4
        _row(national_id=feb_31),                                          # 5
        _row(birth_date="1990-05-18"),                                     # 6
        _row(sex="M"),                                                     # 7
        _row(municipality="Atlantis"),                                     # 8
        _row(national_id=duplicate_id),                                    # 9
        _row(accessibility="braille", email="nobody-at-example", phone="070111222"),  # 10
        _row(birth_date="17.05.1990"),                                     # 11
        _row(municipality="MK-101", abroad_country="DE"),                  # 12
        _row(municipality="", abroad_country=""),                          # 13
        _row(language="de"),                                               # 14
        "1705990450001,too,few",                                           # 15
    ]  # fmt: skip
    result = _run(str(_write(tmp_path, "people.csv", lines)))
    assert result.exit_code == 1
    expected = [
        "line 3: given_name: is required",
        "line 4: national_id: EMBG check digit does not match",
        "line 5: national_id: EMBG begins with an impossible birth date",
        "line 6: birth_date: 1990-05-18 does not match the EMBG's birth date (1990-05-17)",
        "line 7: sex: 'M' does not match the EMBG's sex ('F')",
        "line 8: municipality: unknown municipality 'Atlantis'",
        "line 9: national_id: repeats the national_id of line 2",
        "line 10: accessibility: unknown need 'braille'",
        "line 10: email: not an e-mail address",
        "line 10: phone: not a phone number",
        "line 11: birth_date: '17.05.1990' is not a real date",
        "line 12: municipality: must be empty when abroad_country is given",
        "line 13: municipality: is required (or give abroad_country)",
        "line 14: language: unknown language",
        "line 15: row: has 3 fields; the header has 11",
    ]
    reported = result.stderr.splitlines()
    for message in expected:
        assert any(line.startswith(message) for line in reported), (message, reported)
    assert not any(line.startswith("line 2:") for line in reported)
    assert "nothing was written" in result.stderr
    assert persons(registry) == 0
    assert audit(registry, "registry.import") == []


def test_import__national_id_already_registered__reported_and_nothing_written(
    registry: Session, tmp_path: Path
) -> None:
    known = factories.person(registry)
    registry.commit()
    lines = [HEADER, _row(), _row(embg_born=known.birth_date, national_id=known.national_id)]
    result = _run(str(_write(tmp_path, "people.csv", lines)))
    assert result.exit_code == 1
    assert "line 3: national_id: is already in the registry" in result.stderr
    assert persons(registry) == 1


def test_import__dry_run__checks_and_writes_nothing(registry: Session, tmp_path: Path) -> None:
    result = _run(str(_write(tmp_path, "people.csv", [HEADER, _row(), _row()])), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "all 2 rows" in result.stdout
    assert persons(registry) == 0
    assert audit(registry, "registry.import") == []


def test_import__jsonl__same_keys_one_object_per_line(registry: Session, tmp_path: Path) -> None:
    born = date(1979, 8, 8)
    records = [
        {"national_id": factories.national_id(born, "M"), "given_name": "Марко", "family_name": "Марковски",
         "birth_date": born.isoformat(), "sex": "M", "municipality": "MK-101",
         "accessibility": ["easy_read"], "email": None},
        {"national_id": factories.national_id(), "given_name": "Ана", "family_name": "Ана",
         "birth_date": "1990-05-17", "sex": "F", "municipality": None, "abroad_country": "CH"},
    ]  # fmt: skip
    path = tmp_path / "people.ndjson"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n\n")
    result = _run(str(path))
    assert result.exit_code == 0, result.output
    assert persons(registry) == 2


def test_import__jsonl_bad_lines__reported_with_their_line(
    registry: Session, tmp_path: Path
) -> None:
    path = tmp_path / "people.data"
    lines = ['{"national_id": 1705990450001}', "[1, 2]", "{broken", '{"nickname": "x"}']
    path.write_text("\n".join(lines) + "\n")
    result = _run(str(path), "--format", "jsonl")
    assert result.exit_code == 1
    for expected in (
        "line 1: national_id: must be text",
        "line 2: row: must be a JSON object",
        "line 3: row: not valid JSON",
        "line 4: row: unknown field(s): nickname",
    ):
        assert expected in result.stderr


def test_import__bom_and_crlf__read_like_any_csv(registry: Session, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join([HEADER, _row(), _row()]) + "\r\n").encode())
    result = _run(str(path))
    assert result.exit_code == 0, result.output
    assert persons(registry) == 2


def test_import__bytes_not_utf8__reported_with_the_line(registry: Session, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(
        "\n".join([HEADER, _row(), _row()]).encode() + b"\n" + _row().encode("cp1251") + b"\n"
    )
    result = _run(str(path))
    assert result.exit_code == 1
    assert "line 4: file: not UTF-8 (byte 0xc0 at column" in result.stderr
    assert persons(registry) == 0


def test_import__missing_and_unknown_columns__named_on_line_1(
    registry: Session, tmp_path: Path
) -> None:
    path = _write(tmp_path, "people.csv", ["national_id,given_name,birth_date,nickname", "1,2,3,4"])
    result = _run(str(path))
    assert result.exit_code == 1
    assert "line 1: header: missing column(s): family_name, sex, municipality" in result.stderr
    assert "line 1: header: unknown column(s): nickname" in result.stderr


def test_import__empty_file__refused_with_a_clear_message(
    registry: Session, tmp_path: Path
) -> None:
    for name in ("empty.csv", "empty.jsonl"):
        (tmp_path / name).write_bytes(b"")
        result = _run(str(tmp_path / name))
        assert result.exit_code == 1
        assert "line 1: file: is empty" in result.stderr


def test_import__header_only__imports_nobody(registry: Session, tmp_path: Path) -> None:
    result = _run(str(_write(tmp_path, "people.csv", [HEADER])))
    assert result.exit_code == 0, result.output
    assert "imported 0 person(s)" in result.stdout


def test_import__unknown_extension_without_format__exit_2(
    registry: Session, tmp_path: Path
) -> None:
    result = _run(str(_write(tmp_path, "people.txt", [HEADER])))
    assert result.exit_code == 2
    assert "--format" in result.stderr


def test_import__huge_field__refused_not_crashed(registry: Session, tmp_path: Path) -> None:
    path = _write(tmp_path, "people.csv", [HEADER, _row(given_name="x" * 200_000), _row()])
    result = _run(str(path))
    assert result.exit_code == 1
    assert "line 2:" in result.stderr
    assert persons(registry) == 0


def test_import__more_rows_than_a_chunk__all_written_once(
    registry: Session, tmp_path: Path
) -> None:
    days = (date(1950, 1, 1) + timedelta(days=i) for i in range(100_000))
    issued = ((born, embg.make(born, sex="F", region=41, serial=7)) for born in days)
    rows = (_row(embg_born=born, national_id=value) for born, value in issued if value)
    lines = [HEADER, *itertools.islice(rows, 6000)]
    result = _run(str(_write(tmp_path, "people.csv", lines)))
    assert result.exit_code == 0, result.output
    assert persons(registry) == 6000
    assert count(registry, ContactEndpoint) == 0


def test_import__national_id_registered_meanwhile__refused_and_nothing_written(
    registry: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = factories.person(registry)
    registry.commit()
    # As if another writer registered the person after the check: the check sees nobody.
    monkeypatch.setattr(importer.queries, "national_ids_registered", lambda session, ids: set())
    lines = [HEADER, _row(), _row(embg_born=known.birth_date, national_id=known.national_id)]
    result = _run(str(_write(tmp_path, "people.csv", lines)))
    assert result.exit_code == 1
    assert "registered meanwhile; nothing was written" in result.stderr
    assert persons(registry) == 1
