"""The emulator's event outbox: events are queued under the emulator's lock, in order, and delivered to every
sink after it is released, so a sink may call boto3 (moto, or Bedrock itself) from inside delivery."""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Iterable

from offline.bedrock_emulator.events import Event, EventSink


class Outbox:
    """Queued, delivered and dropped events. `queue`, `drop`, `mark` and `sort_since` are called under `lock`;
    `deliver` without it."""

    def __init__(self, lock: threading.RLock, sinks: Iterable[EventSink]) -> None:
        self._lock = lock
        self._sinks: list[EventSink] = list(sinks)
        self._queued: deque[Event] = deque()
        self._delivering = False
        self.emitted: list[Event] = []
        self.dropped: list[Event] = []

    def subscribe(self, sink: EventSink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def queue(self, event: Event) -> None:
        self._queued.append(event)

    def drop(self, event: Event) -> None:
        """The event is lost (a fault): recorded, never delivered."""
        self.dropped.append(event)

    def mark(self) -> int:
        """Where `sort_since` starts: the number of events queued now."""
        return len(self._queued)

    def sort_since(self, mark: int) -> None:
        """Put the events queued since `mark` in time order; a stable sort keeps each job's own order."""
        if len(self._queued) - mark > 1:
            recent = [self._queued.pop() for _ in range(len(self._queued) - mark)][::-1]
            self._queued.extend(sorted(recent, key=lambda event: str(event["time"])))

    def deliver(self) -> None:
        """Hand every queued event to every sink, in order; call without holding the lock.

        One thread delivers at a time. A call made while another delivery is under way (from a sink, or
        another thread) leaves its events to that delivery, which runs until the queue is empty.
        """
        with self._lock:
            if self._delivering or not self._queued:
                return
            self._delivering = True
        try:
            while True:
                with self._lock:
                    if not self._queued:
                        self._delivering = False
                        return
                    event = self._queued.popleft()
                    self.emitted.append(event)
                    sinks = list(self._sinks)
                for sink in sinks:
                    sink(copy.deepcopy(event))
        except BaseException:
            with self._lock:
                self._delivering = False
            raise
