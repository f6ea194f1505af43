"""``manage.py seed_demo``: the demo users and the stack's OAuth clients,
idempotently (DEBUG only)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from gateway_project.oauth.services import service_clients_provision

DEMO_USERS = (
    # username, password, is_superuser
    ("alice", "alice-demo-pass", False),
    ("bob", "bob-demo-pass", False),
    ("admin", "admin-demo-pass", True),
)


class Command(BaseCommand):
    help = (
        "Create the demo users alice, bob and admin, and the orders service's "
        "OAuth client (idempotent; DEBUG only)."
    )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo refuses to run with DEBUG off.")
        User = get_user_model()
        for username, password, superuser in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            user.is_active = True
            user.is_staff = user.is_superuser = superuser
            if not user.check_password(password):  # a re-run changes nothing
                user.set_password(password)
            user.save()
            self.stdout.write(f"{'created' if created else 'updated'} {username}")
        for client in service_clients_provision():
            self.stdout.write(f"provisioned client {client.client_id}")
