"""Layer definitions checked against the database catalog, once at start-up.

Every relation and column a layer names must exist with the right kind (a geometry column is a
geometry), or start-up stops with a message naming the layer. A layer whose ``requires``
relations are missing (a view another module creates later) is *unavailable*, not an error.

A layer is served from the tile cache only when every base table behind its relations carries
the data-version trigger (``landgis_bump_data_version``); otherwise a write to that table could
not invalidate the cache, so the layer is rendered fresh on every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from landgis.maps.layers import LayerDefinitionError, LayerRegistry, RasterLayer, VectorLayer

COLUMNS_SQL = text(
    """
    SELECT a.attname, format_type(a.atttypid, a.atttypmod)
    FROM pg_attribute a
    WHERE a.attrelid = to_regclass(:relation) AND a.attnum > 0 AND NOT a.attisdropped
    """
)

# Base tables a relation reads: itself when it is a table, else (recursively) the tables its
# view's rewrite rule depends on.
BASE_TABLES_SQL = text(
    """
    WITH RECURSIVE deps(oid) AS (
        SELECT to_regclass(:relation)::oid
        UNION
        SELECT d.refobjid
        FROM deps
        JOIN pg_rewrite r ON r.ev_class = deps.oid
        JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass
             AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> deps.oid
    )
    SELECT c.relname,
           EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                   WHERE t.tgrelid = c.oid AND p.proname = 'landgis_bump_data_version') AS tracked
    FROM deps JOIN pg_class c ON c.oid = deps.oid
    WHERE c.relkind IN ('r', 'p', 'm', 'f')
    """
)


@dataclass(frozen=True)
class LayerState:
    """What the catalog says about one layer."""

    available: bool
    reason: str = ""
    cached: bool = False
    untracked: tuple[str, ...] = ()


@dataclass
class Catalog:
    states: dict[str, LayerState] = field(default_factory=dict)

    def state(self, layer_id: str) -> LayerState:
        return self.states.get(layer_id, LayerState(available=False, reason="unknown layer"))


def _columns(conn: Connection, relation: str) -> dict[str, str]:
    rows = conn.execute(COLUMNS_SQL, {"relation": relation}).all()
    return {str(name): str(kind) for name, kind in rows}


def _exists(conn: Connection, relation: str) -> bool:
    return conn.execute(text("SELECT to_regclass(:r) IS NOT NULL"), {"r": relation}).scalar_one() is True


def _check_vector(conn: Connection, layer: VectorLayer) -> LayerState:
    missing = [name for name in layer.relations() if not _exists(conn, name)]
    required_missing = [name for name in missing if name in layer.requires]
    if required_missing:
        return LayerState(available=False, reason=f"等待数据: {', '.join(required_missing)} 尚不存在")
    if missing:
        raise LayerDefinitionError(
            f"图层 {layer.id}: 关系 {', '.join(missing)} 不存在 (relation does not exist; list it under `requires` "
            "if another module creates it later)"
        )

    src = layer.source
    columns = _columns(conn, src.relation)
    lookup_columns = _columns(conn, src.lookup.relation) if src.lookup else {}

    def need(name: str, where: dict[str, str], relation: str, what: str) -> None:
        if name not in where:
            raise LayerDefinitionError(
                f"图层 {layer.id}: {relation} 没有列 {name} ({what} column does not exist in {relation})"
            )

    if src.id is not None:
        need(src.id, columns, src.relation, "id")
        if columns[src.id] not in ("integer", "bigint", "smallint"):
            raise LayerDefinitionError(
                f"图层 {layer.id}: 要素编号列 {src.relation}.{src.id} 应为整数 (feature id must be an integer, is {columns[src.id]})"
            )
    need(src.geometry, columns, src.relation, "geometry")
    if not columns[src.geometry].startswith("geometry"):
        raise LayerDefinitionError(
            f"图层 {layer.id}: {src.relation}.{src.geometry} 不是几何列 (is {columns[src.geometry]}, not geometry)"
        )
    for name in filter(None, (src.scope, src.area_m2)):
        need(name, columns, src.relation, "source")
    for param in src.params.values():
        need(param.column, columns, src.relation, "parameter")
    if src.lookup:
        for name in (src.lookup.key, *src.lookup.columns, *filter(None, [src.lookup.year])):
            need(name, lookup_columns, src.lookup.relation, "lookup")
    lookup_names = set(src.lookup.columns) if src.lookup else set()
    for name in layer.attribute_names():
        if name not in lookup_names:
            need(name, columns, src.relation, "attribute")
        if name in (src.geometry,):
            raise LayerDefinitionError(
                f"图层 {layer.id}: 属性不能是几何列 {name} (an attribute cannot be the geometry)"
            )

    untracked: list[str] = []
    for relation in layer.relations():
        for table, tracked in conn.execute(BASE_TABLES_SQL, {"relation": relation}).all():
            if not tracked:
                untracked.append(str(table))
    untracked = sorted(set(untracked))
    return LayerState(available=True, cached=layer.cache and not untracked, untracked=tuple(untracked))


def _check_raster(conn: Connection, layer: RasterLayer) -> LayerState:
    missing = [name for name in layer.requires if not _exists(conn, name)]
    if missing:
        return LayerState(available=False, reason=f"等待数据: {', '.join(missing)} 尚不存在")
    if layer.thematic is not None:
        relation = layer.thematic.relation
        if not _exists(conn, relation):
            raise LayerDefinitionError(f"图层 {layer.id}: 关系 {relation} 不存在 (relation does not exist)")
        columns = _columns(conn, relation)
        for name in ("parcel_id", layer.thematic.column):
            if name not in columns:
                raise LayerDefinitionError(f"图层 {layer.id}: {relation} 没有列 {name} (column does not exist)")
    return LayerState(available=True)


def check_catalog(conn: Connection, registry: LayerRegistry) -> Catalog:
    """Check every layer against the database; raise ``LayerDefinitionError`` on the first bad one.

    Raster layers' files are checked by ``landgis.maps.raster.check_files`` (they may be generated
    after the database is set up).
    """
    catalog = Catalog()
    for layer_id, layer in registry.items():
        if isinstance(layer, VectorLayer):
            catalog.states[layer_id] = _check_vector(conn, layer)
        else:
            catalog.states[layer_id] = _check_raster(conn, layer)
    return catalog
