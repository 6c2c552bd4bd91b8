"""MapLibre style JSON (style spec version 8) of a layer, for QGIS and other MapLibre/Mapbox clients,
and the layer summaries the web map builds its switcher and legend from."""

from __future__ import annotations

from typing import Any

from landgis.maps.catalog import LayerState
from landgis.maps.layers import RasterLayer, VectorLayer


def _style_layers(layer: VectorLayer | RasterLayer) -> list[dict[str, Any]]:
    if isinstance(layer, RasterLayer):
        return [
            {
                "id": layer.id,
                "type": "raster",
                "source": layer.id,
                "paint": {"raster-opacity": layer.opacity},
            }
        ]
    out: list[dict[str, Any]] = []
    for item in layer.style:
        entry: dict[str, Any] = {"id": item.id, "type": item.type, "source": layer.id, "source-layer": layer.id}
        if item.paint:
            entry["paint"] = item.paint
        if item.layout:
            entry["layout"] = item.layout
        if item.filter is not None:
            entry["filter"] = item.filter
        entry["minzoom"] = item.minzoom if item.minzoom is not None else layer.minzoom
        if item.maxzoom is not None:
            entry["maxzoom"] = item.maxzoom
        out.append(entry)
    return out


def source(layer: VectorLayer | RasterLayer, base: str, suffix: str = "") -> dict[str, Any]:
    """The MapLibre source of ``layer`` with absolute tile URLs under ``base``."""
    if isinstance(layer, VectorLayer):
        return {
            "type": "vector",
            "tiles": [f"{base}/tiles/{layer.id}/{{z}}/{{x}}/{{y}}.mvt{suffix}"],
            "minzoom": layer.minzoom,
            "maxzoom": layer.maxzoom,
            "attribution": layer.attribution,
        }
    return {
        "type": "raster",
        "tiles": [f"{base}/tiles/{layer.id}/{{z}}/{{x}}/{{y}}.png{suffix}"],
        "tileSize": 256,
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "attribution": layer.attribution,
    }


def layer_style(layer: VectorLayer | RasterLayer, base: str, suffix: str = "") -> dict[str, Any]:
    """A complete MapLibre style holding just this layer."""
    return {
        "version": 8,
        "name": layer.title,
        "metadata": {
            "landgis:layer": layer.id,
            "landgis:legend": [item.model_dump(exclude_none=True) for item in layer.legend],
        },
        "sources": {layer.id: source(layer, base, suffix)},
        "layers": _style_layers(layer),
    }


def layer_summary(layer: VectorLayer | RasterLayer, state: LayerState, base: str) -> dict[str, Any]:
    """What the web map needs to offer, draw and explain a layer."""
    summary: dict[str, Any] = {
        "id": layer.id,
        "kind": layer.kind,
        "title": layer.title,
        "description": layer.description,
        "group": layer.group,
        "visible": layer.visible,
        "available": state.available,
        "reason": state.reason,
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "legend": [item.model_dump(exclude_none=True) for item in layer.legend],
        "source": source(layer, base),
        "style": _style_layers(layer),
    }
    if isinstance(layer, VectorLayer):
        summary["popup"] = list(layer.popup)
        summary["params"] = sorted(layer.source.params)
    else:
        summary["basemap"] = layer.basemap
    return summary
