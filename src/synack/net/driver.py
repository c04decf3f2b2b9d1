"""The real-time driver: one ``Stack`` over one packet device, in one thread.

``Driver.run()`` is the loop the design guide describes.  Each turn it

1. waits with ``poll`` until the device is readable, another thread wakes
   it (``call_soon``/``stop``) or ``stack.next_deadline()`` passes;
2. runs the callables other threads queued with ``call_soon`` (the only way
   another thread may touch the stack);
3. reads the waiting datagrams in batches of ``batch``, feeding each to
   ``stack.receive``, and after every batch flushes (below), so ACKs and
   window updates leave as soon as a batch is digested;
4. calls ``stack.on_timer`` when the deadline has passed;
5. flushes: writes ``stack.packets_to_send`` to the device, hands every
   event to ``on_event(conn_or_listener, event)`` and runs the ``hooks``
   (the blocking API polls its pending calls there); both may make user
   calls, so it repeats until nothing more is produced.

Time is ``time.monotonic_ns() // 1000`` (integer microseconds, as the core
wants).  ``pcap`` records every datagram read from or written to the device
(stamped with wall-clock time); ``LineTrace`` is a trace sink for the stack
that prints every record as a one-line summary as it happens.  ``stop()``
(from any thread, or from a callback) ends ``run`` after the current turn;
``close()`` releases the wake-up pipe (the device belongs to the caller).
``now`` is the time of the input being processed, for callbacks that make
user calls (so their records and the flush that follows agree).

The stack is used by exactly one thread, the one in ``run``/``poll``: the
core stays single-threaded.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

from synack.net.tun import PacketDevice
from synack.tcp.connection import Connection
from synack.tcp.events import Event
from synack.tcp.stack import Listener, Stack
from synack.trace.pcap import PcapWriter
from synack.trace.records import Record
from synack.trace.summary import describe, format_time

EventHandler = Callable[[Connection | Listener, Event], None]
Hook = Callable[[int], bool]

#: Datagrams read before output is flushed; reads continue for up to
#: ``MAX_BATCHES`` batches per turn before timers and queued calls run.
DEFAULT_BATCH = 64
MAX_BATCHES = 16
#: Bound on flush rounds per turn (callbacks that keep producing work).
MAX_FLUSH_ROUNDS = 64


class LineTrace:
    """A trace sink (``Stack(trace=...)``) printing one line per record as it
    happens, ``render_records`` style: milliseconds since the first record,
    then ``describe(record)``.  Thread-safe (one line per write)."""

    def __init__(self, out: TextIO, *, start: int | None = None) -> None:
        self.out = out
        self.start = start
        self._lock = threading.Lock()

    def __call__(self, record: Record) -> None:
        if self.start is None:
            self.start = record.time
        line = f"{format_time(record.time - self.start):>10}  {describe(record)}\n"
        with self._lock:
            self.out.write(line)
            self.out.flush()


def monotonic_us() -> int:
    """The driver clock: monotonic time in integer microseconds."""
    return time.monotonic_ns() // 1000


class Driver:
    """Runs ``stack`` over ``device`` in real time (see the module docstring)."""

    def __init__(
        self,
        stack: Stack,
        device: PacketDevice,
        *,
        on_event: EventHandler | None = None,
        pcap: PcapWriter | None = None,
        batch: int = DEFAULT_BATCH,
        clock: Callable[[], int] = monotonic_us,
    ) -> None:
        self.stack = stack
        self.device = device
        self.on_event = on_event
        self.pcap = pcap
        self.batch = max(1, batch)
        self.clock = clock
        self.hooks: list[Hook] = []
        self.now = clock()  # the time of the input being processed (for callbacks)
        self.packets_in = 0
        self.packets_out = 0
        self.thread: threading.Thread | None = None  # the thread in run(), if any
        # Held while the driver works on the stack (never while it waits), so that
        # other threads can read the stack consistently; they must not change it.
        self.lock = threading.Lock()
        self.error: BaseException | None = None  # what ended run() abnormally
        self._pending: deque[Callable[[], None]] = deque()
        self._stopping = False
        self._running = False
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._poller = select.poll()
        self._poller.register(device.fileno(), select.POLLIN)
        self._poller.register(self._wake_read, select.POLLIN)
        self._closed = False
        # pcap wants wall-clock stamps: the offset from the driver clock.
        self._wall_offset = time.time_ns() // 1000 - clock()

    # ------------------------------------------------------------------ other threads

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` in the driver thread at the start of its next turn
        (thread-safe; callables run in the order queued)."""
        self._pending.append(fn)
        self.wake()

    def wake(self) -> None:
        """Interrupt the wait (thread-safe; cheap when already woken)."""
        # A full pipe means a wake-up is pending anyway; a closed one, that we stopped.
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"\0")

    def stop(self) -> None:
        """End ``run`` after the current turn (thread-safe)."""
        self._stopping = True
        self.wake()

    @property
    def in_driver_thread(self) -> bool:
        return self.thread is None or self.thread is threading.current_thread()

    # ------------------------------------------------------------------ the loop

    def run(self, until: Callable[[], bool] | None = None, timeout: float | None = None) -> bool:
        """Turn until ``stop()``, until ``until()`` is true (checked after each
        turn) or ``timeout`` seconds; returns whether ``until`` became true."""
        self._running = True
        end = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._stopping:
                if until is not None and until():
                    return True
                wait = None
                if end is not None:
                    wait = end - time.monotonic()
                    if wait <= 0:
                        return False
                self.poll(wait)
            return until is not None and until()
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self._running = False
            self._stopping = False  # a stop() ends one run(), even one not yet started

    def start_thread(self, name: str = "synack-driver") -> threading.Thread:
        """Run the loop in a daemon thread (until ``stop()``)."""

        def target() -> None:
            with contextlib.suppress(BaseException):  # kept in self.error
                self.run()

        self.thread = threading.Thread(target=target, name=name, daemon=True)
        self.thread.start()
        return self.thread

    def poll(self, timeout: float | None = None) -> None:
        """One turn: wait (at most ``timeout`` seconds, less if a timer is due), then
        queued calls, input, timers and output."""
        stack = self.stack
        now = self.clock()
        deadline = stack.next_deadline()
        wait = timeout
        if deadline is not None:
            until_deadline = max(deadline - now, 0) / 1e6
            wait = until_deadline if wait is None else min(wait, until_deadline)
        if self._pending or self._stopping:
            wait = 0.0
        device_fd = self.device.fileno()
        # poll() counts in milliseconds: round up, so a timer is never found not yet due.
        ready = self._poller.poll(None if wait is None else math.ceil(wait * 1000))
        readable = {fd for fd, _ in ready}
        if self._wake_read in readable:
            self._drain_wake_pipe()
        with self.lock:
            now = self.now = self.clock()
            if self._pending:
                self._run_pending()
                self.flush(now)
            if device_fd in readable:
                self.read_packets()
                now = self.now = self.clock()
            deadline = stack.next_deadline()
            if deadline is not None and deadline <= now:
                stack.on_timer(now)
            self.flush(now)

    def read_packets(self) -> None:
        """Feed the waiting datagrams to the stack, flushing after every batch."""
        read = self.device.read
        receive = self.stack.receive
        pcap = self.pcap
        batch = self.batch
        for _ in range(MAX_BATCHES):
            now = self.now = self.clock()
            count = 0
            while count < batch:
                packet = read()
                if packet is None:
                    break
                count += 1
                if pcap is not None:
                    pcap.write(now + self._wall_offset, packet)
                receive(packet, now)
            self.packets_in += count
            if count:
                self.flush(now)
            if count < batch:
                return

    def flush(self, now: int | None = None) -> None:
        """Write the stack's output, dispatch its events and run the hooks until quiet."""
        if now is None:
            now = self.now = self.clock()
        stack = self.stack
        write = self.device.write
        pcap = self.pcap
        on_event = self.on_event
        for _ in range(MAX_FLUSH_ROUNDS):
            packets = stack.packets_to_send(now)
            for packet in packets:
                write(packet)
                if pcap is not None:
                    pcap.write(now + self._wall_offset, packet)
            self.packets_out += len(packets)
            busy = bool(packets)
            while (item := stack.next_event()) is not None:
                busy = True
                if on_event is not None:
                    on_event(item[0], item[1])
            for hook in self.hooks:
                busy = hook(now) or busy
            if not busy:
                return

    def _run_pending(self) -> None:
        pending = self._pending
        while pending:
            pending.popleft()()

    def _drain_wake_pipe(self) -> None:
        try:
            while os.read(self._wake_read, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    # ------------------------------------------------------------------ teardown

    def close(self) -> None:
        """Release the wake-up pipe and flush the pcap (the device stays open)."""
        if self._closed:
            return
        self._closed = True
        if self.pcap is not None:
            self.pcap.flush()
        os.close(self._wake_read)
        os.close(self._wake_write)
