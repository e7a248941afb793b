"""The service's configuration, read once from the environment and validated."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # An empty variable counts as unset: an empty signing key would sign every token.
    model_config = SettingsConfigDict(
        env_prefix="EXPORT_SERVICE_", extra="ignore", env_ignore_empty=True
    )

    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Path(".data")
    jwt_secret: SecretStr | None = None
    storage_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    download_url_ttl_seconds: int = Field(default=24 * 3600, ge=24 * 3600)
    run_timeout_seconds: int = Field(default=15 * 60, gt=0)
    stalled_job_seconds: float = Field(default=60, gt=0)
    #: A sync run still running after this long is failed by the sweep; per integration type
    #: overrides in `sync_timeouts` (JSON, e.g. {"xledger": 7200}).
    sync_timeout_seconds: int = Field(default=3600, gt=0)
    sync_timeouts: dict[str, int] = Field(default_factory=dict)
    idempotency_ttl_hours: int = Field(default=48, ge=24)
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    demo_data: bool = True
    pool_size: int = Field(default=8, gt=0)
    #: A worker process (`export-service worker`) whose resident memory is over this many MB
    #: once its jobs are done starts afresh (0: never). A worker starts at about 90 MB; a run
    #: of 100 000 claims leaves it at about 135 MB, and each such run after that a little
    #: higher (docs/operations.md).
    worker_memory_limit_mb: int = Field(default=128, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias="LOG_LEVEL"
    )
    #: `json`: one JSON object per line (for log collectors); `console`: text for a terminal.
    log_format: Literal["json", "console"] = Field(default="json", validation_alias="LOG_FORMAT")
    #: Fernet key(s), comma-separated: the first encrypts, all decrypt (key rotation).
    credentials_key: SecretStr | None = None
    #: Hosts delivery endpoints may use (comma-separated; ports are not part of the match).
    delivery_hosts: str | None = None
    #: Lines per request: Business Central takes at most 100 requests in one $batch (Xledger
    #: at most 500 nodes in one mutation).
    delivery_batch_size: int = Field(default=100, gt=0, le=100)
    delivery_retry_attempts: int = Field(default=8, gt=0)
    delivery_retry_initial_seconds: float = Field(default=0.5, gt=0)
    delivery_retry_max_seconds: float = Field(default=60, gt=0)
    delivery_timeout_seconds: float = Field(default=30, gt=0)

    @property
    def allowed_delivery_hosts(self) -> list[str]:
        from domain.delivery import DEFAULT_HOSTS

        if self.delivery_hosts is None:
            return list(DEFAULT_HOSTS)
        return [h.strip().lower() for h in self.delivery_hosts.split(",") if h.strip()]

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    def resolved_jwt_secret(self) -> str:
        """The HS256 key; generated once and kept in the data directory when unset."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.data_dir / "jwt-secret"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(value)
        return value
