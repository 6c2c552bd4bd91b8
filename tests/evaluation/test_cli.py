"""``landgis evaluate`` and ``landgis candidates`` on a scratch copy of the small demo county."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from landgis.cli import app
from landgis.db import cluster, migrate

runner = CliRunner()


@pytest.fixture(scope="module")
def scratch(admin_url: URL, demo_folder: Path) -> Iterator[tuple[Engine, dict[str, str]]]:
    from landgis.cli.demo import load_demo

    name = "landgis_test_evaluate_cli"
    cluster.drop_database(admin_url, name)
    cluster.ensure_database(admin_url, name)
    engine = create_engine(admin_url.set(database=name))
    migrate.upgrade(engine)
    load_demo(engine, demo_folder, show=lambda label, report: None)
    env = {"LANDGIS_DATABASE_URL": engine.url.render_as_string(hide_password=False), "COLUMNS": "200"}
    yield engine, env
    engine.dispose()
    cluster.drop_database(admin_url, name)


def test_evaluate_run_explain_compare_export(scratch: tuple[Engine, dict[str, str]], tmp_path: Path) -> None:
    engine, env = scratch
    first = runner.invoke(
        app, ["evaluate", "--policy", "percentile-a25-b45-c25-d5", "--year", "2023", "--json"], env=env
    )
    assert first.exit_code == 0, first.output
    run = json.loads(first.stdout)
    again = runner.invoke(app, ["evaluate", "-p", "percentile-a25-b45-c25-d5", "-y", "2023"], env=env)
    assert again.exit_code == 0 and "沿用评价批次" in again.output
    second = runner.invoke(app, ["evaluate", "-p", "percentile-a25-b45-c25-d5", "-y", "2024", "--json"], env=env)
    later = json.loads(second.stdout)
    with engine.connect() as conn:
        # every segment's rated firms split 25/45/25/5 by rank, exactly (floor of the cumulative share)
        rows = conn.execute(
            text(
                "SELECT segment, count(*), count(*) FILTER (WHERE class = 'A'), count(*) FILTER (WHERE class = 'D')"
                " FROM evaluation_result WHERE run_id = :r AND status = 'rated' GROUP BY segment"
            ),
            {"r": run["id"]},
        ).all()
        uscc = conn.execute(
            text(
                "SELECT e.uscc FROM evaluation_result r JOIN enterprise e ON e.id = r.enterprise_id"
                " WHERE r.run_id = :r AND r.status = 'rated' ORDER BY r.enterprise_id LIMIT 1"
            ),
            {"r": run["id"]},
        ).scalar_one()
    for _, n, a, d in rows:
        assert a == int(n * 0.25 + 1e-9)
        assert d == n - int(n * 0.95 + 1e-9)
    explained = runner.invoke(app, ["evaluate", "explain", str(run["id"]), uscc], env=env)
    assert explained.exit_code == 0 and "本组排名" in explained.output
    compared = runner.invoke(app, ["evaluate", "compare", str(run["id"]), str(later["id"])], env=env)
    assert compared.exit_code == 0 and "类别变化" in compared.output
    out = tmp_path / "run.zip"
    exported = runner.invoke(app, ["evaluate", "export", str(run["id"]), "--out", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    assert zipfile.ZipFile(out).read("宗地亩均.cpg") == b"GBK"


def test_evaluate_refusals(scratch: tuple[Engine, dict[str, str]], tmp_path: Path) -> None:
    _, env = scratch
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nname: 坏\nversion: '1'\nsegments: []\nclasses: {method: percentile}\n", encoding="utf-8")
    checked = runner.invoke(app, ["evaluate", "check", str(bad)], env=env)
    assert checked.exit_code == 3 and "segments" in checked.output
    unknown = runner.invoke(app, ["evaluate", "--policy", "nope", "--year", "2023"], env=env)
    assert unknown.exit_code == 4
    usage = runner.invoke(app, ["evaluate", "--policy", "huangyan-2022"], env=env)
    assert usage.exit_code == 2


def test_candidates_commands(scratch: tuple[Engine, dict[str, str]], tmp_path: Path) -> None:
    _, env = scratch
    out = tmp_path / "cands.xlsx"
    result = runner.invoke(
        app,
        [
            "candidates",
            "run",
            "-p",
            "huzhou-sandi",
            "--region",
            "330699",
            "-y",
            "2024",
            "--distance",
            "20",
            "--min-block",
            "30",
            "--param",
            "above_mu_tax=8",
            "--out",
            str(out),
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "候选宗地" in result.output and "连片地块" in result.output and out.is_file()
    saved = runner.invoke(
        app, ["candidates", "save", "三低2024", "-p", "huzhou-sandi", "--zone", "Z01", "-y", "2024"], env=env
    )
    assert saved.exit_code == 0, saved.output
    listed = runner.invoke(app, ["candidates", "plans"], env=env)
    assert "三低2024" in listed.output
    totals = runner.invoke(app, ["candidates", "totals", "-y", "2024", "--out", str(tmp_path / "t.xlsx")], env=env)
    assert totals.exit_code == 0, totals.output
    assert "示范经济开发区" in totals.output
    bad = runner.invoke(
        app,
        ["candidates", "run", "-p", "huzhou-sandi", "--region", "330699", "-y", "2024", "--param", "above_mu_tax=六"],
        env=env,
    )
    assert bad.exit_code == 3 and "params.above_mu_tax" in bad.output
