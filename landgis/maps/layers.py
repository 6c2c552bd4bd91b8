"""Map layer definitions: one YAML file per layer in ``layers/``, read and validated once.

A definition says where a layer's features come from (a table or view, its id, geometry and
region-scope columns, an optional per-feature lookup in another relation), which attributes a
tile carries at which zoom, how much low-zoom tiles are thinned, and how the layer is drawn
(MapLibre style layers and a legend). Raster layers name a Cloud-Optimized GeoTIFF or a
thematic renderer instead.

Everything here is our own configuration: identifiers are checked against a strict pattern
here and against the database catalog at start-up (``landgis.maps.catalog``) before any SQL is
built from them. A bad definition raises ``LayerDefinitionError`` naming the file and field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from landgis.errors import InvalidInput

IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
LAYER_ID = r"^[a-z][a-z0-9_]{0,47}$"
COLOUR = r"^#[0-9a-fA-F]{6}$"
MAX_ZOOM = 22

Identifier = Annotated[str, Field(pattern=IDENTIFIER)]


class LayerDefinitionError(InvalidInput):
    """A layer definition in ``layers/`` is wrong; the message names the file and the field."""

    code = "layer_definition"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lookup(Strict):
    """Per-feature attributes from another relation (LEFT JOIN LATERAL on ``key`` = the source id).

    With ``year`` set, the row of the requested year (``?year=``) is used, else the latest.
    """

    relation: Identifier
    key: Identifier
    columns: tuple[Identifier, ...] = Field(min_length=1)
    year: Identifier | None = None


class Param(Strict):
    """A request parameter bound as an equality filter on a source column (e.g. ``?plan_id=3``)."""

    column: Identifier
    type: Literal["integer", "text"] = "integer"
    required: bool = True


class Source(Strict):
    relation: Identifier
    id: Identifier | None = Field(default="id", description="integer feature id column, or null for none")
    geometry: Identifier = "geom"
    srid: int = Field(default=4490, description="SRID of the geometry column")
    scope: Identifier | None = Field(default=None, description="region-code column checked with landgis_in_scope")
    area_m2: Identifier | None = Field(default=None, description="area column (m²) used to drop sub-pixel features")
    lookup: Lookup | None = None
    params: dict[Identifier, Param] = Field(default_factory=dict)


class ZoomLevel(Strict):
    """What a tile carries from ``minzoom`` up to the next level's ``minzoom``."""

    minzoom: int = Field(ge=0, le=MAX_ZOOM)
    attributes: tuple[Identifier, ...] = ()
    min_area_px: float = Field(default=0.0, ge=0, description="drop features smaller than this many px² (512 px tile)")
    simplify_px: float = Field(default=0.0, ge=0, description="Douglas-Peucker tolerance in px (512 px tile)")
    max_features: int | None = Field(default=None, ge=1)


class LegendItem(Strict):
    label: str = Field(min_length=1)
    color: str = Field(pattern=COLOUR)
    value: str | int | float | None = None


class StyleLayer(Strict):
    """One MapLibre style layer (``type``, ``paint``, ``layout``, ``filter``) drawing this layer."""

    id: Identifier
    type: Literal["fill", "line", "circle", "raster", "fill-extrusion"]  # no symbol: no glyph server offline
    paint: dict[str, Any] = Field(default_factory=dict)
    layout: dict[str, Any] = Field(default_factory=dict)
    filter: list[Any] | None = None
    minzoom: int | None = Field(default=None, ge=0, le=MAX_ZOOM)
    maxzoom: int | None = Field(default=None, ge=0, le=24)


class Common(Strict):
    id: str = Field(pattern=LAYER_ID)
    title: str = Field(min_length=1)
    description: str = ""
    group: str = Field(default="专题", description="heading in the web map's layer switcher")
    visible: bool = Field(default=False, description="switched on when the web map opens")
    requires: tuple[Identifier, ...] = Field(
        default=(), description="relations that must exist; the layer is unavailable until they do"
    )
    minzoom: int = Field(default=0, ge=0, le=MAX_ZOOM)
    maxzoom: int = Field(default=MAX_ZOOM, ge=0, le=MAX_ZOOM)
    legend: tuple[LegendItem, ...] = ()
    style: tuple[StyleLayer, ...] = ()
    attribution: str = ""

    @model_validator(mode="after")
    def _zoom_range(self) -> Common:
        if self.minzoom > self.maxzoom:
            raise ValueError(f"minzoom {self.minzoom} > maxzoom {self.maxzoom}")
        return self


class VectorLayer(Common):
    kind: Literal["vector"] = "vector"
    source: Source
    zooms: tuple[ZoomLevel, ...] = Field(min_length=1)
    cache: bool = True
    popup: tuple[Identifier, ...] = Field(default=(), description="attributes the web map's popup shows")

    @model_validator(mode="after")
    def _levels(self) -> VectorLayer:
        starts = [level.minzoom for level in self.zooms]
        if starts != sorted(set(starts)):
            raise ValueError("zooms: minzoom values must be distinct and increasing")
        if starts[0] > self.minzoom:
            raise ValueError(f"zooms: the first level starts at {starts[0]}, after the layer's minzoom {self.minzoom}")
        lookup = self.source.lookup
        if lookup and self.source.id is None:
            raise ValueError("source.lookup needs source.id (the lookup key is matched to it)")
        if lookup and self.source.id in lookup.columns:
            raise ValueError(f"source.lookup.columns: {self.source.id} is the name of the id column")
        for style in self.style:
            if style.type == "raster":
                raise ValueError(f"style {style.id}: a vector layer cannot be drawn as raster")
        return self

    def level(self, z: int) -> ZoomLevel:
        """The zoom level whose range holds ``z`` (``z`` within the layer's range)."""
        chosen = self.zooms[0]
        for level in self.zooms:
            if level.minzoom <= z:
                chosen = level
        return chosen

    def relations(self) -> tuple[str, ...]:
        names = [self.source.relation]
        if self.source.lookup:
            names.append(self.source.lookup.relation)
        return tuple(dict.fromkeys([*names, *self.requires]))

    def attribute_names(self) -> tuple[str, ...]:
        """Every attribute any zoom level exposes."""
        return tuple(dict.fromkeys(a for level in self.zooms for a in level.attributes))


class CogSource(Strict):
    path: str = Field(min_length=1, description="GeoTIFF path, relative to LANDGIS_HOME or absolute")
    bands: tuple[int, ...] = (1,)
    rescale: tuple[float, float] | None = None
    colormap: str | None = Field(default=None, description="rio-tiler colour map name, e.g. terrain, viridis")
    nodata: float | None = None


class ThematicSource(Strict):
    """A raster rendered from parcels: the value of ``column`` in ``relation`` painted over each parcel."""

    renderer: Literal["parcel_density"]
    relation: Identifier = "v_parcel_mu_tax"
    column: Identifier = "mu_tax"
    rescale: tuple[float, float] = (0.0, 60.0)
    colormap: str = "ylorrd"


class RasterLayer(Common):
    kind: Literal["raster"] = "raster"
    cog: CogSource | None = None
    thematic: ThematicSource | None = None
    basemap: bool = Field(default=False, description="offered as a basemap rather than an overlay")
    opacity: float = Field(default=1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _one_source(self) -> RasterLayer:
        if (self.cog is None) == (self.thematic is None):
            raise ValueError("a raster layer needs exactly one of `cog` or `thematic`")
        return self


LayerDefinition = Annotated[VectorLayer | RasterLayer, Field(discriminator="kind")]


class _File(BaseModel):
    layer: LayerDefinition


class LayerRegistry(Mapping[str, VectorLayer | RasterLayer]):
    """The layers of ``layers/``, in file-name order, keyed by id."""

    def __init__(self, layers: list[VectorLayer | RasterLayer], folder: Path | None = None) -> None:
        self._layers = {layer.id: layer for layer in layers}
        self.folder = folder

    def __getitem__(self, key: str) -> VectorLayer | RasterLayer:
        return self._layers[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def vector(self) -> list[VectorLayer]:
        return [layer for layer in self._layers.values() if isinstance(layer, VectorLayer)]

    def raster(self) -> list[RasterLayer]:
        return [layer for layer in self._layers.values() if isinstance(layer, RasterLayer)]


def _where(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("layer", "vector", "raster")]
    return ".".join(loc) or "(file)"


def parse_layer(data: object, name: str) -> VectorLayer | RasterLayer:
    """Validate one definition; ``name`` is used in messages (the file name)."""
    if not isinstance(data, dict):
        raise LayerDefinitionError(f"图层定义 {name}: 应为 YAML 映射 (a layer definition must be a YAML mapping)")
    data = {"kind": "vector", **data}
    try:
        return _File(layer=data).layer
    except ValidationError as exc:
        problems = [f"{_where(dict(e))}: {e['msg']}" for e in exc.errors()]
        raise LayerDefinitionError(
            f"图层定义 {name} 无效 (invalid layer definition): " + "; ".join(problems),
            details={"file": name, "problems": problems},
        ) from exc


def load_layers(folder: Path) -> LayerRegistry:
    """Read and validate every ``*.yaml`` in ``folder``; raise on the first bad file."""
    if not folder.is_dir():
        raise LayerDefinitionError(f"图层目录不存在 (no layer folder): {folder}")
    layers: list[VectorLayer | RasterLayer] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise LayerDefinitionError(f"图层定义 {path.name}: YAML 语法错误 (YAML syntax error): {exc}") from exc
        layer = parse_layer(data, path.name)
        if not re.fullmatch(LAYER_ID, path.stem) or path.stem != layer.id:
            raise LayerDefinitionError(
                f"图层定义 {path.name}: 文件名应为 {layer.id}.yaml (the file name must be the layer id)"
            )
        if layer.id in seen:
            raise LayerDefinitionError(
                f"图层 {layer.id} 重复定义: {seen[layer.id]} 与 {path.name} (duplicate layer id)"
            )
        seen[layer.id] = path.name
        layers.append(layer)
    if not layers:
        raise LayerDefinitionError(f"图层目录 {folder} 中没有图层定义 (no *.yaml layer definitions)")
    return LayerRegistry(layers, folder)
