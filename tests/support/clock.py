"""A wall clock the test moves by hand (``clock.now += seconds``).

Passed where the code takes an injected ``clock`` (the JWKS, revocation and
exchange clients, the gateway's revocation memory).
"""


class Clock:
    """Return ``now`` when called; starts at ``start``."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
