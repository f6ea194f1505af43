"""Liveness and readiness of the service, and errors outside the API."""

import pytest

from tests.support.service_health import *  # noqa: F403


@pytest.mark.django_db
def test_body_over_the_upload_limit_is_json_413(as_alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"name": "%s", "credit_limit": "10.00"}' % ("x" * 2000)
    response = as_alice.post(
        "/api/customers/", data=body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "Request body too large."
