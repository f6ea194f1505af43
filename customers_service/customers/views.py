"""Thin DRF views: scope through the selectors, write through the services."""

from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from customers_service.customers import selectors, services
from customers_service.customers.models import Customer, Reservation
from customers_service.customers.serializers import (
    ORDER_ID_PATTERN,
    CustomerSerializer,
    ReservationFilterSerializer,
    ReservationSerializer,
)
from shared_auth.permissions import (
    ActorIn,
    HasScope,
    IsMachineClient,
    IsOwnerOrStaff,
    ReadOnly,
)

READ, WRITE = "customers:read", "customers:write"
RESERVATIONS_WRITE = "reservations:write"
# Querysets are scoped to the caller already; the object check is the second lock.
# A machine token acts for no user: it owns nothing and its scopes bound it.
OWNER = IsOwnerOrStaff | IsMachineClient
PERMISSIONS = [IsAuthenticated & HasScope & OWNER]


class CustomerViewSet(viewsets.ModelViewSet):
    """Customers of the caller (staff, machine tokens: everyone's), with their
    available credit."""

    serializer_class = CustomerSerializer
    permission_classes = PERMISSIONS
    required_scopes = {
        "list": READ,
        "retrieve": READ,
        "metadata": READ,
        "create": WRITE,
        "update": WRITE,
        "partial_update": WRITE,
        "destroy": WRITE,
    }
    queryset = Customer.objects.none()  # for the schema; see get_queryset()
    lookup_value_regex = "[0-9]{1,18}"
    # Documented error answers beyond the usual ones (common.schema).
    error_statuses = {"update": [409], "partial_update": [409], "destroy": [409]}

    def get_queryset(self):
        return selectors.customer_list(user=self.request.user)

    def _reloaded(self, customer: Customer) -> Customer:
        return self.get_queryset().get(pk=customer.pk)

    def perform_create(self, serializer: CustomerSerializer) -> None:
        customer = services.customer_create(
            owner=self.request.user, **serializer.validated_data
        )
        serializer.instance = self._reloaded(customer)

    def perform_update(self, serializer: CustomerSerializer) -> None:
        customer = services.customer_update(
            customer=serializer.instance, **serializer.validated_data
        )
        serializer.instance = self._reloaded(customer)

    def perform_destroy(self, instance: Customer) -> None:
        services.customer_delete(customer=instance)


@extend_schema_view(list=extend_schema(parameters=[ReservationFilterSerializer]))
class ReservationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Credit reservations of one customer the caller may see, keyed by order id.

    Users read them; only one of ``settings.RESERVATION_ACTORS`` writes them
    (scope ``reservations:write``), acting for the user (a token it exchanged)
    or for no user (its own machine token: the orders reconciler). A user's
    own token cannot reserve or release credit behind its orders' back.
    """

    serializer_class = ReservationSerializer
    permission_classes = [
        IsAuthenticated
        & HasScope
        & (ReadOnly | ActorIn(setting="RESERVATION_ACTORS"))
        & OWNER
    ]
    required_scopes = {
        "list": READ,
        "retrieve": READ,
        "metadata": READ,
        "create": RESERVATIONS_WRITE,
        "destroy": RESERVATIONS_WRITE,
    }
    queryset = Reservation.objects.none()  # for the schema; see get_queryset()
    lookup_field = "order_id"
    lookup_value_regex = ORDER_ID_PATTERN
    error_statuses = {"create": [409]}

    @cached_property
    def customer(self) -> Customer:
        """Return the customer in the path, 404 unless the caller may see it."""
        customer = get_object_or_404(
            selectors.customer_list(user=self.request.user),
            pk=self.kwargs["customer_pk"],
        )
        self.check_object_permissions(self.request, customer)
        return customer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Reservation.objects.none()
        filters = {}
        if self.action == "list":
            query = ReservationFilterSerializer(self.request.query_params)
            query.is_valid(raise_exception=True)
            filters = query.validated_data
        return selectors.reservation_list(customer=self.customer, **filters)

    @extend_schema(
        responses={201: ReservationSerializer, 200: ReservationSerializer},
        description="201 with a new reservation, 200 with the existing one for "
        "the same order, 409 when the credit is short or the order was released.",
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reservation, created = services.reservation_create(
            customer=self.customer,
            reserved_by=request.user,
            **serializer.validated_data,
        )
        return Response(
            self.get_serializer(reservation).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.reservation_release(
            customer=self.customer, order_id=self.kwargs["order_id"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
