"""Routes of the orders API, its schema and its docs."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from common.api_docs import api_docs_urlpatterns
from orders_service.orders.views import OrderViewSet

router = DefaultRouter()
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [*api_docs_urlpatterns(), path("api/", include(router.urls))]
