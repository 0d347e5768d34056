"""A real Matrix homeserver (Synapse, from the dev extra) on loopback, for the Matrix channel tests.

The config is written whole (JSON is YAML), not generated and patched: client API only, no
federation, no key servers (matrix.org is unreachable from test machines), SQLite, and rate
limits raised so a test's burst of logins, rooms and messages never meets HTTP 429.
Users are registered through the shared-secret admin API, the way `register_new_matrix_user`
does it, without a process per user.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers import process

FIRST_PORT = 18008
SERVER_NAME = "localhost"
_UNLIMITED = {"per_second": 1000, "burst_count": 1000}


@dataclass
class Synapse:
    """One running homeserver: its client URL, its folder, and how to add users to it."""

    url: str
    port: int
    folder: Path
    shared_secret: str
    server: subprocess.Popen[bytes]
    server_name: str = SERVER_NAME

    def register(self, localpart: str, password: str, *, admin: bool = False) -> str:
        """Create an account and return its user id (@localpart:server)."""
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        nonce = httpx.get(endpoint, timeout=10).json()["nonce"]
        role = b"admin" if admin else b"notadmin"
        signed = b"\x00".join([nonce.encode(), localpart.encode(), password.encode(), role])
        mac = hmac.new(self.shared_secret.encode(), signed, hashlib.sha1).hexdigest()
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac,
        }
        answer = httpx.post(endpoint, json=body, timeout=30)
        answer.raise_for_status()
        return str(answer.json()["user_id"])

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/_matrix/client/versions", timeout=1).is_success
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        process.stop(self.server)


def require_synapse() -> None:
    """Skip (fail under CI=true) when Synapse is not installed: it comes with the dev extra."""
    if importlib.util.find_spec("synapse") is not None:
        return
    message = "matrix-synapse is not installed (make install-dev installs the dev extra)"
    if process.IN_CI:
        pytest.fail(f"{message}; CI=true: the integration tests are mandatory")
    pytest.skip(message)


def start_synapse(
    folder: Path, port: int | None = None, overrides: dict[str, object] | None = None
) -> Synapse:
    """Write a config into `folder`, start Synapse, return once its client API answers.

    `overrides` replace top-level config keys, e.g. a strict `rc_message` for a 429 test.
    """
    require_synapse()
    folder.mkdir(parents=True, exist_ok=True)
    port = port or process.free_port(FIRST_PORT)
    secret = secrets.token_hex(16)
    config = _write_config(folder, port, secret, overrides or {})
    log = folder / "synapse.log"
    command = [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config)]
    server = process.start(command, log, cwd=folder)
    synapse = Synapse(f"http://127.0.0.1:{port}", port, folder, secret, server)
    try:
        process.wait_until_ready("synapse", synapse.answers, server, log)
    except BaseException:
        synapse.stop()
        raise
    return synapse


def _write_config(folder: Path, port: int, secret: str, overrides: dict[str, object]) -> Path:
    _write_signing_key(folder / "signing.key")
    config = {
        "server_name": SERVER_NAME,
        "pid_file": str(folder / "homeserver.pid"),
        "report_stats": False,
        "signing_key_path": str(folder / "signing.key"),
        "media_store_path": str(folder / "media"),
        "database": {"name": "sqlite3", "args": {"database": str(folder / "homeserver.db")}},
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "registration_shared_secret": secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "enable_metrics": False,
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        **_rate_limits(),
        **overrides,
    }
    path = folder / "homeserver.yaml"
    path.write_text(json.dumps(config, indent=2), "utf-8")
    return path


def _rate_limits() -> dict[str, object]:
    return {
        "rc_message": _UNLIMITED,
        "rc_registration": _UNLIMITED,
        "rc_login": {
            "address": _UNLIMITED,
            "account": _UNLIMITED,
            "failed_attempts": _UNLIMITED,
        },
        "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
        "rc_invites": {"per_room": _UNLIMITED, "per_user": _UNLIMITED, "per_issuer": _UNLIMITED},
        "rc_room_creation": _UNLIMITED,
        "rc_profile": _UNLIMITED,
    }


def _write_signing_key(path: Path) -> None:
    from signedjson.key import generate_signing_key, write_signing_keys

    with path.open("w") as output:
        write_signing_keys(output, [generate_signing_key("test")])
