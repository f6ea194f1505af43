"""The stateless principal a verified access token stands for."""

from collections.abc import Mapping
from typing import Any

from django.utils.functional import cached_property
from rest_framework_simplejwt.models import TokenUser as SimpleJWTTokenUser

STAFF_ROLE = "staff"


class TokenUser(SimpleJWTTokenUser):
    """``request.user`` for a verified access token; never touches the database.

    Built on simplejwt's stateless ``TokenUser`` (no-op groups and
    permissions, ``save()`` refused, ``is_authenticated`` true), but reading
    the contract's claims directly instead of simplejwt's settings: ``id`` is
    ``sub`` as a string, ``roles`` the ``roles`` claim, ``is_staff`` true when
    ``staff`` is one of them. ``token`` holds the claims mapping.
    """

    def __init__(self, claims: Mapping[str, Any]) -> None:
        super().__init__(claims)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.username or self.id

    def __repr__(self) -> str:
        return f"<TokenUser sub={self.id!r} username={self.username!r}>"

    @cached_property
    def id(self) -> str:
        """Return the token's ``sub`` as a string."""
        return str(self.token["sub"])

    @cached_property
    def username(self) -> str:
        """Return the ``username`` claim, or ``""``."""
        return str(self.token.get("username") or "")

    @cached_property
    def roles(self) -> frozenset[str]:
        """Return the ``roles`` claim as a frozenset of strings."""
        roles = self.token.get("roles") or ()
        if isinstance(roles, str) or not isinstance(roles, list | tuple):
            return frozenset()
        return frozenset(role for role in roles if isinstance(role, str))

    @cached_property
    def is_staff(self) -> bool:
        """Return True if the token carries the ``staff`` role."""
        return STAFF_ROLE in self.roles

    @cached_property
    def is_superuser(self) -> bool:
        """Return False: superuser rights never travel in a token."""
        return False

    def has_role(self, role: str) -> bool:
        """Return True if the token carries ``role``."""
        return role in self.roles

    def __getattr__(self, attr: str) -> Any:
        # simplejwt falls back to any claim for unknown attributes; that makes
        # every misspelt attribute silently None. Refuse instead.
        raise AttributeError(attr)
