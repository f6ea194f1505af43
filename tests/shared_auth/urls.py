"""Views used by shared_auth's tests only."""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.urls import handler400, handler403, handler404, handler500  # noqa: F401
from common.urls import urlpatterns as common_urlpatterns
from shared_auth.context import username_var
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


urlpatterns = [
    *common_urlpatterns,
    path("whoami/", WhoAmI.as_view()),
    path("call-other/", CallOther.as_view()),
]
