"""``landgis load parcels`` as scripts call it: exit codes, ``--json``, ``--report`` and ``--dry-run``,
against a database of its own (these loads commit)."""

from __future__ import annotations

import csv
import json
import socket
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner, Result

from landgis.cli import app
from tests.loading.conftest import empty_parcels, parcel_row, write_shapefile

runner = CliRunner()


@pytest.fixture
def database(scratch_county: Engine) -> Engine:
    empty_parcels(scratch_county)
    return scratch_county


def _load(engine: Engine, *args: str, url: str | None = None) -> Result:
    env = {"LANDGIS_DATABASE_URL": url or engine.url.render_as_string(hide_password=False), "COLUMNS": "200"}
    return runner.invoke(app, ["load", "parcels", *args], env=env)


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM parcel")).scalar_one())


def test_a_good_file_exits_0_with_a_json_summary(database: Engine, tmp_path: Path) -> None:
    shp = write_shapefile(tmp_path, [parcel_row(1, 0, 0), parcel_row(2, 100, 0)])
    result = _load(database, str(shp), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["exit_code"] == 0
    assert summary["status"] == "committed"
    assert summary["counts"] == {"read": 2, "inserted": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert summary["source"]["encoding"] == "GBK"
    assert _count(database) == 2
    again = json.loads(_load(database, str(shp), "--json").stdout)
    assert (again["status"], again["exit_code"], again["counts"]["unchanged"]) == ("unchanged", 0, 2)


def test_a_refused_row_exits_3_writes_nothing_and_reports_it(database: Engine, tmp_path: Path) -> None:
    shp = write_shapefile(tmp_path / "in", [parcel_row(1, 0, 0), parcel_row(2, 100, 0, 约定容积="看情况")])
    result = _load(database, str(shp), "--json", "--report", str(tmp_path / "out"))
    assert result.exit_code == 3
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["exit_code"], summary["counts"]["rejected"]) == ("failed", 3, 1)
    assert _count(database) == 0
    csv_path = Path(summary["report_files"][0])
    with csv_path.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["文件", "行号", "字段", "级别", "代码", "说明", "原始值"]
    assert rows[1][:5] == ["zd.shp", "2", "约定容积", "错误(拒绝)", "far_text"]
    assert rows[1][6] == "看情况"
    page = Path(summary["report_files"][1]).read_text(encoding="utf-8")
    assert "<td>2</td><td>约定容积</td>" in page
    with database.connect() as conn:
        assert conn.execute(text("SELECT status FROM load_batch")).scalars().all() == ["failed"]


def test_accept_partial_exits_7(database: Engine, tmp_path: Path) -> None:
    shp = write_shapefile(tmp_path, [parcel_row(1, 0, 0), parcel_row(2, 100, 0, 约定容积="看情况")])
    result = _load(database, str(shp), "--json", "--accept-partial")
    assert result.exit_code == 7
    summary = json.loads(result.stdout)
    assert (summary["exit_code"], summary["counts"]["inserted"], summary["counts"]["rejected"]) == (7, 1, 1)
    assert _count(database) == 1


def test_dry_run_exits_0_and_writes_nothing(database: Engine, tmp_path: Path) -> None:
    shp = write_shapefile(tmp_path, [parcel_row(1, 0, 0)])
    result = _load(database, str(shp), "--json", "--dry-run", "--report", str(tmp_path / "out"))
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["counts"]["inserted"]) == ("dry_run", 1)
    assert _count(database) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["parcels-dry-run.csv", "parcels-dry-run.html"]


def test_a_refused_file_exits_3_with_json_on_stdout(database: Engine, tmp_path: Path) -> None:
    result = _load(database, str(tmp_path / "missing.shp"), "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout) == {
        "kind": "parcels",
        "file": "missing.shp",
        "status": "failed",
        "message": "missing.shp: 文件不存在 (no such file)",
        "exit_code": 3,
    }


def test_wrong_usage_exits_2(database: Engine, tmp_path: Path) -> None:
    assert _load(database, "--no-such-option").exit_code == 2
    assert _load(database).exit_code == 2  # no PATH


def test_an_unreachable_database_exits_6(database: Engine, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    shp = write_shapefile(tmp_path, [parcel_row(1, 0, 0)])
    result = _load(database, str(shp), url=f"postgresql://landgis:x@127.0.0.1:{port}/landgis")
    assert result.exit_code == 6
    assert "数据库不可用" in result.output


def test_the_terminal_shows_encoding_crs_issues_and_counts(database: Engine, tmp_path: Path) -> None:
    shp = write_shapefile(tmp_path, [parcel_row(1, 0, 0, 宗地面积=5000.0)])
    result = _load(database, str(shp))
    assert result.exit_code == 0, result.output
    assert "编码 encoding: GBK" in result.output
    assert "坐标系 CRS: EPSG:4528" in result.output
    assert "第1行 宗地面积" in result.output  # 10000 m² drawn, 5000 m² declared
    assert "新增 1" in result.output
