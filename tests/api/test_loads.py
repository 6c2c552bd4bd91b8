"""``/loads``: uploads loaded in the background, polled, reported; untrusted files kept in their place.

These requests commit (the job runs on its own connection), so the service runs on a database
of its own (``scratch_county``), not in the rolled-back test transaction.
"""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.main import create_app
from landgis.loading import parcels
from landgis.settings import Settings
from tests.loading.conftest import (
    empty_parcels,
    parcel_row,
    scratch_county,  # noqa: F401 - the fixture
    write_shapefile,
)


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def service(scratch_county: Engine, uploads: Path, tmp_path: Path) -> Iterator[TestClient]:  # noqa: F811
    """The service on the scratch database, signed in as an officer of every region ("clerk-7")."""
    empty_parcels(scratch_county)
    settings = Settings(
        database_url=scratch_county.url.render_as_string(hide_password=False),
        home=tmp_path / "home",
        upload_dir=uploads,
        upload_max_bytes=2_000_000,
    )
    app = create_app(settings, engine=scratch_county)
    with TestClient(app) as client:
        client.headers.update(sign_in(scratch_county, "clerk-7", "officer", None))
        yield client


def sign_in(engine: Engine, username: str, role: str, scope: list[str] | None) -> dict[str, str]:
    """Authorization headers of a user created (committed) in the scratch database."""
    from landgis.accounts.tokens import create_token
    from landgis.accounts.users import create_user, find_user
    from landgis.errors import NotFound

    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO region (code, name, level, parent_code) VALUES ('330698', '邻县', 3, '330600')"
                " ON CONFLICT DO NOTHING"
            )
        )
        try:
            user = find_user(conn, username)
        except NotFound:
            user = create_user(conn, username, role, scope)
        _, secret = create_token(conn, user.id, "tests")
    return {"Authorization": f"Bearer {secret}"}


def _zipped(folder: Path, rows: list[dict[str, Any]]) -> bytes:
    shp = write_shapefile(folder, rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(shp.parent.iterdir()):
            zf.write(part, f"宗地/{part.name}")
    return buffer.getvalue()


def _post(client: TestClient, body: bytes, name: str = "宗地.zip", kind: str = "parcels", **params: Any) -> Any:
    return client.post(
        f"/loads/{kind}",
        params={"filename": name, **params},
        content=body,
        headers={"content-type": "application/octet-stream", **params.pop("headers", {})},
    )


def _wait(client: TestClient, job_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/loads/{job_id}", headers=headers or {}).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def _parcel_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM parcel")).scalar_one())


def test_an_uploaded_shapefile_is_loaded_and_reported(
    service: TestClient,
    scratch_county: Engine,  # noqa: F811
    tmp_path: Path,
    uploads: Path,
) -> None:
    body = _zipped(tmp_path / "in", [parcel_row(1, 0, 0), parcel_row(2, 100, 0, 宗地面积=5000.0)])
    response = _post(service, body)
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["status"] in ("queued", "running", "succeeded")
    assert response.headers["location"] == f"/loads/{created['id']}"
    assert created["file_name"] == "宗地.zip" and created["size_bytes"] == len(body)
    job = _wait(service, created["id"])
    assert (job["status"], job["exit_code"]) == ("succeeded", 0)
    assert job["counts"] == {"read": 2, "inserted": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert (job["rows_done"], job["rows_total"]) == (2, 2)
    assert job["issues"][0]["code"] == "area_deviation" and job["issues"][0]["row"] == 2
    assert _parcel_count(scratch_county) == 2
    with scratch_county.connect() as conn:
        actor = conn.execute(text("SELECT DISTINCT actor FROM change_log WHERE table_name = 'parcel'")).scalars().all()
    assert actor == ["clerk-7"]
    report = service.get(job["links"]["report_csv"])
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    lines = report.content.decode("utf-8-sig").splitlines()
    assert lines[1].startswith("宗地.zip/宗地/zd.shp,2,宗地面积,警告,area_deviation,")
    page = service.get(job["links"]["report_html"])
    assert page.status_code == 200 and "数据加载报告" in page.text
    assert list(uploads.iterdir()) == []  # the work folder is gone


def test_refused_rows_fail_the_job_and_write_nothing(
    service: TestClient,
    scratch_county: Engine,  # noqa: F811
    tmp_path: Path,
    uploads: Path,
) -> None:
    body = _zipped(tmp_path / "in", [parcel_row(1, 0, 0), parcel_row(2, 100, 0, 约定容积="看情况")])
    job = _wait(service, _post(service, body).json()["id"])
    assert (job["status"], job["exit_code"], job["counts"]["rejected"]) == ("failed", 3, 1)
    assert _parcel_count(scratch_county) == 0
    rows = service.get(job["links"]["report_csv"]).content.decode("utf-8-sig").splitlines()
    assert rows[1].startswith("宗地.zip/宗地/zd.shp,2,约定容积,错误(拒绝),far_text,")
    partial = _wait(service, _post(service, body, accept_partial="true").json()["id"])
    assert (partial["status"], partial["exit_code"], partial["counts"]["inserted"]) == ("partial", 7, 1)
    assert list(uploads.iterdir()) == []


def test_a_job_behind_another_parcel_load_gives_up_with_the_conflict_code(
    service: TestClient,
    scratch_county: Engine,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parcels, "LOCK_WAIT", "300ms")
    with scratch_county.connect() as other_load:
        other_load.execute(text("LOCK TABLE parcel IN SHARE UPDATE EXCLUSIVE MODE"))  # what a running load holds
        job = _wait(service, _post(service, _zipped(tmp_path / "in", [parcel_row(1, 0, 0)])).json()["id"])
        other_load.rollback()
    assert (job["status"], job["exit_code"]) == ("failed", 5)  # 5: conflict, as on the command line
    assert "另一个宗地导入" in job["message"]
    assert _parcel_count(scratch_county) == 0


def test_a_file_over_the_limit_is_refused_before_it_is_stored(service: TestClient, uploads: Path) -> None:
    response = _post(service, b"x" * 2_000_001)
    assert response.status_code == 413
    assert "2000000" in response.json()["detail"]  # the configured upload limit, not the 1 MiB default
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_names_are_made_safe_and_suffixes_checked(service: TestClient, tmp_path: Path) -> None:
    body = _zipped(tmp_path / "in", [parcel_row(1, 0, 0)])
    job = _post(service, body, name="../../etc/cron.d/宗地 (1).zip").json()
    assert job["file_name"] == "宗地_(1).zip"
    _wait(service, job["id"])
    for name in ("zd.shp", "a.vrt", "noext", "x.zip.exe"):
        response = _post(service, b"data", name=name)
        assert response.status_code == 400, name
    assert _post(service, b"", name="a.zip").status_code == 400  # empty


def test_options_are_checked(service: TestClient, tmp_path: Path) -> None:
    body = _zipped(tmp_path / "in", [parcel_row(1, 0, 0)])
    assert _post(service, body, mapping="/etc/landgis/secret.yaml").status_code == 400  # presets only
    assert _post(service, body, year=2023).status_code == 400  # not an option of a parcel load
    assert _post(service, b"a,b\n", name="f.csv", kind="figures").status_code == 400  # figures need a year
    assert _post(service, body, kind="buildings").status_code == 422


def _zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"zd.shp": b"\0" * 50_000_000}, "压缩炸弹"),
        ({"../../escape.shp": b"x", "zd.dbf": b"x"}, "非法路径"),
        ({"/etc/zd.shp": b"x"}, "非法路径"),
        (
            {
                "zd.shp": b'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource>'
                b"</OGRVRTLayer></OGRVRTDataSource>",
                "zd.shx": b"x",
                "zd.dbf": b"x",
            },
            "VRT",
        ),
        ({f"f{i}.txt": b"x" for i in range(2_001)}, "文件数过多"),
    ],
    ids=["zip-bomb", "zip-slip", "absolute-path", "vrt-as-shp", "entry-flood"],
)
def test_hostile_archives_fail_the_job(
    service: TestClient,
    scratch_county: Engine,  # noqa: F811
    uploads: Path,
    entries: dict[str, bytes],
    message: str,
) -> None:
    job = _wait(service, _post(service, _zip_bytes(entries)).json()["id"])
    assert (job["status"], job["exit_code"]) == ("failed", 3)
    assert message in job["message"]
    assert _parcel_count(scratch_county) == 0
    assert list(uploads.iterdir()) == []
    assert service.get(job["links"]["report_csv"]).status_code == 404  # refused before any row


def test_a_scoped_caller_cannot_load_or_see_another_countys_land(
    service: TestClient,
    scratch_county: Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    body = _zipped(tmp_path / "in", [parcel_row(1, 0, 0)])
    neighbour = sign_in(scratch_county, "officer-330698", "officer", ["330698"])
    job = _wait(service, _post(service, body, headers=neighbour).json()["id"], headers=neighbour)
    assert job["status"] == "failed"
    assert {i["code"] for i in job["issues"]} == {"out_of_scope"}
    assert _parcel_count(scratch_county) == 0
    own = sign_in(scratch_county, "officer-330699", "officer", ["330699"])
    mine = _wait(service, _post(service, body, headers=own).json()["id"], headers=own)
    assert mine["status"] == "succeeded"
    # the neighbour cannot poll the county's job, nor read its report
    assert service.get(f"/loads/{mine['id']}", headers=neighbour).status_code == 404
    assert service.get(f"/loads/{mine['id']}/report.csv", headers=neighbour).status_code == 404
    assert service.get(f"/loads/{mine['id']}").status_code == 200  # unrestricted


def test_unknown_and_interrupted_jobs(service: TestClient, scratch_county: Engine) -> None:  # noqa: F811
    assert service.get(f"/loads/{uuid.uuid4()}").status_code == 404
    with scratch_county.begin() as conn:
        job_id = conn.execute(
            text(
                "INSERT INTO load_job (kind, status, file_name, size_bytes, actor, heartbeat_at)"
                " VALUES ('parcels', 'running', 'x.zip', 1, 'clerk', now() - interval '1 hour') RETURNING id"
            )
        ).scalar_one()
    job = service.get(f"/loads/{job_id}").json()
    assert (job["status"], job["exit_code"]) == ("failed", 1)
    assert "任务中断" in job["message"]


def test_enterprise_workbooks_go_through_the_same_jobs(service: TestClient, scratch_county: Engine) -> None:  # noqa: F811
    from tests.helpers import make_uscc

    table = f"统一社会信用代码,企业名称,规模\n{make_uscc(1)},示范县第1机械有限公司,规上\n".encode("gbk")
    job = _wait(service, _post(service, table, name="企业名录.csv", kind="enterprises").json()["id"])
    assert (job["status"], job["counts"]["inserted"]) == ("succeeded", 1), job
    figures = f"统一社会信用代码,税收(万元)\n{make_uscc(1)},120.5\n".encode()
    job = _wait(service, _post(service, figures, name="2023税收.csv", kind="figures", year=2023).json()["id"])
    assert job["status"] == "succeeded", job
    with scratch_county.connect() as conn:
        assert conn.execute(text("SELECT year, tax_wan FROM enterprise_year")).one() == (2023, 120.5)


def test_the_upload_is_documented_as_a_binary_body(service: TestClient) -> None:
    operation = service.get("/openapi.json").json()["paths"]["/loads/{kind}"]["post"]
    assert operation["requestBody"]["content"]["application/octet-stream"]["schema"]["format"] == "binary"
    assert {p["name"] for p in operation["parameters"]} >= {"kind", "filename", "mapping", "accept_partial"}
