"""``manage.py purge`` of the gateway, with a swapped clock."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)

from gateway_project.identity import purge
from gateway_project.identity.models import SubjectRevocation
from gateway_project.identity.services import subject_tokens_revoke
from gateway_project.identity.tokens import RefreshToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    shift = [timedelta(0)]
    monkeypatch.setattr(purge, "_now", lambda: timezone.now() + shift[0])
    return shift


def test_the_longest_token_life_is_the_refresh_lifetime_plus_leeway(settings):
    assert purge.longest_token_life() == timedelta(days=1, seconds=10)


def test_expired_refresh_tokens_and_their_blacklist_entries_go(clock, alice):
    RefreshToken.for_user(alice).blacklist()
    RefreshToken.for_user(alice)
    clock[0] = timedelta(hours=23)
    assert purge.identity_purge()["outstanding_tokens"] == 0
    clock[0] = timedelta(days=1, minutes=1)
    counts = purge.identity_purge()
    assert counts["outstanding_tokens"] == 2
    assert counts["blacklisted_tokens"] == 1
    assert not OutstandingToken.objects.exists()
    assert not BlacklistedToken.objects.exists()


def test_subject_revocations_go_once_every_token_they_refuse_expired(clock, alice):
    subject_tokens_revoke(user=alice)
    clock[0] = purge.longest_token_life() - timedelta(seconds=1)
    assert purge.identity_purge()["subject_revocations"] == 0
    clock[0] = purge.longest_token_life() + timedelta(seconds=1)
    assert purge.identity_purge()["subject_revocations"] == 1
    assert not SubjectRevocation.objects.exists()
    assert purge.identity_purge()["subject_revocations"] == 0


def test_the_command_prints_the_counts(clock, alice, capsys):
    subject_tokens_revoke(user=alice)
    clock[0] = timedelta(days=3)
    call_command("purge")
    assert json.loads(capsys.readouterr().out) == {
        "outstanding_tokens": 0,
        "blacklisted_tokens": 0,
        "subject_revocations": 1,
    }
