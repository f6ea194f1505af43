"""``manage.py rotate_signing_key``: a new signing key, the old ones kept."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from gateway_project.identity.keys import SUPPORTED_ALGORITHMS, key_store


class Command(BaseCommand):
    help = (
        "Create a new signing key and make it current. Older keys stay in the JWKS "
        "and keep verifying until prune_signing_keys removes them. Running gateway "
        "workers pick the new key up on their next request."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--algorithm",
            choices=SUPPORTED_ALGORITHMS,
            help="Algorithm of the new key (default: JWT_SIGNING_ALGORITHM).",
        )

    def handle(self, *args: Any, algorithm: str | None = None, **options: Any) -> None:
        key = key_store.rotate(algorithm)
        self.stdout.write(f"New signing key {key.kid} ({key.alg}) in {key.path}")
