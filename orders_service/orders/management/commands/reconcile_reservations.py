"""``manage.py reconcile_reservations --settings=orders_service.settings``."""

import json
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders_service.orders.reconcile import (
    CustomersApi,
    ReconcileError,
    client_credentials_token,
    reservations_reconcile,
)
from orders_service.orders.services import PENDING_STALE_AFTER


class Command(BaseCommand):
    """Settle stale PENDING orders and release reservations with no APPROVED order.

    Idempotent and safe while serving (orders_service/orders/reconcile.py). The
    customers service is called with the orders client's own token
    (client_credentials: orders acting for no user). Prints what it did as one
    JSON object; exits non-zero if a release failed.
    """

    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace",
            type=float,
            default=PENDING_STALE_AFTER.total_seconds(),
            help="seconds a PENDING order may be in flight (default: %(default)s)",
        )

    def handle(self, *args: Any, grace: float, **options: Any) -> None:
        try:
            customers = CustomersApi(
                base_url=settings.CUSTOMERS_SERVICE_URL,
                token=client_credentials_token(),
            )
            report = reservations_reconcile(
                customers=customers, grace=timedelta(seconds=grace)
            )
        except ReconcileError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(asdict(report)))
        if report.release_failed:
            raise CommandError(f"{len(report.release_failed)} release(s) failed")
