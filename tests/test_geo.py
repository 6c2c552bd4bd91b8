"""Gauss-Krüger zones and areas in 亩 against independent computations."""

from __future__ import annotations

import pytest
from pyproj import CRS, Geod

from landgis.geo import M2_PER_MU, gk_area_m2, gk_central_meridian, gk_epsg, m2_to_mu
from tests.helpers import gk_square


@pytest.mark.parametrize(
    ("lon", "epsg", "zoned"),
    [(120.6, 4549, 4528), (121.49, 4549, 4528), (121.51, 4550, 4529), (118.4, 4548, 4527), (75.0, 4534, 4513)],
)
def test_gk_zone_for_longitude(lon: float, epsg: int, zoned: int) -> None:
    assert gk_epsg(lon) == epsg
    assert gk_epsg(lon, zoned=True) == zoned
    # The EPSG registry agrees on the central meridian of the zone we picked.
    params = CRS.from_epsg(epsg).to_dict()
    assert params["lon_0"] == gk_central_meridian(lon)
    assert CRS.from_epsg(zoned).to_dict()["x_0"] == 500000 + 1_000_000 * (gk_central_meridian(lon) // 3)


def test_mu_conversion() -> None:
    assert M2_PER_MU == pytest.approx(666.6667, abs=1e-4)
    assert m2_to_mu(10_000) == pytest.approx(15.0)


def test_area_of_a_known_square() -> None:
    square = gk_square(0, 0, 200)  # 200 m x 200 m in the GK zone = 40 000 m² = 60 亩
    assert gk_area_m2(square) == pytest.approx(40_000, rel=1e-9)
    geodesic = abs(Geod(ellps="GRS80").geometry_area_perimeter(square)[0])
    assert m2_to_mu(gk_area_m2(square)) == pytest.approx(geodesic / 666.67, rel=1e-3)
