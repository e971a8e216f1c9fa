"""Test-only protocols, registered in the test process and in the worker processes it starts."""

from archscale.protocols import PROTOCOLS, Protocol

#: Long enough to kill, cancel or disturb mid-run (~0.5-1 s per epoch on this CPU).
SLOW = Protocol("fault-slow", 1, "worker fault tests: slow enough to interrupt", epochs=8, batch_size=50,
                C=8, N=2, benchmark=False)
#: Quick: the runs only have to finish.
FAST = Protocol("fault-fast", 1, "worker fault tests: quick", epochs=2, batch_size=50, C=4, N=1, benchmark=False)


def register() -> None:
    for protocol in (SLOW, FAST):
        PROTOCOLS[protocol.name] = protocol
