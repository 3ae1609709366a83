"""Input formats of dipwire-ingest: a registry of readers.

A reader turns one input (a path, or ``-`` for standard input) into
:class:`Item` values in input order: each is either an event or an error,
with the line it came from. To add a format, write a reader and register it
in :data:`FORMATS` under the name ``--format`` takes; ``add_arguments`` lets
it add its own command-line flags (they reach the reader in ``args``)::

    FORMATS["gdelt"] = Format(
        name="gdelt", description="GDELT 2.0 events export",
        read=gdelt.read_events, add_arguments=gdelt.add_arguments)

A reader that skips records on purpose (as the GDELT reader skips rows that
are no diplomatic event) returns an iterator with a ``summary()`` method:
the lines it returns once the iterator is exhausted are printed after the
ingest's own summary, so that nothing is dropped silently.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, Optional, TextIO, Tuple

from google.protobuf import json_format

from dipwire.api import events_pb2


@dataclass(frozen=True)
class Item:
    """One input record: an event, or why the record is not one."""

    #: The 1-based line where the record starts.
    line: int
    event: Optional[events_pb2.DiplomaticEvent] = None
    #: Set when the record could not be read as an event.
    error: Optional[str] = None


#: A reader: the input's path (``-``: standard input) and the parsed command
#: line; yields the input's records in order.
Reader = Callable[[str, argparse.Namespace], Iterator[Item]]


@dataclass(frozen=True)
class Format:
    """An input format ``--format`` can name."""

    name: str
    description: str
    read: Reader
    #: File name endings that select this format without ``--format``.
    extensions: Tuple[str, ...] = ()
    #: Adds the format's own flags to the ingest's argument parser.
    add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None


@contextlib.contextmanager
def open_text(path: str) -> Iterator[TextIO]:
    """Opens ``path`` (``-``: standard input) as UTF-8 text, dropping a
    byte order mark. Raises OSError when it cannot be opened."""
    if path == "-":
        yield io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig",
                               newline="")
        return
    with open(path, encoding="utf-8-sig", newline="") as stream:
        yield stream


def parse_event_json(text: str) -> events_pb2.DiplomaticEvent:
    """Parses one ``DiplomaticEvent`` in the proto3 JSON mapping; unknown
    fields are errors. Raises ValueError with protobuf's reason."""
    event = events_pb2.DiplomaticEvent()
    try:
        json_format.Parse(text, event, ignore_unknown_fields=False)
    except json_format.ParseError as error:
        raise ValueError(" ".join(str(error).split())) from None
    return event


def read_jsonl(path: str, args: argparse.Namespace) -> Iterator[Item]:
    """JSON lines, as ``dipwire publish`` reads them: one ``DiplomaticEvent``
    (proto3 JSON) per line; blank lines and lines starting with ``#`` are
    skipped."""
    del args  # No options.
    with open_text(path) as stream:
        for number, raw in enumerate(stream, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                yield Item(number, event=parse_event_json(line))
            except ValueError as error:
                yield Item(number, error=f"invalid JSON event: {error}")


def _read_csv(path: str, args: argparse.Namespace) -> Iterator[Item]:
    """Imported lazily: see dipwire.csv_events."""
    from dipwire import csv_events
    return csv_events.read_csv(path, args)


def _add_csv_arguments(parser: argparse.ArgumentParser) -> None:
    from dipwire import csv_events
    csv_events.add_arguments(parser)


def _read_gdelt(path: str, args: argparse.Namespace) -> Iterator[Item]:
    """Imported lazily: see dipwire.gdelt. The iterator has summary()."""
    from dipwire import gdelt
    return gdelt.read_events(path, args)


def _add_gdelt_arguments(parser: argparse.ArgumentParser) -> None:
    from dipwire import gdelt
    gdelt.add_arguments(parser)


#: Every format ``--format`` can name, by name.
FORMATS: Dict[str, Format] = {
    "jsonl": Format(
        name="jsonl",
        description="JSON lines: one DiplomaticEvent (proto3 JSON) a line",
        read=read_jsonl, extensions=(".jsonl", ".ndjson", ".json")),
    "csv": Format(
        name="csv",
        description="CSV with a header row (client/python/README.md)",
        read=_read_csv, extensions=(".csv",),
        add_arguments=_add_csv_arguments),
    "gdelt": Format(
        name="gdelt",
        description="GDELT 2.0 events export (tab-separated, no header; "
                    "meetings and peace talks between states)",
        read=_read_gdelt, extensions=(".export.csv",),
        add_arguments=_add_gdelt_arguments),
}


def format_for_path(path: str) -> Optional[Format]:
    """The format a file name's ending selects, in any case; the longest
    matching ending wins (GDELT's ``20250807220000.export.CSV`` is
    ``gdelt``, ``events.csv`` is ``csv``); JSON lines for standard input;
    None when the ending is unknown."""
    if path == "-":
        return FORMATS["jsonl"]
    lower = path.lower()
    best: Optional[Format] = None
    best_length = 0
    for candidate in FORMATS.values():
        for ending in candidate.extensions:
            if lower.endswith(ending) and len(ending) > best_length:
                best, best_length = candidate, len(ending)
    return best
