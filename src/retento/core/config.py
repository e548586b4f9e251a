"""Application settings, read from ``RETENTO_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
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
    # Outbound e-mail (docs/mail.md). An empty host disables sending: messages stay queued.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True  # upgrade a plain connection (port 587); ignored with SMTP_SSL
    smtp_ssl: bool = False  # TLS from the first byte (port 465)
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "Retento <retento@localhost>"
    mail_max_attempts: int = Field(5, ge=1)
    mail_batch_size: int = Field(100, ge=1)
    # Absolute links in e-mails (survey invitations, complaint follow-ups) start with this.
    public_base_url: str = "http://127.0.0.1:8000"
    # Size limits on what clients send (retento.core.limits, docs/security.md).
    max_body_bytes: int = Field(1024 * 1024, ge=1024)  # JSON and form bodies
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1024)  # multipart (file uploads)
    max_json_depth: int = Field(32, ge=2, le=1000)
    max_custom_fields_bytes: int = Field(64 * 1024, ge=256)
    max_custom_fields_keys: int = Field(100, ge=1)
    max_xlsx_uncompressed_bytes: int = Field(1024 * 1024 * 1024, ge=1024 * 1024)
    max_xlsx_part_bytes: int = Field(100 * 1024 * 1024, ge=1024 * 1024)  # non-sheet parts
    max_xlsx_ratio: int = Field(100, ge=10)  # uncompressed / compressed, per zip entry
    max_xlsx_entries: int = Field(10_000, ge=10)
    max_xlsx_rows: int = Field(1_000_000, ge=1)
    max_xlsx_columns: int = Field(200, ge=1)

    @property
    def mail_enabled(self) -> bool:
        """True when an SMTP host is configured (otherwise e-mails wait in the outbox)."""
        return bool(self.smtp_host.strip())


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
