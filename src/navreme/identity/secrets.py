"""Passwords, TOTP, one-time codes and bearer tokens — standard primitives, nothing home-made."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

API_TOKEN_PREFIX = "nvr_"  # noqa: S105 - a public prefix, not a secret  # nosec B105
SESSION_TOKEN_PREFIX = "nvs_"  # noqa: S105 - a public prefix  # nosec B105


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    return pyotp.random_base32()


def verify_totp(secret: str, code: str, *, at: float) -> bool:
    """Accept the current code and one step either side (clock drift on phones)."""
    return pyotp.TOTP(secret).verify(code.strip(), for_time=at, valid_window=1)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def keyed_hash(key: str, value: str) -> str:
    """HMAC-SHA256 for short secrets (one-time codes) so a database leak doesn't reveal them."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_one_time_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def new_session_token() -> str:
    return SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_api_token() -> tuple[str, str]:
    """(prefix, full token): the prefix finds the row, the hash of the token proves it."""
    prefix = secrets.token_hex(6)
    return prefix, f"{API_TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"


def api_token_prefix(token: str) -> str | None:
    if not token.startswith(API_TOKEN_PREFIX):
        return None
    prefix, _, rest = token.removeprefix(API_TOKEN_PREFIX).partition("_")
    return prefix if prefix and rest else None


def mask_address(channel: str, address: str) -> str:
    """Show enough for a person to recognise their endpoint, never the whole of it."""
    if channel == "email" and "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{'*' * max(len(address) - 3, 3)}{address[-3:]}"
