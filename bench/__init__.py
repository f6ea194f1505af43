"""``make bench``: the stack's throughput, latency and gateway cost, measured."""
