"""Revocation at the gateway: what revokes, what is refused at once, the feed."""

import logging
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.management import call_command
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from gateway_project.identity.models import SubjectRevocation
from gateway_project.identity.revocation_memo import (
    MAX_AGE,
    REVISION_KEY,
    MappedRevision,
    RevocationMemo,
    revision_store,
)
from gateway_project.identity.services import subject_tokens_revoke
from gateway_project.identity.tokens import AccessToken, RefreshToken
from tests.support.clock import Clock

# Transactions really commit: a revocation reaches the other processes' memory
# through a revision written on commit.
pytestmark = pytest.mark.django_db(transaction=True)

FEED = "/auth/revocations/"
REVOKED = "Token has been revoked."


def post(api, path, body, **extra):
    return api.post(path, body, format="json", **extra)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def me(api, access: str):
    return api.get("/auth/me/", **bearer(access))


def assert_refused_everywhere(api, tokens: dict[str, str]) -> None:
    """The access token at /auth/me/ and the proxy's edge, verify and refresh."""
    response = me(api, tokens["access"])
    assert response.status_code == 401
    assert response.json()["detail"] == REVOKED
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    edge = api.get("/api/orders/", **bearer(tokens["access"]))
    assert edge.status_code == 401
    assert edge.json()["detail"] == REVOKED
    for token in tokens.values():
        assert post(api, "/auth/token/verify/", {"token": token}).status_code == 401
    refresh = post(api, "/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refresh.status_code == 401


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", password="x"))
    return client


def change_form(user: User, **changes) -> dict:
    """Return the admin's change form for ``user`` as a browser posts it."""
    form = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "groups": [group.pk for group in user.groups.all()],
        "_save": "Save",
    }
    flags = {"is_active": user.is_active, "is_staff": user.is_staff, **changes}
    form.update({name: "on" for name, value in flags.items() if value})
    return form


# -- what revokes ----------------------------------------------------------------
def test_deactivating_in_the_admin_refuses_every_token_at_once(
    admin_client, api, alice, tokens
):
    assert me(api, tokens["access"]).status_code == 200
    url = f"/admin/auth/user/{alice.pk}/change/"
    response = admin_client.post(url, change_form(alice, is_active=False))
    assert response.status_code == 302, response.content
    alice.refresh_from_db()
    assert not alice.is_active
    assert SubjectRevocation.objects.filter(sub=str(alice.pk)).exists()
    assert BlacklistedToken.objects.filter(token__user=alice).count() == 1
    assert_refused_everywhere(api, tokens)


def test_editing_a_user_without_deactivating_revokes_nothing(
    admin_client, api, alice, tokens
):
    url = f"/admin/auth/user/{alice.pk}/change/"
    response = admin_client.post(url, change_form(alice, first_name="Al"))
    assert response.status_code == 302
    assert not SubjectRevocation.objects.exists()
    assert me(api, tokens["access"]).status_code == 200


def test_deactivating_anywhere_revokes(api, alice, tokens):
    alice.is_active = False
    alice.save()
    assert_refused_everywhere(api, tokens)


def test_saving_an_active_user_or_recording_a_login_revokes_nothing(alice, login):
    alice.save()
    alice.save(update_fields=["last_login"])
    login("alice")
    assert not SubjectRevocation.objects.exists()


def test_deleting_a_user_revokes_their_subject(api, alice, tokens):
    sub = str(alice.pk)
    alice.delete()
    assert SubjectRevocation.objects.filter(sub=sub).exists()
    assert me(api, tokens["access"]).json()["detail"] == REVOKED


def test_deleting_from_the_admin_revokes(admin_client, api, alice, tokens):
    response = admin_client.post(
        "/admin/auth/user/",
        {"action": "delete_selected", "_selected_action": [alice.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert me(api, tokens["access"]).json()["detail"] == REVOKED


def test_a_password_change_revokes_older_tokens_only(api, alice, tokens, login):
    alice.set_password("another-horse-battery")
    alice.save()
    assert_refused_everywhere(api, tokens)
    fresh = login("alice", "another-horse-battery").json()
    assert me(api, fresh["access"]).status_code == 200


def test_a_password_hash_upgrade_at_login_is_not_a_change(alice, login, settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    old_hash = alice.password
    assert login("alice").status_code == 200
    alice.refresh_from_db()
    assert alice.password != old_hash  # upgraded to the preferred hasher
    assert not SubjectRevocation.objects.exists()


# -- what does not revoke: a new user, a first password ---------------------------
def feed_subs(api, settings) -> list[str]:
    """Return the subjects the revocation feed lists right now."""
    settings.REVOCATION_FEED_TOKEN = "feed-credential-for-tests"
    response = api.get(FEED, **bearer(settings.REVOCATION_FEED_TOKEN))
    assert response.status_code == 200, response.content
    return [entry["sub"] for entry in response.json()["revocations"]]


def test_creating_users_revokes_nothing(api, settings, caplog):
    caplog.set_level(logging.INFO)
    User.objects.create_user("carol", password="carol-pass-1234")
    User.objects.create_user("dave")  # an unusable password
    User.objects.create(username="erin")  # an empty one
    User.objects.create_superuser("root", password="root-pass-1234")
    assert not SubjectRevocation.objects.exists()
    assert feed_subs(api, settings) == []
    assert "Revoked the tokens" not in caplog.text


@pytest.mark.parametrize(
    "new_user",
    [
        lambda: User.objects.get_or_create(username="carol")[0],  # password ""
        lambda: User.objects.create_user("carol"),  # unusable password
    ],
    ids=["get_or_create", "create_user_without_password"],
)
def test_a_first_password_is_not_a_change_the_next_one_is(
    api, settings, login, new_user
):
    carol = new_user()
    carol.set_password("carol-first-pass")
    carol.save()
    assert not SubjectRevocation.objects.exists()
    assert feed_subs(api, settings) == []
    first = login("carol", "carol-first-pass").json()
    assert me(api, first["access"]).status_code == 200

    carol.set_password("carol-second-pass")
    carol.save(update_fields=["password"])
    assert feed_subs(api, settings) == [str(carol.pk)]
    assert_refused_everywhere(api, first)


def test_locking_a_user_out_revokes_and_a_later_password_does_not_reopen(
    api, settings, alice, tokens, login
):
    alice.set_unusable_password()
    alice.save()
    assert feed_subs(api, settings) == [str(alice.pk)]
    assert_refused_everywhere(api, tokens)
    not_before = SubjectRevocation.objects.get().not_before
    alice.set_password("alice-is-back-again")  # a first password again
    alice.save()
    assert SubjectRevocation.objects.get().not_before == not_before
    assert_refused_everywhere(api, tokens)
    assert login("alice", "alice-is-back-again").status_code == 200


def test_a_password_change_is_in_the_feed(api, settings, alice):
    alice.set_password("another-horse-battery")
    alice.save()
    assert feed_subs(api, settings) == [str(alice.pk)]


def test_a_hash_upgrade_at_login_is_not_in_the_feed(api, settings, alice, login):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    old_hash = alice.password
    assert login("alice").status_code == 200
    alice.refresh_from_db()
    assert alice.password != old_hash
    assert feed_subs(api, settings) == []


def test_seeding_the_demo_users_revokes_nothing_even_twice(api, settings, caplog):
    settings.DEBUG = True
    caplog.set_level(logging.INFO)
    call_command("seed_demo", stdout=StringIO())
    alice = login_tokens(api, "alice", "alice-demo-pass")
    call_command("seed_demo", stdout=StringIO())
    assert "Revoked the tokens" not in caplog.text
    assert not SubjectRevocation.objects.exists()
    assert feed_subs(api, settings) == []
    assert me(api, alice["access"]).status_code == 200


def test_seeding_resets_a_changed_demo_password_and_revokes(api, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    bob = User.objects.get(username="bob")
    bob.set_password("bob-changed-it")
    bob.save()
    SubjectRevocation.objects.all().delete()
    call_command("seed_demo", stdout=StringIO())
    assert feed_subs(api, settings) == [str(bob.pk)]
    assert login_tokens(api, "bob", "bob-demo-pass")["access"]


def login_tokens(api, username: str, password: str) -> dict[str, str]:
    response = post(api, "/auth/token/", {"username": username, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def test_the_admin_action_revokes_access_and_refresh_tokens(
    admin_client, api, alice, staff, tokens, login
):
    sam = login("sam").json()
    response = admin_client.post(
        "/admin/auth/user/",
        {"action": "revoke_all_tokens", "_selected_action": [alice.pk]},
        follow=True,
    )
    assert "Revoked every token of 1 user(s)" in response.content.decode()
    assert_refused_everywhere(api, tokens)
    assert me(api, sam["access"]).status_code == 200
    assert me(api, login("alice").json()["access"]).status_code == 200


# -- logout everywhere ---------------------------------------------------------
def test_logout_everywhere(api, alice, tokens, login):
    second = login("alice").json()
    response = post(api, "/auth/logout/", {"all": True}, **bearer(tokens["access"]))
    assert response.status_code == 204
    assert BlacklistedToken.objects.filter(token__user=alice).count() == 2
    assert_refused_everywhere(api, tokens)
    assert_refused_everywhere(api, second)
    # Logging in again right away (often in the same second) works.
    fresh = login("alice").json()
    assert me(api, fresh["access"]).status_code == 200
    refreshed = post(api, "/auth/token/refresh/", {"refresh": fresh["refresh"]})
    assert refreshed.status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic YTpi"])
def test_logout_everywhere_needs_a_valid_bearer_token(api, tokens, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = post(api, "/auth/logout/", {"all": True}, **extra)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not SubjectRevocation.objects.exists()


def test_logout_everywhere_with_a_revoked_token_is_401(api, tokens):
    post(api, "/auth/logout/", {"all": True}, **bearer(tokens["access"]))
    again = post(api, "/auth/logout/", {"all": True}, **bearer(tokens["access"]))
    assert again.status_code == 401


@pytest.mark.parametrize("body", [{"all": False}, {"all": "true"}, ["all"]])
def test_anything_but_all_true_is_the_plain_logout(api, tokens, body):
    response = post(api, "/auth/logout/", body, **bearer(tokens["access"]))
    assert response.status_code == 400
    assert not SubjectRevocation.objects.exists()


# -- issued before that moment, to the microsecond --------------------------------
def signed_at(token_class, user: User, at: datetime) -> str:
    token = token_class.for_user(user)
    token.set_iat(at_time=at)
    return str(token)


def test_iat_keeps_microseconds(tokens):
    access = AccessToken(tokens["access"])
    assert isinstance(access["iat"], float)
    assert abs(access["iat"] - time.time()) < 60


@pytest.mark.parametrize("token_class", [AccessToken, RefreshToken])
def test_same_second_before_and_after_a_revocation_are_told_apart(
    api, alice, token_class
):
    moment = timezone.now().replace(microsecond=500_000)
    subject_tokens_revoke(user=alice, at=moment)
    before = signed_at(token_class, alice, moment - timedelta(microseconds=300_000))
    exactly = signed_at(token_class, alice, moment)
    after = signed_at(token_class, alice, moment + timedelta(microseconds=1))
    assert int(AccessToken(after, verify=False)["iat"]) == int(moment.timestamp())
    verify = "/auth/token/verify/"
    assert post(api, verify, {"token": before}).status_code == 401
    assert post(api, verify, {"token": exactly}).status_code == 401
    assert post(api, verify, {"token": after}).status_code == 200
    if token_class is AccessToken:
        assert me(api, before).status_code == 401
        assert me(api, after).status_code == 200


def test_a_revocation_never_moves_back(alice):
    now = timezone.now()
    subject_tokens_revoke(user=alice, at=now)
    subject_tokens_revoke(sub=str(alice.pk), at=now - timedelta(seconds=5))
    assert SubjectRevocation.objects.get(sub=str(alice.pk)).not_before == now
    with pytest.raises(TypeError):
        subject_tokens_revoke()


# -- the feed -----------------------------------------------------------------------
@pytest.fixture
def feed_token(settings) -> str:
    settings.REVOCATION_FEED_TOKEN = "feed-credential-for-tests"
    return settings.REVOCATION_FEED_TOKEN


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", "Bearer ", "Basic YTpi", "Bearer a b"]
)
def test_the_feed_needs_the_service_credential(api, feed_token, alice, header):
    subject_tokens_revoke(user=alice)
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = api.get(FEED, **extra)
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}
    assert response["WWW-Authenticate"] == 'Bearer realm="revocations"'


def test_the_feed_refuses_everyone_when_no_credential_is_set(api, settings):
    settings.REVOCATION_FEED_TOKEN = ""
    assert api.get(FEED, **bearer("")).status_code == 401
    assert api.get(FEED, HTTP_AUTHORIZATION="Bearer").status_code == 401


def test_a_user_token_does_not_open_the_feed(api, feed_token, tokens):
    assert api.get(FEED, **bearer(tokens["access"])).status_code == 401


def test_the_feed_lists_opaque_subjects_and_times(
    api, feed_token, alice, staff, django_assert_num_queries
):
    subject_tokens_revoke(user=alice)
    subject_tokens_revoke(sub=str(staff.pk))
    before = time.time()
    with django_assert_num_queries(2):  # subjects, single tokens
        response = api.get(FEED, **bearer(feed_token))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"time", "window", "revocations", "tokens"}
    assert body["tokens"] == []
    assert body["time"] == pytest.approx(before, abs=5)
    assert body["window"] == 310  # 300 s access lifetime, 5 s leeway twice
    assert [set(entry) for entry in body["revocations"]] == [{"sub", "not_before"}] * 2
    assert [entry["sub"] for entry in body["revocations"]] == [
        str(alice.pk),
        str(staff.pk),
    ]
    revoked = SubjectRevocation.objects.get(sub=str(alice.pk)).not_before
    assert body["revocations"][0]["not_before"] == revoked.timestamp()
    assert "alice" not in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_the_feed_sends_only_what_is_new_and_still_relevant(api, feed_token, alice):
    now = timezone.now()
    subject_tokens_revoke(sub="expired", at=now - timedelta(seconds=311))
    subject_tokens_revoke(sub="old", at=now - timedelta(seconds=60))
    subject_tokens_revoke(sub="recent", at=now - timedelta(seconds=5))
    subject_tokens_revoke(sub="new", at=now)

    def subs(since: float | None) -> list[str]:
        query = {} if since is None else {"since": repr(since)}
        response = api.get(FEED, query, **bearer(feed_token))
        return [entry["sub"] for entry in response.json()["revocations"]]

    assert subs(None) == ["old", "recent", "new"]
    # Revocations up to 10 s before `since` come again (late commits are not lost).
    assert subs(now.timestamp() - 1) == ["recent", "new"]
    assert subs(now.timestamp() + 60) == ["recent", "new"]  # a since from the future


@pytest.mark.parametrize("since", ["yesterday", "-1", "nan", "inf", "1e400"])
def test_a_bad_since_is_400(api, feed_token, since):
    response = api.get(FEED, {"since": since}, **bearer(feed_token))
    assert response.status_code == 400
    assert response.json()["detail"]


def test_a_huge_since_is_fine(api, feed_token, alice):
    subject_tokens_revoke(user=alice, at=timezone.now() - timedelta(seconds=20))
    response = api.get(FEED, {"since": "1e15"}, **bearer(feed_token))
    assert response.status_code == 200
    assert response.json()["revocations"] == []


def test_feed_entries_are_utc_epoch_seconds(alice):
    at = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)
    subject_tokens_revoke(user=alice, at=at)
    stored = SubjectRevocation.objects.get(sub=str(alice.pk)).not_before
    assert stored.timestamp() == at.timestamp()


# -- the gateway's memory of revocations ----------------------------------------
def test_no_query_per_request_until_a_revocation(
    api, alice, staff, tokens, login, django_assert_num_queries
):
    me(api, tokens["access"])  # this process loads the list once
    with django_assert_num_queries(0):
        for _ in range(3):
            assert me(api, tokens["access"]).status_code == 200
    subject_tokens_revoke(user=staff)
    # The new revision: one reload (subjects, single tokens).
    with django_assert_num_queries(2):
        assert me(api, tokens["access"]).status_code == 200
    with django_assert_num_queries(0):
        assert me(api, tokens["access"]).status_code == 200


def test_another_process_sees_a_revocation_at_its_next_check(alice):
    other = RevocationMemo()  # another worker's memory
    sub, now = str(alice.pk), time.time()
    assert not other.is_revoked(sub=sub, iat=now)
    subject_tokens_revoke(user=alice)
    assert other.is_revoked(sub=sub, iat=now)
    assert not other.is_revoked(sub=sub, iat=time.time() + 1)


def test_an_emptied_cache_reloads_from_the_database():
    other, iat = RevocationMemo(), time.time() - 1
    assert not other.is_revoked(sub="77", iat=iat)
    SubjectRevocation.objects.create(sub="77", not_before=timezone.now())
    assert not other.is_revoked(sub="77", iat=iat)  # written behind its back
    caches["revocations"].clear()  # a Redis restart, an eviction
    assert other.is_revoked(sub="77", iat=iat)


def test_a_lost_revision_write_is_caught_up_within_max_age(alice):
    clock = Clock(1000.0)
    other = RevocationMemo(clock=clock)
    assert not other.is_revoked(sub="77", iat=time.time() - 1)
    SubjectRevocation.objects.create(sub="77", not_before=timezone.now())
    assert not other.is_revoked(sub="77", iat=time.time() - 1)  # no new revision
    clock.now += MAX_AGE + 1
    assert other.is_revoked(sub="77", iat=time.time() - 1)


def test_a_failing_cache_falls_back_to_queries(
    api, alice, tokens, settings, caplog, django_assert_num_queries
):
    settings.CACHES = {
        **settings.CACHES,
        "revocations": {"BACKEND": "tests.shared_auth.broken_cache.BrokenCache"},
    }
    with django_assert_num_queries(2):  # the subject, the token's jti
        assert me(api, tokens["access"]).status_code == 200
    subject_tokens_revoke(user=alice)  # the revision write fails too: logged
    assert me(api, tokens["access"]).json()["detail"] == REVOKED
    assert "Revocation revision" in caplog.text


@pytest.fixture
def file_cache(settings, tmp_path):
    """A file-based ``revocations`` cache (no Redis), in ``tmp_path``."""
    settings.CACHES = {
        **settings.CACHES,
        "revocations": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        },
    }
    return tmp_path


def test_a_file_cache_keeps_the_revision_in_a_mapped_file(alice, file_cache):
    other, sub, now = RevocationMemo(), str(alice.pk), time.time()
    assert not other.is_revoked(sub=sub, iat=now)
    revision = (file_cache / "revision").read_text()
    assert len(revision) == 32
    subject_tokens_revoke(user=alice)
    assert other.is_revoked(sub=sub, iat=now)  # the new revision, seen at once
    assert (file_cache / "revision").read_text() not in ("", revision)
    assert caches["revocations"].get(REVISION_KEY) is None  # not a cache entry
    caches["revocations"].clear()  # removes the cache's files, not this one
    assert (file_cache / "revision").read_text() == revision_store().get()


def test_another_process_writes_the_mapped_revision(tmp_path):
    mine = MappedRevision(tmp_path / "revision")
    assert mine.get() is None  # a new file: zeros
    code = (
        "import sys, django; from pathlib import Path; django.setup(); "
        "from gateway_project.identity.revocation_memo import MappedRevision; "
        "MappedRevision(Path(sys.argv[1])).set('k', 'f' * 32)"
    )
    command = [sys.executable, "-c", code, str(tmp_path / "revision")]
    subprocess.run(command, check=True, timeout=60)
    assert mine.get() == "f" * 32  # the same page: no re-read of the file


def test_a_replaced_revision_file_is_mapped_again(tmp_path):
    clock = Clock(1000.0)
    path = tmp_path / "revision"
    mine = MappedRevision(path, clock=clock)
    mine.set(REVISION_KEY, "a" * 32)
    path.unlink()  # an operator emptied the directory
    MappedRevision(path).set(REVISION_KEY, "b" * 32)
    assert mine.get() == "a" * 32  # still the old file's page
    clock.now += MappedRevision.REMAP_SECONDS + 1
    assert mine.get() == "b" * 32


@pytest.mark.parametrize("value", ["", "a" * 31, "a" * 33, "é" * 32])
def test_a_revision_is_32_ascii_characters(tmp_path, value):
    with pytest.raises(ValueError):
        MappedRevision(tmp_path / "revision").set(REVISION_KEY, value)


def test_the_admin_lists_revocations_read_only(admin_client, alice):
    subject_tokens_revoke(user=alice)
    listing = admin_client.get("/admin/identity/subjectrevocation/")
    assert listing.status_code == 200
    assert str(alice.pk) in listing.content.decode()
    assert admin_client.get("/admin/identity/subjectrevocation/add/").status_code == 403
    url = f"/admin/identity/subjectrevocation/{alice.pk}/delete/"
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert SubjectRevocation.objects.filter(sub=str(alice.pk)).exists()
