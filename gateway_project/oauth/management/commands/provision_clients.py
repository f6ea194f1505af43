"""``manage.py provision_clients``: the stack's own OAuth clients, from settings."""

from django.core.management.base import BaseCommand, CommandError

from gateway_project.oauth.services import service_clients_provision


class Command(BaseCommand):
    help = (
        "Create or update the orders service's client from ORDERS_CLIENT_ID and "
        "ORDERS_CLIENT_SECRET (idempotent; run after migrate in production)."
    )

    def handle(self, *args, **options) -> None:
        try:
            clients = service_clients_provision()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for client in clients:
            self.stdout.write(f"provisioned client {client.client_id}")
