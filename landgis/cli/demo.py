"""``landgis demo``: the synthetic demo county (示范县), generated and loaded through the same
loaders a county's real files go through."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import typer
from sqlalchemy import Connection, Engine, text

from landgis.cli.common import console, engine, info, reported_errors, settings
from landgis.loading.batch import LoadOptions, committed
from landgis.loading.report import LoadReport
from landgis.settings import project_root

app = typer.Typer(no_args_is_help=True)

DEMO_SEED = 20221231
DEMO_YEARS = (2022, 2023, 2024)


def generator() -> ModuleType:
    """The generator script ``scripts/demo_county.py`` as a module."""
    path = project_root() / "scripts" / "demo_county.py"
    spec = importlib.util.spec_from_file_location("demo_county", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["demo_county"] = module
    spec.loader.exec_module(module)
    return module


def demo_dir(parcels: int, seed: int) -> Path:
    return settings().demo_dir / f"county-{parcels}-{seed}"


@app.command("generate", help="Write the demo county's files (shapefile, workbook, zones) without loading them.")
def generate(
    parcels: int = typer.Option(5000, min=50, help="Number of parcels."),
    seed: int = typer.Option(DEMO_SEED, help="Random seed (same seed, same county)."),
    out: Path = typer.Option(None, help="Output folder (default: .landgis/demo/county-N-SEED)."),
    figures_format: str = typer.Option("xlsx", help="xlsx or csv for the enterprise tables."),
) -> None:
    target = out or demo_dir(parcels, seed)
    generator().generate(target, parcels=parcels, seed=seed, figures_format=figures_format, progress=True)
    info(f"Demo county written to {target}")


@app.command("load", help="Generate (if needed) and load the demo county; a re-run changes nothing.")
def load(
    parcels: int = typer.Option(5000, min=50, help="Number of parcels."),
    seed: int = typer.Option(DEMO_SEED, help="Random seed."),
) -> None:
    target = demo_dir(parcels, seed)
    with reported_errors():
        if not (target / "manifest.json").is_file():
            info(f"Generating the demo county ({parcels} parcels) ...")
            generator().generate(target, parcels=parcels, seed=seed, progress=True)
        load_demo(engine(), target, show=lambda label, report: console.print(f"{label}: {report.message}"))
        info("The demo county is loaded.")


def load_demo(eng: Engine, target: Path, show: Callable[[str, LoadReport], None]) -> None:
    """Load a generated demo county from ``target``, each file as its own committed batch."""
    from landgis.loading import areas, enterprises
    from landgis.loading.parcels import ParcelLoadOptions, load_parcels

    user = "demo"
    workbook = target / "企业数据.xlsx"

    def table(sheet: str, year: int | None = None) -> enterprises.TableLoadOptions:
        label = f"示范县{year}年度汇总" if year else None
        return enterprises.TableLoadOptions(user=user, sheet=sheet, year=year, source_label=label)

    steps: list[tuple[str, Callable[[Connection], LoadReport]]] = [
        ("行政区划", lambda c: areas.load_regions(c, target / "regions.geojson", LoadOptions(user=user))),
        ("园区", lambda c: areas.load_zones(c, target / "zones.geojson", LoadOptions(user=user))),
        ("园区目标", lambda c: areas.load_targets(c, target / "zone_targets.csv", LoadOptions(user=user))),
        ("宗地", lambda c: load_parcels(c, target / "ZD_330699.shp", ParcelLoadOptions(user=user))),
        ("企业", lambda c: enterprises.load_enterprises(c, workbook, table("企业名录"))),
        ("用地关系", lambda c: enterprises.load_occupancy(c, workbook, table("用地关系"))),
    ]

    def figures(year: int) -> Callable[[Connection], LoadReport]:
        return lambda c: enterprises.load_figures(c, workbook, table(f"{year}年度", year))

    steps += [(f"{year}年度指标", figures(year)) for year in DEMO_YEARS]
    for label, step in steps:
        show(label, committed(eng, step))
    create_demo_users(eng)


#: Demo accounts, one per role (documented in README.md). Never use them outside a demo.
DEMO_USERS = (
    ("admin", "admin", None, "landgis-admin-demo", "示范管理员"),
    ("officer", "officer", ["330699"], "landgis-officer-demo", "示范经办人员"),
    ("planner", "planner", ["330699"], "landgis-planner-demo", "示范规划人员"),
    ("viewer", "viewer", ["330699001"], "landgis-viewer-demo", "东湖街道查看人员"),
)


def create_demo_users(eng: Engine) -> list[str]:
    """Create the demo users that do not exist yet; returns the names created."""
    from landgis.accounts.users import create_user
    from landgis.db.engine import set_audit_context

    created = []
    with eng.begin() as conn:
        set_audit_context(conn, actor="demo")
        existing = set(conn.execute(text("SELECT username FROM app_user")).scalars())
        for name, role, scope, password, display in DEMO_USERS:
            if name not in existing:
                create_user(conn, name, role, scope, password=password, display_name=display)
                created.append(name)
    return created
