"""What several suites share: local fake upstreams, token and claim builders.

Test-only; ``bench`` and ``chaos`` use ``devstack`` and never import from here.
"""
