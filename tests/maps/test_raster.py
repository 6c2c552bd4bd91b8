"""Raster tiles from the demo COGs and the thematic 亩均税收 raster; zonal statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.features import geometry_mask
from sqlalchemy import Connection, text

from landgis.maps import gcj02
from tests.maps.conftest import tile_of


def png_pixels(content: bytes) -> np.ndarray:
    with rasterio.MemoryFile(content) as memory, memory.open() as dataset:
        return dataset.read()


def test_cog_basemap_and_thematic_tiles(maps_client: TestClient, busy_tile: tuple[float, float]) -> None:
    x, y = tile_of(*busy_tile, 13)
    for layer in ("basemap_hillshade", "basemap_terrain"):
        response = maps_client.get(f"/tiles/{layer}/13/{x}/{y}.png")
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        pixels = png_pixels(response.content)
        assert pixels.shape[1:] == (256, 256) and pixels[:3].std() > 0  # not a flat image
    webp = maps_client.get(f"/tiles/basemap_hillshade/13/{x}/{y}.webp")
    assert webp.headers["content-type"] == "image/webp"
    grey = png_pixels(maps_client.get(f"/tiles/basemap_terrain/13/{x}/{y}.png?colormap=greys").content)
    assert (grey[0] == grey[1]).all() and (grey[1] == grey[2]).all()  # a grey ramp: R = G = B
    assert maps_client.get(f"/tiles/basemap_terrain/13/{x}/{y}.png?colormap=nope").status_code == 400
    assert maps_client.get(f"/tiles/basemap_terrain/13/{x}/{y}.png?rescale=5,1").status_code == 400
    far_away = maps_client.get("/tiles/basemap_hillshade/13/0/0.png")
    assert far_away.status_code == 204
    thematic = maps_client.get(f"/tiles/mu_tax_density/13/{x}/{y}.png")
    assert thematic.status_code == 200
    rgba = png_pixels(thematic.content)
    assert rgba.shape[0] == 4 and (rgba[3] == 0).any() and (rgba[3] == 255).any()  # roads transparent, parcels painted


def test_zonal_statistics_match_a_direct_read(maps_client: TestClient, demo_db: Connection, raster_home: Path) -> None:
    zone_id, geojson = demo_db.execute(
        text("SELECT id, ST_AsGeoJSON(ST_Transform(boundary, 3857))::json FROM zone ORDER BY id LIMIT 1")
    ).one()
    stats = maps_client.get("/rasters/basemap_terrain/zonal", params={"zone_id": zone_id}).json()["statistics"]
    with rasterio.open(raster_home / "rasters" / "demo_dem.tif") as dataset:
        data = dataset.read(1)
        inside = ~geometry_mask([geojson], out_shape=data.shape, transform=dataset.transform)
    values = data[inside].astype("float64")
    assert stats["count"] == pytest.approx(values.size, rel=0.03)
    assert stats["mean"] == pytest.approx(values.mean(), rel=0.01)
    assert stats["min"] >= values.min() - 1 and stats["max"] <= values.max() + 1
    bad = maps_client.get("/rasters/basemap_terrain/zonal", params={"zone_id": zone_id, "parcel_id": 1})
    assert bad.status_code == 400
    assert maps_client.get("/rasters/mu_tax_density/zonal", params={"zone_id": zone_id}).status_code == 400
    assert maps_client.get("/rasters/parcels_status/zonal", params={"zone_id": zone_id}).status_code == 404


def test_gcj02_round_trip_and_outside_china() -> None:
    lon, lat = 120.6, 30.0
    glon, glat = gcj02.to_gcj02(lon, lat)
    back = gcj02.from_gcj02(glon, glat)
    assert back == pytest.approx((lon, lat), abs=1e-7)
    assert gcj02.offset(2.35, 48.85) == (0.0, 0.0)
