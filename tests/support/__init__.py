"""What several suites share: local fake upstreams, token and claim builders,
the plain-http switch (``plain_http``, a pytest plugin).

Test-only; ``bench`` and ``chaos`` use ``devstack`` and never import from here.
"""
