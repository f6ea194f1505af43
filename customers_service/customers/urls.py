"""Routes of the customers API, its schema and its docs."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from common.api_docs import api_docs_urlpatterns
from customers_service.customers.views import CustomerViewSet, ReservationViewSet

router = DefaultRouter()
router.register("customers", CustomerViewSet, basename="customer")
router.register(
    r"customers/(?P<customer_pk>[0-9]{1,18})/reservations",
    ReservationViewSet,
    basename="reservation",
)

urlpatterns = [*api_docs_urlpatterns(), path("api/", include(router.urls))]
