"""PostgreSQL's binary COPY format, built from Arrow columns without a Python loop per row.

The server reads binary COPY faster than CSV: no quoting to scan, numbers and dates already in
their binary form, geometries as EWKB rather than hex. Each tuple is a 16-bit field count, then
per field a 32-bit length (-1 for NULL) and the value's bytes, all big-endian
(https://www.postgresql.org/docs/15/sql-copy.html, "Binary Format"). Every field becomes its
length prefix joined to its bytes, and every tuple the join of its fields, by Arrow kernels.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
TRAILER = b"\xff\xff"
#: days from 1970-01-01 (Arrow's date32) to 2000-01-01 (PostgreSQL's date epoch)
_PG_EPOCH_DAYS = 10_957
#: SQL type -> (width in bytes, numpy big-endian dtype)
_FIXED = {
    "boolean": (1, "u1"),
    "integer": (4, ">i4"),
    "bigint": (8, ">i8"),
    "double precision": (8, ">f8"),
    "date": (4, ">i4"),
}
_EMPTY = pa.scalar(b"", pa.binary())


def encode(table: pa.Table, types: list[str]) -> bytes:
    """The rows of ``table`` in binary COPY format.

    ``types`` are the SQL types of its columns: text types, boolean, integer, bigint, double
    precision, date, jsonb, or a geometry type (whose column holds EWKB bytes).
    """
    n = table.num_rows
    if n == 0:
        return HEADER + TRAILER
    count = pa.scalar(len(types).to_bytes(2, "big"), pa.binary())
    fields = [_field(column.combine_chunks(), kind, n) for column, kind in zip(table.columns, types, strict=True)]
    tuples = pc.binary_join_element_wise(count, *fields, _EMPTY)
    offsets = np.frombuffer(tuples.buffers()[1], dtype=np.int32)[tuples.offset : tuples.offset + n + 1]
    data: bytes = tuples.buffers()[2].to_pybytes()
    return HEADER + data[offsets[0] : offsets[-1]] + TRAILER


def _field(array: pa.Array, kind: str, n: int) -> pa.Array:
    """Each value as its length (-1 for NULL) followed by its bytes."""
    valid = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if kind in _FIXED:
        width, dtype = _FIXED[kind]
        if kind == "date":
            numbers = pc.fill_null(array.cast(pa.date32()).cast(pa.int32()), 0).to_numpy() - _PG_EPOCH_DAYS
        elif kind == "boolean":
            numbers = np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=np.uint8)
        else:
            numbers = pc.fill_null(array, 0).to_numpy(zero_copy_only=False)
        raw = np.ascontiguousarray(numbers.astype(dtype)).view(np.uint8)
        value = _fixed_binary(raw, width, n)
        lengths = np.where(valid, width, -1)
    else:
        if kind == "jsonb":  # jsonb's binary form: a version byte, then the JSON text
            array = pc.binary_join_element_wise(pa.scalar(b"\x01", pa.binary()), array.cast(pa.binary()), _EMPTY)
        value = array.cast(pa.binary())
        lengths = np.where(valid, pc.fill_null(pc.binary_length(value), 0).to_numpy(zero_copy_only=False), -1)
    value = pc.if_else(pa.array(valid), value, _EMPTY)
    prefix = _fixed_binary(np.ascontiguousarray(lengths.astype(">i4")).view(np.uint8), 4, n)
    joined: pa.Array = pc.binary_join_element_wise(prefix, value, _EMPTY)
    return joined


def _fixed_binary(raw: np.ndarray, width: int, n: int) -> pa.Array:
    """``n`` values of ``width`` bytes each, from a flat byte array, as a binary array."""
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(raw.tobytes())])
    return fixed.cast(pa.binary())
