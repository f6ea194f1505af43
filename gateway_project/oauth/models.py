"""The registry of confidential OAuth clients (RFC 6749 section 2).

A client authenticates with its ``client_id`` and a secret stored with Django's
password hashers (``secret_hash``; the secret itself is shown once, when made).
What it may ask for is stored as space-separated lists, checked against the
gateway's settings when saved: scopes from ``OAUTH_SCOPES``, audiences from
``JWT_AUDIENCE``.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

# Letters first: a numeric id could be taken for a user's ``sub`` (a user id).
# Only unreserved characters, so that HTTP Basic needs no escaping of it.
CLIENT_ID_PATTERN = r"\A[A-Za-z][A-Za-z0-9._~-]{0,63}\Z"


def validate_scopes(value: str) -> None:
    """Raise ``ValidationError`` unless every scope of ``value`` is known."""
    unknown = sorted(set(value.split()) - set(settings.OAUTH_SCOPES))
    if unknown:
        raise ValidationError(
            "Unknown scope(s): %(unknown)s; known: %(known)s.",
            params={
                "unknown": " ".join(unknown),
                "known": " ".join(settings.OAUTH_SCOPES),
            },
        )


def validate_audiences(value: str) -> None:
    """Raise ``ValidationError`` unless every audience of ``value`` is known."""
    unknown = sorted(set(value.split()) - set(settings.JWT_AUDIENCE))
    if unknown:
        raise ValidationError(
            "Unknown audience(s): %(unknown)s; known: %(known)s.",
            params={
                "unknown": " ".join(unknown),
                "known": " ".join(settings.JWT_AUDIENCE),
            },
        )


def split(value: str) -> list[str]:
    """Return the items of a space-separated list, in order, without repeats."""
    return list(dict.fromkeys(value.split()))


class Client(models.Model):
    """A confidential client: a machine that gets tokens with its own secret.

    ``scopes``/``audiences`` bound its client_credentials tokens;
    ``may_exchange`` lets it exchange a caller's token (RFC 8693) for one of
    ``exchange_audiences`` with scopes within ``exchange_scopes``. An inactive
    client is refused at once.
    """

    client_id = models.CharField(
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(
                CLIENT_ID_PATTERN,
                "A letter, then up to 63 letters, digits or . _ ~ -",
            )
        ],
    )
    name = models.CharField(max_length=200, blank=True)
    secret_hash = models.CharField(max_length=256, editable=False)
    scopes = models.CharField(
        max_length=1000,
        blank=True,
        validators=[validate_scopes],
        help_text="Space-separated scopes of its client_credentials tokens.",
    )
    audiences = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_audiences],
        help_text="Space-separated audiences of its client_credentials tokens.",
    )
    may_exchange = models.BooleanField(
        default=False, help_text="May exchange a caller's token (RFC 8693)."
    )
    exchange_audiences = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_audiences],
        help_text="Space-separated audiences it may exchange tokens for.",
    )
    exchange_scopes = models.CharField(
        max_length=1000,
        blank=True,
        validators=[validate_scopes],
        help_text="Space-separated scopes it may delegate.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    secret_changed_at = models.DateTimeField(null=True, editable=False)

    class Meta:
        verbose_name = "OAuth client"
        ordering = ["client_id"]

    def __str__(self) -> str:
        return self.client_id

    @property
    def scope_list(self) -> list[str]:
        return split(self.scopes)

    @property
    def audience_list(self) -> list[str]:
        return split(self.audiences)

    @property
    def exchange_audience_list(self) -> list[str]:
        return split(self.exchange_audiences)

    @property
    def exchange_scope_list(self) -> list[str]:
        return split(self.exchange_scopes)
