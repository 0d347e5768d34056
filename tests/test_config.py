import pytest
from pydantic import ValidationError

from navreme.config import DEVELOPMENT_SECRET, Settings


def test_settings__development_needs_no_configuration() -> None:
    settings = Settings(env="development")
    assert settings.secret_key == DEVELOPMENT_SECRET
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("/navreme.db")


@pytest.mark.parametrize("env", ["test", "production"])
def test_settings__default_secret_outside_development__refused(env: str) -> None:
    with pytest.raises(ValidationError, match="NAVREME_SECRET_KEY"):
        Settings(env=env)


def test_settings__short_secret_in_production__refused() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(env="production", secret_key="too-short")


def test_settings__from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAVREME_DATABASE_URL", "postgresql://navreme@db:5432/navreme")
    monkeypatch.setenv("NAVREME_SESSION_IDLE_MINUTES", "15")
    settings = Settings()
    assert settings.resolved_database_url == "postgresql://navreme@db:5432/navreme"
    assert settings.session_idle_minutes == 15
    assert not settings.is_sqlite


def test_settings__wrong_type_in_environment__clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAVREME_SESSION_IDLE_MINUTES", "soon")
    with pytest.raises(ValidationError, match="session_idle_minutes"):
        Settings()


def test_cli__default_secret_in_production__plain_message_exit_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from navreme import config
    from navreme.cli.main import app

    monkeypatch.setenv("NAVREME_ENV", "production")
    monkeypatch.delenv("NAVREME_SECRET_KEY", raising=False)
    config.get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "url"])
    finally:
        config.get_settings.cache_clear()
    assert result.exit_code == 2
    assert "NAVREME_SECRET_KEY is the development default" in result.output
    assert "Traceback" not in result.output
