"""The counts of an ingest and the progress line that shows them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import List, TextIO, Tuple


@dataclass
class Tally:
    """What became of the input's records so far."""

    accepted: int = 0
    duplicate: int = 0
    #: (line, reason) of each rejected record, in the order they were judged.
    rejected: List[Tuple[int, str]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> int:
        """Records judged: accepted, duplicate or rejected."""
        return self.accepted + self.duplicate + len(self.rejected)

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.started

    def rate(self) -> float:
        """Records judged per second since the start."""
        elapsed = self.elapsed()
        return self.done / elapsed if elapsed > 0 else 0.0

    def counts(self) -> str:
        """``N accepted, N duplicate, N rejected``."""
        return (f"{self.accepted} accepted, {self.duplicate} duplicate, "
                f"{len(self.rejected)} rejected")


class Progress:
    """A single line, rewritten in place at most every ``interval``
    seconds, on a terminal; nothing when ``enabled`` is False."""

    def __init__(self, stream: TextIO, enabled: bool,
                 interval: float = 0.25) -> None:
        self._stream = stream
        self._enabled = enabled
        self._interval = interval
        self._last = 0.0
        self._width = 0

    def update(self, tally: Tally, force: bool = False) -> None:
        """Shows ``tally`` if the line is due (or ``force``)."""
        now = time.monotonic()
        if not self._enabled or (not force
                                 and now - self._last < self._interval):
            return
        self._last = now
        text = (f"{tally.done} events, {tally.rate():.0f}/s: "
                f"{tally.counts()}")
        padding = " " * max(0, self._width - len(text))
        self._width = len(text)
        self._stream.write(f"\r{text}{padding}")
        self._stream.flush()

    def clear(self) -> None:
        """Erases the line, so that other output starts on a clean one."""
        if self._enabled and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0
