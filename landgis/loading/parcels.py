"""``landgis load parcels``: cadastral parcels from a vector file into the ``parcel`` table.

Pipeline: inspect the file (encoding, CRS, mapping) → read it in batches → parse and check each
row (``parcel_rows``: values, codes, duplicates, geometry, region, scope, zone) → COPY the good
rows into a temporary stage table → check them against the database (overlaps with existing
parcels, keys already used, parcels outside the caller's scope) → merge the batch into
``parcel`` by key. Everything runs in one savepoint of the caller's transaction: any rejected
row fails the whole load (the savepoint is rolled back, only the record of the failed batch
remains) unless ``accept_partial``; a re-run of the same file changes nothing and says so.

Two threads share the work: while the database stages and merges batch k, Python reads and
checks batch k+1 (the GEOS, PROJ and Arrow calls release the GIL). The connection is used by one
thread at a time: the main thread before and after the batches, the database thread in between.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from landgis.db.engine import scope_codes, set_audit_context, unscoped
from landgis.errors import Conflict, InvalidInput
from landgis.loading import parcel_rows, reader
from landgis.loading import source as src
from landgis.loading.batch import (
    LoadFailed,
    LoadOptions,
    Progress,
    close_batch,
    no_progress,
    open_batch,
    previous_batch,
    record_failed_batch,
)
from landgis.loading.mapping import ResolvedMapping, best_preset, load_mapping, resolve
from landgis.loading.placement import Fetch, Placement
from landgis.loading.report import Issue, LoadReport

KIND = "parcels"
BATCH_SIZE = 20_000
#: The first batch is small: the database starts on it while the rest are read and checked.
FIRST_BATCH_SIZE = 2_000
STAGE = "_stage_parcel"
MATCH = "_stage_parcel_match"
STAGE_COLUMNS = parcel_rows.STAGE_COLUMNS
#: How long a load waits for another parcel load to finish (see ``lock_parcels``).
LOCK_WAIT = "10min"
LOCK_NOT_AVAILABLE = "55P03"
#: "Parcel ``p`` is in the caller's scope", for the checks that see every parcel (``_Merger``).
IN_CALLER_SCOPE = (
    "(CAST(:prefixes AS text[]) IS NULL OR coalesce(p.region_code LIKE ANY (CAST(:prefixes AS text[])), false))"
)


@dataclass
class ParcelLoadOptions(LoadOptions):
    """Options of a parcel load."""

    mapping: str | None = None
    encoding: str | None = None
    crs: str | None = None
    region: str | None = None
    layer: str | None = None
    overlap_threshold: float = 0.05
    batch_size: int = BATCH_SIZE
    archive_limits: src.ArchiveLimits | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_parcels(
    conn: Connection,
    path: Path,
    options: ParcelLoadOptions | None = None,
    progress: Progress = no_progress,
) -> LoadReport:
    """Load parcels from ``path`` (a file, a directory holding one, or a .zip); see the module doc.

    Runs inside a savepoint of ``conn``'s transaction, under the region scope set on it
    (``set_scope``); the caller commits. Returns the report; raises ``LoadFailed`` (with the
    report) when rows were rejected and ``accept_partial`` is off: then nothing reached the live
    tables, and only the failed batch record remains.
    """
    options = options or ParcelLoadOptions()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="landgis-load-") as scratch:
        dataset = unpack(path, Path(scratch), options.archive_limits)
        report = LoadReport(kind=KIND, file=_label(path, dataset, Path(scratch)), dry_run=options.dry_run)
        region = options.region
        if region and not conn.execute(text("SELECT 1 FROM region WHERE code = :c"), {"c": region}).first():
            raise InvalidInput(f"--region {region}: 行政区划不存在 (load regions first)")
        hint_lon = _region_longitude(conn, region)
        info = src.inspect(dataset, encoding=options.encoding, crs=options.crs, hint_lon=hint_lon, layer=options.layer)
        report.checksum = info.checksum
        report.source = info.describe()
        resolved = _resolve_mapping(options.mapping, info.fields)
        report.mapping = {
            "name": resolved.mapping.name,
            "key": resolved.mapping.key,
            "reason": resolved.reason or "由 --mapping 指定",
            "columns": resolved.columns,
            "units": {t: u for t, u in resolved.units.items() if t in resolved.columns and u},
            "unmapped": resolved.unmapped,
        }
        try:
            with conn.begin_nested() as savepoint:
                _run(conn, info, resolved, options, report, progress)
                if options.dry_run:
                    savepoint.rollback()
        except LoadFailed as exc:
            report.elapsed_s = time.monotonic() - started
            if not options.dry_run:
                report.batch_id = record_failed_batch(conn, KIND, exc.report, options)
            raise
        report.elapsed_s = time.monotonic() - started
        return report


def unpack(path: Path, scratch: Path, limits: src.ArchiveLimits | None = None) -> Path:
    """The dataset to read: ``path`` itself, the one dataset in a folder, or in a .zip."""
    if not path.exists():
        raise InvalidInput(f"{path.name}: 文件不存在 (no such file)")
    if path.is_file() and path.suffix.lower() == ".zip":
        src.safe_extract(path, scratch / "unzipped", limits)
        return src.find_dataset(scratch / "unzipped")
    return src.find_dataset(path)


def _label(path: Path, dataset: Path, scratch: Path) -> str:
    """How the report names the file: ``宗地.zip/地籍/zd.shp`` for a file inside an archive."""
    if dataset.is_relative_to(scratch):
        return f"{path.name}/{dataset.relative_to(scratch / 'unzipped').as_posix()}"
    return path.name


def _region_longitude(conn: Connection, region: str | None) -> float | None:
    if not region:
        return None
    lon = conn.execute(
        text("SELECT ST_X(ST_PointOnSurface(boundary)) FROM region WHERE code = :code AND boundary IS NOT NULL"),
        {"code": region},
    ).scalar()
    return float(lon) if lon is not None else None


def _resolve_mapping(name: str | None, columns: list[str]) -> ResolvedMapping:
    if name:
        resolved = resolve(load_mapping(name, KIND), columns)
        if resolved.mapping.key not in resolved.columns:
            aliases = ", ".join(resolved.mapping.fields[resolved.mapping.key].source)
            raise InvalidInput(f"文件缺少主键字段 {resolved.mapping.key} (looked for: {aliases})")
        return resolved
    return best_preset(KIND, columns)


# --------------------------------------------------------------------------- the run


@dataclass
class _Shared:
    """What the two threads of a run share."""

    accept_partial: bool
    failed: bool = False  # some row was rejected: stop merging (all-or-nothing)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self) -> None:
        with self.lock:
            self.failed = True


@dataclass
class _Merged:
    issues: list[Issue]
    inserted: int = 0
    updated: int = 0
    staged: int = 0


def _run(
    conn: Connection,
    info: src.SourceInfo,
    resolved: ResolvedMapping,
    options: ParcelLoadOptions,
    report: LoadReport,
    progress: Progress,
) -> None:
    lock_parcels(conn)  # first: after a wait for another load, everything below is current
    previous = previous_batch(conn, KIND, report.checksum)
    batch_extra = {"mapping": resolved.mapping.name, "dry_run": options.dry_run, **options.extra}
    batch_id = open_batch(conn, KIND, report, options, batch_extra)
    report.batch_id = batch_id
    set_audit_context(
        conn, actor=options.actor, client_addr=options.client_addr, request_id=options.request_id, batch_id=batch_id
    )
    # When the loading process dies, the server notices within a second, even in mid-statement,
    # and rolls the load back (instead of finishing a merge nobody will commit).
    conn.execute(text("SELECT set_config('client_connection_check_interval', '1000', true)"))
    # '*' (an unrestricted user) is no scope at all: every existing parcel may be updated.
    scope = scope_codes(conn)
    known, zones = _regions_and_zones(conn)
    conn.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    ddl = ", ".join(f"{name} {kind}" for name, kind in STAGE_COLUMNS.items())
    conn.execute(text(f"CREATE TEMP TABLE {STAGE} ({ddl}) ON COMMIT DROP"))
    merger = _Merger(conn, resolved, options, batch_id, scope, report.file)
    direct = merger.direct
    shared = _Shared(accept_partial=options.accept_partial)
    rejected: set[int] = set()
    totals = _Merged(issues=[])
    pending: deque[Future[_Merged]] = deque()

    def collect(result: _Merged) -> None:
        report.issues.extend(result.issues)
        rejected.update(i.row for i in result.issues if i.severity == "error")
        totals.inserted += result.inserted
        totals.updated += result.updated
        totals.staged += result.staged

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="landgis-load-db") as database:
        # Boundaries are fetched on the database thread, between merges, when a batch needs them.
        placement = Placement(known=known, fetch=_fetch_via(database, conn), zones=zones, default_region=options.region)
        ctx = parcel_rows.Context(info=info, resolved=resolved, placement=placement, source_name=report.file)
        if direct:  # nothing to match or test against: rows go straight into parcel
            ctx.columns = merger.direct_columns
            ctx.batch_id = batch_id
        try:
            for batch in reader.batches(info, options.batch_size, FIRST_BATCH_SIZE):
                prepared = parcel_rows.prepare(batch, ctx)
                report.counts["read"] += prepared.count
                report.issues.extend(prepared.issues)
                if prepared.rejected:
                    rejected.update(prepared.rejected)
                    shared.fail()
                pending.append(database.submit(merger.batch, prepared, shared))
                while len(pending) > 1:  # one batch in the database while the next is prepared
                    collect(pending.popleft().result())
                progress(report.counts["read"], info.feature_count)
            while pending:
                collect(pending.popleft().result())
        finally:
            for future in pending:
                future.cancel()
    report.issues.sort(key=lambda i: (i.row, i.field, i.code))
    report.counts["rejected"] = len(rejected)
    if report.counts["read"] == 0:
        raise LoadFailed(f"{report.file}: 文件不含任何要素 (no features)", report)
    if rejected and not options.accept_partial:
        report.status = "failed"
        report.message = f"{len(rejected)} 行被拒绝, 未写入任何数据 (all-or-nothing; use --accept-partial)"
        raise LoadFailed(report.message, report)
    conn.execute(text(f"DROP TABLE {STAGE}, {MATCH}"))
    inserted, updated = totals.inserted, totals.updated
    report.counts["inserted"] = inserted
    report.counts["updated"] = updated
    report.counts["unchanged"] = totals.staged - inserted - updated
    changed = inserted + updated
    status = "dry_run" if options.dry_run else ("committed" if changed else "unchanged")
    close_batch(conn, batch_id, status, report.counts)
    report.status = status
    if options.dry_run:
        report.message = (
            f"试运行: 将新增 {inserted}, 更新 {updated}, 不变 {report.counts['unchanged']} (nothing written)"
        )
    elif not changed:
        since = f" (与批次 {previous} 相同)" if previous else ""
        report.message = f"数据无变化, 未修改任何宗地{since} (nothing changed)"
    else:
        report.message = f"新增 {inserted}, 更新 {updated}, 不变 {report.counts['unchanged']}"
    if report.counts["rejected"]:
        report.message += f"; 拒绝 {report.counts['rejected']} 行 (see the report)"


def lock_parcels(conn: Connection, wait: str | None = None) -> None:
    """One parcel load at a time, and no VACUUM or ANALYZE of ``parcel`` until this one commits.

    Loads running side by side cannot see each other's rows, so overlaps between their parcels
    would go unnoticed. An ANALYZE from another session (autovacuum's) does not count this
    load's uncommitted rows either: it records the table as empty while it fills, and every
    statement planned after it (the triggers' included) is planned for an empty table. SHARE
    UPDATE EXCLUSIVE conflicts with both and with nothing that reads or edits parcels; it is
    held until the load's transaction ends. Waits at most ``wait`` (default ``LOCK_WAIT``).
    """
    wait = wait or LOCK_WAIT
    previous = conn.execute(text("SELECT current_setting('lock_timeout')")).scalar_one()
    conn.execute(text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": wait})
    try:
        conn.execute(text("LOCK TABLE parcel IN SHARE UPDATE EXCLUSIVE MODE"))
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        raise Conflict(
            f"另一个宗地导入 (或 parcel 表的维护) 仍在进行, 已等待 {wait} (another parcel load is still running)"
        ) from exc
    conn.execute(text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": previous})


def _regions_and_zones(conn: Connection) -> tuple[dict[str, bool], list[tuple[int, float, bytes]]]:
    """Every region code (with: is it in the caller's scope), and every zone's boundary."""
    known = {str(c): bool(s) for c, s in conn.execute(text("SELECT code, landgis_in_scope(code) FROM region"))}
    zones = [
        (int(z), float(a), bytes(g))
        for z, a, g in conn.execute(text("SELECT id, area_m2, ST_AsBinary(boundary) FROM zone")).all()
    ]
    return known, zones


def _fetch_via(database: ThreadPoolExecutor, conn: Connection) -> Fetch:
    def fetch_here(base: str) -> list[tuple[str, int, bytes | None, bool]]:
        rows = conn.execute(
            text(
                "SELECT code, level, ST_AsBinary(boundary), landgis_in_scope(code) FROM region"
                " WHERE code = :base OR starts_with(code, :base) ORDER BY level, code"
            ),
            {"base": base},
        ).all()
        return [(str(c), int(lv), bytes(b) if b is not None else None, bool(s)) for c, lv, b, s in rows]

    def fetch(base: str) -> list[tuple[str, int, bytes | None, bool]]:
        return database.submit(fetch_here, base).result()

    return fetch


# --------------------------------------------------------------------------- database side

#: Model columns that depend on one mapped field.
_COLUMNS_OF = {
    "zddm": ("zddm", "zddm_raw", "zddm_valid"),
    "feature_id": ("zddm", "zddm_raw", "zddm_valid"),
    "far_agreed": ("far_agreed_raw", "far_min", "far_max"),
    "land_use_code": ("land_use_code", "land_use_system"),
}
_ALWAYS = ("region_code", "zone_id", "geom", "source", "source_attrs")
#: How each kind of key finds the existing parcel (``p``) of a stage row (``s``); one equality
#: per statement, so that each is a hash or index join.
KEY_MATCHES = {
    "zddm": ("p.zddm = s.zddm", "s.zddm IS NULL AND p.zddm IS NULL AND p.zddm_raw = s.zddm_raw"),
    "feature_id": ("p.zddm IS NULL AND p.zddm_raw = s.zddm_raw",),
    "contract_no": ("p.contract_no = s.contract_no",),
    "bdcdyh": ("p.bdcdyh = s.bdcdyh",),
}


def written_columns(resolved: ResolvedMapping) -> list[str]:
    """The parcel columns a load with this mapping writes, in stage order."""
    wanted = set(_ALWAYS)
    for target in resolved.columns:
        wanted.update(_COLUMNS_OF.get(target, (target,)))
    return [c for c in STAGE_COLUMNS if c in wanted]


class _Merger:
    """Stages, checks and merges one batch at a time (on the database thread).

    Each stage row is first matched to the existing parcel it updates (``_stage_match``: row,
    parcel id); the INSERT then anti-joins that small table rather than ``parcel`` itself, whose
    own growth during the statement would make a nested-loop plan quadratic. When the table held
    no parcels before the load there is nothing to match, update or overlap, and the batch is
    COPYed straight into ``parcel`` (``direct``).

    The checks read the whole table, whatever the caller's region scope (``unscoped``): a parcel
    outside it must still be found, to refuse the row that would take it over or overlap it. They
    test the caller's scope themselves (``IN_CALLER_SCOPE``); the writes run under it. A role that
    row-level security binds cannot COPY into ``parcel`` (PostgreSQL refuses COPY FROM under it),
    so its first load goes through the stage as every other load does.
    """

    def __init__(
        self,
        conn: Connection,
        resolved: ResolvedMapping,
        options: ParcelLoadOptions,
        batch_id: int,
        scope: list[str] | None,
        file: str,
    ) -> None:
        self.conn = conn
        self.options = options
        self.batch_id = batch_id
        self.scoped = scope is not None
        # The caller's scope as the checks test it: LIKE patterns of its region codes.
        self.scope_params = {"prefixes": None if scope is None else [f"{code}%" for code in scope]}
        self.file = file
        self.key = resolved.mapping.key
        self.key_column = resolved.source_for(self.key) or self.key
        self.zddm_column = resolved.source_for("zddm")
        with unscoped(conn):
            self.preexisting = bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM parcel)")).scalar())
        row_security = bool(conn.execute(text("SELECT row_security_active('parcel')")).scalar())
        self.direct = not self.preexisting and not row_security
        conn.execute(text(f"DROP TABLE IF EXISTS {MATCH}"))
        conn.execute(
            text(f"CREATE TEMP TABLE {MATCH} (row_no integer NOT NULL, parcel_id bigint NOT NULL) ON COMMIT DROP")
        )
        written = written_columns(resolved)
        self.written = written
        # Rows written straight into an empty parcel table carry their batch, and their 地块码
        # when they have a 宗地代码 (the trigger then has nothing to look up: no parcel holds it).
        self.direct_columns = [*written, "load_batch_id", *(["land_code"] if "zddm" in written else [])]
        # A file updates only what it holds: columns its mapping does not fill keep their values.
        # The file name and the untouched source attributes do not count as a change.
        compared = [c for c in written if c not in ("source", "source_attrs")]
        self.match_sql = [
            text(f"INSERT INTO {MATCH} SELECT s.row_no, p.id FROM {STAGE} s JOIN parcel p ON {m}")
            for m in KEY_MATCHES[self.key]
        ]
        self.update_sql = text(
            f"UPDATE parcel p SET {', '.join(f'{c} = s.{c}' for c in written)}, load_batch_id = :batch"
            f" FROM {STAGE} s JOIN {MATCH} m ON m.row_no = s.row_no WHERE p.id = m.parcel_id"
            f" AND ({', '.join(f'p.{c}' for c in compared)}) IS DISTINCT FROM ({', '.join(f's.{c}' for c in compared)})"
        )
        columns = ", ".join(written)
        selected = ", ".join(f"s.{c}" for c in written)
        self.insert_new_sql = text(
            f"INSERT INTO parcel ({columns}, load_batch_id) SELECT {selected}, :batch FROM {STAGE} s"
            f" WHERE NOT EXISTS (SELECT 1 FROM {MATCH} m WHERE m.row_no = s.row_no)"
        )
        # Only new and moved parcels are tested (an unchanged geometry was tested when it came),
        # and the row's own previous version is excluded before any geometry test: the CTE puts
        # its id beside the row, and that cheap filter runs first in the index scan.
        self.overlap_sql = text(
            f"WITH s AS MATERIALIZED (SELECT s.row_no, s.geom, m.parcel_id FROM {STAGE} s"
            f"  LEFT JOIN {MATCH} m ON m.row_no = s.row_no LEFT JOIN parcel q ON q.id = m.parcel_id"
            "  WHERE q.id IS NULL OR NOT q.geom = s.geom)"
            f" SELECT s.row_no, coalesce(p.zddm, p.zddm_raw, p.contract_no, p.id::text), {IN_CALLER_SCOPE},"
            "       ST_Area(ST_Intersection(s.geom, p.geom)) / least(ST_Area(s.geom), ST_Area(p.geom))"
            " FROM s JOIN parcel p ON ST_Intersects(s.geom, p.geom)"
            " WHERE p.id IS DISTINCT FROM s.parcel_id"
            "   AND p.load_batch_id IS DISTINCT FROM :batch"
            # cheap bounding-box overlap next: neighbours that share an edge never pass it
            "   AND greatest(0, least(ST_XMax(s.geom), ST_XMax(p.geom)) - greatest(ST_XMin(s.geom), ST_XMin(p.geom)))"
            "     * greatest(0, least(ST_YMax(s.geom), ST_YMax(p.geom)) - greatest(ST_YMin(s.geom), ST_YMin(p.geom)))"
            "     > :t * least(ST_Area(s.geom), ST_Area(p.geom))"
            "   AND ST_Relate(s.geom, p.geom, '2********')"
            "   AND ST_Area(ST_Intersection(s.geom, p.geom)) > :t * least(ST_Area(s.geom), ST_Area(p.geom))"
            " ORDER BY s.row_no"
        )
        # Keys that match several parcels (raw codes and 电子监管号 are not unique in the database)
        self.ambiguous_sql = text(f"SELECT row_no, count(*) FROM {MATCH} GROUP BY row_no HAVING count(*) > 1")
        # A 宗地代码 that already belongs to another parcel (when the key is something else)
        self.taken_sql = (
            text(
                f"SELECT s.row_no, s.zddm FROM {STAGE} s JOIN parcel p ON p.zddm = s.zddm"
                f" WHERE NOT EXISTS (SELECT 1 FROM {MATCH} m WHERE m.row_no = s.row_no AND m.parcel_id = p.id)"
            )
            if self.key in ("contract_no", "bdcdyh") and self.zddm_column
            else None
        )
        self.scope_sql = text(
            # one issue per row, however many parcels outside the scope its key matches
            f"SELECT DISTINCT ON (m.row_no) m.row_no, p.region_code FROM {MATCH} m JOIN parcel p ON p.id = m.parcel_id"
            f" WHERE NOT {IN_CALLER_SCOPE} ORDER BY m.row_no, p.region_code"
        )

    def batch(self, prepared: parcel_rows.Prepared, shared: _Shared) -> _Merged:
        """Stage, check and merge one batch; merge nothing once a row was refused (all-or-nothing)."""
        result = _Merged(issues=[])
        if prepared.staged == 0:
            return result
        if self.direct:
            # A load into a table that held no parcels: every row is new, and the checks that
            # need the database (overlaps, matched keys) have nothing to compare with.
            if not shared.failed or shared.accept_partial:
                self._copy("parcel", self.direct_columns, prepared.payload)
                result.inserted = result.staged = prepared.staged
            return result
        conn = self.conn
        conn.execute(text(f"TRUNCATE {STAGE}, {MATCH}"))
        self._copy(STAGE, list(STAGE_COLUMNS), prepared.payload)
        with unscoped(conn):
            for sql in self.match_sql:
                conn.execute(sql)
            bad = self._check(result)
        if bad:
            shared.fail()
        if shared.failed and not shared.accept_partial:
            return result  # nothing will be written: check the rest of the file, merge nothing
        if bad:
            conn.execute(text(f"DELETE FROM {STAGE} WHERE row_no = ANY(:rows)"), {"rows": sorted(bad)})
        params = {"batch": self.batch_id}
        result.updated = conn.execute(self.update_sql, params).rowcount
        result.inserted = conn.execute(self.insert_new_sql, params).rowcount
        result.staged = prepared.staged - len(bad)
        return result

    def _copy(self, table: str, columns: list[str], payload: bytes) -> None:
        """COPY binary rows into ``table`` (names from this module, values only in the stream)."""
        dbapi = self.conn.connection.driver_connection
        assert dbapi is not None
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)"
        with dbapi.cursor() as cur, cur.copy(sql) as copy:
            copy.write(payload)

    def _check(self, result: _Merged) -> set[int]:
        """Checks against the parcels that existed before the load; returns the rows refused."""
        conn = self.conn
        bad: set[int] = set()

        def flag(row: int, column: str, code: str, message: str, value: object) -> None:
            result.issues.append(Issue(self.file, int(row), column, "error", code, message, str(value)[:80]))
            bad.add(int(row))

        for row_no, code, visible, share in conn.execute(
            self.overlap_sql, {"batch": self.batch_id, "t": self.options.overlap_threshold, **self.scope_params}
        ):
            label = code if visible else "(管辖范围外的宗地)"
            flag(
                row_no,
                "geometry",
                "overlap",
                f"与已有宗地 {label} 重叠 {share:.0%} (overlaps an existing parcel)",
                label,
            )
        for row_no, count in conn.execute(self.ambiguous_sql):
            flag(row_no, self.key_column, "ambiguous_key", f"主键对应 {count} 宗已有宗地, 无法确定更新哪一宗", count)
        if self.taken_sql is not None:
            for row_no, zddm in conn.execute(self.taken_sql):
                flag(row_no, str(self.zddm_column), "duplicate_key", "宗地代码已属于另一宗已有宗地 (code in use)", zddm)
        if self.scoped:
            for row_no, region in conn.execute(self.scope_sql, self.scope_params):
                flag(
                    row_no,
                    self.key_column,
                    "out_of_scope",
                    f"同一主键的已有宗地位于 {region}, 不在您的管辖范围内 (outside your region scope)",
                    region,
                )
        return bad


def assign_zones(conn: Connection, *, batch_id: int | None = None) -> int:
    """Set ``parcel.zone_id`` from the smallest zone holding each parcel's interior point.

    Only the parcels last written by ``batch_id`` when given, else all; returns how many changed.
    """
    # Zones drive the join (few, large boundaries): consecutive point-in-polygon tests then reuse
    # PostGIS's prepared geometry of the same boundary, and parcels are found through their index.
    result = conn.execute(
        text(
            "WITH hit AS ("
            "  SELECT DISTINCT ON (q.id) q.id, z.id AS zone_id"
            "  FROM zone z JOIN parcel q ON ST_Intersects(z.boundary, q.geom)"
            "   AND ST_Intersects(z.boundary, ST_PointOnSurface(q.geom))"
            "  WHERE CAST(:batch AS bigint) IS NULL OR q.load_batch_id = :batch"
            "  ORDER BY q.id, z.area_m2),"
            " wanted AS ("
            "  SELECT q.id, hit.zone_id FROM parcel q LEFT JOIN hit ON hit.id = q.id"
            "  WHERE CAST(:batch AS bigint) IS NULL OR q.load_batch_id = :batch)"
            " UPDATE parcel p SET zone_id = wanted.zone_id FROM wanted"
            " WHERE p.id = wanted.id AND p.zone_id IS DISTINCT FROM wanted.zone_id"
        ),
        {"batch": batch_id},
    )
    return int(result.rowcount)
