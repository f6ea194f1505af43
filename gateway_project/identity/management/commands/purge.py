"""``manage.py purge``: delete the records past their retention (docs/operations.md)."""

import json
from typing import Any

from django.core.management.base import BaseCommand

from gateway_project.identity.purge import identity_purge


class Command(BaseCommand):
    """Delete what this project no longer needs; print the counts as JSON.

    Idempotent and safe while serving: run it from a CronJob.
    """

    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(json.dumps(identity_purge()))
