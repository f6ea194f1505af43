"""One OpenAPI document for the whole API, as the gateway exposes it.

Each service's own document (``<upstream>/api/schema/``) is fetched, kept in the
cache and refetched after ``GATEWAY_PORTAL["SCHEMA_TTL"]`` seconds; when a fetch
fails the last good document is served (stale) and the fetch is retried after
``RETRY_INTERVAL`` seconds. Its paths are kept only where the gateway routes
them to that service (``settings.GATEWAY_PROXY``), and are merged with the
gateway's own ``/auth/`` endpoints under one set of security schemes: a bearer
access token (a login's) and OAuth 2.0 client credentials (machine clients).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import time
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed

from gateway_project.proxy.upstreams import Upstream, proxy_config
from shared_auth.context import request_id_var
from shared_auth.middleware import REQUEST_ID_HEADER

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "SCHEMA_TTL": 60.0,
    "RETRY_INTERVAL": 10.0,
    "FETCH_TIMEOUT": (2.0, 5.0),
    "MAX_SCHEMA_SIZE": 5 * 1024 * 1024,
}
SCHEMA_PATH = "/api/schema/"
# Gateway endpoints that are not for API clients (the services' revocation feed).
PRIVATE_PATHS = ("/auth/revocations/",)
# Deeper documents are refused (merging walks them recursively).
MAX_DEPTH = 100
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CACHE_PREFIX = "portal:schema:"
BEARER = "bearerAuth"
OAUTH2 = "oauth2"

Document = dict[str, Any]


class FetchFailed(Exception):
    """A service's document could not be fetched or is not an OpenAPI document."""


def _now() -> float:
    return time.time()


def options() -> dict[str, Any]:
    """Return ``settings.GATEWAY_PORTAL`` over the defaults."""
    return {**DEFAULTS, **getattr(settings, "GATEWAY_PORTAL", {})}


def _depth(node: Any) -> int:
    """Return how deep ``node`` nests (iteratively: any depth is safe)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
    return deepest


def fetch(upstream: Upstream) -> Document:
    """Return ``upstream``'s OpenAPI document; raise ``FetchFailed`` if unusable."""
    limit = options()["MAX_SCHEMA_SIZE"]
    url = f"{upstream.name.rstrip('/')}{SCHEMA_PATH}"
    try:
        with requests.get(
            url,
            params={"format": "json"},
            headers={
                "Accept": "application/vnd.oai.openapi+json, application/json",
                REQUEST_ID_HEADER: request_id_var.get(),
            },
            timeout=options()["FETCH_TIMEOUT"],
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.status_code != 200:
                raise FetchFailed(f"{url} answered {response.status_code}")
            body = response.raw.read(limit + 1, decode_content=True)
    except requests.RequestException as exc:
        raise FetchFailed(f"{url}: {exc.__class__.__name__}") from exc
    if len(body) > limit:
        raise FetchFailed(f"{url}: larger than {limit} bytes")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise FetchFailed(f"{url}: not JSON") from exc
    if _depth(document) > MAX_DEPTH:
        raise FetchFailed(f"{url}: nested deeper than {MAX_DEPTH} levels")
    if not (
        isinstance(document, dict)
        and isinstance(document.get("openapi"), str)
        and isinstance(document.get("paths"), dict)
    ):
        raise FetchFailed(f"{url}: not an OpenAPI 3 document")
    return document


def service_document(upstream: Upstream) -> tuple[Document | None, str]:
    """Return ``(document, state)`` for ``upstream``: fresh, stale or unavailable.

    A fresh cached document is used as is; an older one is refetched, and
    served stale if that fails.
    """
    key = f"{CACHE_PREFIX}{upstream.prefix}"
    entry = cache.get(key)
    now = _now()
    if entry and now < entry["expires"]:
        return entry["document"], entry["state"]
    try:
        document = fetch(upstream)
    except FetchFailed as exc:
        logger.warning("portal: %s; serving the last good document if any", exc)
        retry = now + options()["RETRY_INTERVAL"]
        document = entry["document"] if entry else None
        state = "stale" if document is not None else "unavailable"
        cache.set(key, {"document": document, "expires": retry, "state": state}, None)
        return document, state
    expires = now + options()["SCHEMA_TTL"]
    cache.set(key, {"document": document, "expires": expires, "state": "fresh"}, None)
    return document, "fresh"


def public_auth_endpoints(endpoints: list[tuple], **kwargs: Any) -> list[tuple]:
    """Return the ``/auth/`` endpoints API clients use (a drf-spectacular hook)."""
    return [
        endpoint
        for endpoint in endpoints
        if endpoint[0].startswith("/auth/")
        and not endpoint[0].startswith(PRIVATE_PATHS)
    ]


@functools.cache
def gateway_document() -> Document:
    """Return the gateway's own API (``/auth/``), generated once per process."""
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    document["paths"] = dict(
        public_auth_endpoints(list(document.get("paths", {}).items()))
    )
    return document


def _clear(*, setting: str, **kwargs: Any) -> None:
    if setting in ("GATEWAY_PROXY", "GATEWAY_PORTAL", "SERVICE_URLS", "JWT_ISSUER"):
        gateway_document.cache_clear()


setting_changed.connect(_clear)


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    """Return ``node`` with ``#/components/<section>/<name>`` refs renamed."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in renames:
            node = {**node, "$ref": renames[ref]}
        return {key: _rename_refs(value, renames) for key, value in node.items()}
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


def _security_schemes() -> dict[str, Any]:
    # The gateway's scopes (OAUTH_SCOPES) if it lists them, else each service's.
    scopes = getattr(settings, "OAUTH_SCOPES", None) or [
        f"{name}:{action}"
        for name in getattr(settings, "SERVICE_URLS", {})
        for action in ("read", "write")
    ]
    return {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token: a login's (POST /auth/token/ "
            '{"username", "password"} answers {"access", "refresh"}) or a client\'s.',
        },
        OAUTH2: {
            "type": "oauth2",
            "description": "Machine clients: OAuth 2.0 client credentials.",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": f"{settings.JWT_ISSUER}/auth/oauth/token/",
                    "scopes": {scope: scope for scope in scopes},
                }
            },
        },
    }


def _with_gateway_security(item: dict[str, Any]) -> dict[str, Any]:
    """Return ``item`` with an OAuth 2.0 alternative to each bearer requirement.

    ``{"bearerAuth": [scopes]}`` gains ``{"oauth2": [scopes]}`` beside it (a
    client's token works as well as a login's); anything else is kept as is.
    """
    item = dict(item)
    for method in HTTP_METHODS:
        operation = item.get(method)
        if not isinstance(operation, dict) or not isinstance(
            operation.get("security"), list
        ):
            continue
        security: list[Any] = []
        for entry in operation["security"]:
            alternatives = [entry]
            if isinstance(entry, dict) and BEARER in entry:
                alternatives.append({OAUTH2: entry[BEARER]})
            security.extend(a for a in alternatives if a not in security)
        item[method] = {**operation, "security": security}
    return item


def _version(document: Document) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(document.get("openapi")).split("."))
    except ValueError:
        return (3, 0, 3)


def merge(
    gateway: Document, services: list[tuple[Upstream, Document]]
) -> tuple[Document, dict[str, str]]:
    """Return the merged document and ``{component: new name}`` of renamed ones.

    A service path is kept as the gateway path that routes to it (the
    upstream's base path taken off). Components of the same name and content are
    shared; a clash of different ones is renamed ``<Service><Name>``.
    """
    config = proxy_config()
    # The newest OpenAPI version among them (3.0 documents read as 3.1 ones).
    newest = max([gateway, *(document for _, document in services)], key=_version)
    merged: Document = {
        "openapi": newest.get("openapi", "3.0.3"),
        "info": {},
        "paths": {
            path: _with_gateway_security(item)
            for path, item in gateway.get("paths", {}).items()
        },
        "components": copy.deepcopy(gateway.get("components", {})),
        "tags": [],
    }
    components = merged["components"]
    renamed: dict[str, str] = {}
    for upstream, document in services:
        prefix = upstream.prefix.strip("/").split("/")[-1].capitalize()
        renames: dict[str, str] = {}
        for section, entries in document.get("components", {}).items():
            if not isinstance(entries, dict):
                continue
            existing = components.setdefault(section, {})
            for name, value in entries.items():
                if section == "securitySchemes":  # the gateway's win (below)
                    existing.setdefault(name, value)
                elif name in existing and existing[name] != value:
                    new = f"{prefix}{name}"
                    renames[f"#/components/{section}/{name}"] = (
                        f"#/components/{section}/{new}"
                    )
                    renamed[f"{section}/{name}"] = new
        document = _rename_refs(document, renames)
        for section, entries in document.get("components", {}).items():
            if section == "securitySchemes" or not isinstance(entries, dict):
                continue
            existing = components.setdefault(section, {})
            for name, value in entries.items():
                ref = f"#/components/{section}/{name}"
                existing[renames.get(ref, ref).rsplit("/", 1)[-1]] = value
        for path, item in document.get("paths", {}).items():
            if not path.startswith(upstream.base_path + "/"):
                continue
            public = path[len(upstream.base_path) :]
            if config.route(public) is not upstream or not isinstance(item, dict):
                continue
            merged["paths"][public] = _with_gateway_security(item)
        merged["tags"].extend(
            tag for tag in document.get("tags", []) if tag not in merged["tags"]
        )
    components["securitySchemes"] = {
        **components.get("securitySchemes", {}),
        **_security_schemes(),
    }
    if not merged["tags"]:
        del merged["tags"]
    return merged, renamed


def portal_document() -> Document:
    """Return the merged OpenAPI document of the gateway and every routed service."""
    services: list[tuple[Upstream, Document]] = []
    states: list[str] = []
    for upstream in proxy_config().upstreams:
        document, state = service_document(upstream)
        title = (document or {}).get("info", {}).get("title", upstream.prefix)
        states.append(f"- `{upstream.prefix}`: {title} ({state})")
        if document is not None:
            services.append((upstream, document))
    merged, _ = merge(gateway_document(), services)
    merged["info"] = {
        "title": "API",
        "version": "1.0.0",
        "description": (
            "Every service, as the gateway exposes it. Authorize with a login's "
            "access token (`POST /auth/token/`) or as a machine client; every "
            "call goes through the gateway.\n\n" + "\n".join(states)
        ),
    }
    return merged
