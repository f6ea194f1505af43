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

    A token without ``username`` is a machine client's: it acts for no user
    (``is_machine``). ``scopes`` is the ``scope`` claim split on spaces,
    ``client_id`` the client the token was issued to, and ``actor`` the
    ``act.sub`` of a delegated token (RFC 8693 section 4.1).
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

    @cached_property
    def is_machine(self) -> bool:
        """Return True for a machine client's token (no ``username`` claim)."""
        return not self.username

    @cached_property
    def scopes(self) -> frozenset[str]:
        """Return the ``scope`` claim as a frozenset (RFC 8693 section 4.2)."""
        scope = self.token.get("scope")
        return frozenset(scope.split()) if isinstance(scope, str) else frozenset()

    @cached_property
    def client_id(self) -> str:
        """Return the ``client_id`` claim (the client it was issued to), or ``""``."""
        client_id = self.token.get("client_id")
        return client_id if isinstance(client_id, str) else ""

    @cached_property
    def actor(self) -> str:
        """Return ``act.sub`` (the service acting for the subject), or ``""``.

        Only the current actor counts for authorization; the nested ``act``
        chain is history (RFC 8693 section 4.1).
        """
        act = self.token.get("act")
        sub = act.get("sub") if isinstance(act, dict) else None
        return sub if isinstance(sub, str) else ""

    def has_scope(self, scope: str) -> bool:
        """Return True if the token was granted ``scope``."""
        return scope in self.scopes

    def has_role(self, role: str) -> bool:
        """Return True if the token carries ``role``."""
        return role in self.roles

    def __getattr__(self, attr: str) -> Any:
        # simplejwt falls back to any claim for unknown attributes; that makes
        # every misspelt attribute silently None. Refuse instead.
        raise AttributeError(attr)
