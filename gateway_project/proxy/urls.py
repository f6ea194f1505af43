"""Everything under /api/ goes to the proxy view (unknown prefixes are its 404)."""

from django.urls import re_path

from gateway_project.proxy import views

urlpatterns = [re_path(r"^api/", views.proxy, name="proxy")]
