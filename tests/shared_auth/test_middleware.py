"""Request-id middleware and the logging filter."""

import logging

from shared_auth.context import request_id_var
from shared_auth.log_filters import RequestIdFilter
from shared_auth.middleware import sane_request_id


def test_sane_request_id_kept():
    assert sane_request_id("A.b_c-1") == "A.b_c-1"


def test_insane_request_id_replaced():
    for bad in (None, "", "x" * 129, "a b", "a/b", "a\nb"):
        assert sane_request_id(bad) not in (None, "", bad)


def test_a_new_request_id_is_32_random_hex_digits():
    made = {sane_request_id(None) for _ in range(100)}
    assert len(made) == 100
    assert all(len(rid) == 32 and int(rid, 16) >= 0 for rid in made)


def test_log_filter_adds_request_id_and_username():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", (), None)
    token = request_id_var.set("rid-1")
    try:
        assert RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    assert record.request_id == "rid-1"
    assert record.username == "-"


def test_log_filter_takes_the_request_id_from_a_django_request_record():
    """django.request logs 4xx/5xx after the middleware has reset the contextvar."""
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "m", (), None
    )
    record.request = type("Request", (), {"request_id": "rid-from-request"})()
    assert RequestIdFilter().filter(record)
    assert record.request_id == "rid-from-request"
