"""The real stack on this machine, for the e2e tests, ``make bench`` and ``make chaos``.

``devstack.stack`` starts the gateway and the services as gunicorn processes on
free ports; ``devstack.otlp`` receives their traces. Neither ships in the image
(.dockerignore).
"""
