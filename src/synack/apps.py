"""Applications in the simulator: a ``Stack`` plus an event handler.

``AppHost`` is the simulator endpoint for one host.  After every input (a
packet or a timer) it hands the stack's events to the application callback,
which may make user calls; the simulator then flushes the output.  This is
the "drivers are thin" rule: the application logic stays a plain function
of events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from synack.tcp.connection import Connection
from synack.tcp.events import Event
from synack.tcp.stack import Listener, Stack

Handler = Callable[["AppHost", Connection | Listener, Event], None]


class AppHost:
    """A simulator ``Endpoint`` running ``handler`` on every stack event."""

    def __init__(self, stack: Stack, handler: Handler | None = None) -> None:
        self.stack = stack
        self.handler = handler
        self.now = 0

    def receive(self, packet: bytes, now: int) -> None:
        self.now = now
        self.stack.receive(packet, now)
        self.dispatch()

    def on_timer(self, now: int) -> None:
        self.now = now
        self.stack.on_timer(now)
        self.dispatch()

    def packets_to_send(self, now: int) -> Sequence[bytes]:
        self.now = now
        return self.stack.packets_to_send(now)

    def next_deadline(self) -> int | None:
        return self.stack.next_deadline()

    def dispatch(self) -> None:
        """Hand every pending event to the handler (it may cause more events)."""
        if self.handler is None:
            return
        while (item := self.stack.next_event()) is not None:
            self.handler(self, item[0], item[1])
