"""Application settings, read from ``RETENTO_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of a Retento installation; nothing here opens a connection."""

    model_config = SettingsConfigDict(env_prefix="RETENTO_", extra="ignore")

    database_url: str = "sqlite:///./retento.db"
    # Signs the session cookie and survey links. Required: `retento serve` refuses to start
    # without one, except `retento serve --demo`, which keeps a random key in DATA_DIR.
    secret_key: str = ""
    session_max_age_seconds: int = Field(8 * 3600, ge=60)  # idle time before a session ends
    session_absolute_seconds: int = Field(24 * 3600, ge=60)  # and its longest life
    secure_cookies: bool = False  # HTTPS only: Secure cookies and HSTS
    # Login throttling (docs/security.md): consecutive failures before back-off starts per
    # account and per client address; back-off doubles from 2 s up to the maximum.
    login_free_attempts: int = Field(5, ge=1)
    login_ip_free_attempts: int = Field(20, ge=1)
    login_lockout_max_seconds: int = Field(900, ge=1)
    default_locale: str = "en"
    timezone: str = "UTC"
    currency: str = "USD"
    run_scheduler: bool = True
    # Background work (docs/deploy-postgresql.md). Scheduled jobs run once per tick across all
    # processes (leases); long work (scoring runs, large imports) is queued in `work_items`.
    # RUN_WORK_IN_WEB: the web process also runs the work it queues (one-process demo); set it
    # to false in production so only `retento worker` runs it.
    run_work_in_web: bool = True
    scheduler_tick_seconds: float = Field(5.0, gt=0, le=3600)
    work_poll_seconds: float = Field(1.0, gt=0, le=60)  # how often an idle worker looks
    work_stale_seconds: int = Field(120, ge=15)  # no heartbeat this long: the runner died
    work_max_attempts: int = Field(3, ge=1, le=20)
    worker_concurrency: int = Field(2, ge=1, le=64)  # work items a worker runs at once
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
    # PostgreSQL: the longest a request waits for a row or table lock before it gives up with
    # 503 "busy" (Retry-After: 1) instead of tying up a worker; 0 waits for ever.
    db_lock_timeout_ms: int = Field(10_000, ge=0)
    # PostgreSQL connections each process keeps open (and how many more it may open for a burst,
    # closing them afterwards). A web process runs a dozen requests at once under load: with
    # SQLAlchemy's default of 5 kept, the load test opened ~15 new connections a second (each a
    # new PostgreSQL backend process and its catalog caches to fill).
    db_pool_size: int = Field(10, ge=1, le=1000)
    db_max_overflow: int = Field(5, ge=0, le=1000)
    # Churn means no purchase within this many days (scoring runs; `retento score` option).
    churn_horizon_days: int = Field(90, ge=14, le=3660)
    # Engine of the scoring run's BTYD summary: duckdb, or spark (the `spark` extra; master from
    # RETENTO_SPARK_MASTER, default local[*]).
    scoring_engine: str = Field("duckdb", pattern="^(duckdb|spark)$")

    @property
    def mail_enabled(self) -> bool:
        """True when an SMTP host is configured (otherwise e-mails wait in the outbox)."""
        return bool(self.smtp_host.strip())


# Keys that were published (old defaults, examples): never accepted for a real installation.
PUBLIC_SECRET_KEYS = frozenset({"", "retento-dev-secret-change-me", "change-me", "secret"})
DEMO_KEY_FILE = "secret_key"


class InsecureSecretKey(RuntimeError):
    """RETENTO_SECRET_KEY is empty or a published value."""


def check_secret_key(settings: Settings) -> str:
    """The secret key, or ``InsecureSecretKey`` with instructions if it is empty or public."""
    key = settings.secret_key.strip()
    if key in PUBLIC_SECRET_KEYS:
        raise InsecureSecretKey(
            "RETENTO_SECRET_KEY is not set (or is a published default). Set it to a long random "
            "value, e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            " — or, for a demo on this machine only, run `retento serve --demo`."
        )
    return key


def use_demo_secret_key() -> str | None:
    """For demos: unless RETENTO_SECRET_KEY is set, use a random key kept in DATA_DIR/secret_key
    (created on first use, readable by its owner only) and export it to this process's settings.
    Returns the file used, or None when a real key is configured."""
    settings = get_settings()
    if settings.secret_key.strip() not in PUBLIC_SECRET_KEYS:
        return None
    path = Path(settings.data_dir) / DEMO_KEY_FILE
    if path.is_file() and path.read_text().strip():
        key = path.read_text().strip()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
    os.environ["RETENTO_SECRET_KEY"] = key
    get_settings.cache_clear()
    return str(path)


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
