"""Opening a vector file safely: archives, drivers, text encoding and coordinate system.

Everything here inspects a file before a row is read, and says what it decided and why, so the
load report can tell a data clerk "GBK, because the .dbf is not valid UTF-8" rather than guess
silently. Only the drivers in ``DRIVERS`` are ever used: no VRT, no network, nothing that makes
GDAL read a file the user did not hand us.
"""

from __future__ import annotations

import codecs
import hashlib
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyogrio
from pyproj import CRS
from pyproj.exceptions import CRSError

from landgis.errors import InvalidInput
from landgis.geo import GK_CM_FIRST_EPSG, GK_ZONED_FIRST_EPSG, gk_epsg

#: The drivers a load may use, by the suffix of the file handed to it.
DRIVERS = {
    ".shp": "ESRI Shapefile",
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gdb": "OpenFileGDB",
    ".csv": "CSV",
}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf")
#: The encoding GDAL is asked to read shapefile text in: every byte maps to one character, so
#: nothing is lost, and ``reader`` decodes the text in the encoding chosen here.
RAW_TEXT = "ISO-8859-1"


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits on an archive we unpack (zip bombs, entry floods)."""

    max_total_bytes: int = 2 * 1024**3
    max_entries: int = 2_000
    max_ratio: float = 200.0


@dataclass
class SourceInfo:
    """What we know about a file before reading its rows."""

    path: Path
    driver: str
    layer: str | None
    encoding: str
    encoding_reason: str
    crs: CRS
    crs_reason: str
    feature_count: int | None
    fields: list[str]
    geometry_type: str | None
    checksum: str
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, object]:
        return {
            "path": self.path.name,
            "driver": self.driver,
            "layer": self.layer,
            "encoding": self.encoding,
            "encoding_reason": self.encoding_reason,
            "crs": self.crs.to_string(),
            "crs_reason": self.crs_reason,
            "feature_count": self.feature_count,
            "fields": self.fields,
            "geometry_type": self.geometry_type,
            "checksum": self.checksum,
            "notes": self.notes,
        }


def decode_name(name: str, encoding: str) -> str:
    """A shapefile field name GDAL read as ISO-8859-1, in the file's real encoding.

    dBASE keeps 10 bytes of a name, and writers cut multi-byte names there mid-character: a
    trailing partial character is dropped, as the writer's own reader would.
    """
    raw = name.encode(RAW_TEXT, errors="replace")
    for cut in range(0, min(4, len(raw))):
        try:
            return raw[: len(raw) - cut].decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode(encoding, errors="replace")


def sha256_of(paths: list[Path]) -> str:
    """sha256 over the bytes of several files, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            with file.open("rb") as handle:
                for block in iter(lambda h=handle: h.read(1 << 20), b""):  # type: ignore[misc]
                    digest.update(block)
    return digest.hexdigest()


def check_archive(archive: Path, limits: ArchiveLimits | None = None, what: str = "zip压缩包") -> list[zipfile.ZipInfo]:
    """The entries of a zip after checking their count, total size and compression ratios.

    Also used on .xlsx workbooks (zip files) before a reader inflates them.
    """
    limits = limits or ArchiveLimits()
    try:
        with zipfile.ZipFile(archive) as zf:
            entries = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidInput(f"{archive.name}: 不是有效的{what} (not a valid zip archive)") from exc
    if len(entries) > limits.max_entries:
        raise InvalidInput(f"{archive.name}: 压缩包文件数过多 ({len(entries)} > {limits.max_entries})")
    total = sum(e.file_size for e in entries)
    if total > limits.max_total_bytes:
        raise InvalidInput(f"{archive.name}: 解压后过大 ({total} bytes > {limits.max_total_bytes})")
    packed = max(1, sum(e.compress_size for e in entries))
    worst = max(
        (e.file_size / max(1, e.compress_size) for e in entries if e.file_size > 1 << 20),
        default=0.0,
    )
    if total / packed > limits.max_ratio or worst > limits.max_ratio:
        ratio = max(total / packed, worst)
        raise InvalidInput(f"{archive.name}: 压缩比异常 ({ratio:.0f}:1), 疑似压缩炸弹 (zip bomb refused)")
    return entries


def safe_extract(archive: Path, dest: Path, limits: ArchiveLimits | None = None) -> list[Path]:
    """Unpack a zip into ``dest`` after ``check_archive``.

    Refuses absolute names, ``..`` components, drive letters, links and device files; nothing
    is written outside ``dest``, and no entry may inflate beyond the size it declares.
    """
    limits = limits or ArchiveLimits()
    entries = check_archive(archive, limits)
    root = dest.resolve()
    root.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with zipfile.ZipFile(archive) as zf:
        for entry in entries:
            name = _decode_zip_name(entry)
            pure = PurePosixPath(name.replace("\\", "/"))
            if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
                raise InvalidInput(f"{archive.name}: 压缩包含非法路径 {name!r} (path traversal refused)")
            mode = entry.external_attr >> 16
            if stat.S_ISLNK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
                raise InvalidInput(f"{archive.name}: 压缩包含链接或设备文件 {name!r}")
            target = (root / pure).resolve()
            if not target.is_relative_to(root):
                raise InvalidInput(f"{archive.name}: 压缩包含非法路径 {name!r} (path traversal refused)")
            if entry.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(entry) as src, target.open("wb") as out:
                    copied = 0
                    for block in iter(lambda s=src: s.read(1 << 20), b""):  # type: ignore[misc]
                        copied += len(block)
                        if copied > entry.file_size:
                            raise InvalidInput(f"{archive.name}: 条目 {name!r} 实际大小超出声明 (size mismatch)")
                        out.write(block)
            except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
                raise InvalidInput(f"{archive.name}: 条目 {name!r} 已损坏 ({short_error(exc)})") from exc
            written.append(target)
    return written


def _decode_zip_name(entry: zipfile.ZipInfo) -> str:
    """Zip names without the UTF-8 flag are often GBK on Chinese Windows; Python read them as cp437."""
    if entry.flag_bits & 0x800:
        return entry.filename
    try:
        return entry.filename.encode("cp437").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return entry.filename


def find_dataset(path: Path) -> Path:
    """The one dataset in ``path``: the file itself, or the single loadable file in a directory."""
    if path.is_dir() and path.suffix.lower() == ".gdb":
        return path
    if path.is_file():
        return path
    if path.is_dir():
        found = [p for p in sorted(path.rglob("*")) if p.suffix.lower() in DRIVERS and not p.name.startswith(".")]
        found = [p for p in found if p.suffix.lower() != ".gdb" or p.is_dir()]
        found = [p for p in found if not any(part.lower().endswith(".gdb") for part in p.parent.parts)]
        if len(found) == 1:
            return found[0]
        if not found:
            raise InvalidInput(f"{path.name}: 未找到可加载的文件 (.shp .gpkg .geojson .gdb .csv)")
        names = ", ".join(p.name for p in found[:5])
        raise InvalidInput(f"{path.name}: 含多个数据文件 ({names}); 请指定一个")
    raise InvalidInput(f"{path}: 文件不存在 (no such file)")


def check_shapefile_parts(shp: Path) -> list[str]:
    """Refuse a shapefile whose .shx or .dbf is missing, truncated or of another file; return
    notes for optional parts."""
    notes: list[str] = []
    for suffix in (".shx", ".dbf"):
        if _sibling(shp, suffix) is None:
            raise InvalidInput(f"{shp.name}: 缺少 {suffix} 文件 (the shapefile is incomplete)")
    if _sibling(shp, ".prj") is None:
        notes.append("缺少 .prj, 坐标系由坐标范围推断 (no .prj: CRS detected from coordinates)")
    with shp.open("rb") as handle:
        head = handle.read(100)
    if len(head) < 100 or int.from_bytes(head[:4], "big") != 9994:
        raise InvalidInput(f"{shp.name}: 不是有效的shapefile (.shp header damaged or not a shapefile)")
    declared = int.from_bytes(head[24:28], "big") * 2
    if declared != shp.stat().st_size:
        raise InvalidInput(
            f"{shp.name}: 文件被截断或损坏 (header says {declared} bytes, file has {shp.stat().st_size})"
        )
    shx = _sibling(shp, ".shx")
    dbf = _sibling(shp, ".dbf")
    if shx is None or dbf is None:  # checked above; for the type checker
        raise InvalidInput(f"{shp.name}: 缺少 .shx 或 .dbf 文件")
    shapes = (shx.stat().st_size - 100) // 8
    with dbf.open("rb") as handle:
        header = handle.read(12)
    if len(header) < 12:
        raise InvalidInput(f"{dbf.name}: .dbf 文件被截断 (truncated)")
    records = int.from_bytes(header[4:8], "little")
    needed = int.from_bytes(header[8:10], "little") + records * int.from_bytes(header[10:12], "little")
    if dbf.stat().st_size < needed:
        raise InvalidInput(
            f"{dbf.name}: .dbf 文件被截断 ({records} records need {needed} bytes, file has {dbf.stat().st_size})"
        )
    if shapes != records:
        raise InvalidInput(f"{shp.name}: .shx 与 .dbf 记录数不一致 ({shapes} vs {records}); 文件不完整或来自不同的数据")
    return notes


def _sibling(path: Path, suffix: str) -> Path | None:
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.is_file():
            return candidate
    return None


def sniff_driver(path: Path) -> str:
    """The driver for ``path`` from its suffix, after checking its bytes look like that format."""
    suffix = path.suffix.lower()
    driver = DRIVERS.get(suffix)
    if driver is None:
        allowed = " ".join(sorted(DRIVERS))
        raise InvalidInput(f"{path.name}: 不支持的文件类型 {suffix or '(none)'} (supported: {allowed}, .zip)")
    if path.is_dir() != (suffix == ".gdb"):
        raise InvalidInput(f"{path.name}: 文件类型与内容不符")
    if suffix == ".gdb":
        if not any(p.suffix == ".gdbtable" for p in path.iterdir()):
            raise InvalidInput(f"{path.name}: 不是有效的FileGDB目录 (no .gdbtable files)")
        return driver
    head = path.read_bytes()[:512] if path.stat().st_size < 512 else path.open("rb").read(512)
    if b"<OGRVRTDataSource" in head or b"<VRTDataset" in head or head.lstrip().startswith(b"<"):
        raise InvalidInput(f"{path.name}: 文件内容为XML/VRT, 拒绝加载 (VRT or XML content refused)")
    if suffix == ".gpkg" and not head.startswith(b"SQLite format 3\x00"):
        raise InvalidInput(f"{path.name}: 不是有效的GeoPackage")
    if driver == "GeoJSON" and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        raise InvalidInput(f"{path.name}: 不是有效的GeoJSON (does not start with '{{')")
    return driver


# --------------------------------------------------------------------------- encodings

_CP_NAMES = {"936": "GBK", "CP936": "GBK", "GB2312": "GBK", "65001": "UTF-8", "UTF8": "UTF-8"}
#: dBASE language-driver ids that name a Chinese code page.
_LDID = {0x4D: "GBK", 0x7A: "GBK"}


def detect_dbf_encoding(dbf: Path, cpg: Path | None) -> tuple[str, str]:
    """Encoding of a .dbf and the reason: .cpg, strict UTF-8, then GBK/GB18030.

    Only the text of the file is tested: the field names and the records, not the binary
    numbers of the header (a field 254 bytes wide has a length byte that is no valid UTF-8).
    """
    if cpg is not None:
        name = cpg.read_text(encoding="ascii", errors="replace").strip().upper()
        name = _CP_NAMES.get(name, name)
        try:
            "测试".encode(name)
        except LookupError as exc:
            raise InvalidInput(f"{cpg.name}: 未知编码 {name!r} (unknown code page in .cpg)") from exc
        return name, f".cpg 文件声明 {name}"
    size = dbf.stat().st_size
    with dbf.open("rb") as handle:
        header = handle.read(32)
        if len(header) < 32:
            raise InvalidInput(f"{dbf.name}: .dbf 文件被截断 (truncated)")
        ldid = header[29]
        header_length = int.from_bytes(header[8:10], "little")
        if header_length < 33 or header_length > size:
            raise InvalidInput(f"{dbf.name}: .dbf 文件头损坏 (header length {header_length})")
        descriptors = handle.read(header_length - 32)
        names = b"".join(descriptors[i : i + 11].split(b"\0", 1)[0] for i in range(0, len(descriptors) - 31, 32))
    ascii_only, failed = _strict_pass(dbf, header_length, names, ("utf-8", "GBK"))
    if "GBK" in failed and "utf-8" in failed:
        # GB18030 extends GBK: a second pass only for the rare file GBK does not decode
        failed |= _strict_pass(dbf, header_length, names, ("GB18030",))[1]
    if ascii_only:
        return "UTF-8", "仅含ASCII字符 (ASCII only)"
    if "utf-8" not in failed:
        return "UTF-8", "无 .cpg, 内容为有效UTF-8 (no .cpg; content is valid UTF-8)"
    for candidate in ("GBK", "GB18030"):
        if candidate in failed:
            continue
        why = f"语言驱动标识 0x{ldid:02X}" if ldid in _LDID else "无 .cpg, 内容不是UTF-8"
        return candidate, f"{why}, 按{candidate}解码成功 (no .cpg; not UTF-8; decodes as {candidate})"
    return _mostly_decoding(dbf)


def _strict_pass(dbf: Path, start: int, names: bytes, codecs_: tuple[str, ...]) -> tuple[bool, set[str]]:
    """Stream the field names and records through strict incremental decoders (memory stays
    flat on a million-row file); returns whether it was all ASCII and which codecs failed."""
    decoders = {name: codecs.getincrementaldecoder(name)("strict") for name in codecs_}
    failed: set[str] = set()
    ascii_only = names.isascii()
    for codec, decoder in decoders.items():
        try:
            decoder.decode(names + b" ", final=False)
        except UnicodeDecodeError:
            failed.add(codec)
    size = dbf.stat().st_size
    with dbf.open("rb") as handle:
        handle.seek(start)
        read = start
        while read < size and len(failed) < len(decoders):
            block = handle.read(1 << 23)
            if not block:
                break
            read += len(block)
            if ascii_only and block.isascii():
                continue
            ascii_only = False
            for codec, decoder in decoders.items():
                if codec in failed:
                    continue
                try:
                    decoder.decode(block, final=read >= size)
                except UnicodeDecodeError:
                    failed.add(codec)
    return ascii_only, failed


def _mostly_decoding(dbf: Path) -> tuple[str, str]:
    """No code page decodes every record: take the one that decodes most of them (the others
    are reported row by row), unless it fails on half of the records or more."""
    with dbf.open("rb") as handle:
        header = handle.read(12)
        header_length = int.from_bytes(header[8:10], "little")
        record_length = max(1, int.from_bytes(header[10:12], "little"))
        handle.seek(header_length)
        failures = dict.fromkeys(("GBK", "GB18030", "UTF-8"), 0)
        records = 0
        while chunk := handle.read(record_length * 4096):
            for start in range(0, len(chunk) - record_length + 1, record_length):
                record = chunk[start : start + record_length]
                records += 1
                for candidate in failures:
                    try:
                        record.decode(candidate)
                    except UnicodeDecodeError:
                        failures[candidate] += 1
    best = min(failures, key=lambda c: failures[c])
    if records and failures[best] * 2 < records:
        return best, (
            f"无 .cpg; 混用多种编码: {records - failures[best]}/{records} 条记录按{best}解码成功,"
            " 其余逐行报告 (mixed encodings; undecodable rows are reported)"
        )
    raise InvalidInput(
        f"{dbf.name}: 无法识别字符编码: 既不是UTF-8也不是GBK/GB18030; 请用 --encoding 指定 (mixed or unknown)"
    )


def detect_text_encoding(path: Path) -> tuple[str, str]:
    """Encoding of a text file (CSV): BOM, strict UTF-8, then GB18030."""
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", "UTF-8 BOM"
    try:
        raw.decode("utf-8")
        return "UTF-8", "内容为有效UTF-8"
    except UnicodeDecodeError:
        pass
    for candidate in ("GBK", "GB18030"):
        try:
            raw.decode(candidate)
            return candidate, f"内容不是UTF-8, 按{candidate}解码成功"
        except UnicodeDecodeError:
            continue
    raise InvalidInput(f"{path.name}: 无法识别字符编码, 请用 --encoding 指定")


# --------------------------------------------------------------------------- coordinate systems


@dataclass(frozen=True)
class Bounds:
    minx: float
    miny: float
    maxx: float
    maxy: float


def detect_crs(bounds: Bounds, *, hint_lon: float | None = None) -> tuple[CRS, str]:
    """Guess the CRS of coordinates without a .prj, or refuse with the reason.

    ``hint_lon`` is a longitude inside the expected region (from ``--region`` or the default
    region); it is needed for Gauss-Krüger coordinates in central-meridian form.
    """
    x0, y0, x1, y1 = bounds.minx, bounds.miny, bounds.maxx, bounds.maxy
    if 73 <= x0 <= x1 <= 136 and 3 <= y0 <= y1 <= 54:
        return CRS.from_epsg(
            4490
        ), "坐标为经纬度, 按CGCS2000 (EPSG:4490) 处理 (degrees; CGCS2000 and WGS84 differ < 1 m)"
    if 73 <= y0 <= y1 <= 136 and 3 <= x0 <= x1 <= 54:
        raise InvalidInput("坐标轴疑似颠倒 (x looks like latitude and y like longitude): 请检查数据或 .prj")
    if x0 >= 1e7 and int(x0 // 1e6) == int(x1 // 1e6) and 2e5 <= y0 <= y1 <= 6e6:
        zone = int(x0 // 1e6)
        if 25 <= zone <= 45:
            epsg = GK_ZONED_FIRST_EPSG + zone - 25
            return CRS.from_epsg(epsg), f"东坐标带带号{zone}, 按CGCS2000 3度带 (EPSG:{epsg}) 处理"
        if 13 <= zone <= 23 and not 1.2e7 <= x0 <= 1.55e7:
            epsg = 4491 + zone - 13
            return CRS.from_epsg(epsg), f"东坐标带带号{zone}, 按CGCS2000 6度带 (EPSG:{epsg}) 处理"
        raise InvalidInput(
            f"无法判断坐标系: 东坐标 {x0:.0f} 可能是Web墨卡托或6度带; 请用 --crs 指定 (ambiguous coordinates)"
        )
    if 1e5 <= x0 <= x1 <= 9e5 and 2e5 <= y0 <= y1 <= 6e6:
        if hint_lon is None:
            raise InvalidInput(
                "坐标为高斯-克吕格投影但无带号 (central-meridian form): 无法确定中央经线; "
                "请用 --crs EPSG:45xx 或 --region 指定 (ambiguous: the zone is unknown)"
            )
        epsg = gk_epsg(hint_lon)
        cm = 75 + 3 * (epsg - GK_CM_FIRST_EPSG)
        return CRS.from_epsg(epsg), f"高斯-克吕格坐标无带号, 按所属区划的中央经线{cm}°E (EPSG:{epsg}) 处理"
    raise InvalidInput(f"无法从坐标范围推断坐标系 ({x0:.3f}, {y0:.3f}) - ({x1:.3f}, {y1:.3f}); 请用 --crs 指定")


#: Longitude and latitude range of China and its seas, EPSG:4490.
CHINA = Bounds(73.0, 3.0, 136.0, 54.0)


def check_bounds(path: Path, crs: CRS, bounds: Bounds) -> None:
    """Refuse a file whose coordinates cannot be in China in ``crs`` (wrong .prj, swapped axes)."""
    from landgis.geo import STORAGE_SRID, transformer

    label = _crs_label(crs)
    try:
        corners = transformer(crs.to_wkt(), STORAGE_SRID).transform_bounds(
            bounds.minx, bounds.miny, bounds.maxx, bounds.maxy, densify_pts=5
        )
    except Exception as exc:  # proj raises several types for impossible inputs
        raise InvalidInput(
            f"{path.name}: 坐标范围 ({bounds.minx:.3f}, {bounds.miny:.3f}) - ({bounds.maxx:.3f}, {bounds.maxy:.3f})"
            f" 无法按 {label} 转换; 坐标系可能有误 ({short_error(exc)})"
        ) from exc
    x0, y0, x1, y1 = corners
    if any(v != v or abs(v) == float("inf") for v in corners):
        raise InvalidInput(f"{path.name}: 坐标无法按 {label} 转换为经纬度; 坐标系可能有误 (wrong CRS?)")
    if x1 < CHINA.minx or x0 > CHINA.maxx or y1 < CHINA.miny or y0 > CHINA.maxy:
        if CHINA.miny <= x0 <= x1 <= CHINA.maxy and CHINA.minx <= y0 <= y1 <= CHINA.maxx:
            raise InvalidInput(
                f"{path.name}: 坐标轴疑似颠倒 (x looks like latitude, y like longitude under {label}); 请检查数据"
            )
        raise InvalidInput(
            f"{path.name}: 按 {label} 换算后坐标为 ({x0:.2f}, {y0:.2f}) - ({x1:.2f}, {y1:.2f}), 不在中国范围内;"
            " .prj 或 --crs 可能有误 (coordinates outside China: wrong CRS?)"
        )


def parse_crs(text: str) -> CRS:
    """A CRS from ``--crs`` (``EPSG:4528``, ``4528``, WKT or PROJ)."""
    try:
        return CRS.from_user_input(int(text) if text.isdigit() else text)
    except CRSError as exc:
        raise InvalidInput(f"--crs {text!r}: 无法识别的坐标系 ({exc})") from exc


# --------------------------------------------------------------------------- inspection


def inspect(
    path: Path,
    *,
    encoding: str | None = None,
    crs: str | None = None,
    hint_lon: float | None = None,
    layer: str | None = None,
) -> SourceInfo:
    """Open ``path`` (a dataset, not an archive), and decide its driver, encoding and CRS."""
    driver = sniff_driver(path)
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise InvalidInput(f"--encoding {encoding!r}: 未知编码 (unknown encoding)") from exc
    notes: list[str] = []
    checksum_parts = [path]
    if driver == "ESRI Shapefile":
        notes += check_shapefile_parts(path)
        parts = [p for s in (".shp", ".shx", ".dbf", ".prj", ".cpg") if (p := _sibling(path, s))]
        checksum_parts = parts
        dbf = _sibling(path, ".dbf")
        assert dbf is not None
        if encoding:
            enc, why = encoding, "由 --encoding 指定"
        else:
            enc, why = detect_dbf_encoding(dbf, _sibling(path, ".cpg"))
    elif driver == "CSV":
        enc, why = (encoding, "由 --encoding 指定") if encoding else detect_text_encoding(path)
    else:
        enc, why = "UTF-8", f"{driver} 规定使用UTF-8"
    if driver == "CSV":
        return _inspect_csv(path, enc, why, crs, hint_lon, notes)

    shapefile = driver == "ESRI Shapefile"
    try:
        meta = pyogrio.read_info(path, layer=layer, encoding=RAW_TEXT if shapefile else None, force_total_bounds=True)
    except Exception as exc:
        raise InvalidInput(f"{path.name}: 文件无法读取 ({short_error(exc)})") from exc
    if meta.get("driver") not in (driver, None):
        raise InvalidInput(f"{path.name}: 驱动不符 (expected {driver}, GDAL chose {meta.get('driver')})")
    layers = pyogrio.list_layers(path) if driver in ("GPKG", "OpenFileGDB") else None
    layer_name = layer
    if layers is not None and layer is None and len(layers) > 1:
        names = ", ".join(str(name) for name, _ in layers[:6])
        notes.append(f"含多个图层 ({names}), 读取第一个; 用 --layer 指定")
        layer_name = str(layers[0][0])
    if meta.get("features") == 0:
        raise InvalidInput(f"{path.name}: 文件不含任何要素 (no features)")
    declared = meta.get("crs")
    b = meta.get("total_bounds")
    bounds = None if b is None or any(v != v for v in b) else Bounds(*map(float, b))  # NaN: no geometry
    if crs:
        chosen, crs_why = parse_crs(crs), "由 --crs 指定"
    elif declared:
        try:
            chosen = CRS.from_user_input(declared)
        except CRSError as exc:
            raise InvalidInput(f"{path.name}: 无法识别文件声明的坐标系 ({short_error(exc)}); 请用 --crs 指定") from exc
        crs_why = f"文件声明 {_crs_label(chosen)}"
    else:
        if bounds is None:
            raise InvalidInput(f"{path.name}: 无坐标系且无法读取坐标范围 (no CRS and no coordinates)")
        chosen, crs_why = detect_crs(bounds, hint_lon=hint_lon)
    if bounds is not None:
        check_bounds(path, chosen, bounds)
    fields = [decode_name(str(f), enc) if shapefile else str(f) for f in meta.get("fields", [])]
    if shapefile:
        _refuse_mojibake_names(path, fields, enc, why)
    return SourceInfo(
        path=path,
        driver=driver,
        layer=layer_name,
        encoding=enc,
        encoding_reason=why,
        crs=chosen,
        crs_reason=crs_why,
        feature_count=int(meta["features"]) if meta.get("features", -1) >= 0 else None,
        fields=fields,
        geometry_type=meta.get("geometry_type"),
        checksum=sha256_of(checksum_parts),
        notes=notes,
    )


def _inspect_csv(
    path: Path, enc: str, why: str, crs: str | None, hint_lon: float | None, notes: list[str]
) -> SourceInfo:
    """A CSV with a WKT column: no CRS is declared, so it comes from ``--crs`` or, as for a
    shapefile without .prj, from the coordinates of its first rows."""
    import pandas as pd
    import shapely

    from landgis.loading.reader import wkt_column

    try:
        head = pd.read_csv(path, nrows=1000, encoding=enc, dtype=str)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(f"{path.name}: CSV无法读取 ({short_error(exc)})") from exc
    fields = [str(c) for c in head.columns]
    column = wkt_column(fields)
    if column is None:
        raise InvalidInput(f"{path.name}: CSV缺少几何列 (a WKT column named WKT or geometry is required)")
    geoms = shapely.from_wkt(head[column].dropna().to_numpy(dtype=object), on_invalid="ignore")
    geoms = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    bounds = Bounds(*map(float, shapely.total_bounds(geoms))) if len(geoms) else None
    if crs:
        chosen, crs_why = parse_crs(crs), "由 --crs 指定"
    elif bounds is not None:
        chosen, crs_why = detect_crs(bounds, hint_lon=hint_lon)
        crs_why = f"CSV不声明坐标系, {crs_why}"
    else:
        raise InvalidInput(f"{path.name}: 前1000行没有可读的WKT几何 (no readable WKT in the first rows)")
    if bounds is not None:
        check_bounds(path, chosen, bounds)
    with path.open("rb") as handle:
        rows = max(0, sum(1 for _ in handle) - 1)
    fields.remove(column)
    return SourceInfo(
        path=path,
        driver="CSV",
        layer=None,
        encoding=enc,
        encoding_reason=why,
        crs=chosen,
        crs_reason=crs_why,
        feature_count=rows,
        fields=fields,
        geometry_type=None,
        checksum=sha256_of([path]),
        notes=notes,
    )


def _refuse_mojibake_names(path: Path, fields: list[str], encoding: str, why: str) -> None:
    """Field names that read as mojibake mean the whole file is decoded wrongly: refuse it."""
    from landgis.loading.arrowtext import mojibake_mask

    bad = [f for f, m in zip(fields, mojibake_mask(pa.array(fields, pa.string())), strict=True) if m]
    if bad:
        raise InvalidInput(
            f"{path.name}: 字段名疑似乱码 ({', '.join(bad[:4])}): 按 {encoding} ({why}) 解码有误;"
            " 请用 --encoding 指定正确编码 (mojibake in field names: wrong encoding)"
        )


def _crs_label(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg} {crs.name}" if epsg else crs.name


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
