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
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body (bytes) by default.")
    session_hours: int = Field(default=12, ge=1, le=24 * 30, description="How long a browser log-in lasts.")
    secure_cookies: bool | None = Field(
        default=None, description="Mark the session cookie Secure; unset: when the request came over https."
    )
    workflow_file: Path | None = Field(
        default=None, description="Renewal workflow YAML (states, transitions); unset: the packaged default."
    )
    public_base_url: str | None = Field(
        default=None, description="Base URL users reach the service at (QR codes); unset: the request's own."
    )
    dossier_url_template: str = Field(
        default="{base_url}/dossier/{parcel_id}",
        description="What a land code's QR encodes; fields: base_url, parcel_id, land_code.",
    )
    # Maps (issue 5)
    layers_dir: Path | None = Field(default=None, description="Map layer definitions; <checkout>/layers when unset.")
    tile_cache_mb: int = Field(default=256, ge=0, description="Server-side tile cache per process, MB (0: off).")
    tile_timeout_ms: int = Field(default=5_000, ge=50, description="Statement timeout of one tile.")
    tile_max_age_s: int = Field(default=0, ge=0, description="Cache-Control max-age of tiles (0: revalidate).")
    tile_auth_cache_s: float = Field(
        default=30.0,
        ge=0,
        description="How long a signed-in caller's repeated cached tiles skip the database (0: never); "
        "account changes end it at once.",
    )
    tile_front_render: bool = Field(
        default=True,
        description="Render such a caller's cache misses in the front door too, on a pool of its own "
        "(api.tilefast); off: every miss goes through the tile route.",
    )
    tianditu_key: str | None = Field(default=None, description="天地图 key; the web map offers 天地图 when set.")
    gcj02_basemap_url: str | None = Field(
        default=None, description="XYZ template of a GCJ-02 (Gaode-style) basemap; offered when set."
    )
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

    @property
    def layers_path(self) -> Path:
        return self.layers_dir or project_root() / "layers"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings()
