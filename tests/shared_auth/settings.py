"""Settings for shared_auth's own tests: a service named ``orders``."""

from orders_service.settings import *  # noqa: F403
