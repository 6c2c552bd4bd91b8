"""``landgis lifecycle``: workflow checks, steps, colours, lists and reports on a scratch database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from landgis.cli import app
from tests.helpers import ewkb, gk_rect, scratch_database

runner = CliRunner()


@pytest.fixture(scope="module")
def scratch(admin_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, str]]]:
    with scratch_database(admin_url, "landgis_test_lifecycle_cli") as engine:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO region (code, name, level) VALUES ('330699', '示范县', 3)"))
            conn.execute(
                text(
                    "INSERT INTO zone (code, name, zone_type, region_code, boundary) VALUES"
                    " ('Z1', '兴业园区', 'industrial_park', '330699', ST_GeomFromEWKB(decode(:z, 'hex')))"
                ),
                {"z": ewkb(gk_rect(-1000, -1000, 3000, 3000))},
            )
            conn.execute(
                text(
                    "INSERT INTO parcel (zddm, zddm_raw, zddm_valid, region_code, zone_id, geom, agreed_start_date)"
                    " VALUES ('330699001001GB00001', '330699001001GB00001', true, '330699', 1,"
                    " ST_GeomFromEWKB(decode(:g, 'hex')), '2020-01-01')"
                ),
                {"g": ewkb(gk_rect(0, 0, 200, 100))},
            )
        env = {
            "LANDGIS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "LANDGIS_HOME": str(tmp_path_factory.mktemp("home")),
            "COLUMNS": "200",
        }
        yield engine, env


def test_workflow_check_names_the_field(tmp_path: Path) -> None:
    good = runner.invoke(app, ["lifecycle", "workflow", "check", "landgis/lifecycle/workflow.yaml"])
    assert good.exit_code == 0 and "9 个状态, 16 个转换" in good.output
    bad = tmp_path / "wf.yaml"
    bad.write_text("initial: normal\nmodes: {}\nstates: {normal: 正常}\ntransitions: []\n", encoding="utf-8")
    result = runner.invoke(app, ["lifecycle", "workflow", "check", str(bad)], env={"COLUMNS": "200"})
    assert result.exit_code == 3 and "wf.yaml: transitions" in result.output


def test_steps_lists_and_report_from_the_command_line(scratch: tuple[Engine, dict[str, str]], tmp_path: Path) -> None:
    engine, env = scratch
    code = "330699001001GB00001"
    idle = json.loads(runner.invoke(app, ["lifecycle", "idle", "--as-of", "2023-06-01", "--json"], env=env).output)
    assert [r["land_code"] for r in idle] == [code]
    deadlines = runner.invoke(app, ["lifecycle", "deadlines", "--as-of", "2020-12-01", "--within", "60"], env=env)
    assert deadlines.exit_code == 0 and "满一年认定闲置" in deadlines.output  # idle from 2021-01-01
    refused = runner.invoke(app, ["lifecycle", "transition", code, "freed", "--date", "2024-01-02"], env=env)
    assert refused.exit_code == 5 and "不允许从「正常」直接转为「已腾出」" in refused.output
    steps = [
        ["identified", "--date", "2024-01-02", "--doc", "县经信〔2024〕1号"],
        ["planned", "--date", "2024-02-01", "--doc", "县政办〔2024〕9号"],
        ["in_progress", "--date", "2024-03-01", "--mode", "agreement_recovery"],
        ["freed", "--date", "2024-06-01", "--mode", "agreement_recovery", "--area", "20", "--doc", "收回协议"],
    ]
    for step in steps:
        result = runner.invoke(app, ["lifecycle", "transition", code, *step, "--user", "张三"], env=env)
        assert result.exit_code == 0, result.output
    history = json.loads(runner.invoke(app, ["lifecycle", "history", code, "--json"], env=env).output)
    assert [e["to_status"] for e in history["events"]] == ["identified", "planned", "in_progress", "freed"]
    assert history["events"][-1]["area_mu"] == 20.0
    with engine.connect() as conn:
        governed = conn.execute(text("SELECT governed_mu, freed_mu FROM v_renewal_event_area_by_year")).one()
    assert tuple(governed) == (20.0, 20.0)

    refresh = runner.invoke(app, ["lifecycle", "colours", "refresh"], env=env)
    assert refresh.exit_code == 0, refresh.output
    out = tmp_path / "report.xlsx"
    report = runner.invoke(app, ["lifecycle", "report", "--year", "2024", "--zone", "1", "--out", str(out)], env=env)
    assert report.exit_code == 0, report.output
    assert out.stat().st_size > 0
    html = tmp_path / "report.html"
    assert (
        runner.invoke(
            app, ["lifecycle", "report", "--year", "2024", "--region", "330699", "--out", str(html)], env=env
        ).exit_code
        == 0
    )
    assert "示范县 (330699) 2024年度" in html.read_text("utf-8")
    sheet = tmp_path / "qr.html"
    qr = runner.invoke(
        app, ["lifecycle", "qr-sheet", "1", "--out", str(sheet), "--base-url", "http://gis.local"], env=env
    )
    assert qr.exit_code == 0 and sheet.read_text("utf-8").count("<svg") == 1

    undo = runner.invoke(app, ["lifecycle", "undo", code, "--reason", "面积有误"], env=env)
    assert undo.exit_code == 0 and "已撤销" in undo.output
    missing = runner.invoke(app, ["lifecycle", "history", "330699001001GB00009"], env=env)
    assert missing.exit_code == 4
