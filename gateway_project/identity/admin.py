"""Admin: users with a "revoke all refresh tokens" action.

Groups (the roles in tokens) keep Django's admin; outstanding and blacklisted
tokens keep simplejwt's (registered by its token_blacklist app).
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from gateway_project.identity.services import refresh_tokens_revoke

User = get_user_model()


class GatewayUserAdmin(UserAdmin):
    """Django's user admin, plus revoking the selected users' refresh tokens."""

    actions = ["revoke_refresh_tokens"]

    @admin.action(
        description="Revoke all refresh tokens of the selected users",
        permissions=["change"],
    )
    def revoke_refresh_tokens(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = refresh_tokens_revoke(users=queryset)
        self.message_user(
            request, f"Revoked {count} refresh token(s).", level=messages.SUCCESS
        )


admin.site.unregister(User)
admin.site.register(User, GatewayUserAdmin)
