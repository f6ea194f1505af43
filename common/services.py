"""The monorepo's services: name -> local port (``make run``).

One entry per DRF service project ``<name>_service``. The gateway routes
``/api/<name>/`` to it (``<NAME>_SERVICE_URL``, default
``http://127.0.0.1:<port>``) and lists it in a login token's audience; the test
runner and the e2e stack start it. ``python manage.py startservice NAME``
rewrites this file; keep it a plain literal.
"""

SERVICES: dict[str, int] = {
    "orders": 8001,
    "customers": 8002,
}
