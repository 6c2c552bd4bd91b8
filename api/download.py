"""File downloads for exports: write into a temporary folder, answer with the bytes."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import Response

from landgis.export import MEDIA_TYPES, SUFFIX


def export_response(stem: str, fmt: str, write: Callable[[Path], Path]) -> Response:
    """Run ``write(path)`` and return the file as an attachment named ``stem`` + the format's suffix."""
    filename = f"{stem}{SUFFIX[fmt]}"
    with tempfile.TemporaryDirectory(prefix="landgis-download-") as scratch:
        written = write(Path(scratch) / filename)
        content = written.read_bytes()
    ascii_name = f"landgis-export{SUFFIX[fmt]}"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(content=content, media_type=MEDIA_TYPES[fmt], headers={"Content-Disposition": disposition})
