"""TokenUser: the stateless principal."""

import pytest

from shared_auth.user import TokenUser


def test_token_user_reads_the_contract_claims():
    user = TokenUser({"sub": 42, "username": "alice", "roles": ["clerk", "staff"]})
    assert user.id == user.pk == "42"
    assert user.username == str(user) == "alice"
    assert user.roles == frozenset({"clerk", "staff"})
    assert user.has_role("clerk") and not user.has_role("auditor")
    assert user.is_staff and not user.is_superuser
    assert user.is_authenticated and not user.is_anonymous and user.is_active
    assert user.get_all_permissions() == set()
    assert not user.has_perm("orders.add_order")


@pytest.mark.parametrize("roles", [None, "staff", {"staff": 1}, [1, None]])
def test_malformed_roles_give_no_roles(roles):
    user = TokenUser({"sub": "1", "roles": roles})
    assert user.roles == frozenset()
    assert not user.is_staff


def test_token_user_never_touches_the_database():
    user = TokenUser({"sub": "1"})
    with pytest.raises(NotImplementedError):
        user.save()
    assert list(user.groups.all()) == []


@pytest.mark.parametrize(
    ("claims", "client_id"),
    [({"client_id": "orders"}, "orders"), ({}, ""), ({"client_id": ["orders"]}, "")],
)
def test_client_id_is_the_claim_when_a_string(claims, client_id):
    assert TokenUser({"sub": "1", **claims}).client_id == client_id


def test_unknown_attribute_is_an_error_not_a_claim():
    with pytest.raises(AttributeError):
        TokenUser({"sub": "1", "secret": "x"}).secret  # noqa: B018
