"""Reads of the client registry."""

from django.contrib.auth.hashers import check_password, make_password

from gateway_project.oauth.models import Client


def client_authenticate(*, client_id: str, secret: str) -> Client | None:
    """Return the active client ``client_id`` if ``secret`` is its secret, else None.

    The secret is checked by Django's password hashers (constant-time
    comparison); an unknown or inactive client costs one hashing too, so that
    the answer's timing tells nothing about which client ids exist.
    """
    client = Client.objects.filter(client_id=client_id, is_active=True).first()
    if client is None:
        make_password(secret)
        return None
    return client if check_password(secret, client.secret_hash) else None
