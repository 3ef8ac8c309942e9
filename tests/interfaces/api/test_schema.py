"""Schemathesis against the OpenAPI document, in-process over ASGI: no 5xx, every response
matches its documented status, content type and schema. Bounded examples so it stays fast."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api_helpers import auth

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.slow
@pytest.mark.parametrize("who", ["rights_clearance", "producer"])
def test_api_conforms_to_its_schema(production, who):
    from soundstage.interfaces.api.app import create_app

    app = create_app(production["ws"].settings.root, max_upload_bytes=1024 * 1024)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = auth(production, who)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except Exception as exc:  # name the operation that failed
            raise AssertionError(f"{operation.method.upper()} {operation.path}: {exc}") from exc
