"""schemathesis against our OpenAPI document: generated requests to every operation, on the demo
county as an administrator (everything rolled back), must never get a 5xx, an undocumented
status, a wrong content type or a body that contradicts the schema.

The number of examples per operation is bounded (``MAX_EXAMPLES``) to keep the suite fast, and the
app, its signed-in client and the loaded schema are built once per module (one transaction, rolled
back at the end) rather than once per operation, which used to cost seconds each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import BaseSchema
from sqlalchemy import Engine

from landgis.settings import Settings
from tests.conftest import api_client

MAX_EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _labels() -> list[str]:
    """The operations, listed from the app's OpenAPI document (no database needed to build it)."""
    from api.main import create_app

    loaded = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
    return [result.ok().label for result in loaded.get_all_operations()]


@pytest.fixture(scope="module")
def fuzz_client(demo_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An administrator's client on the demo county, for the whole module, inside one transaction
    that is rolled back at the end (each request runs in a savepoint of it)."""
    app_settings = Settings(
        database_url=demo_engine.url.render_as_string(hide_password=False),
        home=tmp_path_factory.mktemp("fuzz-home"),
    )
    with demo_engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield from api_client(app_settings, demo_engine, conn, username="fuzz-admin")
        finally:
            transaction.rollback()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_client: TestClient) -> BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_client.app)


@pytest.mark.parametrize("label", _labels())
def test_openapi_operation(label: str, fuzz_client: TestClient, fuzz_schema: BaseSchema) -> None:
    operation = fuzz_schema.find_operation_by_label(label)
    assert operation is not None
    headers = {"Authorization": fuzz_client.headers["Authorization"]}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
