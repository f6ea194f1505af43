"""Thin adapters: user changes made anywhere revoke the user's tokens.

Users are deactivated, deleted or given a new password from the admin, from
``manage.py changepassword``, from a shell or from other apps; these receivers
turn each of those into one ``subject_tokens_revoke`` call, in the same
transaction as the change. ``QuerySet.update()`` sends no signal: call
``subject_tokens_revoke`` yourself after one. Creating a user, giving one a
first password and the hash upgrade at login revoke nothing.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.models import AbstractBaseUser

from gateway_project.identity.services import subject_of, subject_tokens_revoke

_REVOKE_ATTR = "_identity_revoke_tokens"


def _saves(update_fields: Any, field: str) -> bool:
    return update_fields is None or field in update_fields


def _is_deactivation(user: AbstractBaseUser, update_fields: Any) -> bool:
    """Return True if this save turns an active user inactive (one query)."""
    if user.is_active or not _saves(update_fields, "is_active"):
        return False
    model = type(user)
    return model._default_manager.filter(pk=user.pk, is_active=True).exists()


def _is_password_change(user: AbstractBaseUser, update_fields: Any) -> bool:
    """Return True if this save replaces a usable password (one query, if any).

    Only a user who could already log in with a password has tokens that a
    new password should end, so a first password (the stored one empty or
    unusable, as ``get_or_create`` or ``create_user(password=None)`` leave it)
    is not a change. ``set_password()`` marks a new password (``_password``);
    ``set_unusable_password()`` (locking the user out) leaves an unusable hash
    and is a change. A hash upgrade at login (``check_password``'s setter) is
    not: Django clears ``_password`` before that save.
    """
    if not _saves(update_fields, "password"):
        return False
    if getattr(user, "_password", None) is None and user.has_usable_password():
        return False
    model = type(user)
    stored = (
        model._default_manager.filter(pk=user.pk)
        .values_list("password", flat=True)
        .first()
    )
    had_password = bool(stored) and is_password_usable(stored)
    return had_password and stored != user.password


def note_revoking_change(
    sender: type, instance: AbstractBaseUser, update_fields: Any = None, **kwargs: Any
) -> None:
    """``pre_save``: remember whether this save deactivates or re-passwords."""
    if instance._state.adding or kwargs.get("raw"):
        return
    revoke = _is_password_change(instance, update_fields) or _is_deactivation(
        instance, update_fields
    )
    setattr(instance, _REVOKE_ATTR, revoke)


def revoke_after_change(
    sender: type, instance: AbstractBaseUser, **kwargs: Any
) -> None:
    """``post_save``: revoke the user's tokens if ``note_revoking_change`` said so."""
    if getattr(instance, _REVOKE_ATTR, False):
        setattr(instance, _REVOKE_ATTR, False)
        subject_tokens_revoke(user=instance)


def revoke_after_delete(
    sender: type, instance: AbstractBaseUser, **kwargs: Any
) -> None:
    """``post_delete``: revoke every token of the deleted user's subject."""
    subject_tokens_revoke(sub=subject_of(instance))


def connect() -> None:
    """Connect the receivers to the user model's signals (``AppConfig.ready``)."""
    from django.db.models.signals import post_delete, post_save, pre_save

    user_model = get_user_model()
    pre_save.connect(note_revoking_change, sender=user_model, dispatch_uid=_REVOKE_ATTR)
    post_save.connect(revoke_after_change, sender=user_model, dispatch_uid=_REVOKE_ATTR)
    post_delete.connect(
        revoke_after_delete, sender=user_model, dispatch_uid=_REVOKE_ATTR
    )
