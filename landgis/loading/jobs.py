"""Loads as background jobs: an uploaded file goes through the same loaders as ``landgis load``.

A job is a ``load_job`` row. The web layer saves the upload into a private work folder and
creates the row (``create_job``, in the request's transaction); a ``JobRunner`` thread claims it,
runs the loader on its own connection under the caller's region scope and audit context,
records progress as it goes (visible at once: progress is written in short transactions of its
own), stores the full report, and removes the work folder whatever happens. Jobs are run one
at a time per process: loads are heavy, and a county's uploads are few.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from landgis.db.engine import set_scope
from landgis.errors import Conflict, ExitCode, InvalidInput, LandgisError, NotFound, exit_code_for
from landgis.loading import upload
from landgis.loading.batch import LoadFailed
from landgis.loading.report import LoadReport
from landgis.settings import Settings

log = logging.getLogger("landgis.loading.jobs")

KINDS = ("parcels", "enterprises", "occupancy", "figures")
#: A job whose worker has not been heard of for this long was interrupted (the process died).
STALE_AFTER_S = 300.0
HEARTBEAT_S = 30.0
#: Options a client may set, per kind, with their types. Mapping files are not accepted over
#: HTTP (they would name a path on the server): presets only.
OPTIONS: dict[str, dict[str, type]] = {
    "parcels": {
        "mapping": str,
        "encoding": str,
        "crs": str,
        "region": str,
        "layer": str,
        "overlap": float,
        "dry_run": bool,
        "accept_partial": bool,
    },
    "enterprises": {"sheet": str, "encoding": str, "dry_run": bool, "accept_partial": bool},
    "occupancy": {"sheet": str, "encoding": str, "dry_run": bool, "accept_partial": bool},
    "figures": {
        "sheet": str,
        "encoding": str,
        "year": int,
        "source": str,
        "dry_run": bool,
        "accept_partial": bool,
    },
}


@dataclass(frozen=True)
class JobRequest:
    """What the web layer knows about an upload."""

    kind: str
    file_name: str
    size_bytes: int
    options: dict[str, Any]
    scope: list[str] | None
    actor: str
    client_addr: str | None = None
    request_id: str | None = None


def check_options(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options of a job, checked against what ``kind`` accepts (None values dropped)."""
    from landgis.loading.mapping import presets

    allowed = OPTIONS.get(kind)
    if allowed is None:
        raise InvalidInput(f"不支持的数据类型 {kind!r} (one of {', '.join(KINDS)})")
    clean: dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        if name not in allowed:
            raise InvalidInput(f"{kind}: 不支持的参数 {name!r} (accepted: {', '.join(allowed)})")
        if not isinstance(value, allowed[name]) or (allowed[name] is not bool and isinstance(value, bool)):
            raise InvalidInput(f"{kind}: 参数 {name} 应为 {allowed[name].__name__}")
        clean[name] = value
    if "mapping" in clean and clean["mapping"] not in presets(kind):
        raise InvalidInput(f"映射 {clean['mapping']!r} 不是预设映射 (presets: {', '.join(sorted(presets(kind)))})")
    if kind == "figures" and "year" not in clean:
        raise InvalidInput("figures: 需要 year 参数 (the year of the figures)")
    return clean


def create_job(conn: Connection, request: JobRequest) -> uuid.UUID:
    """Record a queued job (in the caller's transaction) and return its id."""
    options = check_options(request.kind, request.options)
    job_id = conn.execute(
        text(
            "INSERT INTO load_job (kind, file_name, size_bytes, options, scope, actor, client_addr, request_id)"
            " VALUES (:kind, :file, :size, CAST(:options AS jsonb), :scope, :actor, :addr, :rid) RETURNING id"
        ),
        {
            "kind": request.kind,
            "file": request.file_name,
            "size": request.size_bytes,
            "options": _json(options),
            "scope": request.scope,
            "actor": request.actor,
            "addr": request.client_addr,
            "rid": request.request_id,
        },
    ).scalar_one()
    return uuid.UUID(str(job_id))


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def visible(job_scope: list[str] | None, caller_scope: list[str] | None) -> bool:
    """May a caller with ``caller_scope`` see a job submitted under ``job_scope``?"""
    if caller_scope is None:
        return True
    if job_scope is None:
        return False
    return all(any(code.startswith(prefix) for prefix in caller_scope) for code in job_scope)


def get_job(conn: Connection, job_id: uuid.UUID, caller_scope: list[str] | None) -> dict[str, Any]:
    """A job's status, progress and summary; ``NotFound`` when unknown or not the caller's to see.

    A queued or running job whose worker fell silent is reported, and recorded, as failed.
    """
    row = (
        conn.execute(
            text(
                "SELECT id, kind, status, file_name, size_bytes, options, scope, actor, rows_done, rows_total,"
                " batch_id, exit_code, message, created_at, started_at, finished_at, heartbeat_at,"
                " report IS NOT NULL AS has_report,"
                " CASE WHEN report IS NULL THEN NULL ELSE report - 'issues' END AS summary,"
                " CASE WHEN report IS NULL THEN NULL ELSE jsonb_path_query_array(report, '$.issues[0 to 49]') END"
                "   AS first_issues,"
                " status IN ('queued', 'running') AND heartbeat_at < now() - make_interval(secs => :stale) AS stale"
                " FROM load_job WHERE id = :id"
            ),
            {"id": job_id, "stale": STALE_AFTER_S},
        )
        .mappings()
        .first()
    )
    if row is None or not visible(row["scope"], caller_scope):
        raise NotFound(f"加载任务 {job_id} 不存在 (no such load job)")
    job = dict(row)
    if job.pop("stale"):
        message = "任务中断: 服务在加载过程中停止, 未写入任何数据 (the service stopped during the load)"
        conn.execute(
            text(
                "UPDATE load_job SET status = 'failed', exit_code = :code, message = :message, finished_at = now()"
                " WHERE id = :id AND status IN ('queued', 'running')"
            ),
            {"id": job_id, "code": int(ExitCode.FAILURE), "message": message},
        )
        job.update(status="failed", exit_code=int(ExitCode.FAILURE), message=message)
    return job


def job_report(conn: Connection, job_id: uuid.UUID, caller_scope: list[str] | None) -> LoadReport:
    """The full report of a finished job."""
    row = conn.execute(text("SELECT status, scope, report FROM load_job WHERE id = :id"), {"id": job_id}).first()
    if row is None or not visible(row.scope, caller_scope):
        raise NotFound(f"加载任务 {job_id} 不存在 (no such load job)")
    if row.report is None:
        if row.status in ("queued", "running"):
            raise Conflict(f"加载任务 {job_id} 尚未完成 (the job is still {row.status})")
        raise NotFound(f"加载任务 {job_id} 没有报告: 文件在读取前即被拒绝 (the file was refused before any row)")
    return LoadReport.from_dict(row.report)


# --------------------------------------------------------------------------- running jobs


class JobRunner:
    """Runs this process's jobs one at a time on a worker thread, with a heartbeat."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landgis-job")
        self._pending: set[uuid.UUID] = set()
        self._stop = threading.Event()
        self._heart = threading.Thread(target=self._beat, name="landgis-job-heartbeat", daemon=True)
        self._heart.start()
        upload.sweep(settings)

    def submit(self, job_id: uuid.UUID, workdir: Path, path: Path) -> None:
        """Run a job created with ``create_job`` (its transaction may not be committed yet)."""
        self._pending.add(job_id)
        self._pool.submit(self._guarded, job_id, workdir, path)

    def shutdown(self, wait: bool = True) -> None:
        self._stop.set()
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        text(
                            "UPDATE load_job SET heartbeat_at = now()"
                            " WHERE (worker = :w OR id = ANY(:ids)) AND status IN ('queued', 'running')"
                        ),
                        {"w": self.worker, "ids": list(self._pending)},
                    )
            except Exception:  # the database may be briefly away; the next beat tries again
                log.warning("load job heartbeat failed", exc_info=True)

    def _guarded(self, job_id: uuid.UUID, workdir: Path, path: Path) -> None:
        try:
            run_job(self.engine, self.settings, job_id, path, worker=self.worker)
        except Exception:
            log.exception("load job %s failed unexpectedly", job_id)
        finally:
            self._pending.discard(job_id)
            upload.remove_workdir(workdir)


def _claim(engine: Engine, job_id: uuid.UUID, worker: str, wait_s: float = 10.0) -> dict[str, Any] | None:
    """Mark the job running; waits briefly for the request that created it to commit."""
    deadline = time.monotonic() + wait_s
    while True:
        with engine.begin() as conn:
            row = (
                conn.execute(
                    text(
                        "UPDATE load_job SET status = 'running', started_at = now(), heartbeat_at = now(),"
                        " worker = :w WHERE id = :id AND status = 'queued'"
                        " RETURNING kind, file_name, options, scope, actor, client_addr, request_id"
                    ),
                    {"id": job_id, "w": worker},
                )
                .mappings()
                .first()
            )
        if row is not None:
            return dict(row)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def run_job(engine: Engine, settings: Settings, job_id: uuid.UUID, path: Path, *, worker: str = "") -> None:
    """Run one queued job to its end and record the outcome (never raises for a bad file)."""
    job = _claim(engine, job_id, worker or f"{socket.gethostname()}:{os.getpid()}")
    if job is None:
        log.warning("load job %s was not found queued; nothing to do", job_id)
        return
    progress = _progress_writer(engine, job_id)
    report: LoadReport | None = None
    try:
        with engine.connect() as conn:
            set_scope(conn, job["scope"])
            try:
                report = _load(conn, settings, job, path, progress)
            except LoadFailed:
                conn.commit()  # the record of the refused batch
                raise
            conn.commit()
    except LoadFailed as exc:
        _finish(engine, job_id, "failed", ExitCode.INVALID_INPUT, exc.report.message or exc.message, exc.report)
        return
    except LandgisError as exc:
        _finish(engine, job_id, "failed", exit_code_for(exc), exc.message, None)
        return
    except Exception:
        log.exception("load job %s: unexpected error", job_id)
        _finish(engine, job_id, "failed", ExitCode.FAILURE, "内部错误, 未写入任何数据 (internal error)", None)
        return
    partial = bool(job["options"].get("accept_partial")) and report.counts.get("rejected", 0) > 0
    _finish(
        engine,
        job_id,
        "partial" if partial else "succeeded",
        ExitCode.PARTIAL if partial else ExitCode.OK,
        report.message,
        report,
    )


def _load(
    conn: Connection, settings: Settings, job: dict[str, Any], path: Path, progress: Callable[[int, int | None], None]
) -> LoadReport:
    options: dict[str, Any] = dict(job["options"])
    common = {
        "dry_run": bool(options.pop("dry_run", False)),
        "accept_partial": bool(options.pop("accept_partial", False)),
        "user": job["actor"],
        "client_addr": job["client_addr"],
        "request_id": job["request_id"],
    }
    kind = job["kind"]
    if kind == "parcels":
        from landgis.loading.parcels import ParcelLoadOptions, load_parcels

        parcel_options = ParcelLoadOptions(
            **common,
            mapping=options.get("mapping"),
            encoding=options.get("encoding"),
            crs=options.get("crs"),
            region=options.get("region"),
            layer=options.get("layer"),
            overlap_threshold=float(options.get("overlap", 0.05)),
            archive_limits=upload.limits(settings),
        )
        return load_parcels(conn, path, parcel_options, progress)
    from landgis.loading import enterprises

    table_options = enterprises.TableLoadOptions(
        **common,
        sheet=options.get("sheet"),
        encoding=options.get("encoding"),
        year=options.get("year"),
        source_label=options.get("source"),
    )
    loader = {
        "enterprises": enterprises.load_enterprises,
        "occupancy": enterprises.load_occupancy,
        "figures": enterprises.load_figures,
    }[kind]
    return loader(conn, path, table_options, progress)


def _progress_writer(engine: Engine, job_id: uuid.UUID) -> Callable[[int, int | None], None]:
    last = [0.0]

    def write(done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5 and (total is None or done < total):
            return
        last[0] = now
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE load_job SET rows_done = :d, rows_total = :t, heartbeat_at = now() WHERE id = :id"),
                {"d": done, "t": total, "id": job_id},
            )

    return write


def _finish(
    engine: Engine, job_id: uuid.UUID, status: str, exit_code: int, message: str, report: LoadReport | None
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE load_job SET status = :status, exit_code = :code, message = :message,"
                " report = CAST(:report AS jsonb), batch_id = :batch, finished_at = now(), heartbeat_at = now(),"
                " rows_done = coalesce(:read, rows_done)"
                " WHERE id = :id"
            ),
            {
                "status": status,
                "code": int(exit_code),
                "message": message,
                "report": _json(report.to_dict()) if report is not None else None,
                # a dry run's batch was rolled back with everything else
                "batch": report.batch_id if report is not None and not report.dry_run else None,
                "read": report.counts.get("read") if report is not None else None,
                "id": job_id,
            },
        )
