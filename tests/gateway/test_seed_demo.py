"""``seed_demo`` and the users ``make demo`` and the banner name."""

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from common import demo


@pytest.mark.django_db
def test_the_banner_and_the_demo_name_the_seeded_users(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    seeded = {user.username: user for user in User.objects.all()}
    assert set(seeded) == {username for username, _, _ in demo.USERS}
    for username, password, role in demo.USERS:
        user = seeded[username]
        assert user.check_password(password)
        assert user.is_superuser == user.is_staff == role.startswith("superuser")


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()
