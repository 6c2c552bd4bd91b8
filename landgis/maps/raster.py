"""Raster tiles and zonal statistics with rasterio and rio-tiler.

- COG layers: XYZ tiles read from a Cloud-Optimized GeoTIFF (overviews for low zooms), rescaled
  and coloured with a rio-tiler colour map.
- Thematic layers: a parcel attribute (亩均税收, 万元/亩) painted over each parcel, rasterised
  per tile in Web Mercator from the parcels PostGIS returns for the tile.
- Zonal statistics of a COG layer over a parcel or a zone (geometry in EPSG:4490).
- The demo county's synthetic DEM and hillshade COGs.

Datasets are always opened in ``with`` blocks under ``rasterio.Env``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.features import rasterize
from rasterio.transform import from_bounds
from rio_tiler.colormap import cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData
from sqlalchemy import Connection, text

from landgis.errors import InvalidInput, NotFound
from landgis.maps.layers import RasterLayer
from landgis.maps.tiles import MAX_LAT, WORLD_M, Tile

TILE_SIZE = 256
GDAL_ENV: dict[str, Any] = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_CACHEMAX": 64}


def cog_path(home: Path, layer: RasterLayer) -> Path:
    if layer.cog is None:
        raise InvalidInput(f"图层 {layer.id} 不是 COG 图层 (not a COG layer)")
    path = Path(layer.cog.path)
    return path if path.is_absolute() else home / path


def cog_exists(home: Path, layer: RasterLayer) -> bool:
    return layer.cog is not None and cog_path(home, layer).is_file()


def _colormap(name: str | None) -> Any:
    if not name:
        return None
    try:
        return cmap.get(name)
    except Exception as exc:
        raise InvalidInput(f"未知色带 {name} (unknown colour map)") from exc


def _render(image: ImageData, rescale: tuple[float, float] | None, colormap: str | None, fmt: str) -> bytes:
    if rescale is not None:
        image.rescale(in_range=[rescale])
    out: bytes = image.render(img_format="WEBP" if fmt == "webp" else "PNG", colormap=_colormap(colormap))
    return out


def parse_rescale(value: str | None) -> tuple[float, float] | None:
    """``"0,300"`` → (0.0, 300.0); InvalidInput naming the parameter otherwise."""
    if value in (None, ""):
        return None
    parts = str(value).split(",")
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(f"rescale 应为 最小值,最大值 (rescale must be min,max): {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise InvalidInput(f"rescale 的最小值应小于最大值 (rescale min must be below max): {value!r}")
    return low, high


def cog_tile(
    home: Path,
    layer: RasterLayer,
    tile: Tile,
    fmt: str,
    *,
    rescale: tuple[float, float] | None = None,
    colormap: str | None = None,
) -> bytes:
    """PNG/WebP bytes of ``tile`` from the layer's COG (``rescale``/``colormap`` override the
    layer's); empty bytes outside the raster."""
    assert layer.cog is not None
    path = cog_path(home, layer)
    if not path.is_file():
        raise NotFound(f"图层 {layer.id} 的栅格文件不存在 (raster file missing): {layer.cog.path}")
    with rasterio.Env(**GDAL_ENV), Reader(str(path)) as reader:
        try:
            image = reader.tile(tile.x, tile.y, tile.z, tilesize=TILE_SIZE, indexes=layer.cog.bands)
        except TileOutsideBounds:
            return b""
    return _render(image, rescale or layer.cog.rescale, colormap or layer.cog.colormap, fmt)


# The version is read in the same statement (the same snapshot) as the parcels it is cached with.
THEMATIC_SQL = """
SELECT v.version, f.wkb, f.value
FROM (SELECT version FROM map_data_version WHERE id = 1) v
LEFT JOIN (
    SELECT ST_AsBinary(ST_Transform(p.geom, 3857)) AS wkb, l.{column} AS value
    FROM parcel p
    JOIN LATERAL (
        SELECT j.{column} FROM {relation} j
        WHERE j.parcel_id = p.id AND (CAST(:year AS integer) IS NULL OR j.year = :year)
        ORDER BY j.year DESC LIMIT 1
    ) l ON true
    WHERE p.geom && ST_Transform(ST_TileEnvelope(:z, :x, :y), 4490)
      AND ST_YMax(p.geom) <= :max_lat AND ST_YMin(p.geom) >= -:max_lat
      AND landgis_in_scope(p.region_code)
) f ON true
"""


def thematic_tile(conn: Connection, layer: RasterLayer, tile: Tile, fmt: str, *, year: int | None) -> tuple[bytes, int]:
    """A parcel attribute rasterised over ``tile`` (transparent where no parcel has a value)."""
    import shapely

    assert layer.thematic is not None
    spec = layer.thematic
    q = conn.dialect.identifier_preparer.quote
    sql = THEMATIC_SQL.format(column=q(spec.column), relation=q(spec.relation))
    rows = conn.execute(text(sql), {"z": tile.z, "x": tile.x, "y": tile.y, "year": year, "max_lat": MAX_LAT}).all()
    version = int(rows[0].version)
    size = WORLD_M / 2**tile.z
    west = -WORLD_M / 2 + tile.x * size
    north = WORLD_M / 2 - tile.y * size
    transform = from_bounds(west, north - size, west + size, north, TILE_SIZE, TILE_SIZE)
    shapes = [
        (shapely.from_wkb(bytes(r.wkb)), float(r.value))
        for r in rows
        if r.wkb is not None and r.value is not None and math.isfinite(r.value)
    ]
    data = np.full((TILE_SIZE, TILE_SIZE), np.nan, dtype="float32")
    if shapes:
        data = rasterize(shapes, out_shape=data.shape, transform=transform, fill=np.nan, dtype="float32")
    if not np.isfinite(data).any():
        return b"", version
    masked = np.ma.masked_invalid(data)[np.newaxis, ...]
    image = ImageData(masked)
    return _render(image, spec.rescale, spec.colormap, fmt), version


def zonal_stats(home: Path, layer: RasterLayer, geometry: dict[str, Any]) -> dict[str, Any]:
    """Statistics of the layer's COG (first band) inside ``geometry`` (GeoJSON, EPSG:4490)."""
    if layer.cog is None:
        raise InvalidInput(f"图层 {layer.id} 不是 COG 栅格, 不能做分区统计 (zonal statistics need a COG layer)")
    path = cog_path(home, layer)
    if not path.is_file():
        raise NotFound(f"图层 {layer.id} 的栅格文件不存在 (raster file missing)")
    feature = {"type": "Feature", "properties": {}, "geometry": geometry}
    with rasterio.Env(**GDAL_ENV), Reader(str(path)) as reader:
        image = reader.feature(feature, shape_crs=rasterio.crs.CRS.from_epsg(4490), indexes=layer.cog.bands[:1])
    stats = image.statistics()
    band = next(iter(stats.values()))
    return {
        "count": int(band.count),
        "min": _num(band.min),
        "max": _num(band.max),
        "mean": _num(band.mean),
        "std": _num(band.std),
        "median": _num(band.median),
        "percentile_2": _num(band.percentile_2),
        "percentile_98": _num(band.percentile_98),
    }


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


# --- the demo county's synthetic rasters -------------------------------------------------------


def write_demo_cogs(folder: Path, bounds: tuple[float, float, float, float], *, seed: int = 20221231) -> list[Path]:
    """Write a synthetic DEM (metres, int16) and its hillshade as COGs in EPSG:3857 covering ``bounds``
    (west, south, east, north in degrees, padded by 10 %). Returns the paths written."""
    from pyproj import Transformer

    west, south, east, north = bounds
    pad_x, pad_y = (east - west) * 0.1, (north - south) * 0.1
    to_m = Transformer.from_crs(4326, 3857, always_xy=True)
    x0, y0 = to_m.transform(west - pad_x, south - pad_y)
    x1, y1 = to_m.transform(east + pad_x, north + pad_y)
    pixel = max((x1 - x0), (y1 - y0)) / 1024  # at most 1024 px on a side
    pixel = max(pixel, 5.0)
    width, height = math.ceil((x1 - x0) / pixel), math.ceil((y1 - y0) / pixel)
    transform = from_bounds(x0, y0, x0 + width * pixel, y0 + height * pixel, width, height)

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype("float64")
    xm, ym = xx * pixel, yy * pixel  # metres from the north-west corner
    span_x, span_y = width * pixel, height * pixel
    # Gentle plain with long swells, and hills of real size (0.6-2.5 km across, 40-250 m high),
    # more of them towards the north-west: slopes stay plausible whatever the county's extent.
    dem = 20 + 8 * np.sin(xm / 3100.0 + 1.3) * np.cos(ym / 2700.0 + 0.4)
    hills = int(np.clip(span_x * span_y / 2e7, 4, 25))
    for _ in range(hills):
        cx, cy = rng.uniform(0, 0.8) * span_x, rng.uniform(0, 0.7) * span_y
        r, h = rng.uniform(600, 2500), rng.uniform(40, 250)
        dem += h * np.exp(-((xm - cx) ** 2 + (ym - cy) ** 2) / (2 * r * r))
    dy, dx = np.gradient(dem, pixel)
    slope = np.arctan(np.hypot(dx, dy) * 2.0)
    aspect = np.arctan2(-dx, dy)
    azimuth, altitude = math.radians(315), math.radians(45)
    shade = np.sin(altitude) * np.cos(slope) + np.cos(altitude) * np.sin(slope) * np.cos(azimuth - aspect)
    hillshade = np.clip(shade * 255, 0, 255).astype("uint8")
    dem = np.round(dem).astype("int16")

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, array, dtype in (("demo_dem.tif", dem, "int16"), ("demo_hillshade.tif", hillshade, "uint8")):
        path = folder / name
        profile = {
            "driver": "COG",
            "width": width,
            "height": height,
            "count": 1,
            "dtype": dtype,
            "crs": "EPSG:3857",
            "transform": transform,
            "compress": "DEFLATE",
            "predictor": 2,
            "overview_resampling": Resampling.average.name,
        }
        with rasterio.Env(**GDAL_ENV), rasterio.open(path, "w", **profile) as dst:
            dst.write(array, 1)
        written.append(path)
    return written


def demo_bounds(conn: Connection) -> tuple[float, float, float, float]:
    """The extent of the parcels (else the regions) in degrees."""
    row = conn.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT coalesce((SELECT ST_Extent(geom) FROM parcel), (SELECT ST_Extent(boundary) FROM region)) e) q"
        )
    ).one()
    if row[0] is None:
        raise NotFound("数据库中没有宗地或行政区划, 无法确定范围 (no parcels or regions to take an extent from)")
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])
