"""``manage.py create_client CLIENT_ID --scope "..." [--audience orders,customers]``."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gateway_project.oauth.services import client_save


def _items(value: str | None) -> list[str] | None:
    """Return a list given with commas and/or spaces, or None if not given."""
    return None if value is None else value.replace(",", " ").split()


class Command(BaseCommand):
    help = (
        "Create a confidential OAuth client, or give an existing one a new secret "
        '(and the options given). Prints {"client_id", "client_secret"} as its '
        "last line; the secret is stored hashed and never shown again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_id")
        parser.add_argument(
            "--scope", required=True, help='Its scopes, e.g. "orders:read".'
        )
        parser.add_argument(
            "--audience", help="Its audiences, comma-separated (default: all)."
        )
        parser.add_argument("--name", default="", help="A human-readable name.")
        parser.add_argument(
            "--exchange-audience",
            help="Audiences it may exchange a caller's token for (RFC 8693).",
        )
        parser.add_argument(
            "--exchange-scope", help="Scopes it may delegate by exchange."
        )

    def handle(self, *args, **options) -> None:
        exchange_audiences = _items(options["exchange_audience"]) or []
        try:
            client, secret = client_save(
                client_id=options["client_id"],
                name=options["name"],
                scopes=_items(options["scope"]) or [],
                audiences=_items(options["audience"]),
                may_exchange=bool(exchange_audiences),
                exchange_audiences=exchange_audiences,
                exchange_scopes=_items(options["exchange_scope"]) or [],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            json.dumps({"client_id": client.client_id, "client_secret": secret})
        )
