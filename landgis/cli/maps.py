"""``landgis maps``: check the layer definitions, make the demo county's rasters."""

from __future__ import annotations

from pathlib import Path

import typer

from landgis.cli.common import engine, info, reported_errors, settings

app = typer.Typer(no_args_is_help=True)


@app.command("check", help="Validate every layer in layers/ and check it against the database catalog.")
def check() -> None:
    from landgis.maps.catalog import check_catalog
    from landgis.maps.layers import load_layers

    cfg = settings()
    with reported_errors():
        registry = load_layers(cfg.layers_path)
        with engine(cfg).connect() as conn:
            catalog = check_catalog(conn, registry)
        for layer_id, layer in registry.items():
            state = catalog.state(layer_id)
            if not state.available:
                note = f"暂不可用 ({state.reason})"
            elif layer.kind == "vector":
                note = (
                    "可用, 缓存" if state.cached else f"可用, 不缓存 (untracked: {', '.join(state.untracked) or '-'})"
                )
            else:
                note = "可用"
            info(f"{layer_id:20} {layer.kind:6} {layer.title}  {note}")


@app.command("demo-raster", help="Write the demo county's synthetic DEM and hillshade COGs (for the basemap).")
def demo_raster(
    out: Path = typer.Option(None, help="Folder (default: LANDGIS_HOME/rasters)."),
) -> None:
    from landgis.maps.raster import demo_bounds, write_demo_cogs

    cfg = settings()
    with reported_errors():
        with engine(cfg).connect() as conn:
            bounds = demo_bounds(conn)
        for path in write_demo_cogs(out or cfg.home / "rasters", bounds):
            info(f"written {path}")
