"""The orders HTTP API against a real local stand-in for the customers service."""

import json
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from devstack.stack import free_port
from orders_service.orders import services
from orders_service.orders.exceptions import CustomersRefused
from orders_service.orders.models import IdempotencyKey, Order
from orders_service.orders.services import (
    ORDER_ID_NAMESPACE,
    PENDING_STALE_AFTER,
    _fingerprint,
)
from tests.orders.factories import make_idempotency_key, make_order
from tests.support.tokens import LOGIN_SCOPE, token_user

pytestmark = pytest.mark.django_db

ORDERS = "/api/orders/"


def create(client: APIClient, total: str = "10.00", customer_id: int = 1, **headers):
    return client.post(
        ORDERS, {"customer_id": customer_id, "total": total}, format="json", **headers
    )


def posted(stub) -> list[dict]:
    return [call for call in stub.calls if call["method"] == "POST"]


# -- create ----------------------------------------------------------------------------
def test_approved_order_reserves_with_a_token_exchanged_for_the_callers(
    as_alice, customers_stub
):
    response = create(as_alice, HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "APPROVED"
    assert (body["owner_sub"], body["owner_username"]) == ("1", "alice")
    assert body["total"] == "10.00"
    [exchange] = customers_stub.exchanges
    assert exchange == {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": "alice-token",
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "audience": "customers",
        "scope": "customers:read reservations:write",
    }
    [call] = customers_stub.calls
    assert call["path"] == "/api/customers/1/reservations/"
    assert call["headers"]["Authorization"] == "Bearer alice-token~orders"
    assert call["headers"]["X-Request-ID"] == "req-123"
    assert json.loads(call["body"]) == {"order_id": body["id"], "amount": "10.00"}
    assert Order.objects.get().state == Order.State.APPROVED


def test_short_credit_gives_a_rejected_order(as_alice, customers_stub):
    response = create(as_alice, total="100.01")
    assert response.status_code == 201
    assert response.json()["state"] == "REJECTED"
    assert customers_stub.reservations == {}


def test_owner_and_state_in_the_body_are_ignored(as_alice, customers_stub):
    response = as_alice.post(
        ORDERS,
        {
            "customer_id": 1,
            "total": "100.01",
            "state": "APPROVED",
            "owner_sub": "2",
            "owner_username": "bob",
        },
        format="json",
    )
    assert response.json()["state"] == "REJECTED"
    assert Order.objects.get().owner_sub == "1"


def test_another_users_customer_is_404_and_nothing_is_stored(as_bob, customers_stub):
    response = create(as_bob, customer_id=1)
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Customer not found.",
        "code": "customer_not_found",
    }
    assert not Order.objects.exists()
    assert customers_stub.reservations == {}


def test_staff_may_order_for_anyones_customer(as_staff, customers_stub):
    response = create(as_staff, customer_id=1)
    assert response.json()["state"] == "APPROVED"
    assert response.json()["owner_username"] == "admin"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"customer_id": 1, "total": "0"}, "total"),
        ({"customer_id": 1, "total": "-1"}, "total"),
        ({"customer_id": 1, "total": "1.005"}, "total"),
        ({"customer_id": 1, "total": "1000000000.01"}, "total"),
        ({"customer_id": 1, "total": "Infinity"}, "total"),
        ({"customer_id": 1}, "total"),
        ({"customer_id": "abc", "total": "1"}, "customer_id"),
        ({"customer_id": 0, "total": "1"}, "customer_id"),
        ({"customer_id": 2**64, "total": "1"}, "customer_id"),
    ],
)
def test_bad_input_is_400_naming_the_field(as_alice, customers_stub, payload, field):
    response = as_alice.post(ORDERS, payload, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{field}: ")
    assert field in response.json()["errors"]
    assert not Order.objects.exists()
    assert customers_stub.calls == []


def test_customers_unreachable_is_503_and_nothing_is_stored(as_alice, settings):
    settings.CUSTOMERS_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    response = create(as_alice)
    assert response.status_code == 503
    assert response.json() == {
        "detail": "The customers service is unavailable.",
        "code": "service_unavailable",
    }
    assert not Order.objects.exists()


def test_customers_server_error_is_503_and_nothing_is_stored(as_alice, customers_stub):
    customers_stub.mode = "error"
    assert create(as_alice).status_code == 503
    assert not Order.objects.exists()


@pytest.fixture
def short_read_timeout(settings):
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "SESSION_TIMEOUT": (2.0, 0.5)}


def test_timeout_after_reserving_releases_and_stores_nothing(
    as_alice, customers_stub, short_read_timeout
):
    customers_stub.mode = "hang"  # POST reserves, then never answers in time
    response = create(as_alice)
    assert response.status_code == 503
    assert not Order.objects.exists()
    assert customers_stub.reservations == {}
    assert [c["method"] for c in customers_stub.calls] == ["POST", "DELETE"]
    assert (
        customers_stub.calls[1]["headers"]["Authorization"]
        == "Bearer alice-token~orders"
    )


def test_retry_after_a_failed_release_reuses_the_reservation(
    as_alice, customers_stub, short_read_timeout
):
    customers_stub.mode = "hang_all"  # the release times out too
    key = {"HTTP_IDEMPOTENCY_KEY": "retry-1"}
    assert create(as_alice, **key).status_code == 503
    assert not Order.objects.exists()
    assert len(customers_stub.reservations) == 1  # left at customers
    customers_stub.mode = "normal"
    response = create(as_alice, **key)
    assert response.status_code == 201
    assert response.json()["state"] == "APPROVED"
    first, retry = (json.loads(c["body"]) for c in posted(customers_stub))
    assert first["order_id"] == retry["order_id"] == response.json()["id"]
    assert customers_stub.available(1) == Decimal("90.00")


def test_retry_after_a_released_timeout_reserves_under_a_new_id(
    as_alice, customers_stub, short_read_timeout
):
    customers_stub.mode = "hang"  # reserves, answers too late; the release lands
    key = {"HTTP_IDEMPOTENCY_KEY": "retry-2"}
    assert create(as_alice, **key).status_code == 503
    assert customers_stub.reservations == {}
    customers_stub.mode = "normal"
    response = create(as_alice, **key)
    assert response.status_code == 201
    assert response.json()["state"] == "APPROVED"
    first, refused, renewed = (json.loads(c["body"]) for c in posted(customers_stub))
    assert first["order_id"] == refused["order_id"] != renewed["order_id"]
    assert renewed["order_id"] == response.json()["id"] == str(Order.objects.get().pk)
    assert customers_stub.available(1) == Decimal("90.00")
    assert create(as_alice, **key).json() == response.json()  # replayed


# -- idempotency ---------------------------------------------------------------
def test_same_key_returns_the_first_result_without_a_second_reservation(
    as_alice, customers_stub
):
    key = {"HTTP_IDEMPOTENCY_KEY": "k-1"}
    first = create(as_alice, **key)
    assert first.status_code == 201
    as_alice.post(f"{ORDERS}{first.json()['id']}/cancel/")
    again = create(as_alice, **key)
    assert again.status_code == 201
    assert again.json() == first.json()  # the first answer, state APPROVED
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(posted(customers_stub)) == 1
    assert Order.objects.count() == 1


def test_rejected_result_is_replayed_too(as_alice, customers_stub):
    key = {"HTTP_IDEMPOTENCY_KEY": "k-2"}
    first = create(as_alice, total="500", **key)
    customers_stub.add_customer(1, "1", "1000.00")
    assert create(as_alice, total="500", **key).json() == first.json()
    assert first.json()["state"] == "REJECTED"


def test_same_key_with_another_body_is_422(as_alice, customers_stub):
    create(as_alice, total="10", HTTP_IDEMPOTENCY_KEY="k-3")
    response = create(as_alice, total="11", HTTP_IDEMPOTENCY_KEY="k-3")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_keys_are_per_user(as_alice, as_bob, customers_stub):
    create(as_alice, HTTP_IDEMPOTENCY_KEY="shared")
    response = create(as_bob, customer_id=2, HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 201
    assert response.json()["owner_username"] == "bob"
    assert IdempotencyKey.objects.count() == 2


def test_a_key_still_in_flight_is_409(as_alice, customers_stub):
    order = make_order(state=Order.State.PENDING)
    make_idempotency_key(
        order, key="busy", fingerprint=_fingerprint(customer_id=1, total=Decimal("10"))
    )
    response = create(as_alice, HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_use"
    assert customers_stub.calls == []


def test_a_bad_key_is_400(as_alice, customers_stub):
    response = create(as_alice, HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Idempotency-Key: ")
    assert not Order.objects.exists()


def test_failed_create_leaves_the_key_unused(as_alice, customers_stub):
    customers_stub.mode = "error"
    assert create(as_alice, HTTP_IDEMPOTENCY_KEY="k-4").status_code == 503
    assert not IdempotencyKey.objects.exists()
    customers_stub.mode = "normal"
    assert create(as_alice, HTTP_IDEMPOTENCY_KEY="k-4").json()["state"] == "APPROVED"


# -- read, scope, cancel --------------------------------------------------------
def test_list_is_scoped_filtered_and_capped(
    as_alice, as_bob, as_staff, django_assert_num_queries
):
    make_order()
    make_order(state=Order.State.REJECTED)
    make_order(owner_sub="2", owner_username="bob", customer_id=2)
    with django_assert_num_queries(2):
        assert as_alice.get(ORDERS).json()["count"] == 2
    assert as_staff.get(ORDERS).json()["count"] == 3
    assert as_alice.get(ORDERS, {"state": "REJECTED"}).json()["count"] == 1
    assert as_bob.get(ORDERS, {"customer_id": 1}).json()["count"] == 0
    assert as_alice.get(ORDERS, {"customer_id": "x"}).status_code == 400
    assert as_alice.get(ORDERS, {"state": "NOPE"}).status_code == 400
    Order.objects.bulk_create(
        Order(owner_sub="1", owner_username="alice", customer_id=1, total=1)
        for _ in range(120)
    )
    assert len(as_alice.get(ORDERS, {"page_size": 1000}).json()["results"]) == 100


def test_another_users_order_is_invisible_on_every_verb(as_bob, customers_stub):
    order = make_order()
    url = f"{ORDERS}{order.pk}/"
    assert as_bob.get(url).status_code == 404
    assert as_bob.post(f"{url}cancel/").status_code == 404
    for method in ("put", "patch", "delete"):
        assert getattr(as_bob, method)(url, {}, format="json").status_code == 405
    assert as_bob.get(f"{ORDERS}not-a-uuid/").status_code == 404
    order.refresh_from_db()
    assert order.state == Order.State.APPROVED
    assert customers_stub.calls == []


def test_cancel_releases_the_credit_once(as_alice, customers_stub):
    order_id = create(as_alice).json()["id"]
    assert customers_stub.available(1) == Decimal("90.00")
    response = as_alice.post(f"{ORDERS}{order_id}/cancel/")
    assert response.status_code == 200
    assert response.json()["state"] == "CANCELLED"
    assert customers_stub.available(1) == Decimal("100.00")
    again = as_alice.post(f"{ORDERS}{order_id}/cancel/")
    assert again.json()["state"] == "CANCELLED"
    assert [c["method"] for c in customers_stub.calls] == ["POST", "DELETE"]


def test_cancel_of_a_rejected_order_is_409(as_alice, customers_stub):
    order = make_order(state=Order.State.REJECTED)
    response = as_alice.post(f"{ORDERS}{order.pk}/cancel/")
    assert response.status_code == 409
    assert response.json()["detail"] == "A REJECTED order cannot be cancelled."


def test_cancel_while_customers_is_down_keeps_the_order(as_alice, settings):
    order = make_order()
    settings.CUSTOMERS_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    assert as_alice.post(f"{ORDERS}{order.pk}/cancel/").status_code == 503
    order.refresh_from_db()
    assert order.state == Order.State.APPROVED


def test_cancel_is_written_before_the_release(as_alice, customers_stub, monkeypatch):
    """A process killed between the two steps leaves a CANCELLED order still
    holding credit (the reconciler releases it), never an APPROVED order whose
    credit is gone."""
    order_id = create(as_alice).json()["id"]
    seen = []

    def killed(*, customer_id, order_id):
        seen.append(Order.objects.get(pk=order_id).state)
        raise SystemExit("killed")

    monkeypatch.setattr(services.customers, "credit_release", killed)
    with pytest.raises(SystemExit):
        as_alice.post(f"{ORDERS}{order_id}/cancel/")
    assert seen == ["CANCELLED"]
    assert Order.objects.get(pk=order_id).state == Order.State.CANCELLED
    assert customers_stub.available(1) == Decimal("90.00")


def test_cancel_whose_release_may_have_failed_stays_cancelled(as_alice, customers_stub):
    order_id = create(as_alice).json()["id"]
    customers_stub.mode = "error"  # a 500: the release may or may not be applied
    response = as_alice.post(f"{ORDERS}{order_id}/cancel/")
    assert response.status_code == 200
    assert response.json()["state"] == "CANCELLED"
    assert Order.objects.get(pk=order_id).state == Order.State.CANCELLED
    # Still held at customers: the reconciler's next pass releases it.
    assert customers_stub.available(1) == Decimal("90.00")


def test_cancel_refused_by_customers_puts_the_order_back(
    as_alice, customers_stub, monkeypatch
):
    order_id = create(as_alice).json()["id"]

    def refused(*, customer_id, order_id):
        raise CustomersRefused(status=401)

    monkeypatch.setattr(services.customers, "credit_release", refused)
    assert as_alice.post(f"{ORDERS}{order_id}/cancel/").status_code == 502
    assert Order.objects.get(pk=order_id).state == Order.State.APPROVED


def test_unauthenticated_is_401_json():
    response = APIClient().get(ORDERS)
    assert response.status_code == 401
    assert response.json()["detail"]


def test_schema_declares_bearer_auth_and_the_idempotency_header():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    create_op = schema["paths"]["/api/orders/"]["post"]
    assert create_op["security"] == [{"bearerAuth": ["orders:write"]}]
    assert schema["paths"]["/api/orders/"]["get"]["security"] == [
        {"bearerAuth": ["orders:read"]}
    ]
    cancel = schema["paths"]["/api/orders/{id}/cancel/"]["post"]
    assert cancel["security"] == [{"bearerAuth": ["orders:write"]}]
    assert schema["openapi"].startswith("3.1")
    assert "Idempotency-Key" in [p["name"] for p in create_op["parameters"]]
    assert "/api/orders/{id}/cancel/" in schema["paths"]
    assert APIClient().get("/api/docs/").status_code == 200


def test_admin_and_browsable_api_are_served(admin_client, as_alice):
    order = make_order()
    assert admin_client.get("/admin/orders/order/").status_code == 200
    assert (
        admin_client.get(f"/admin/orders/order/{order.pk}/change/").status_code == 200
    )
    assert admin_client.get("/admin/orders/idempotencykey/").status_code == 200
    html = as_alice.get(ORDERS, HTTP_ACCEPT="text/html")
    assert html.status_code == 200
    assert str(order.pk).encode() in html.content


# -- a create that crashed midway ------------------------------------------------
def crashed_create(key: str, stub, reserved: bool) -> Order:
    """Leave what a process killed after reserving (or before) leaves behind."""
    fingerprint = _fingerprint(customer_id=1, total=Decimal("10.00"))
    order = make_order(
        id=uuid.uuid5(ORDER_ID_NAMESPACE, f"1\n{key}\n{fingerprint}"),
        state=Order.State.PENDING,
    )
    make_idempotency_key(order, key=key, fingerprint=fingerprint)
    if reserved:
        stub.reservations[(1, str(order.pk))] = Decimal("10.00")
    # Older than any request can run, as if its process had crashed.
    Order.objects.filter(pk=order.pk).update(
        created_at=order.created_at - PENDING_STALE_AFTER
    )
    order.refresh_from_db()
    return order


def test_a_retry_resumes_a_pending_order_left_behind(as_alice, customers_stub):
    order = crashed_create("crash-1", customers_stub, reserved=True)
    response = create(as_alice, HTTP_IDEMPOTENCY_KEY="crash-1")
    assert response.status_code == 201
    assert response.json()["id"] == str(order.pk)
    assert response.json()["state"] == "APPROVED"
    assert customers_stub.available(1) == Decimal("90.00")  # reserved once
    assert create(as_alice, HTTP_IDEMPOTENCY_KEY="crash-1").json() == response.json()


def test_a_resumed_order_cancelled_meanwhile_stays_cancelled(
    as_alice, customers_stub, monkeypatch
):
    order = crashed_create("crash-4", customers_stub, reserved=True)
    reserve = services.customers.credit_reserve

    def reserve_while_cancelled(**kwargs):
        reserved = reserve(**kwargs)
        # The owner's cancel of the stale order lands while the retry reserves.
        assert Order.objects.get(pk=order.pk).transition("PENDING", "CANCELLED")
        return reserved

    monkeypatch.setattr(services.customers, "credit_reserve", reserve_while_cancelled)
    response = create(as_alice, HTTP_IDEMPOTENCY_KEY="crash-4")
    assert response.json()["state"] == "CANCELLED"
    assert Order.objects.get(pk=order.pk).state == Order.State.CANCELLED
    assert create(as_alice, HTTP_IDEMPOTENCY_KEY="crash-4").json() == response.json()


def test_a_pending_order_in_flight_is_not_resumed(as_alice, customers_stub):
    order = crashed_create("busy-2", customers_stub, reserved=False)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now())
    assert create(as_alice, HTTP_IDEMPOTENCY_KEY="busy-2").status_code == 409
    assert as_alice.post(f"{ORDERS}{order.pk}/cancel/").status_code == 409
    assert customers_stub.calls == []


def test_cancel_releases_a_pending_order_left_behind(as_alice, customers_stub):
    order = crashed_create("crash-3", customers_stub, reserved=True)
    response = as_alice.post(f"{ORDERS}{order.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["state"] == "CANCELLED"
    assert customers_stub.reservations == {}


# -- scopes, machine clients, delegation ----------------------------------------------
def client_with(user, token: str = "alice-token") -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def assert_insufficient_scope(response, scope: str) -> None:
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "insufficient_scope"
    assert response["WWW-Authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{scope}"'
    )


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("get", "", "orders:read"),
        ("get", "{id}/", "orders:read"),
        ("post", "", "orders:write"),
        ("post", "{id}/cancel/", "orders:write"),
    ],
)
def test_every_operation_checks_its_scope(customers_stub, method, path, scope):
    order = make_order()
    url = ORDERS + path.format(id=order.pk)
    data = {"customer_id": 1, "total": "1.00"}
    narrowed = " ".join(s for s in LOGIN_SCOPE.split() if s != scope)
    lacking = client_with(token_user("1", "alice", scope=narrowed))
    assert_insufficient_scope(getattr(lacking, method)(url, data, format="json"), scope)
    assert customers_stub.calls == []
    holding = client_with(token_user("1", "alice", scope=scope))
    assert getattr(holding, method)(url, data, format="json").status_code in (200, 201)


def test_a_machine_client_reads_every_order_and_owns_none(customers_stub):
    make_order()
    make_order(owner_sub="2", owner_username="bob")
    machine = client_with(token_user("nightly", "", scope="orders:read"), "m-token")
    listed = machine.get(ORDERS).json()
    assert listed["count"] == 2
    one = listed["results"][1]["id"]
    assert machine.get(f"{ORDERS}{one}/").status_code == 200
    assert_insufficient_scope(create(machine), "orders:write")
    assert_insufficient_scope(machine.post(f"{ORDERS}{one}/cancel/"), "orders:write")
    assert not Order.objects.filter(owner_sub="nightly").exists()
    assert customers_stub.calls == customers_stub.exchanges == []


def test_a_machine_client_with_orders_write_cancels_nothing(customers_stub):
    order = make_order()
    writer = client_with(
        token_user("job", "", scope="orders:read orders:write"), "m-token"
    )
    response = writer.post(f"{ORDERS}{order.pk}/cancel/")
    assert response.status_code == 403  # it sees the order, owns none
    assert response.json()["code"] == "permission_denied"
    assert "WWW-Authenticate" not in response
    order.refresh_from_db()
    assert order.state == Order.State.APPROVED


def test_a_burst_of_orders_costs_one_exchange(as_alice, customers_stub):
    for _ in range(20):
        assert create(as_alice, total="1.00").json()["state"] == "APPROVED"
    assert len(customers_stub.exchanges) == 1
    assert len(customers_stub.calls) == 20


def test_each_caller_gets_their_own_exchanged_token(as_alice, as_bob, customers_stub):
    create(as_alice)
    create(as_bob, customer_id=2)
    assert [c["headers"]["Authorization"] for c in customers_stub.calls] == [
        "Bearer alice-token~orders",
        "Bearer bob-token~orders",
    ]
    assert [e["subject_token"] for e in customers_stub.exchanges] == [
        "alice-token",
        "bob-token",
    ]


def test_exchange_refused_is_503_nothing_stored_and_no_user_token_sent(
    as_alice, customers_stub
):
    customers_stub.mode = "no_exchange"
    response = create(as_alice)
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert not Order.objects.exists()
    assert customers_stub.calls == []  # customers never saw alice's own token


def test_token_endpoint_down_is_503_for_create_and_cancel(
    as_alice, customers_stub, settings
):
    settings.SHARED_AUTH = {
        **settings.SHARED_AUTH,
        "TOKEN_URL": f"http://127.0.0.1:{free_port()}/auth/oauth/token/",
    }
    assert create(as_alice).status_code == 503
    order = make_order()
    assert as_alice.post(f"{ORDERS}{order.pk}/cancel/").status_code == 503
    order.refresh_from_db()
    assert order.state == Order.State.APPROVED
    assert customers_stub.calls == []


def test_wrong_client_secret_is_503(as_alice, customers_stub, settings):
    settings.SHARED_AUTH = {**settings.SHARED_AUTH, "CLIENT_SECRET": "wrong"}
    assert create(as_alice).status_code == 503
    assert customers_stub.calls == []
