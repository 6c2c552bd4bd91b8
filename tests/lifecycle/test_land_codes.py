"""一码管地: the land code's issue rules, the code's file, QR images and the zone QR sheet."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import segno
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from landgis.errors import InvalidInput
from landgis.lifecycle.landcode import dossier_url, normalize_code
from landgis.settings import Settings
from tests.conftest import ClientFactory, api_client
from tests.helpers import make_uscc
from tests.lifecycle.conftest import add_enterprise, add_parcel, add_zone, occupy

ZDDM = "330699001001GB00042"


def code_of(db: Connection, pid: int) -> str:
    return str(db.execute(text("SELECT land_code FROM parcel WHERE id = :id"), {"id": pid}).scalar_one())


def test_land_code_is_the_valid_zddm_else_generated_in_the_region(land: Connection) -> None:
    with_zddm = add_parcel(land, zddm=ZDDM)
    township = add_parcel(land, 200, zddm=None)
    county = add_parcel(land, 400, region="330698")
    assert code_of(land, with_zddm) == ZDDM
    assert re.fullmatch(r"330699001000L\d{6}", code_of(land, township))
    assert re.fullmatch(r"330698000000L\d{6}", code_of(land, county))
    assert code_of(land, township) != code_of(land, county)


def test_land_code_never_changes(land: Connection) -> None:
    pid = add_parcel(land, zddm=ZDDM)
    land.execute(text("UPDATE parcel SET zddm = '330699001001GB00043' WHERE id = :id"), {"id": pid})
    assert code_of(land, pid) == ZDDM
    with pytest.raises(DBAPIError, match="一经赋予不可更改"), land.begin_nested():
        land.execute(text("UPDATE parcel SET land_code = '330699001001GB00099' WHERE id = :id"), {"id": pid})
    # The old 宗地代码 reused by a new parcel cannot take the code the first parcel keeps.
    newcomer = add_parcel(land, 300, zddm=ZDDM)
    assert re.fullmatch(r"330699001000L\d{6}", code_of(land, newcomer))


def test_codes_are_normalised_and_checked() -> None:
    assert normalize_code(" 330699001001gb00042 ") == ZDDM
    assert normalize_code("330699001000-L000017") == "330699001000L000017"
    with pytest.raises(InvalidInput, match="地块码格式不符"):
        normalize_code("330699001001GI00042")
    assert (
        dossier_url("{base_url}/dossier/{parcel_id}", base_url="http://gis.local/", parcel_id=7, land_code=ZDDM)
        == "http://gis.local/dossier/7"
    )
    with pytest.raises(InvalidInput, match="dossier_url_template"):
        dossier_url("{base}/x", base_url="http://a", parcel_id=1, land_code=ZDDM)


def test_the_file_of_a_land_code(api: TestClient, land: Connection, client_for: ClientFactory) -> None:
    pid = add_parcel(land, zddm=ZDDM, location="兴业路8号")
    firm = add_enterprise(land, 8, "示范精工有限公司")
    tenant = add_enterprise(land, 9, "示范电子有限公司")
    occupy(land, firm, pid)
    occupy(land, tenant, pid, 3.0, tenure="lease")
    project = land.execute(
        text(
            "INSERT INTO project (code, name, region_code, uscc) VALUES ('P-1', '精密轴承扩产', '330699', :u) RETURNING id"
        ),
        {"u": make_uscc(8)},
    ).scalar_one()
    land.execute(text("INSERT INTO project_parcel (project_id, parcel_id) VALUES (:j, :p)"), {"j": project, "p": pid})
    body = api.get("/land-codes/330699001001gb00042").json()
    assert body["land_code"] == ZDDM
    assert body["land"]["location"] == "兴业路8号" and body["land"]["renewal_status_label"] == "正常"
    assert [(e["uscc"], e["tenure"]) for e in body["enterprises"]] == [(make_uscc(9), "lease"), (make_uscc(8), "own")]
    assert [p["code"] for p in body["projects"]] == ["P-1"]
    assert body["colour"]["colour"] == "green" and body["colour"]["label"] == "绿码"
    assert api.get("/land-codes/330699001001GB00041").status_code == 404
    neighbour = client_for("viewer", ["330698"])
    assert neighbour.get("/land-codes/330699001001GB00042").status_code == 404
    assert api.get("/land-codes/not-a-code").status_code == 400


def test_qr_png_encodes_the_dossier_url(api: TestClient, land: Connection) -> None:
    pid = add_parcel(land, zddm=ZDDM)
    response = api.get(f"/land-codes/{ZDDM}/qr.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    expected_url = f"http://testserver/dossier/{pid}"
    assert response.headers["x-qr-target"] == expected_url
    reference = segno.make_qr(expected_url, error="m")
    import io

    buffer = io.BytesIO()
    reference.save(buffer, kind="png", scale=6, border=4)
    assert response.content == buffer.getvalue()
    by_id = api.get(f"/parcels/{pid}/qr.svg")
    assert by_id.headers["content-type"].startswith("image/svg+xml") and "<svg" in by_id.text
    assert api.get(f"/parcels/{pid}/qr.gif").status_code == 404


@pytest.fixture
def templated_api(settings: Settings, engine: Engine, land: Connection) -> Iterator[TestClient]:
    custom = settings.model_copy(
        update={
            "public_base_url": "https://gis.county.gov.cn/",
            "dossier_url_template": "{base_url}/d?code={land_code}",
        }
    )
    yield from api_client(custom, engine, land)


def test_qr_target_is_configurable(templated_api: TestClient, land: Connection) -> None:
    add_parcel(land, zddm=ZDDM)
    response = templated_api.get(f"/land-codes/{ZDDM}/qr.png")
    assert response.headers["x-qr-target"] == f"https://gis.county.gov.cn/d?code={ZDDM}"


def test_printable_qr_sheet_of_a_zone(api: TestClient, land: Connection, client_for: ClientFactory) -> None:
    zone = add_zone(land, "Z01", -1000, -1000, 3000, 3000)
    other = add_zone(land, "Z98", 5000, 5000, 1000, 1000, region="330698")
    for n in range(3):
        add_parcel(land, n * 200, zddm=f"330699001001GB{n:05d}", zone_id=zone, location=f"兴业路{n}号")
    add_parcel(land, 5200, 5200, region="330698", zone_id=other)
    sheet = api.get(f"/zones/{zone}/qr-sheet")
    assert sheet.status_code == 200 and "text/html" in sheet.headers["content-type"]
    assert sheet.text.count("<svg") == 3
    assert "330699001001GB00002" in sheet.text and "兴业路1号" in sheet.text and "共 3 宗" in sheet.text
    assert api.get(f"/zones/{zone}/qr-sheet?colour=red").text.count("<svg") == 0
    assert client_for("viewer", ["330699"]).get(f"/zones/{other}/qr-sheet").status_code == 404
    assert api.get(f"/zones/{zone}/qr-sheet?colour=blue").status_code == 400
