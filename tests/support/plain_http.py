"""The tests' HTTPS switch: a pytest plugin loaded before Django's settings.

The tests talk plain http to projects running with ``DEBUG`` off, so the HTTPS
defaults (redirect, HSTS, secure cookies) are off, ``DJANGO_HTTPS=0``
(docs/configuration.md "HTTPS"), unless the environment says otherwise. It is
loaded by ``-p tests.support.plain_http`` in pyproject.toml's ``addopts``: a
conftest would come too late, pytest-django reads the settings before any.
"""

import os

os.environ.setdefault("DJANGO_HTTPS", "0")
