"""File downloads for exports: write into a temporary folder, answer with the bytes."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import Response

from landgis.export import MEDIA_TYPES, SUFFIX

#: The OpenAPI ``responses`` of an export route: the file in any of the formats (a zip when a
#: GeoJSON export holds several layers).
EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The exported file, as an attachment",
        "content": {media: {} for media in sorted({*MEDIA_TYPES.values(), "application/zip"})},
    }
}


def export_response(stem: str, fmt: str, write: Callable[[Path], Path]) -> Response:
    """Run ``write(path)`` and return the file as an attachment named ``stem`` + the format's suffix."""
    with tempfile.TemporaryDirectory(prefix="landgis-download-") as scratch:
        written = write(Path(scratch) / f"{stem}{SUFFIX[fmt]}")
        content = written.read_bytes()
    suffix, media = SUFFIX[fmt], MEDIA_TYPES[fmt]
    if fmt == "geojson" and content[:4] == b"PK\x03\x04":  # several layers: one file each, zipped
        suffix, media = ".zip", "application/zip"
    filename = f"{stem}{suffix}"
    disposition = f"attachment; filename=\"landgis-export{suffix}\"; filename*=UTF-8''{quote(filename)}"
    return Response(content=content, media_type=media, headers={"Content-Disposition": disposition})
