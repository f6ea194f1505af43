"""DRF permissions reading the token's principal; combine with ``&``, ``|``, ``~``.

Scopes (RFC 6749 section 3.3, the ``scope`` claim of RFC 9068) are declared on
the view, next to its other permissions::

    permission_classes = [IsAuthenticated & HasScope("orders:read")]

or per action / HTTP method, read from the view by a bare ``HasScope``::

    permission_classes = [IsAuthenticated & HasScope]
    required_scopes = {"list": "orders:read", "create": "orders:write"}

A refusal for a missing scope (or a service not allowed, ``ActorIn``) is answered
403 ``{"detail", "code": "insufficient_scope"}`` with ``WWW-Authenticate:
Bearer error="insufficient_scope", scope="..."`` (RFC 6750 section 3.1) by
``apply_scope_challenge``, which the service's exception handler calls.
"""

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import (
    AND,
    NOT,
    OR,
    SAFE_METHODS,
    BasePermission,
    OperationHolderMixin,
)
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared_auth import metrics

logger = logging.getLogger(__name__)

# Request attribute where a scope refusal waits for ``apply_scope_challenge``.
_SCOPE_ATTR = "_shared_auth_insufficient_scope"
INSUFFICIENT_SCOPE = "insufficient_scope"


class IsOwnerOrStaff(BasePermission):
    """Allow an object to its owner and to staff.

    The owner is ``getattr(obj, view.owner_field)`` (default ``owner_sub``),
    compared as a string to ``request.user.id`` (the token's ``sub``).
    Object-level only: list views should filter their queryset themselves.
    """

    default_owner_field = "owner_sub"

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        """Return True if the caller is staff or owns ``obj``."""
        user = request.user
        if getattr(user, "is_staff", False):
            return True
        field = getattr(view, "owner_field", self.default_owner_field)
        owner = getattr(obj, field, None)
        user_id = getattr(user, "id", None)
        return owner is not None and user_id is not None and str(owner) == str(user_id)


class HasRole(BasePermission):
    """Allow callers whose token carries ``required_role``.

    Use ``HasRole.with_role("auditor")`` (or ``has_role("auditor")``) to get a
    class for ``permission_classes``; a bare ``HasRole`` (no role) refuses all.
    """

    required_role: str | None = None

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Return True if ``request.user`` has the required role."""
        has_role = getattr(request.user, "has_role", None)
        return bool(self.required_role and has_role and has_role(self.required_role))

    @classmethod
    def with_role(cls, role: str) -> type["HasRole"]:
        """Return a subclass of this permission requiring ``role``."""
        name = f"HasRole_{role}"
        return type(name, (cls,), {"required_role": role})


def has_role(role: str) -> type[HasRole]:
    """Return a permission class allowing callers with ``role``."""
    return HasRole.with_role(role)


class ReadOnly(BasePermission):
    """Allow safe methods only (``GET``, ``HEAD``, ``OPTIONS``)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Return True for a safe method."""
        return request.method in SAFE_METHODS


class IsMachineClient(BasePermission):
    """Allow a machine client's token (client credentials: no ``username``)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Return True if the token stands for a client, not a user."""
        return bool(getattr(request.user, "is_machine", False))


class _Configured(OperationHolderMixin, BasePermission):
    """A permission configured by its constructor, used as an instance.

    DRF calls each entry of ``permission_classes``; calling an instance returns
    it, so ``HasScope("a")`` stands where a class would, also inside ``&``,
    ``|`` and ``~``. Instances hold configuration only, never request state.
    """

    def __call__(self) -> "_Configured":
        return self


def _deny_scope(request: Request, scope: str, detail: str) -> bool:
    """Record why ``request`` lacks a scope (for the 403); return False."""
    setattr(request, _SCOPE_ATTR, (scope, detail))
    return False


class HasScope(_Configured):
    """Allow a token granted every one of ``scopes``.

    ``HasScope("orders:read")`` requires that scope; ``HasScope`` used bare
    (the class, or ``HasScope()``) reads the view's ``required_scopes``: a
    mapping from the action (viewsets) or HTTP method to one scope or a
    tuple of scopes. An operation the mapping does not name is refused (fail
    closed; a method the view has no handler for is left to DRF's 405);
    ``HEAD`` and ``OPTIONS`` fall back to ``GET``'s entry.
    """

    def __init__(self, *scopes: str) -> None:
        self.scopes = tuple(scopes)

    def __repr__(self) -> str:
        return f"HasScope({', '.join(map(repr, self.scopes))})"

    def required(self, request: Request | None, view: APIView) -> tuple[str, ...]:
        """Return the scopes this check requires for ``view`` (and the method)."""
        if self.scopes:
            return self.scopes
        method = getattr(request, "method", None)
        return view_scopes(view, method) or ()

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Return True if the token holds every required scope."""
        required = self.required(request, view)
        if not required and not hasattr(view, request.method.lower()):
            return True  # a method the view does not handle: DRF answers 405
        if not required:
            logger.error(
                "%s declares no scope for %s: refused",
                type(view).__name__,
                getattr(view, "action", None) or request.method,
            )
            return False
        granted = getattr(request.user, "scopes", frozenset())
        missing = [scope for scope in required if scope not in granted]
        if not missing:
            return True
        needed = " ".join(required)
        detail = _("The token lacks the scope this operation needs: {scope}.")
        return _deny_scope(request, needed, str(detail).format(scope=needed))


class ActorIn(_Configured):
    """Allow an allowed service: acting for a user, or acting for no user.

    ``ActorIn("orders")`` names the services; ``ActorIn(setting="NAME")``
    reads the list from ``settings.NAME`` on each request. Allowed are a
    delegated token whose current actor (``act.sub``, RFC 8693 section 4.1)
    is one of them, and a machine token of one of them (client credentials:
    no ``username``, no ``act``, ``client_id`` = ``sub`` = the service), as
    the orders service's reconciler holds. A user's own token (no ``act``) and
    a machine token of any other client are refused as ``insufficient_scope``:
    a user must come through an allowed service (token exchange).
    """

    def __init__(self, *actors: str, setting: str | None = None) -> None:
        if bool(actors) == bool(setting):
            raise ValueError("Give ActorIn either actors or setting, not both.")
        self.actors = tuple(actors)
        self.setting = setting

    def allowed(self) -> tuple[str, ...]:
        """Return the allowed actors."""
        if self.setting is None:
            return self.actors
        return tuple(getattr(settings, self.setting, ()))

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Return True if the token's actor, or its machine client, is allowed."""
        allowed = self.allowed()
        if _acting_service(request.user) in allowed:
            return True
        needed = " ".join(view_scopes(view, request.method) or ())
        detail = _("Only {actors} may do this (for a user, or for no user).")
        return _deny_scope(
            request, needed, str(detail).format(actors=", ".join(allowed))
        )


def _acting_service(user: Any) -> str | None:
    """Return the service a token stands for: its current actor if delegated,
    else the client of a machine token (``client_id`` = ``sub``), else None."""
    actor = getattr(user, "actor", "")
    if actor:
        return actor
    if not getattr(user, "is_machine", False):
        return None  # a user's own token
    client_id = getattr(user, "client_id", "")
    return client_id if client_id and client_id == getattr(user, "id", None) else None


def view_scopes(view: APIView, method: str | None) -> tuple[str, ...] | None:
    """Return the scopes ``view.required_scopes`` names for its action or method."""
    mapping: Mapping[str, str | Iterable[str]] = getattr(view, "required_scopes", {})
    for key in (getattr(view, "action", None), method, _fallback(method)):
        if key and key in mapping:
            value = mapping[key]
            return (value,) if isinstance(value, str) else tuple(value)
    return None


def _fallback(method: str | None) -> str | None:
    return "GET" if method in ("HEAD", "OPTIONS") else None


def _walk(permission: Any) -> Iterator[Any]:
    """Yield the permissions composed in ``permission`` (not under ``~``)."""
    if isinstance(permission, AND | OR):
        yield from _walk(permission.op1)
        yield from _walk(permission.op2)
    elif not isinstance(permission, NOT):
        yield permission


def operation_scopes(view: APIView, method: str) -> list[str]:
    """Return the scopes the ``HasScope`` checks of ``view`` require (OpenAPI)."""
    scopes: list[str] = []
    for permission in view.get_permissions():
        for check in _walk(permission):
            if isinstance(check, HasScope):
                found = check.scopes or view_scopes(view, method) or ()
                scopes += [scope for scope in found if scope not in scopes]
    return scopes


def apply_scope_challenge(response: Response, request: Request | None) -> None:
    """Make a 403 caused by a missing scope the RFC 6750 section 3.1 answer.

    Sets ``{"detail", "code": "insufficient_scope"}`` and ``WWW-Authenticate:
    Bearer error="insufficient_scope", scope="<needed>"``. Does nothing unless
    a scope check of this request refused it.
    """
    refusal = getattr(request, _SCOPE_ATTR, None)
    if refusal is None or response.status_code != 403:
        return
    scope, detail = refusal
    metrics.record_rejection("insufficient_scope")
    response.data = {"detail": detail, "code": INSUFFICIENT_SCOPE}
    challenge = f'Bearer error="{INSUFFICIENT_SCOPE}"'
    if scope:
        challenge += f', scope="{scope}"'
    response["WWW-Authenticate"] = challenge
