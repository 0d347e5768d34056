"""Registry fixtures: signed-in officers (a data manager, a plain officer)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories
from tests.registry.helpers import Headers


@pytest.fixture
def manager(client: TestClient, db_session: Session) -> Headers:
    """A signed-in data manager; the municipality MK-101 (Veles) exists."""
    login = factories.officer(db_session, roles=("data_manager",))
    factories.municipality(db_session)
    db_session.commit()
    return factories.officer_token(client, login)


@pytest.fixture
def officer(client: TestClient, db_session: Session) -> tuple[Headers, factories.OfficerLogin]:
    """A signed-in officer without registry roles, and their login."""
    login = factories.officer(db_session, roles=("officer",))
    db_session.commit()
    return factories.officer_token(client, login), login
