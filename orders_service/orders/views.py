"""Thin DRF views: scope through the selectors, write through the services."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from orders_service.orders import selectors, services
from orders_service.orders.models import Order
from orders_service.orders.serializers import (
    IdempotencyKeyHeader,
    OrderFilterSerializer,
    OrderSerializer,
)
from shared_auth.permissions import HasScope, IsMachineClient, IsOwnerOrStaff, ReadOnly

IDEMPOTENCY_KEY = OpenApiParameter(
    IdempotencyKeyHeader.name,
    str,
    OpenApiParameter.HEADER,
    description="Repeating a create with the same key returns the first result "
    "(422 if the body differs, 409 while the first is in progress).",
    pattern=r"^[\x21-\x7e]{1,255}$",
)


@extend_schema_view(
    list=extend_schema(parameters=[OrderFilterSerializer]),
    create=extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        description="Reserves the credit at the customers service with a token "
        "exchanged for the caller's: 201 APPROVED, or 201 REJECTED when the "
        "credit is short.",
    ),
)
class OrderViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Orders of the caller (staff: everyone's); creating one reserves credit.

    A machine client's token acts for no user: it reads every order (with
    ``orders:read``) and owns none.
    """

    serializer_class = OrderSerializer
    permission_classes = [
        IsAuthenticated & HasScope & (IsOwnerOrStaff | (IsMachineClient & ReadOnly))
    ]
    required_scopes = {
        "list": "orders:read",
        "retrieve": "orders:read",
        "metadata": "orders:read",
        "create": "orders:write",
        "cancel": "orders:write",
    }
    queryset = Order.objects.none()  # for the schema; see get_queryset()
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    # Documented error answers beyond the usual ones (common.schema).
    error_statuses = {"create": [404, 409, 422, 502], "cancel": [409, 502]}

    def get_queryset(self):
        filters = {}
        if self.action == "list":
            query = OrderFilterSerializer(self.request.query_params)
            query.is_valid(raise_exception=True)
            filters = query.validated_data
        return selectors.order_list(user=self.request.user, **filters)

    def create(self, request: Request, *args, **kwargs) -> Response:
        key = request.headers.get(IdempotencyKeyHeader.name)
        header = IdempotencyKeyHeader(
            data={} if key is None else {IdempotencyKeyHeader.name: key}
        )
        header.is_valid(raise_exception=True)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.order_create(
            owner=request.user,
            idempotency_key=header.validated_data.get(IdempotencyKeyHeader.name),
            render=lambda order: self.get_serializer(order).data,
            **serializer.validated_data,
        )
        headers = {"Idempotent-Replayed": "true"} if created.replayed else {}
        return Response(
            created.response, status=status.HTTP_201_CREATED, headers=headers
        )

    @extend_schema(request=None, responses=OrderSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel an approved order and release its credit."""
        order = services.order_cancel(order=self.get_object())
        return Response(self.get_serializer(order).data)
