"""schemathesis against our OpenAPI document: generated requests to every operation, on the demo
county as an administrator (everything rolled back), must never get a 5xx, an undocumented
status, a wrong content type or a body that contradicts the schema.

The number of examples per operation is bounded (``MAX_EXAMPLES``) to keep the suite fast.
"""

from __future__ import annotations

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

MAX_EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _labels() -> list[str]:
    """The operations, listed from the app's OpenAPI document (no database needed to build it)."""
    from api.main import create_app
    from landgis.settings import Settings

    loaded = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
    return [result.ok().label for result in loaded.get_all_operations()]


@pytest.mark.parametrize("label", _labels())
def test_openapi_operation(label: str, demo_client: TestClient) -> None:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", demo_client.app)
    operation = loaded.find_operation_by_label(label)
    assert operation is not None
    headers = {"Authorization": demo_client.headers["Authorization"]}

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
