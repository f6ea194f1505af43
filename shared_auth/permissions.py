"""DRF permissions reading the token's principal; combine with ``&``, ``|``, ``~``."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


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
