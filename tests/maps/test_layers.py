"""Layer definitions: the shipped ones are valid; bad ones stop start-up with a message naming
the file and the field; layers waiting for a view that does not exist yet are listed as unavailable."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text

from api.main import create_app
from landgis.maps.catalog import check_catalog
from landgis.maps.layers import LayerDefinitionError, RasterLayer, VectorLayer, load_layers, parse_layer
from landgis.settings import Settings, project_root
from tests.maps.conftest import WAITING_LAYER, WAITING_VIEW

LAYERS = project_root() / "layers"

MINIMAL = {
    "id": "demo_parcels",
    "title": "宗地",
    "source": {"relation": "parcel", "geometry": "geom", "scope": "region_code"},
    "minzoom": 10,
    "zooms": [{"minzoom": 10, "attributes": ["renewal_status"]}],
}


def write(folder: Path, name: str, data: object) -> None:
    (folder / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_shipped_layers_load_and_cover_the_issue(demo_db: Connection) -> None:
    registry = load_layers(LAYERS)
    expected = {"parcels_status", "parcels_mu_tax", "parcels_class", "parcels_yima", "zones", "regions"}
    expected |= {"plan_parcels", "plan_blocks", "basemap_hillshade", "mu_tax_density"}
    assert expected <= set(registry)
    assert all(isinstance(registry[i], VectorLayer) for i in ("parcels_status", "zones", "plan_blocks"))
    assert isinstance(registry["mu_tax_density"], RasterLayer)
    catalog = check_catalog(demo_db, registry)
    for layer_id in ("parcels_status", "parcels_mu_tax", "zones", "regions"):
        state = catalog.state(layer_id)
        assert state.available and state.cached, (layer_id, state)
    # The evaluation and lifecycle modules' views exist: their layers are served.
    for layer_id in ("parcels_class", "parcels_yima"):
        assert catalog.state(layer_id).available, layer_id


def test_layer_waiting_for_a_view_is_listed_not_fatal(waiting_layers: Path, demo_db: Connection) -> None:
    state = check_catalog(demo_db, load_layers(waiting_layers)).state(WAITING_LAYER)
    assert not state.available and WAITING_VIEW in state.reason


def test_zoom_levels_pick_attributes() -> None:
    layer = load_layers(LAYERS)["parcels_status"]
    assert isinstance(layer, VectorLayer)
    assert layer.level(11).attributes == ("renewal_status",)
    assert layer.level(14).attributes == ("renewal_status",)
    assert layer.level(15).attributes == ("renewal_status", "zddm")
    assert layer.level(18).attributes == ("renewal_status", "zddm")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"minzoom": 30}, "minzoom"),
        ({"zooms": [{"minzoom": 12, "attributes": []}]}, "zooms"),
        ({"source": {"relation": "Parcel; DROP TABLE parcel", "geometry": "geom"}}, "source.relation"),
        ({"style": [{"id": "x", "type": "symbol"}]}, "style.0.type"),
        ({"legend": [{"label": "红", "color": "red"}]}, "legend.0.color"),
    ],
)
def test_bad_definition_names_the_file_and_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(LayerDefinitionError) as caught:
        parse_layer({**MINIMAL, **change}, "demo_parcels.yaml")
    assert "demo_parcels.yaml" in caught.value.message
    assert field in caught.value.message


def test_file_name_must_match_id_and_ids_are_unique(tmp_path: Path) -> None:
    write(tmp_path, "other.yaml", MINIMAL)
    with pytest.raises(LayerDefinitionError, match=r"文件名应为 demo_parcels\.yaml"):
        load_layers(tmp_path)


def test_catalog_rejects_unknown_column_and_relation(tmp_path: Path, db: Connection) -> None:
    from landgis.maps.layers import LayerRegistry

    bad_column = parse_layer({**MINIMAL, "zooms": [{"minzoom": 10, "attributes": ["no_such_column"]}]}, "x.yaml")
    with pytest.raises(LayerDefinitionError, match="no_such_column"):
        check_catalog(db, LayerRegistry([bad_column]))
    missing = parse_layer({**MINIMAL, "source": {"relation": "v_not_there", "geometry": "geom"}}, "x.yaml")
    with pytest.raises(LayerDefinitionError, match="v_not_there"):
        check_catalog(db, LayerRegistry([missing]))


def test_conditional_layer_becomes_available_with_its_view(waiting_layers: Path, db: Connection) -> None:
    registry = load_layers(waiting_layers)
    assert not check_catalog(db, registry).state(WAITING_LAYER).available
    db.execute(
        text(
            f"CREATE VIEW {WAITING_VIEW} AS SELECT id AS parcel_id, 2024::smallint AS year, 'A'::text AS class, "
            "1.0::float8 AS mu_tax, 2.0::float8 AS mu_value_added FROM parcel"
        )
    )
    state = check_catalog(db, registry).state(WAITING_LAYER)
    assert state.available
    # The view reads only parcel, which carries the data-version trigger: cacheable.
    assert state.cached and state.untracked == ()
    db.execute(text("CREATE TABLE eval_result (parcel_id bigint, year smallint, class text)"))
    db.execute(text(f"DROP VIEW {WAITING_VIEW}"))
    db.execute(
        text(
            f"CREATE VIEW {WAITING_VIEW} AS SELECT parcel_id, year, class, 0.0::float8 AS mu_tax, "
            "0.0::float8 AS mu_value_added FROM eval_result"
        )
    )
    state = check_catalog(db, registry).state(WAITING_LAYER)
    # A table without the trigger could change without bumping the version: never cached.
    assert state.available and not state.cached and state.untracked == ("eval_result",)


def test_bad_layer_stops_start_up(tmp_path: Path, settings: Settings, engine: Engine) -> None:
    folder = tmp_path / "layers"
    shutil.copytree(LAYERS, folder)
    write(folder, "zones.yaml", {**yaml.safe_load((LAYERS / "zones.yaml").read_text()), "maxzoom": 99})
    app = create_app(settings.model_copy(update={"layers_dir": folder}), engine=engine)
    with pytest.raises(LayerDefinitionError, match=r"zones\.yaml.*maxzoom"), TestClient(app):
        pass
