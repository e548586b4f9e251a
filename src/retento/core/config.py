"""Application settings, read from ``RETENTO_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of a Retento installation; nothing here opens a connection."""

    model_config = SettingsConfigDict(env_prefix="RETENTO_", extra="ignore")

    database_url: str = "sqlite:///./retento.db"
    secret_key: str = "retento-dev-secret-change-me"
    session_max_age_seconds: int = 8 * 3600
    secure_cookies: bool = False
    default_locale: str = "en"
    timezone: str = "UTC"
    currency: str = "USD"
    run_scheduler: bool = True
    data_dir: str = "./retento-data"
    echo_sql: bool = False


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
