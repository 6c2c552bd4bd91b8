"""The service answers /health with the database and PostGIS versions, and serves its docs offline."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_health_reports_versions(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["postgresql"].startswith("15.")
    assert body["postgis"].startswith("3.")
    assert body["schema_current"] is True
    assert response.headers["x-request-id"]


def test_openapi_and_docs_use_only_local_assets(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/health" in spec["paths"]
    page = client.get("/docs").text
    assert "/vendor/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn." not in page and "https://" not in page.replace("https://swagger.io", "")
    assert client.get("/vendor/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200


def test_unknown_path_is_problem_json(client: TestClient) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["request_id"] == response.headers["x-request-id"]
