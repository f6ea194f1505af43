"""Routes of the customers API, its schema and its docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from customers_service.customers.views import CustomerViewSet, ReservationViewSet

router = DefaultRouter()
router.register("customers", CustomerViewSet, basename="customer")
router.register(
    r"customers/(?P<customer_pk>[0-9]{1,18})/reservations",
    ReservationViewSet,
    basename="reservation",
)

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script (CSP).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema"),
        name="docs",
    ),
    path("api/", include(router.urls)),
]
