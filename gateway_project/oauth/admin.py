"""Admin of the client registry: list, search, edit, deactivate, new secret.

A secret is shown once, on a page of its own (``Cache-Control: no-store``),
when the client is added or given a new secret; only its hash is stored, and
it never goes into a message (messages may travel in a cookie).
"""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from gateway_project.identity.views import no_store
from gateway_project.oauth.models import Client
from gateway_project.oauth.services import (
    client_deactivate,
    client_secret_set,
    new_secret,
)

SECRET_TEMPLATE = "admin/oauth/client/new_secret.html"


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    """Clients; "deactivate" and "new secret" actions."""

    list_display = [
        "client_id",
        "name",
        "is_active",
        "scopes",
        "audiences",
        "may_exchange",
        "secret_changed_at",
    ]
    list_filter = ["is_active", "may_exchange"]
    search_fields = ["client_id", "name"]
    readonly_fields = ["created_at", "secret_changed_at"]
    actions = ["deactivate", "new_secret"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "client_id"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Client, form: Any, change: bool):
        deactivating = change and "is_active" in form.changed_data and not obj.is_active
        if not change:
            obj.secret_hash = "!"
        super().save_model(request, obj, form, change)
        if not change:
            request._oauth_new_secrets = [  # type: ignore[attr-defined]
                (obj.client_id, client_secret_set(client=obj, secret=new_secret()))
            ]
        if deactivating:
            client_deactivate(client=obj)

    def response_add(self, request: HttpRequest, obj: Client, *args: Any) -> Any:
        secrets = getattr(request, "_oauth_new_secrets", None)
        if secrets:
            return self._secrets_page(request, secrets)
        return super().response_add(request, obj, *args)

    @admin.action(description="Deactivate the selected clients", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        clients = list(queryset.filter(is_active=True))
        for client in clients:
            client_deactivate(client=client)
        self.message_user(request, f"Deactivated {len(clients)} client(s).")

    @admin.action(
        description="Give the selected clients a new secret (shown once)",
        permissions=["change"],
    )
    def new_secret(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        secrets = [
            (client.client_id, client_secret_set(client=client)) for client in queryset
        ]
        return self._secrets_page(request, secrets)

    def _secrets_page(
        self, request: HttpRequest, secrets: list[tuple[str, str]]
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "New client secrets",
            "secrets": secrets,
        }
        response = TemplateResponse(request, SECRET_TEMPLATE, context)
        return no_store(response.render())
