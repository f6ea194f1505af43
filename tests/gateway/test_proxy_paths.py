"""Path safety of the proxy: what is refused, what goes through unchanged."""

import pytest
from django.test import RequestFactory

from gateway_project.proxy.paths import UnsafePath, checked_path, raw_target


@pytest.mark.parametrize(
    ("target", "raw", "decoded"),
    [
        ("/api/orders/", "/api/orders/", "/api/orders/"),
        ("/api/orders/1/?page=2&q=a/../b", "/api/orders/1/", "/api/orders/1/"),
        ("/api/orders/caf%C3%A9", "/api/orders/caf%C3%A9", "/api/orders/café"),
        ("/api/orders/%6Brders", "/api/orders/%6Brders", "/api/orders/krders"),
        ("/api/orders/a.b/...x/.well", "/api/orders/a.b/...x/.well", None),
        ("/api/orders/@127.0.0.2:9/", "/api/orders/@127.0.0.2:9/", None),
        ("/api/orders@127.0.0.2:9/", "/api/orders@127.0.0.2:9/", None),
    ],
)
def test_plain_paths_pass_and_keep_their_raw_form(target, raw, decoded):
    assert checked_path(target) == (raw, decoded or raw)


@pytest.mark.parametrize(
    "target",
    [
        "",
        "*",
        "api/orders/",
        "//127.0.0.2:9/x",
        "//api/orders/",
        "http://127.0.0.2:9/api/orders/",
        "127.0.0.2:9",
        "/api/orders/../admin/",
        "/api/orders/..",
        "/api/orders/.",
        "/api/orders/./x",
        "/api/orders/%2e%2e/admin/",
        "/api/orders/%2E%2E",
        "/api/orders/.%2e/",
        "/api/orders/..;/admin/",
        "/api/orders/%2fadmin",
        "/api/orders/%2Fadmin",
        "/api/orders/%5cadmin",
        "/api/orders/..\\admin",
        "/api/orders/%00",
        "/api/orders/%0d%0aX-Injected:%201",
        "/api/orders/%7f",
        "/api/orders/%252e%252e/",
        "/api/orders/%25",
        "/api/orders/%",
        "/api/orders/%g0",
        "/api/orders/%ff%fe",
        "/api/orders//x",
        "/api/orders/ x",
        "/api/orders/#frag",
        "/api/orders/é",
    ],
)
def test_unsafe_targets_are_refused(target):
    with pytest.raises(UnsafePath):
        checked_path(target)


def test_raw_target_prefers_what_the_server_received():
    factory = RequestFactory()
    assert raw_target(factory.get("/a/b", RAW_URI="/a%2fb")) == "/a%2fb"
    assert raw_target(factory.get("/a/b", REQUEST_URI="/a/./b")) == "/a/./b"
    # Without either, the decoded path escaped again: what will be forwarded.
    assert raw_target(factory.get("/api/caf%C3%A9 x")) == "/api/caf%C3%A9%20x"
