"""`navreme open311 key create|revoke|list`: the key is printed once and works; revoked, it stops."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from navreme.cases import actions
from navreme.catalogue.actions import load_demo_catalogue
from navreme.cli.open311 import app  # registered in cli/main.py as `navreme open311`


def _post(client: TestClient, key: str) -> int:
    form = {"api_key": key, "service_code": "roads", "address_string": "ул. Партизанска 3"}
    return client.post("/open311/v2/requests.json", data=form).status_code


def test_key_create__works_once_shown__list_hides_it__revoke_stops_it(
    client: TestClient, db_session: Session
) -> None:
    load_demo_catalogue(db_session)
    actions.load_categories(db_session)
    db_session.commit()
    created = CliRunner().invoke(app, ["key", "create", "fixmystreet"])
    assert created.exit_code == 0, created.output
    key = created.output.strip()
    assert key.startswith("o311_")
    assert _post(client, key) == 201
    listed = CliRunner().invoke(app, ["key", "list"])
    assert "fixmystreet" in listed.output
    assert "active" in listed.output
    assert key not in listed.output
    revoked = CliRunner().invoke(app, ["key", "revoke", "fixmystreet"])
    assert revoked.exit_code == 0, revoked.output
    assert _post(client, key) == 403
    assert CliRunner().invoke(app, ["key", "revoke", "nobody"]).exit_code == 1
    assert CliRunner().invoke(app, ["key", "create", " "]).exit_code == 2
