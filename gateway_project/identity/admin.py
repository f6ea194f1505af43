"""Admin: users with a "revoke all tokens" action; revocations, read-only.

Groups (the roles in tokens) keep Django's admin; outstanding and blacklisted
tokens keep simplejwt's (registered by its token_blacklist app). Deactivating,
deleting or re-passwording a user here revokes their tokens too
(``identity.signals``).
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from gateway_project.identity.models import SubjectRevocation, TokenRevocation
from gateway_project.identity.services import (
    refresh_tokens_revoke,
    subject_tokens_revoke,
)

User = get_user_model()


class GatewayUserAdmin(UserAdmin):
    """Django's user admin, plus revoking every token of the selected users."""

    actions = ["revoke_all_tokens"]

    @admin.action(
        description="Revoke all tokens (access and refresh) of the selected users",
        permissions=["change"],
    )
    def revoke_all_tokens(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            users = list(queryset)
            blacklisted = refresh_tokens_revoke(users=users)
            for user in users:
                subject_tokens_revoke(user=user)
        self.message_user(
            request,
            f"Revoked every token of {len(users)} user(s) "
            f"({blacklisted} refresh token(s) blacklisted).",
            level=messages.SUCCESS,
        )


@admin.register(SubjectRevocation)
class SubjectRevocationAdmin(admin.ModelAdmin):
    """Who was revoked and since when; written only by the revoking actions.

    Read-only: deleting a row would silently give back tokens that were revoked.
    """

    list_display = ["sub", "not_before"]
    search_fields = ["sub"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(TokenRevocation)
class TokenRevocationAdmin(SubjectRevocationAdmin):
    """Access tokens revoked one by one (RFC 7009), until they expire; read-only."""

    list_display = ["jti", "client_id", "revoked_at", "exp"]
    search_fields = ["jti", "client_id"]


admin.site.unregister(User)
admin.site.register(User, GatewayUserAdmin)
