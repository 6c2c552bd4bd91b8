"""The maps' state of one service process: layer registry, catalog check, tile renderers, tile
cache with its version gate, built once at start-up and closed at shutdown.

A bad layer definition raises ``LayerDefinitionError`` here, which stops start-up with its
message (the file and field at fault).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine

from api.tilefast import TileMissPath
from landgis.accounts.cache import PrincipalCache
from landgis.errors import NotFound
from landgis.maps.cache import TileCache, VersionGate
from landgis.maps.catalog import Catalog, check_catalog
from landgis.maps.layers import LayerDefinitionError, LayerRegistry, RasterLayer, VectorLayer, load_layers
from landgis.maps.tiles import TileRenderer
from landgis.settings import Settings

log = logging.getLogger("landgis.maps")


@dataclass
class MapState:
    settings: Settings
    registry: LayerRegistry
    catalog: Catalog
    renderers: dict[str, TileRenderer]
    cache: TileCache
    #: data and access versions for the cache's front door (api.tilecache); None: cache off
    gate: VersionGate | None = None
    #: callers the tile route authenticated a moment ago, for the front door
    principals: PrincipalCache = field(default_factory=lambda: PrincipalCache(0))
    #: the front door's own renderer of such callers' cache misses; None: every miss goes to the route
    fast: TileMissPath | None = None
    raster_readers: dict[str, object] = field(default_factory=dict)

    def vector(self, layer_id: str) -> tuple[VectorLayer, TileRenderer]:
        layer = self._available(layer_id)
        if not isinstance(layer, VectorLayer):
            raise NotFound(f"图层 {layer_id} 是栅格图层, 没有矢量瓦片 (a raster layer has no vector tiles)")
        return layer, self.renderers[layer_id]

    def raster(self, layer_id: str) -> RasterLayer:
        layer = self._available(layer_id)
        if not isinstance(layer, RasterLayer):
            raise NotFound(f"图层 {layer_id} 是矢量图层, 没有栅格瓦片 (a vector layer has no raster tiles)")
        return layer

    def _available(self, layer_id: str) -> VectorLayer | RasterLayer:
        layer = self.registry.get(layer_id)
        if layer is None:
            known = ", ".join(sorted(self.registry))
            raise NotFound(f"没有图层 {layer_id} (unknown layer); 可用图层: {known}")
        status = self.catalog.state(layer_id)
        if not status.available:
            raise NotFound(f"图层 {layer_id} 暂不可用: {status.reason} (layer not available yet)")
        return layer

    def relevant_params(self, layer: VectorLayer | RasterLayer) -> frozenset[str]:
        """Query parameters that change a layer's tiles; others never split the cache."""
        names = {"crs", "year"}
        if isinstance(layer, VectorLayer):
            names |= set(layer.source.params)
        return frozenset(names)

    def tile_key(
        self, layer_id: str, fmt: str | None, z: int, x: int, y: int, query: Mapping[str, str], who: tuple[str, ...]
    ) -> tuple[object, ...] | None:
        """The cache key of a tile request; ``who`` is the caller's region scope (``scope_key``)."""
        layer = self.registry.get(layer_id)
        if layer is None or not self.catalog.state(layer_id).available:
            return None
        kind = "mvt" if isinstance(layer, VectorLayer) else (fmt or "png")
        names = self.relevant_params(layer)
        params = tuple(sorted((k, v) for k, v in query.items() if k in names))
        return (kind, layer_id, z, x, y, params, who)

    async def open(self) -> None:
        if self.fast is not None:
            await self.fast.open()

    async def close(self) -> None:
        if self.gate is not None:
            await self.gate.close()
        if self.fast is not None:
            await self.fast.close()
        self.cache.clear()
        self.principals.clear()


def scope_key(region_scope: Sequence[str] | None) -> tuple[str, ...]:
    """Whose tiles these are, for the cache key. Row-level security shows callers of the same
    region scope the same rows, so they share entries; the unrestricted scope and every list of
    regions have entries of their own."""
    return ("all",) if region_scope is None else ("scope", *sorted(region_scope))


def build_state(settings: Settings, engine: Engine) -> MapState:
    """Read and check the layers, build the renderers and the tile cache."""
    registry = load_layers(settings.layers_path)
    with engine.connect() as conn:
        catalog = check_catalog(conn, registry)
    renderers = {layer.id: TileRenderer(layer) for layer in registry.vector() if catalog.state(layer.id).available}
    cache = TileCache(settings.tile_cache_mb * 1024 * 1024)
    principals = PrincipalCache(settings.tile_auth_cache_s)
    state = MapState(
        settings=settings, registry=registry, catalog=catalog, renderers=renderers, cache=cache, principals=principals
    )
    if settings.tile_cache_mb > 0:
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        state.gate = VersionGate(conninfo)
        if settings.tile_front_render and settings.tile_auth_cache_s > 0:
            state.fast = TileMissPath(conninfo, max_size=settings.pool_size)
    unavailable = [f"{k} ({v.reason})" for k, v in catalog.states.items() if not v.available]
    if unavailable:
        log.info("map layers not available yet: %s", "; ".join(unavailable))
    return state


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[Mapping[str, object]]:
    try:
        state = build_state(app.state.settings, app.state.engine)
    except LayerDefinitionError as exc:
        log.error("start-up stopped: %s", exc.message)
        raise
    app.state.maps = state
    await state.open()
    try:
        yield {}
    finally:
        await state.close()


async def get_map_state(request: Request) -> MapState:
    state: MapState = request.app.state.maps
    return state


MapStateDep = Annotated[MapState, Depends(get_map_state)]
