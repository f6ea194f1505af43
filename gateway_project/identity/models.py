"""Subject revocations: every token of a subject issued at or before a moment.

simplejwt's ``token_blacklist`` refuses single refresh tokens; this refuses all
of a subject's tokens, access tokens included, without knowing them. One row
per subject, holding the latest moment; read by the gateway on each request and
published to the services by ``GET /auth/revocations/``.
"""

from django.db import models


class SubjectRevocation(models.Model):
    """Tokens whose ``sub`` is ``sub`` and ``iat`` <= ``not_before`` are refused."""

    sub = models.CharField(max_length=255, primary_key=True)
    not_before = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "subject revocation"
        ordering = ["-not_before"]

    def __str__(self) -> str:
        return f"sub {self.sub}: tokens issued up to {self.not_before.isoformat()}"


class TokenRevocation(models.Model):
    """One access token revoked by its ``jti`` (RFC 7009), kept until its ``exp``.

    Refused by the gateway from the next request and published to the services
    in the revocation feed's ``tokens``; a row whose ``exp`` passed is useless
    and deleted by later revocations.
    """

    jti = models.CharField(max_length=255, primary_key=True)
    exp = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(db_index=True)
    client_id = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = "revoked access token"
        ordering = ["-revoked_at"]

    def __str__(self) -> str:
        return f"jti {self.jti}: revoked {self.revoked_at.isoformat()}"
