"""URLs of the customers service."""

from django.urls import include, path

from common.urls import handler400, handler403, handler404, handler500  # noqa: F401
from common.urls import urlpatterns as common_urlpatterns

urlpatterns = [
    *common_urlpatterns,
    path("", include("customers_service.customers.urls")),
]
