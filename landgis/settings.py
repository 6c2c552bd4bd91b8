"""One typed settings object, read from ``LANDGIS_*`` environment variables.

Build it once (``get_settings()`` at a program's entry point) and pass it down; nothing in the
core reads the environment on its own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The source checkout this package runs from, when it runs from one (editable install).
_CHECKOUT = Path(__file__).resolve().parent.parent


def default_home() -> Path:
    """Where project-local state lives: ``<checkout>/.landgis`` for a source checkout."""
    if (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT / ".landgis"
    return Path.home() / ".local" / "share" / "landgis"


def project_root() -> Path:
    """The checkout holding ``layers/``, ``scripts/`` and ``node_modules/``."""
    return _CHECKOUT


class Settings(BaseSettings):
    """Service and command-line settings; every field can be set as ``LANDGIS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LANDGIS_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy/libpq URL of an existing PostGIS database. Unset: the project-local cluster.",
    )
    home: Path = Field(default_factory=default_home, description="Project-local state (cluster, demo data).")
    pg_bindir: Path | None = Field(default=None, description="PostgreSQL 15 binaries; found when unset.")
    pg_port: int | None = Field(default=None, description="Port of the local cluster; chosen when unset.")
    statement_timeout_ms: int = Field(default=20_000, ge=100, description="Per-request statement timeout.")
    pool_size: int = Field(default=10, ge=1)
    host: str = "127.0.0.1"
    port: int = 8000
    default_region: str | None = Field(default=None, description="行政区划代码 used when a file names none.")
    upload_max_bytes: int = Field(default=1024**3, ge=1, description="Largest file accepted by POST /loads/{kind}.")
    upload_max_entries: int = Field(default=2_000, ge=1, description="Most entries in an uploaded archive.")
    upload_max_unpacked_bytes: int = Field(default=4 * 1024**3, ge=1, description="Most bytes an archive unpacks to.")
    upload_max_ratio: float = Field(default=200.0, gt=1, description="Highest compression ratio of an archive.")
    upload_dir: Path | None = Field(default=None, description="Where upload work folders go (default: system temp).")

    @property
    def cluster_dir(self) -> Path:
        return self.home / "pg"

    @property
    def demo_dir(self) -> Path:
        return self.home / "demo"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings()
