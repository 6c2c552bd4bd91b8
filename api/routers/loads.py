"""``/loads``: upload a file and load it in the background; poll the job; fetch its report.

The request body is the file itself (``Content-Type: application/octet-stream``, its name in
``?filename=``): it is streamed into a private work folder under a size limit, never held in
memory, and loaded by the same code as ``landgis load`` under the caller's region scope.
Shapefiles and FileGDB folders are uploaded as .zip.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import ConnDep, OfficerDep, SettingsDep, UserDep
from landgis.loading import jobs, upload

Kind = Literal["parcels", "enterprises", "occupancy", "figures"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One job runner per process, started with the app and stopped with it."""
    runner = jobs.JobRunner(app.state.engine, app.state.settings)
    app.state.load_runner = runner
    try:
        yield
    finally:
        await run_in_threadpool(runner.shutdown)


router = APIRouter(prefix="/loads", tags=["loads"], lifespan=lifespan)


class JobLinks(BaseModel):
    self: str
    report_csv: str
    report_html: str


class Job(BaseModel):
    """A load job: where it is, and what it found."""

    id: uuid.UUID
    kind: str
    status: Literal["queued", "running", "succeeded", "partial", "failed"]
    file_name: str
    size_bytes: int
    options: dict[str, Any]
    rows_done: int
    rows_total: int | None
    exit_code: int | None
    message: str | None
    batch_id: int | None
    counts: dict[str, int] | None = None
    issue_counts: dict[str, int] | None = None
    issues: list[dict[str, Any]] | None = None
    issues_total: int | None = None
    source: dict[str, Any] | None = None
    mapping: dict[str, Any] | None = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: JobLinks


def _scope(request: Request) -> list[str] | None:
    scope: list[str] | None = getattr(request.state, "region_scope", None)
    return scope


def _job(row: dict[str, Any]) -> Job:
    summary: dict[str, Any] = row.get("summary") or {}
    base = f"/loads/{row['id']}"
    issue_counts = summary.get("issue_counts")
    return Job(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        file_name=row["file_name"],
        size_bytes=row["size_bytes"],
        options=row["options"],
        rows_done=row["rows_done"],
        rows_total=row["rows_total"],
        exit_code=row["exit_code"],
        message=row["message"],
        batch_id=row["batch_id"],
        counts=summary.get("counts"),
        issue_counts=issue_counts,
        issues=row.get("first_issues"),
        issues_total=sum(issue_counts.values()) if issue_counts is not None else None,
        source=summary.get("source"),
        mapping=summary.get("mapping"),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        links=JobLinks(self=base, report_csv=f"{base}/report.csv", report_html=f"{base}/report.html"),
    )


@router.post(
    "/{kind}",
    status_code=202,
    response_model=Job,
    summary="Upload a file (the request body) and load it in the background",
    responses={413: {"description": "文件过大 (over the upload limit)"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file itself (shapefiles and FileGDB folders as .zip).",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def create(
    kind: Kind,
    request: Request,
    conn: ConnDep,
    user: OfficerDep,
    settings: SettingsDep,
    filename: str = Query(..., min_length=1, max_length=255, description="The file's name, e.g. 宗地.zip"),
    mapping: str | None = Query(None, description="Preset mapping (cadastral, dltb, supply); default: detected"),
    encoding: str | None = Query(None, max_length=32, description="Text encoding (default: detected)"),
    crs: str | None = Query(None, max_length=64, description="CRS when the file has none, e.g. EPSG:4549"),
    region: str | None = Query(None, pattern=r"^\d{6}(\d{3}(\d{3})?)?$", description="行政区划代码"),
    layer: str | None = Query(None, max_length=128, description="Layer of a GeoPackage or FileGDB"),
    overlap: float | None = Query(None, ge=0, le=1, description="Refuse overlaps above this share (0.05)"),
    sheet: str | None = Query(None, max_length=64, description="Sheet of a workbook"),
    year: int | None = Query(None, ge=1990, le=2100, description="Year of the figures"),
    source: str | None = Query(None, max_length=64, description="Source label of the figures (税务局 ...)"),
    dry_run: bool = Query(False, description="Validate and report only"),
    accept_partial: bool = Query(False, description="Load the valid rows, report the rest"),
) -> JSONResponse:
    limit = settings.upload_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"文件超过大小上限 {limit} 字节 (upload too large)")
    name = upload.safe_filename(filename, kind)
    options: dict[str, Any] = {
        "mapping": mapping,
        "encoding": encoding,
        "crs": crs,
        "region": region,
        "layer": layer,
        "overlap": overlap,
        "sheet": sheet,
        "year": year,
        "source": source,
        "dry_run": dry_run or None,
        "accept_partial": accept_partial or None,
    }
    options = jobs.check_options(kind, {k: v for k, v in options.items() if v is not None})
    workdir = await run_in_threadpool(upload.make_workdir, settings)
    try:
        path = workdir / name
        size = await _receive(request, path, limit)
        job_id = await run_in_threadpool(
            jobs.create_job,
            conn,
            jobs.JobRequest(
                kind=kind,
                file_name=name,
                size_bytes=size,
                options=options,
                scope=_scope(request),
                actor=user.actor,
                client_addr=request.client.host if request.client else None,
                request_id=getattr(request.state, "request_id", None),
            ),
        )
        row = await run_in_threadpool(jobs.get_job, conn, job_id, _scope(request))
    except BaseException:
        upload.remove_workdir(workdir)
        raise
    # The runner waits for this request's transaction to commit before it claims the job.
    request.app.state.load_runner.submit(job_id, workdir, path)
    job = _job(row)
    return JSONResponse(job.model_dump(mode="json"), status_code=202, headers={"Location": job.links.self})


async def _receive(request: Request, path: Path, limit: int) -> int:
    """Stream the body into ``path``; 413 beyond ``limit`` bytes."""
    size = 0
    pending: list[bytes] = []
    pending_size = 0
    handle = await run_in_threadpool(path.open, "xb")
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"文件超过大小上限 {limit} 字节 (upload too large)")
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= 1 << 20:
                await run_in_threadpool(handle.write, b"".join(pending))
                pending, pending_size = [], 0
        if pending:
            await run_in_threadpool(handle.write, b"".join(pending))
    finally:
        await run_in_threadpool(handle.close)
    if size == 0:
        raise HTTPException(400, "上传的文件为空 (empty upload: send the file as the request body)")
    return size


@router.get("/{job_id}", response_model=Job, summary="A load job's status, progress and findings")
def status(job_id: uuid.UUID, request: Request, conn: ConnDep, user: UserDep) -> Job:
    return _job(jobs.get_job(conn, job_id, _scope(request)))


@router.get(
    "/{job_id}/report.csv",
    summary="Every rejected, repaired or flagged row (file, row, field, reason) as CSV",
    response_class=Response,
)
def report_csv(job_id: uuid.UUID, request: Request, conn: ConnDep, user: UserDep) -> Response:
    report = jobs.job_report(conn, job_id, _scope(request))
    body = "\ufeff" + report.csv_text()  # BOM: Excel shows the Chinese
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _attachment(f"加载报告-{report.file}.csv")},
    )


@router.get("/{job_id}/report.html", summary="The load report as a readable page", response_class=HTMLResponse)
def report_html(job_id: uuid.UUID, request: Request, conn: ConnDep, user: UserDep) -> HTMLResponse:
    report = jobs.job_report(conn, job_id, _scope(request))
    return HTMLResponse(report.html_text())


def _attachment(name: str) -> str:
    return f"attachment; filename=\"report.csv\"; filename*=UTF-8''{quote(name)}"
