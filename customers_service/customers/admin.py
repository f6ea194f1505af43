"""Django admin for customers and their reservations."""

from django.contrib import admin

from customers_service.customers.models import Customer, Reservation


class ReservationInline(admin.TabularInline):
    """The reservations of a customer, read-only (the API makes them)."""

    model = Reservation
    extra = 0
    can_delete = False
    readonly_fields = [
        "order_id",
        "amount",
        "username",
        "sub",
        "actor",
        "created_at",
    ]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Customers with owner and credit limit."""

    list_display = ["id", "name", "owner_username", "credit_limit", "created_at"]
    search_fields = ["name", "owner_username", "owner_sub"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ReservationInline]


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    """Credit reservations, keyed by customer and order id."""

    list_display = ["id", "customer", "order_id", "amount", "username", "actor"]
    search_fields = ["order_id", "username", "sub"]
    list_select_related = ["customer"]
    readonly_fields = ["created_at"]
