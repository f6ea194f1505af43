#!/usr/bin/env python
"""Django's command-line utility for the three projects of this repository.

Defaults to the gateway; ``--settings=orders_service.settings`` (or
``DJANGO_SETTINGS_MODULE``) selects another project.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
