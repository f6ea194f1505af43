"""Views used by shared_auth's tests only."""

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.urls import handler400, handler403, handler404, handler500  # noqa: F401
from common.urls import urlpatterns as common_urlpatterns
from shared_auth.context import username_var
from shared_auth.permissions import ActorIn, HasScope, ReadOnly
from shared_auth.session import ServiceSession


class WhoAmI(APIView):
    """Return the principal the token stands for."""

    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {
                "id": user.id,
                "username": user.username,
                "roles": sorted(user.roles),
                "is_staff": user.is_staff,
                "jti": request.auth["jti"],
                "log_username": username_var.get(),
            }
        )


class CallOther(APIView):
    """Call the service named in ``?url=`` through a ServiceSession; relay its view."""

    def get(self, request: Request) -> Response:
        session = ServiceSession(request.query_params["url"], "echo")
        answer = session.get("/echo/")
        return Response(answer.json(), status=answer.status_code)


class Ok(APIView):
    def get(self, request: Request) -> Response:
        return Response({"ok": True})

    post = put = delete = get


class ReadScope(Ok):
    """One scope for every method."""

    permission_classes = [IsAuthenticated & HasScope("orders:read")]


class PerMethodScopes(Ok):
    """Scopes per HTTP method, read by a bare ``HasScope``; PUT names none."""

    permission_classes = [IsAuthenticated & HasScope]
    required_scopes = {"GET": "orders:read", "POST": ("orders:write", "orders:read")}


class Reservations(Ok):
    """Reads for users, writes only for a token delegated to an allowed actor."""

    permission_classes = [
        IsAuthenticated & HasScope & (ReadOnly | ActorIn(setting="RESERVATION_ACTORS"))
    ]
    required_scopes = {"GET": "customers:read", "POST": "reservations:write"}


urlpatterns = [
    path("scoped/", ReadScope.as_view()),
    path("per-method/", PerMethodScopes.as_view()),
    path("reservations/", Reservations.as_view()),
    *common_urlpatterns,
    path("whoami/", WhoAmI.as_view()),
    path("call-other/", CallOther.as_view()),
]
