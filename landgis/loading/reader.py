"""Reading a vector file in batches of Arrow tables, memory flat, text decoded by us.

Shapefile text is read through GDAL as ISO-8859-1, which maps every byte to one character and
so loses nothing, and decoded here in the encoding the source inspection chose. That is faster
than GDAL's per-field iconv, and a value that does not decode becomes an issue naming its row
and field instead of silently turning into question marks (files with mixed encodings exist).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import shapely

from landgis.errors import InvalidInput
from landgis.loading import arrowtext
from landgis.loading import source as src

WKT_COLUMNS = ("WKT", "GEOMETRY", "几何", "SHAPE", "GEOM")


@dataclass
class Batch:
    """A slice of the file: attributes as an Arrow table, geometries as a shapely array."""

    first: int  # 1-based row number of the first row
    table: pa.Table
    geoms: np.ndarray
    #: rows refused while reading: (row, field, code, message, value)
    errors: list[tuple[int, str, str, str, str | None]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.table.num_rows)


def batches(info: src.SourceInfo, batch_size: int, first_size: int | None = None) -> Iterator[Batch]:
    """The file's rows in batches of about ``batch_size``; the first one of only ``first_size``
    rows when given (the loader's database thread then starts sooner)."""
    if info.driver == "CSV":
        yield from _csv_batches(info, batch_size)
        return
    raw_text = info.driver == "ESRI Shapefile"
    step = min(batch_size, first_size or batch_size)
    try:
        with pyogrio.open_arrow(
            info.path,
            layer=info.layer,
            encoding=src.RAW_TEXT if raw_text else None,
            batch_size=step,
            use_pyarrow=True,
        ) as (meta, reader):
            geom_name = meta["geometry_name"] or "wkb_geometry"
            first = 1
            wanted = step
            pending: pa.Table | None = None
            for record_batch in reader:
                table = pa.Table.from_batches([record_batch])
                pending = table if pending is None else pa.concat_tables([pending, table])
                while pending.num_rows >= wanted:
                    yield _batch(first, pending.slice(0, wanted), geom_name, info, raw_text)
                    first += wanted
                    pending, wanted = pending.slice(wanted), batch_size
            if pending is not None and pending.num_rows:
                yield _batch(first, pending, geom_name, info, raw_text)
    except InvalidInput:
        raise
    except Exception as exc:
        raise InvalidInput(f"{info.path.name}: 读取失败, 文件可能已损坏或被截断 ({src.short_error(exc)})") from exc


def _batch(first: int, table: pa.Table, geom_name: str, info: src.SourceInfo, raw_text: bool) -> Batch:
    if geom_name in table.column_names:
        wkb = table.column(geom_name).to_numpy(zero_copy_only=False)
        table = table.drop_columns([geom_name])
        geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    else:
        geoms = np.full(table.num_rows, None, dtype=object)
    batch = Batch(first, table, geoms)
    if raw_text:
        batch.table = _decode_table(batch, info)
    return batch


def _decode_table(batch: Batch, info: src.SourceInfo) -> pa.Table:
    columns: list[pa.Array | pa.ChunkedArray] = []
    names: list[str] = []
    for name, column in zip(batch.table.column_names, batch.table.columns, strict=True):
        real_name = src.decode_name(name, info.encoding)
        names.append(real_name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = _decode_column(column, real_name, batch, info.encoding)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=names)


def _decode_column(column: pa.ChunkedArray, name: str, batch: Batch, encoding: str) -> pa.Array:
    array = column.combine_chunks().cast(pa.string())
    if pc.all(pc.string_is_ascii(pc.fill_null(array, ""))).as_py():
        return array  # ASCII reads the same in every encoding we accept
    nulls = array.is_null()
    text = arrowtext.as_text(array)
    try:
        decoded = arrowtext.recode(text, src.RAW_TEXT, encoding)
    except UnicodeError:
        decoded, failed = arrowtext.recode_each(text, src.RAW_TEXT, encoding)
        for pos in np.flatnonzero(failed):
            batch.errors.append(
                (
                    batch.first + int(pos),
                    name,
                    "encoding",
                    f"文本无法按 {encoding} 解码, 文件可能混用了多种编码; 请检查或用 --encoding 指定",
                    str(decoded[int(pos)].as_py())[:40],
                )
            )
    result: pa.Array = pc.if_else(nulls, pa.scalar(None, pa.string()), decoded)
    return result


def wkt_column(fields: list[str]) -> str | None:
    """The column of a CSV that holds the WKT geometry, by its name."""
    return next((c for c in fields if c.strip().upper() in WKT_COLUMNS), None)


def _csv_batches(info: src.SourceInfo, batch_size: int) -> Iterator[Batch]:
    import pandas as pd

    column = wkt_column(list(pd.read_csv(info.path, nrows=0, encoding=info.encoding).columns))
    if column is None:
        raise InvalidInput(f"{info.path.name}: CSV缺少几何列 (a WKT column named WKT or geometry is required)")
    first = 1
    try:
        chunks = pd.read_csv(
            info.path, encoding=info.encoding, dtype=str, chunksize=batch_size, keep_default_na=False, na_values=[""]
        )
        for frame in chunks:
            wkt = np.array([v if isinstance(v, str) else None for v in frame.pop(column).tolist()], dtype=object)
            geoms = shapely.from_wkt(wkt, on_invalid="ignore")
            table = pa.Table.from_pandas(frame, preserve_index=False)
            batch = Batch(first, table, geoms)
            bad = np.flatnonzero(pd.notna(wkt) & shapely.is_missing(geoms))
            for pos in bad:
                batch.errors.append((first + int(pos), column, "geometry_wkt", "WKT无法解析", str(wkt[pos])[:40]))
            yield batch
            first += len(frame)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"{info.path.name}: CSV无法读取 ({src.short_error(exc)})") from exc
