"""``/evaluations``: 亩均效益综合评价 policies and runs, per-enterprise results with their
explanation, run comparison, and the latest class of a firm or a parcel."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ConnDep, PlannerDep
from api.download import EXPORT_RESPONSES, export_response
from landgis.errors import InvalidInput
from landgis.evaluation import results
from landgis.evaluation.policy import load_policy, parse_policy, read_policy_text, shipped_policy_ids
from landgis.evaluation.runs import delete_run, get_run, list_runs, run_evaluation
from landgis.export import FORMATS, export_evaluation

router = APIRouter(prefix="/evaluations", tags=["亩均评价 evaluations"])

Format = Literal["xlsx", "gpkg", "shp", "geojson"]


class RunRequest(BaseModel):
    """A run: a shipped policy by id, or a policy document; the year; optionally a region."""

    model_config = ConfigDict(extra="forbid")

    policy: str | None = Field(default=None, description="shipped policy id, e.g. huangyan-2022")
    policy_document: dict[str, Any] | None = Field(default=None, description="a full policy (as in the YAML files)")
    year: int = Field(ge=1990, le=2100)
    region_code: str | None = None
    force: bool = False


@router.get("/policies", summary="Shipped evaluation policies")
def policies() -> list[dict[str, Any]]:
    out = []
    for policy_id in shipped_policy_ids():
        p = load_policy(policy_id)
        out.append(
            {
                "id": p.id,
                "name": p.name,
                "version": p.version,
                "jurisdiction": p.jurisdiction,
                "benchmark_year": p.benchmark_year,
                "class_method": p.classes.method,
                "segments": [{"id": s.id, "name": s.name} for s in p.segments],
                "sha256": p.sha256,
            }
        )
    return out


@router.get("/policies/{policy_id}", summary="One shipped policy, in full")
def policy(policy_id: str) -> dict[str, Any]:
    if policy_id not in shipped_policy_ids():
        from landgis.errors import NotFound

        raise NotFound(f"没有评价办法 {policy_id} (known: {', '.join(shipped_policy_ids())})")
    return load_policy(policy_id).document()


@router.post("/policies/check", summary="Validate a policy (JSON object or YAML text); 400 names the field")
def check_policy(body: Annotated[dict[str, Any] | str, Body()]) -> dict[str, Any]:
    p = read_policy_text(body, "request") if isinstance(body, str) else parse_policy(body, "评价办法")
    return {"valid": True, "id": p.id, "name": p.name, "version": p.version, "sha256": p.sha256}


@router.post("", status_code=201, summary="Run an evaluation (or return the identical earlier run)")
def create_run(
    body: RunRequest, conn: ConnDep, request: Request, response: Response, planner: PlannerDep
) -> dict[str, Any]:
    if (body.policy is None) == (body.policy_document is None):
        raise InvalidInput("须指定 policy 或 policy_document 之一 (a shipped policy id or a policy document)")
    p = load_policy(body.policy) if body.policy else parse_policy(body.policy_document, "policy_document")
    actor = getattr(request.state, "actor", None) or "anonymous"
    run = run_evaluation(conn, p, body.year, region_code=body.region_code, actor=actor, force=body.force)
    if run.reused:
        response.status_code = 200
    return run.as_dict()


@router.get("", summary="Evaluation runs in your scope, newest first")
def runs(
    conn: ConnDep, year: int | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    return [r.as_dict() for r in list_runs(conn, year, limit)]


@router.get("/latest/enterprises/{enterprise_id}", summary="A firm's class in the latest run of a year")
def latest_enterprise(enterprise_id: int, conn: ConnDep, year: int | None = None) -> dict[str, Any]:
    return results.latest_enterprise_class(conn, enterprise_id, year)


@router.get("/latest/parcels/{parcel_id}", summary="A parcel's 亩均 and class, with every firm on it")
def latest_parcel(parcel_id: int, conn: ConnDep, year: int | None = None) -> dict[str, Any]:
    return results.parcel_evaluation(conn, parcel_id, year)


@router.get("/{run_id}", summary="A run: policy, inputs checksum, counts per segment and class, benchmarks")
def run(run_id: int, conn: ConnDep) -> dict[str, Any]:
    return get_run(conn, run_id).as_dict()


@router.delete("/{run_id}", status_code=204, summary="Delete a run and its results")
def remove_run(run_id: int, conn: ConnDep, planner: PlannerDep) -> Response:
    delete_run(conn, run_id)
    return Response(status_code=204)


@router.get("/{run_id}/enterprises", summary="A page of a run's results")
def enterprises(
    run_id: int,
    conn: ConnDep,
    segment: str | None = None,
    klass: Annotated[str | None, Query(alias="class")] = None,
    status: Literal["rated", "exempt", "vetoed", "merged"] | None = None,
    order: Literal["rank", "score"] = "rank",
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return results.enterprise_results(
        conn, run_id, segment=segment, klass=klass, status=status, order=order, limit=limit, offset=offset
    )


@router.get("/{run_id}/enterprises/{enterprise_id}", summary="One firm's indicators, scores, rank and class")
def enterprise(run_id: int, enterprise_id: int, conn: ConnDep) -> dict[str, Any]:
    return results.enterprise_result(conn, run_id, enterprise_id)


@router.get("/{run_id}/enterprises/{enterprise_id}/explain", summary="Line-by-line explanation of a firm's result")
def explain(run_id: int, enterprise_id: int, conn: ConnDep) -> dict[str, Any]:
    return results.explain(conn, run_id, enterprise_id).as_dict()


@router.get("/{run_id}/compare/{other_id}", summary="Class transitions between two runs (year on year)")
def compare(
    run_id: int, other_id: int, conn: ConnDep, limit: Annotated[int, Query(ge=0, le=5000)] = 200
) -> dict[str, Any]:
    return results.compare_runs(conn, run_id, other_id, limit=limit)


@router.get("/{run_id}/export", summary=f"Export a run ({', '.join(FORMATS)})", responses=EXPORT_RESPONSES)
def export(run_id: int, conn: ConnDep, format: Format = "xlsx") -> Response:
    run_info = get_run(conn, run_id)
    stem = f"亩均评价_{run_info.year}_{run_info.policy_id}_批次{run_id}"
    return export_response(stem, format, lambda path: export_evaluation(conn, run_id, format, path))
