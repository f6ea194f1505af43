"""``manage.py prune_signing_keys``: delete keys no live token can need."""

from typing import Any

from django.core.management.base import BaseCommand

from gateway_project.identity.keys import key_store, retention


class Command(BaseCommand):
    help = (
        "Delete the signing keys that stopped signing longer ago than the longest "
        "token lifetime (plus leeway). The current key is never deleted."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        pruned = key_store.prune()
        for key in pruned:
            self.stdout.write(f"Deleted signing key {key.kid} ({key.path.name})")
        kept = len(key_store.keys())
        self.stdout.write(
            f"{len(pruned)} key(s) deleted, {kept} kept (retention {retention()})."
        )
