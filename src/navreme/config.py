"""Typed settings from NAVREME_* environment variables, with embedded defaults.

Development runs with no configuration at all (embedded SQLite under NAVREME_HOME);
any other environment (test, production) refuses to start with the development secret.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 - refused in production  # nosec B105

# Request limits per class, in the `limits` library's notation ("N/period" or "N per M periods");
# an empty value switches a class off. NAVREME_RATE_LIMITS overrides only the classes it names.
DEFAULT_RATE_LIMITS = {
    "api": "600/minute",  # per client (token, session or address): a person never gets near it
    "login": "10/15minutes",  # officer sign-in tries per username and address
    "otp_request": "5/15minutes",  # one-time codes asked for, per personal number
    "otp_request_address": "30/15minutes",  # …and per address (mobile carriers share addresses)
    "otp_verify": "30/15minutes",  # one-time codes tried, per address (each code: otp_max_attempts)
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NAVREME_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    home: Path = Field(default=Path("var"), description="data directory (SQLite file, exports)")
    database_url: str = ""
    queue_url: str = Field(default="", description="redis://… for the scaled mode; empty: SQLite")
    redis_url: str = Field(
        default="",
        description="redis://… shared by all processes: rate limits, periodic-job claims; empty: the queue's Redis",
    )
    rate_limits: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS),
        description='JSON: class (api, login, otp_request[_address], otp_verify) -> "N/period"; "": off',
    )
    secret_key: str = DEVELOPMENT_SECRET
    timezone: str = "Europe/Skopje"
    mail_from: str = Field(default="navreme@localhost", description="sender of e-mail and invites")
    country: str = Field(default="MK", description="ISO 3166 code whose public holidays apply")
    hold_minutes: int = Field(default=15, ge=1, le=1440, description="a slot held while booking")
    offer_hold_hours: int = Field(default=72, ge=1, description="a slot held for a proactive offer")
    waitlist_hold_hours: int = Field(
        default=24, ge=1, description="a released slot held for the next waiting"
    )
    booking_horizon_days: int = Field(
        default=90, ge=1, le=730, description="how far ahead slots are shown"
    )
    default_language: Literal["mk", "sq", "en"] = "mk"
    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    otp_ttl_seconds: int = Field(default=300, ge=30)
    otp_max_attempts: int = Field(default=5, ge=1)
    cookie_secure: bool = True
    max_active_requests: int = Field(
        default=0, ge=0, le=1000, description="requests inside the app at once; 0: by database"
    )
    max_request_bytes: int = Field(default=5_000_000, ge=1024)
    ladder_step_hours: float = Field(
        default=24, gt=0, description="how long a step of the fallback ladder waits for an answer"
    )
    max_tries: int = Field(
        default=8, ge=1, le=50, description="tries per delivery, retryable errors"
    )
    retry_base_seconds: float = Field(default=5, gt=0)
    retry_cap_seconds: float = Field(default=3600, gt=0)
    lease_seconds: int = Field(default=120, ge=5, description="a worker's claim on a delivery")
    sweep_grace_seconds: int = Field(default=120, ge=0, description="due this long: hand out again")
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30, gt=0)
    dispatch_batch: int = Field(default=200, ge=1, le=5000, description="delivery ids per task")
    channel_rates: dict[str, float] = Field(
        default_factory=dict,
        description="JSON: channel -> messages per second (all workers together when Redis is set)",
    )
    rate_wait_seconds: float = Field(default=2, ge=0)
    metrics_token: str = Field(default="", description="/metrics bearer token; unset: loopback")
    metrics_cache_seconds: float = Field(default=5, ge=0, description="/metrics reuses DB counts")
    channels: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="JSON: channel -> {adapter, options…}; unset channels are fake outside production",
    )

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "development" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError(
                "NAVREME_SECRET_KEY is the development default; set a long random secret "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        if self.env != "development" and len(self.secret_key) < 32:
            raise ValueError(
                "NAVREME_SECRET_KEY must be at least 32 characters outside development"
            )
        return self

    @model_validator(mode="after")
    def _complete_rate_limits(self) -> Settings:
        from limits import parse

        self.rate_limits = {**DEFAULT_RATE_LIMITS, **self.rate_limits}
        for limit in self.rate_limits.values():
            if limit:
                parse(limit)  # ValueError names the bad notation at start, not at the first request
        return self

    @property
    def resolved_redis_url(self) -> str:
        """Where rate limits and periodic-job claims are shared: NAVREME_REDIS_URL, else the
        queue's Redis; "": nowhere (in memory, one process)."""
        if self.redis_url:
            return self.redis_url
        if self.queue_url.startswith(("redis://", "rediss://", "unix://")):
            return self.queue_url
        return ""

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'navreme.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
