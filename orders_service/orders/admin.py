"""Django admin for orders and their idempotency keys."""

from django.contrib import admin

from orders_service.orders.models import IdempotencyKey, Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders with owner, customer, total and state."""

    list_display = ["id", "owner_username", "customer_id", "total", "state"]
    list_filter = ["state"]
    search_fields = ["id", "owner_username", "owner_sub"]
    readonly_fields = ["id", "created_at", "updated_at"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    """The Idempotency-Key values seen, per owner, with the order each created."""

    list_display = ["key", "owner_sub", "order", "created_at"]
    search_fields = ["key", "owner_sub"]
    readonly_fields = ["owner_sub", "key", "fingerprint", "order", "response"]
