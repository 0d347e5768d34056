"""T14: schemathesis over the whole OpenAPI spec, once per role: no 5xx, no schema violations.

The spec is read from the app in-process and every operation is called through the ASGI
transport (no network server), with a fresh session token of the role for each request, so a
fuzzed logout cannot sign the next request out. Part of the generated requests put the world's
real objects (citizen A's person, department A's case …) into the path, so the fuzzer reaches
the code behind the access checks instead of stopping at 404.

Each operation gets its own Hypothesis run inside one test per role and backend (schemathesis'
lazy pytest loader does not work with pytest 9.2); failures are collected per operation and
reported together. CI size is small and reproducible (derandomized); `NAVREME_FUZZ_EXAMPLES=N`
makes the nightly run generate N random examples per operation and per generation mode.
"""

from __future__ import annotations

import os
from collections import Counter

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from tests.security.world import World, build_world, headers_for

NIGHTLY_EXAMPLES = int(os.environ.get("NAVREME_FUZZ_EXAMPLES", "0"))
CI_EXAMPLES = 8

ROLES = ("anonymous", "citizen_a", "officer_a", "supervisor_a", "admin")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
ENDS_SESSIONS = {"POST /api/v1/auth/logout"}
# Generated strings may carry NUL bytes: PostgreSQL refuses them in text, the API must say 422.
CONFIG = {"generation": {"allow-x00": True}}

FUZZ_SETTINGS = settings(
    max_examples=NIGHTLY_EXAMPLES or CI_EXAMPLES,
    derandomize=NIGHTLY_EXAMPLES == 0,  # CI sends the same requests on every run
    database=None,
    deadline=None,
    # CI reports the first failing example as generated; the nightly run shrinks it too
    phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if NIGHTLY_EXAMPLES else []),
    suppress_health_check=list(HealthCheck),
)


# CI fuzzes on SQLite (the 3-minute budget); the nightly run adds PostgreSQL, which refuses
# what SQLite lets through (NUL bytes in text, out-of-range integers).
BACKENDS = ["sqlite"] + (
    [pytest.param("postgres", marks=pytest.mark.postgres)] * bool(NIGHTLY_EXAMPLES)
)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=ROLES)
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _operations(client: TestClient) -> list[APIOperation]:
    config = SchemathesisConfig.from_dict(CONFIG)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app, config=config)
    return [result.ok() for result in schema.get_all_operations()]


def _cases(operation: APIOperation, world: World) -> st.SearchStrategy[Case]:
    """Valid and invalid input, with random path objects and with the world's real ones."""
    params = operation.path_parameters
    real = {p.name: world.ids[p.name] for p in params if p.name in world.ids}
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(mode))
        if real:
            strategies.append(operation.as_strategy(mode, path_parameters=real))
    return st.one_of(strategies)


def _send(client: TestClient, case: Case, headers: dict[str, str]) -> httpx.Response:
    """The case through the app's own TestClient (httpx): schemathesis' ASGI transport runs on
    `requests`, which the installed urllib3-future breaks."""
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")
    kwargs.pop("timeout", None)
    cookies = kwargs.pop("cookies", None) or {}
    if cookies:
        kwargs["headers"]["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    client.cookies.clear()  # a fuzzed sign-in must not sign in the next request
    return client.request(**kwargs)


class Caller:
    """The role's bearer token, made fresh again after a request that may have ended it."""

    def __init__(self, session: Session, world: World, role: str) -> None:
        self.session, self.world, self.role = session, world, role
        self.headers: dict[str, str] | None = None
        self.answered: Counter[int] = Counter()  # status class → count: proof requests went in

    def sign_in(self) -> dict[str, str]:
        if self.headers is None:
            self.headers = headers_for(self.session, self.world, self.role)
        return dict(self.headers)

    def after(self, operation: APIOperation, response: httpx.Response) -> None:
        self.answered[response.status_code // 100] += 1
        if operation.label in ENDS_SESSIONS:
            self.headers = None


def _fuzz(client: TestClient, operation: APIOperation, world: World, caller: Caller) -> None:
    @FUZZ_SETTINGS
    @given(case=_cases(operation, world))
    def run(case: Case) -> None:
        headers = caller.sign_in()
        response = _send(client, case, headers)
        caller.after(operation, response)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def _describe(failure: BaseException) -> str:
    if isinstance(failure, FailureGroup):
        return "\n".join(str(exception) for exception in failure.exceptions)
    return f"{type(failure).__name__}: {failure}"


@pytest.mark.timeout(0 if NIGHTLY_EXAMPLES else 300)  # a nightly run may take its time
def test_fuzz__every_operation_as_each_role__no_server_error_and_conforms(
    client: TestClient, db_session: Session, role: str
) -> None:
    world = build_world(db_session)
    caller = Caller(db_session, world, role)
    failures = []
    for operation in _operations(client):
        try:
            _fuzz(client, operation, world, caller)
        except (FailureGroup, Exception) as failure:  # collected, reported together below
            failures.append(f"{operation.label}: {_describe(failure)}")
    assert failures == [], "\n\n".join(failures)
    print(f"{role}: answers by status class {dict(sorted(caller.answered.items()))}")
    assert caller.answered[2] > 0, f"no request got through: {caller.answered}"
