"""A minimal Mapbox Vector Tile reader for tests (protobuf wire format, spec 2.1), written from
the specification so the tests do not read tiles with the code that writes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.append((number, wire, value))
    return out


def _packed(buf: bytes) -> list[int]:
    out, i = [], 0
    while i < len(buf):
        v, i = _varint(buf, i)
        out.append(v)
    return out


def _value(buf: bytes) -> Any:
    import struct

    for number, _, v in _fields(buf):
        if number == 1:
            return v.decode()
        if number == 2:
            return struct.unpack("<f", v)[0]
        if number == 3:
            return struct.unpack("<d", v)[0]
        if number in (4, 5):
            return v
        if number == 6:
            return (v >> 1) ^ -(v & 1)
        if number == 7:
            return bool(v)
    return None


@dataclass
class Feature:
    id: int | None
    type: int
    properties: dict[str, Any]
    geometry: list[int]


@dataclass
class Layer:
    name: str = ""
    extent: int = 4096
    features: list[Feature] = field(default_factory=list)


def decode(data: bytes) -> dict[str, Layer]:
    layers: dict[str, Layer] = {}
    for number, _, raw in _fields(data):
        if number != 3:
            continue
        layer, keys, values, feats = Layer(), [], [], []
        for n, _, v in _fields(raw):
            if n == 1:
                layer.name = v.decode()
            elif n == 2:
                feats.append(v)
            elif n == 3:
                keys.append(v.decode())
            elif n == 4:
                values.append(_value(v))
            elif n == 5:
                layer.extent = v
        for raw_feature in feats:
            fid, ftype, tags, geom = None, 0, [], []
            for n, _, v in _fields(raw_feature):
                if n == 1:
                    fid = v
                elif n == 2:
                    tags = _packed(v)
                elif n == 3:
                    ftype = v
                elif n == 4:
                    geom = _packed(v)
            props = {keys[tags[i]]: values[tags[i + 1]] for i in range(0, len(tags), 2)}
            layer.features.append(Feature(fid, ftype, props, geom))
        layers[layer.name] = layer
    return layers
