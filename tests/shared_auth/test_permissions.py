"""IsOwnerOrStaff and HasRole, alone and combined."""

from types import SimpleNamespace

import pytest
from rest_framework.permissions import IsAuthenticated

from shared_auth.permissions import HasRole, IsOwnerOrStaff, has_role
from shared_auth.user import TokenUser


def request_for(sub: str = "42", roles: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(user=TokenUser({"sub": sub, "roles": list(roles)}))


VIEW = SimpleNamespace()


@pytest.mark.parametrize(
    ("sub", "roles", "owner", "allowed"),
    [
        ("42", (), "42", True),
        ("42", (), 42, True),  # compared as strings
        ("7", (), "42", False),
        ("7", ("staff",), "42", True),
        ("7", ("clerk",), None, False),
    ],
)
def test_is_owner_or_staff(sub, roles, owner, allowed):
    obj = SimpleNamespace(owner_sub=owner)
    result = IsOwnerOrStaff().has_object_permission(request_for(sub, roles), VIEW, obj)
    assert result is allowed


def test_owner_field_comes_from_the_view():
    view = SimpleNamespace(owner_field="created_by")
    obj = SimpleNamespace(created_by="42", owner_sub="7")
    assert IsOwnerOrStaff().has_object_permission(request_for("42"), view, obj)
    assert not IsOwnerOrStaff().has_object_permission(request_for("7"), view, obj)


def test_has_role_factories():
    auditor = HasRole.with_role("auditor")
    assert auditor().has_permission(request_for(roles=("auditor",)), VIEW)
    assert not auditor().has_permission(request_for(roles=("clerk",)), VIEW)
    assert has_role("clerk")().has_permission(request_for(roles=("clerk",)), VIEW)
    assert not HasRole().has_permission(request_for(roles=("clerk",)), VIEW)


def test_has_role_refuses_a_user_without_roles():
    anonymous = SimpleNamespace(user=None)
    assert not has_role("clerk")().has_permission(anonymous, VIEW)


def test_permissions_combine_with_operators():
    either = (has_role("auditor") | has_role("clerk"))()
    assert either.has_permission(request_for(roles=("clerk",)), VIEW)
    assert not either.has_permission(request_for(roles=("guest",)), VIEW)
    both = (IsAuthenticated & has_role("clerk"))()
    assert both.has_permission(request_for(roles=("clerk",)), VIEW)
    not_guest = (~has_role("guest"))()
    assert not not_guest.has_permission(request_for(roles=("guest",)), VIEW)
    owner_or_auditor = (IsOwnerOrStaff | has_role("auditor"))()
    obj = SimpleNamespace(owner_sub="1")
    assert owner_or_auditor.has_object_permission(
        request_for("2", ("auditor",)), VIEW, obj
    )
