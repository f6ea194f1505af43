"""The grants of ``POST /auth/oauth/token/``, for an authenticated client.

``client_credentials`` (RFC 6749 section 4.4): a token for the client itself.
Token exchange (RFC 8693 section 2): a token for the subject token's user,
acting through the client, for one audience. Each returns the RFC 6749 section
5.1 response body or raises ``OAuthError``.
"""

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from gateway_project.oauth import tokens
from gateway_project.oauth.errors import OAuthError, invalid_request
from gateway_project.oauth.models import Client
from gateway_project.oauth.tokens import InvalidToken, access_token_sign

CLIENT_CREDENTIALS = "client_credentials"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
# Copied from the subject token into an exchanged one: who the user is.
SUBJECT_CLAIMS = ("sub", "username", "roles", "staff")


def requested_scopes(form: Mapping[str, str], allowed: list[str]) -> list[str]:
    """Return the ``scope`` asked for, or ``allowed`` without one.

    Raise ``invalid_scope`` if it holds a scope outside ``allowed``.
    """
    asked = form.get("scope", "").split()
    if not asked:
        return allowed
    if not set(asked) <= set(allowed):
        raise OAuthError(
            "invalid_scope", "The requested scope exceeds what this client may get."
        )
    return list(dict.fromkeys(asked))


def subject_scopes(subject: Mapping[str, Any]) -> set[str]:
    """Return the scopes the subject token holds, and those they imply
    (``OAUTH_IMPLIED_SCOPES``)."""
    held = set(str(subject.get("scope") or "").split())
    implied = {
        scope
        for scope, implied_by in settings.OAUTH_IMPLIED_SCOPES.items()
        if held.intersection(implied_by)
    }
    return held | implied


def token_response(token: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return the RFC 6749 section 5.1 body for a new access token."""
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": max(0, payload["exp"] - int(payload["iat"])),
        "scope": payload["scope"],
    }


def client_credentials(client: Client, form: Mapping[str, str]) -> dict[str, Any]:
    """Issue ``client`` a token for itself: ``sub`` = ``client_id``, no user.

    ``scope`` narrows the client's scopes (default: all of them); ``audience``
    picks one of its audiences (default: all of them), else ``invalid_target``.
    """
    scopes = requested_scopes(form, client.scope_list)
    audiences = client.audience_list
    if form.get("audience"):
        if form["audience"] not in audiences:
            raise OAuthError(
                "invalid_target", "This client may not get tokens for that audience."
            )
        audiences = [form["audience"]]
    if not audiences:
        raise OAuthError("invalid_target", "This client has no audience.")
    token, payload = access_token_sign(
        {
            "aud": audiences,
            "sub": client.client_id,
            "client_id": client.client_id,
            "scope": " ".join(scopes),
        }
    )
    return token_response(token, payload)


def token_exchange(client: Client, form: Mapping[str, str]) -> dict[str, Any]:
    """Exchange the subject token for one meant for ``audience``, acting as ``client``.

    The subject token is verified like a bearer token at the edge. The new
    token keeps the subject's user claims, has ``aud`` = [``audience``],
    ``scope`` within both the client's ``exchange_scopes`` and the subject's
    scopes (``subject_scopes``; default: their intersection), ``exp`` no later
    than the subject's, and ``act`` = ``{"sub": client_id}`` with the
    subject's own ``act`` nested inside.

    Refusals: ``unauthorized_client`` (the client may not exchange),
    ``invalid_request`` (missing or unsupported parameters), ``invalid_target``,
    ``invalid_grant`` (the subject token is invalid, expired, revoked, a refresh
    token, or a token of the client itself), ``invalid_scope``.
    """
    if not client.may_exchange:
        raise OAuthError("unauthorized_client", "This client may not exchange tokens.")
    subject_token = form.get("subject_token")
    if not subject_token:
        raise invalid_request("subject_token is required.")
    if form.get("subject_token_type") != ACCESS_TOKEN_TYPE:
        raise invalid_request(f"subject_token_type must be {ACCESS_TOKEN_TYPE}.")
    if form.get("requested_token_type", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
        raise invalid_request(f"requested_token_type must be {ACCESS_TOKEN_TYPE}.")
    if "actor_token" in form or "actor_token_type" in form:
        raise invalid_request("actor_token is not supported.")
    audience = form.get("audience")
    if not audience:
        raise invalid_request("audience is required.")
    if audience not in client.exchange_audience_list:
        raise OAuthError(
            "invalid_target", "This client may not exchange tokens for that audience."
        )
    try:
        subject = tokens.access_token_verify(subject_token)
    except InvalidToken as exc:
        raise OAuthError(
            "invalid_grant", f"The subject token is refused: {exc}"
        ) from exc
    if tokens.has_expired(subject):
        raise OAuthError("invalid_grant", "The subject token has expired.")
    if subject["sub"] == client.client_id:
        raise OAuthError("invalid_grant", "A client cannot exchange its own token.")
    held = subject_scopes(subject)
    allowed = [s for s in client.exchange_scope_list if s in held]
    scopes = requested_scopes(form, allowed)
    if not scopes:
        raise OAuthError(
            "invalid_scope", "The subject token has no scope this client may delegate."
        )
    act: dict[str, Any] = {"sub": client.client_id}
    if isinstance(subject.get("act"), Mapping):
        act["act"] = dict(subject["act"])
    claims = {name: subject[name] for name in SUBJECT_CLAIMS if name in subject}
    token, payload = access_token_sign(
        {
            **claims,
            "aud": [audience],
            "client_id": client.client_id,
            "scope": " ".join(scopes),
            "act": act,
        },
        not_after=subject["exp"],
    )
    return {**token_response(token, payload), "issued_token_type": ACCESS_TOKEN_TYPE}
