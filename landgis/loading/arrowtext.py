"""Text in Arrow arrays, a whole batch at a time: re-decoding, mojibake tests and JSON records.

A load touches every text value of a file several times; doing that value by value in Python
costs seconds per hundred thousand rows. Here each operation runs once over a batch: the values
are joined by NUL bytes (no code page maps NUL to anything else, and no text field holds one),
recoded with Python's C codecs in one call, and split back with numpy.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Text that only appears when bytes were decoded with the wrong code page.
MOJIBAKE_MARKERS = "锟斤拷|\ufffd|烫烫|屯屯|Ã|â€|Â|ï¿½"
_CJK = "[\u4e00-\u9fff]"
_LATIN1_LETTERS = "[\u00c0-\u00ff]"
_QUOTE = pa.scalar('"', pa.string())


def as_text(values: pa.Array | pa.ChunkedArray) -> pa.StringArray:
    """One contiguous ``string`` array, nulls as empty strings."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.string())
    result: pa.StringArray = pc.fill_null(values, "")
    return result


def join_nul(values: pa.StringArray) -> bytes:
    """The UTF-8 bytes of all values, each followed by a NUL byte."""
    if len(values) == 0:
        return b""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]
    data_buffer = values.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    data = data[offsets[0] : offsets[-1]]
    return bytes(np.insert(data, offsets[1:] - offsets[0], 0).tobytes())


def split_nul(buffer: bytes, count: int) -> pa.StringArray | None:
    """The inverse of ``join_nul``; None when the buffer does not hold ``count`` values."""
    raw = np.frombuffer(buffer, dtype=np.uint8)
    ends = np.flatnonzero(raw == 0)
    if len(ends) != count:
        return None
    offsets = np.concatenate([np.zeros(1, np.int32), (ends + 1).astype(np.int32)])
    array = pa.StringArray.from_buffers(count, pa.py_buffer(offsets.tobytes()), pa.py_buffer(buffer))
    trimmed: pa.StringArray = pc.utf8_rtrim(array, characters="\x00")
    return trimmed


def recode(values: pa.StringArray, through: str, encoding: str, errors: str = "strict") -> pa.StringArray:
    """Values whose characters are really bytes in ``through`` (e.g. ISO-8859-1), decoded as ``encoding``.

    Raises ``UnicodeError`` (strict) when some value does not decode; see ``recode_each``.
    """
    joined = join_nul(values).decode("utf-8")
    text = joined.encode(through).decode(encoding, errors=errors)
    result = split_nul(text.encode("utf-8"), len(values))
    if result is None:
        raise UnicodeError("a value holds NUL")
    return result


def recode_each(values: pa.StringArray, through: str, encoding: str) -> tuple[pa.StringArray, np.ndarray]:
    """Like ``recode``, value by value: the decoded values (bad bytes replaced) and which failed."""
    decoded: list[str] = []
    failed = np.zeros(len(values), dtype=bool)
    for index, value in enumerate(values.to_pylist()):
        raw = value.encode(through)
        try:
            decoded.append(raw.decode(encoding))
        except UnicodeDecodeError:
            decoded.append(raw.decode(encoding, errors="replace"))
            failed[index] = True
    return pa.array(decoded, pa.string()), failed


def mojibake_mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """For each text value: is it evidently mis-decoded (mojibake)?

    Three tells: replacement characters and the classic byte patterns (锟斤拷, Ã, â€ ...); mostly
    Latin-1 letters; and text that turns into shorter Chinese when its bytes are read as UTF-8
    again, which is what UTF-8 decoded as GBK or as Latin-1 looks like.
    """
    text = as_text(values)
    if len(text) == 0:
        return np.zeros(0, dtype=bool)
    mask = _np(pc.match_substring_regex(text, MOJIBAKE_MARKERS))
    non_ascii = ~_np(pc.string_is_ascii(text))
    if not non_ascii.any():
        return mask
    latin = _counts(pc.count_substring_regex(text, _LATIN1_LETTERS))
    length = _counts(pc.utf8_length(text))
    mask |= (latin >= 2) & (latin * 3 >= length)
    joined = join_nul(text).decode("utf-8")
    for codec in ("gb18030", "latin-1"):
        again = joined.encode(codec, errors="replace").decode("utf-8", errors="replace").encode("utf-8")
        fixed = split_nul(again, len(text))
        if fixed is None:  # a value held NUL: test it value by value
            fixed = pa.array(
                [v.encode(codec, errors="replace").decode("utf-8", errors="replace") for v in text.to_pylist()],
                pa.string(),
            )
        readable = ~_np(pc.match_substring(fixed, "\ufffd"))
        chinese = _np(pc.match_substring_regex(fixed, _CJK))
        # Mis-decoding always lengthens: a 3-byte UTF-8 character read as GBK gives 1.5
        # characters, read as Latin-1 three. Real text whose GBK bytes happen to read as UTF-8
        # ('鑰丏' reads as '老D') does not get shorter that way.
        shorter = _counts(pc.utf8_length(fixed)) < length
        mask |= non_ascii & readable & chinese & shorter
    return mask


def _np(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def _counts(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int64)


# --------------------------------------------------------------------------- JSON records


def json_records(table: pa.Table) -> pa.StringArray:
    """Each row of ``table`` as a JSON object text ``{"field": value, ...}``, keys in column order.

    Text is escaped as JSON requires; numbers keep their shortest form; dates are ``YYYY-MM-DD``;
    NaN, infinities and nulls are ``null``. Built column-wise with Arrow kernels.
    """
    n = table.num_rows
    if n == 0:
        return pa.array([], pa.string())
    parts: list[pa.Array] = []
    for index, (name, column) in enumerate(zip(table.column_names, table.columns, strict=True)):
        prefix = ("{" if index == 0 else ",") + json.dumps(str(name), ensure_ascii=False) + ":"
        parts += [pa.scalar(prefix, pa.string()), _json_values(column)]
    if not parts:
        return pa.array(["{}"] * n, pa.string())
    joined: pa.StringArray = pc.binary_join_element_wise(*parts, pa.scalar("}", pa.string()), "")
    return joined


def _json_values(column: pa.ChunkedArray) -> pa.StringArray:
    array = column.combine_chunks()
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.cast(kind.value_type)
        kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _json_strings(array.cast(pa.string()))
    if pa.types.is_floating(kind):
        finite = pc.is_finite(array)
        text = pc.if_else(finite, array.cast(pa.string()), pa.scalar(None, pa.string()))
        return pc.fill_null(text, "null")
    if pa.types.is_integer(kind):
        return pc.fill_null(array.cast(pa.string()), "null")
    if pa.types.is_boolean(kind):
        return pc.fill_null(array.cast(pa.string()), "null")
    if pa.types.is_date(kind):
        return _quoted_or_null(array.cast(pa.date32()).cast(pa.string()))
    if pa.types.is_timestamp(kind):
        return _quoted_or_null(pc.strftime(array, "%Y-%m-%dT%H:%M:%S"))
    if pa.types.is_time(kind):
        return _quoted_or_null(array.cast(pa.string()))
    return _json_strings(pa.array([None if v is None else str(v) for v in array.to_pylist()], pa.string()))


def _json_strings(array: pa.StringArray) -> pa.StringArray:
    control = _np(pc.fill_null(pc.match_substring_regex(array, "[\\x00-\\x1f]"), False))
    escaped = pc.replace_substring(array, "\\", "\\\\")
    escaped = pc.replace_substring(escaped, '"', '\\"')
    if control.any():
        # rare: tabs and newlines inside a value; let the json module escape those values
        values = escaped.to_pylist()
        originals = array.to_pylist()
        for pos in np.flatnonzero(control):
            values[pos] = json.dumps(originals[pos], ensure_ascii=False)[1:-1]
        escaped = pa.array(values, pa.string())
    quoted = pc.binary_join_element_wise(_QUOTE, escaped, _QUOTE, "")
    return pc.fill_null(quoted, "null")


def _quoted_or_null(array: pa.Array) -> pa.StringArray:
    quoted = pc.binary_join_element_wise(_QUOTE, array, _QUOTE, "")
    return pc.fill_null(quoted, "null")
