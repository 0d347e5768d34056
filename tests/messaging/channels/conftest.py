"""Real chat servers for the channel tests: one Synapse and one Prosody per test session.

Each is started once (seconds each), on loopback, in a temporary folder, and stopped by its PID
when the session ends, also after failures. Tests make their own citizen accounts, so they do
not see each other's rooms or messages.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.servers.prosody import Prosody, start_prosody
from tests.servers.synapse import Synapse, start_synapse

_accounts = itertools.count(1)


@dataclass(frozen=True)
class Account:
    """A registered user on one of the test servers."""

    address: str  # Matrix user id or bare JID
    localpart: str
    password: str


def next_localpart(prefix: str) -> str:
    return f"{prefix}{next(_accounts)}"


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    server = start_synapse(tmp_path_factory.mktemp("synapse"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def matrix_bot(synapse: Synapse) -> Account:
    """The government's bot account, the sender of every message."""
    return Account(synapse.register("navreme", "bot-pass"), "navreme", "bot-pass")


@pytest.fixture
def matrix_citizen(synapse: Synapse) -> Account:
    """A fresh citizen account per test."""
    localpart = next_localpart("citizen")
    password = f"{localpart}-pass"
    return Account(synapse.register(localpart, password), localpart, password)


@pytest.fixture(scope="session")
def prosody(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prosody]:
    server = start_prosody(tmp_path_factory.mktemp("prosody"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def xmpp_bot(prosody: Prosody) -> Account:
    return Account(prosody.register("navreme", "bot-pass"), "navreme", "bot-pass")


@pytest.fixture
def xmpp_citizen(prosody: Prosody) -> Account:
    localpart = next_localpart("citizen")
    password = f"{localpart}-pass"
    return Account(prosody.register(localpart, password), localpart, password)
