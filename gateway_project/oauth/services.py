"""Writes of the client registry: create, new secret, deactivate, provision."""

import logging
import secrets

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from gateway_project.identity.services import subject_tokens_revoke
from gateway_project.oauth.models import Client

logger = logging.getLogger(__name__)

SECRET_BYTES = 32
# What the orders service may ask for customers, for a user or for no user.
ORDERS_CLIENT_SCOPES = ["customers:read", "reservations:write"]


def new_secret() -> str:
    """Return a new random client secret (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def client_secret_set(*, client: Client, secret: str | None = None) -> str:
    """Give ``client`` the secret ``secret`` (default: a new one); return it.

    Only its hash is stored: the caller shows the secret once.
    """
    secret = secret or new_secret()
    client.secret_hash = make_password(secret)
    client.secret_changed_at = timezone.now()
    client.save(update_fields=["secret_hash", "secret_changed_at"])
    logger.info("New secret for OAuth client %s", client.client_id)
    return secret


@transaction.atomic
def client_save(
    *,
    client_id: str,
    scopes: list[str],
    audiences: list[str] | None = None,
    name: str = "",
    may_exchange: bool = False,
    exchange_audiences: list[str] = (),  # type: ignore[assignment]
    exchange_scopes: list[str] = (),  # type: ignore[assignment]
    secret: str | None = None,
) -> tuple[Client, str]:
    """Create client ``client_id`` or update it (active again); return it and its
    new secret (``secret``, or a random one).

    ``audiences`` defaults to every audience (``JWT_AUDIENCE``). Raise
    ``ValidationError`` for a bad id, an unknown scope or audience.
    """
    client = Client.objects.select_for_update().filter(client_id=client_id).first()
    client = client or Client(client_id=client_id)
    client.name = name or client.name or client_id
    client.scopes = " ".join(scopes)
    audiences = settings.JWT_AUDIENCE if audiences is None else audiences
    client.audiences = " ".join(audiences)
    client.may_exchange = may_exchange
    client.exchange_audiences = " ".join(exchange_audiences)
    client.exchange_scopes = " ".join(exchange_scopes)
    client.is_active = True
    client.secret_hash = client.secret_hash or "!"  # unusable until set below
    client.full_clean(validate_unique=client._state.adding)
    client.save()
    return client, client_secret_set(client=client, secret=secret)


def client_deactivate(*, client: Client) -> None:
    """Refuse ``client`` from now on, and every token issued to it as a subject.

    Its client_credentials tokens (``sub`` = its id) are revoked like a
    deactivated user's; tokens it got by exchange carry the user's ``sub`` and
    expire within ``ACCESS_TOKEN_LIFETIME``.
    """
    with transaction.atomic():
        Client.objects.filter(pk=client.pk).update(is_active=False)
        client.is_active = False
        subject_tokens_revoke(sub=client.client_id)
    logger.info("Deactivated OAuth client %s", client.client_id)


def service_clients_provision() -> list[Client]:
    """Create or update the stack's own clients from the settings (idempotent).

    The orders service (``ORDERS_CLIENT_ID``/``ORDERS_CLIENT_SECRET``) may
    exchange a caller's token for one meant for ``customers`` with the scopes
    ``customers:read reservations:write``, and get a client_credentials token
    with those scopes for ``customers`` (acting for no user: its reconciler,
    ``reconcile_reservations``, lists every reservation and releases orphans).
    Raise ``ValueError`` if the secret is unset.
    """
    if not settings.ORDERS_CLIENT_SECRET:
        raise ValueError("ORDERS_CLIENT_SECRET is not set.")
    client, _ = client_save(
        client_id=settings.ORDERS_CLIENT_ID,
        name="orders service",
        scopes=ORDERS_CLIENT_SCOPES,
        audiences=["customers"],
        may_exchange=True,
        exchange_audiences=["customers"],
        exchange_scopes=ORDERS_CLIENT_SCOPES,
        secret=settings.ORDERS_CLIENT_SECRET,
    )
    return [client]
