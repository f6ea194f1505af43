"""HasScope and ActorIn: alone, combined, and as RFC 6750 answers through a view."""

from types import SimpleNamespace

import pytest
from rest_framework.permissions import IsAuthenticated

from shared_auth.permissions import (
    ActorIn,
    HasScope,
    IsMachineClient,
    ReadOnly,
    operation_scopes,
    view_scopes,
)
from shared_auth.user import TokenUser


def request_for(scope: str = "", method: str = "GET", **claims) -> SimpleNamespace:
    user = TokenUser({"sub": "42", "username": "alice", "scope": scope, **claims})
    return SimpleNamespace(user=user, method=method)


VIEW = SimpleNamespace()


# -- the permission classes ------------------------------------------------------
def test_has_scope_requires_every_named_scope():
    both = HasScope("orders:read", "orders:write")
    assert both.has_permission(request_for("orders:write orders:read"), VIEW)
    assert not both.has_permission(request_for("orders:read"), VIEW)
    assert HasScope("a")().has_permission(request_for("a"), VIEW)  # DRF calls it


@pytest.mark.parametrize(
    "scope", ["", "orders:reads", "orders", "ORDERS:READ", "xorders:read"]
)
def test_has_scope_matches_whole_scope_tokens_only(scope):
    assert not HasScope("orders:read").has_permission(request_for(scope), VIEW)


@pytest.mark.parametrize("scope", [None, 7, ["orders:read"], {"orders:read": 1}])
def test_a_scope_claim_that_is_not_a_string_grants_nothing(scope):
    request = request_for(scope=scope)
    assert not HasScope("orders:read").has_permission(request, VIEW)


def test_has_scope_combines_with_operators():
    either = (HasScope("a") | HasScope("b"))()
    assert either.has_permission(request_for("b"), VIEW)
    assert not either.has_permission(request_for("c"), VIEW)
    both = (IsAuthenticated & HasScope("a"))()
    assert both.has_permission(request_for("a"), VIEW)
    assert not both.has_permission(request_for("b"), VIEW)
    assert (HasScope("a") & IsAuthenticated)().has_permission(request_for("a"), VIEW)
    assert (~HasScope("a"))().has_permission(request_for("b"), VIEW)


def test_bare_has_scope_reads_the_view_by_action_then_method():
    view = SimpleNamespace(
        action="cancel", required_scopes={"cancel": "w", "GET": "r", "list": "r"}
    )
    assert HasScope().has_permission(request_for("w", "POST"), view)
    assert not HasScope().has_permission(request_for("r", "POST"), view)
    by_method = SimpleNamespace(required_scopes={"GET": "r"})
    assert HasScope().has_permission(request_for("r", "HEAD"), by_method)
    assert HasScope().has_permission(request_for("r", "OPTIONS"), by_method)


def test_an_operation_without_declared_scopes_is_refused(caplog):
    handlers = {"get": print, "delete": print}
    view = SimpleNamespace(required_scopes={"GET": "r"}, **handlers)
    assert not HasScope().has_permission(request_for("r w", "DELETE"), view)
    assert not HasScope().has_permission(request_for("r"), SimpleNamespace(get=print))
    assert "declares no scope" in caplog.text
    # A method the view does not handle at all is left to DRF's 405.
    assert HasScope().has_permission(request_for("", "PUT"), view)


def test_actor_in_allows_only_the_named_current_actor(settings):
    settings.RESERVATION_ACTORS = ["orders"]
    check = ActorIn(setting="RESERVATION_ACTORS")
    delegated = request_for(act={"sub": "orders"})
    assert check.has_permission(delegated, VIEW)
    assert ActorIn("orders", "billing").has_permission(delegated, VIEW)
    assert not check.has_permission(request_for(), VIEW)  # the user's own token
    assert not check.has_permission(request_for(act={"sub": "billing"}), VIEW)
    # Only the current actor counts, not one nested in the chain's history.
    nested = request_for(act={"sub": "billing", "act": {"sub": "orders"}})
    assert not check.has_permission(nested, VIEW)
    assert not check.has_permission(request_for(act="orders"), VIEW)
    assert not check.has_permission(request_for(act={"sub": ["orders"]}), VIEW)
    settings.RESERVATION_ACTORS = ["billing"]
    assert not check.has_permission(delegated, VIEW)  # read per request


def machine_request(client_id: str) -> SimpleNamespace:
    """Return a request holding a client_credentials token (no ``username``)."""
    token = {"sub": client_id, "client_id": client_id}
    return SimpleNamespace(user=TokenUser(token), method="POST")


def test_actor_in_allows_an_allowed_service_acting_for_no_user(settings):
    settings.RESERVATION_ACTORS = ["orders"]
    check = ActorIn(setting="RESERVATION_ACTORS")
    assert check.has_permission(machine_request("orders"), VIEW)
    assert ActorIn("billing", "orders").has_permission(machine_request("orders"), VIEW)
    # Any other client's own token is refused, and so is a user's own token
    # whatever its client_id says.
    assert not check.has_permission(machine_request("batch"), VIEW)
    assert not check.has_permission(request_for(client_id="orders"), VIEW)
    assert not check.has_permission(request_for(sub="orders", client_id="orders"), VIEW)
    settings.RESERVATION_ACTORS = ["billing"]
    assert not check.has_permission(machine_request("orders"), VIEW)


@pytest.mark.parametrize(
    "token",
    [
        # client_id and sub disagree: not the client's own token.
        {"sub": "batch", "client_id": "orders"},
        {"sub": "orders", "client_id": "batch"},
        {"sub": "orders"},  # no client_id at all
        {"sub": "orders", "client_id": ["orders"]},
        {"sub": "orders", "client_id": ""},
        # orders' token exchanged on by another client: the actor counts.
        {"sub": "orders", "client_id": "orders", "act": {"sub": "batch"}},
    ],
)
def test_actor_in_refuses_machine_tokens_not_of_an_allowed_client(token):
    request = SimpleNamespace(user=TokenUser(token), method="POST")
    assert not ActorIn("orders").has_permission(request, VIEW)


def test_actor_in_needs_actors_or_a_setting():
    with pytest.raises(ValueError):
        ActorIn()
    with pytest.raises(ValueError):
        ActorIn("orders", setting="X")


def test_machine_client_and_read_only():
    machine = SimpleNamespace(user=TokenUser({"sub": "job", "scope": "orders:read"}))
    assert IsMachineClient().has_permission(machine, VIEW)
    assert not IsMachineClient().has_permission(request_for(), VIEW)
    assert ReadOnly().has_permission(request_for(method="HEAD"), VIEW)
    assert not ReadOnly().has_permission(request_for(method="POST"), VIEW)


def test_view_and_operation_scopes_for_the_schema():
    class View:
        action = "list"
        required_scopes = {"list": "orders:read", "create": "orders:write"}

        def get_permissions(self):
            return [
                (IsAuthenticated & HasScope)(),
                (ReadOnly | HasScope("extra"))(),
                (~HasScope("never"))(),
            ]

    assert view_scopes(View(), "GET") == ("orders:read",)
    assert operation_scopes(View(), "GET") == ["orders:read", "extra"]


# -- through a view: the RFC 6750 answer -------------------------------------------
def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def assert_insufficient_scope(response, scope: str) -> None:
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "insufficient_scope"
    assert body["detail"]
    assert response["WWW-Authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{scope}"'
    )


def test_missing_scope_is_403_insufficient_scope(api, jwks_server, make_token):
    ok = make_token(scope="orders:read")
    assert api.get("/scoped/", **bearer(ok)).status_code == 200
    response = api.get("/scoped/", **bearer(make_token(scope="customers:read")))
    assert_insufficient_scope(response, "orders:read")
    assert "orders:read" in response.json()["detail"]
    no_scope = make_token(scope=None)
    assert_insufficient_scope(api.get("/scoped/", **bearer(no_scope)), "orders:read")


def test_no_token_is_still_401_not_403(api, jwks_server):
    response = api.get("/scoped/")
    assert response.status_code == 401
    assert "insufficient_scope" not in response.get("WWW-Authenticate", "")


def test_per_method_scopes(api, jwks_server, make_token):
    reader = bearer(make_token(scope="orders:read"))
    writer = bearer(make_token(scope="orders:read orders:write"))
    assert api.get("/per-method/", **reader).status_code == 200
    assert_insufficient_scope(
        api.post("/per-method/", **reader), "orders:write orders:read"
    )
    assert api.post("/per-method/", **writer).status_code == 200
    # PUT names no scope: refused whatever the token holds (fail closed).
    assert api.put("/per-method/", **writer).status_code == 403


def test_reservation_writes_need_the_scope_and_an_allowed_actor(
    api, jwks_server, make_token
):
    login_scope = "orders:read orders:write customers:read customers:write"
    user_token = bearer(make_token(scope=login_scope))
    assert api.get("/reservations/", **user_token).status_code == 200
    assert_insufficient_scope(
        api.post("/reservations/", **user_token), "reservations:write"
    )
    # The scope alone is not enough: a machine client or a user's token
    # holding it still has no actor.
    scoped_only = bearer(make_token(scope="reservations:write"))
    assert_insufficient_scope(
        api.post("/reservations/", **scoped_only), "reservations:write"
    )
    other_actor = bearer(make_token(scope="reservations:write", act={"sub": "billing"}))
    assert_insufficient_scope(
        api.post("/reservations/", **other_actor), "reservations:write"
    )
    delegated = bearer(
        make_token(
            scope="customers:read reservations:write",
            aud=["orders"],
            client_id="orders",
            act={"sub": "orders"},
        )
    )
    assert api.post("/reservations/", **delegated).status_code == 200


def test_reservation_writes_by_an_allowed_service_for_no_user(
    api, jwks_server, make_token
):
    def machine(client_id: str) -> dict[str, str]:
        token = make_token(
            sub=client_id,
            client_id=client_id,
            username=None,
            roles=None,
            scope="customers:read reservations:write",
        )
        return bearer(token)

    assert api.post("/reservations/", **machine("orders")).status_code == 200
    assert_insufficient_scope(
        api.post("/reservations/", **machine("batch")), "reservations:write"
    )
    # A user's own token with the scope and orders' client_id is still a user's.
    user_token = bearer(make_token(scope="reservations:write", client_id="orders"))
    assert_insufficient_scope(
        api.post("/reservations/", **user_token), "reservations:write"
    )
