"""Untrusted uploads: a private work folder, a safe file name, size and archive limits.

An uploaded file is written into a folder only this process can read (mode 0700, created with
``mkdtemp``), under a name built from the client's name with every path part and odd character
removed, and with a suffix from our list. Archives are unpacked by ``source.safe_extract`` under
the limits set here (entry count, unpacked size, compression ratio); the work folder is removed
when the job ends, whatever happens.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from landgis.errors import InvalidInput
from landgis.loading.source import ArchiveLimits
from landgis.settings import Settings

WORKDIR_PREFIX = "landgis-upload-"
#: What each kind of load accepts over HTTP (shapefiles and FileGDB folders come zipped).
SUFFIXES: dict[str, tuple[str, ...]] = {
    "parcels": (".zip", ".gpkg", ".geojson", ".json", ".csv"),
    "enterprises": (".xlsx", ".xls", ".ods", ".csv"),
    "occupancy": (".xlsx", ".xls", ".ods", ".csv"),
    "figures": (".xlsx", ".xls", ".ods", ".csv"),
}
_UNSAFE = re.compile(r"[^\w.()（）\-]+")


class TooLarge(InvalidInput):
    """The upload is over the size limit."""

    code = "too_large"


def limits(settings: Settings) -> ArchiveLimits:
    """The archive limits of uploads, from the settings."""
    return ArchiveLimits(
        max_total_bytes=settings.upload_max_unpacked_bytes,
        max_entries=settings.upload_max_entries,
        max_ratio=settings.upload_max_ratio,
    )


def safe_filename(name: str, kind: str) -> str:
    """The client's file name reduced to a harmless one: no folders, no odd characters, one of
    the suffixes the kind accepts. Raises ``InvalidInput`` for a suffix we do not take."""
    allowed = SUFFIXES.get(kind)
    if allowed is None:
        raise InvalidInput(f"不支持的数据类型 {kind!r} (one of {', '.join(SUFFIXES)})")
    base = PureWindowsPath(PurePosixPath(name.replace("\x00", "")).name).name
    base = unicodedata.normalize("NFKC", base).strip().lstrip(".")
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in allowed:
        shown = suffix or "(none)"
        raise InvalidInput(
            f"{kind}: 不接受 {shown} 文件 (accepted: {' '.join(allowed)}; shapefiles and FileGDB folders as .zip)"
        )
    stem = _UNSAFE.sub("_", stem).strip("._")[:80] or "upload"
    return stem + suffix


def make_workdir(settings: Settings) -> Path:
    """A new folder only this process's user can read (0700)."""
    base = settings.upload_dir
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=base))


def save(stream: BinaryIO, target: Path, max_bytes: int, chunk: int = 1 << 20) -> int:
    """Copy ``stream`` into ``target``, refusing more than ``max_bytes``; returns the size."""
    size = 0
    with target.open("xb") as out:
        while block := stream.read(chunk):
            size += len(block)
            if size > max_bytes:
                raise TooLarge(f"文件超过大小上限 {max_bytes} 字节 (upload too large)")
            out.write(block)
    if size == 0:
        raise InvalidInput("上传的文件为空 (empty upload)")
    return size


def remove_workdir(folder: Path) -> None:
    """Remove a work folder and everything in it (never anything outside our prefix)."""
    if folder.name.startswith(WORKDIR_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)


def sweep(settings: Settings, older_than_s: float = 24 * 3600) -> int:
    """Remove work folders a killed process left behind; returns how many."""
    base = settings.upload_dir or Path(tempfile.gettempdir())
    if not base.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for folder in base.glob(f"{WORKDIR_PREFIX}*"):
        try:
            if folder.is_dir() and not folder.is_symlink() and folder.stat().st_mtime < cutoff:
                remove_workdir(folder)
                removed += 1
        except OSError:
            continue
    return removed
