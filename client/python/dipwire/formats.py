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

Input is UTF-8 (a byte order mark is dropped). Readers take it a line at a
time from :func:`read_lines`, so that a line that is not UTF-8 becomes a
rejected line (``line N: not UTF-8: ...``) rather than the end of the input.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import re
import sys
from dataclasses import dataclass
from typing import BinaryIO, Callable, Dict, Iterator, Optional, Tuple

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


@dataclass(frozen=True)
class Line:
    """One line of an input file."""

    #: 1-based.
    number: int
    #: The line with its end (``\n``, ``\r\n`` or ``\r``). Bytes that are not
    #: UTF-8 are kept as lone surrogates (Python's "surrogateescape").
    text: str
    #: ``not UTF-8: ...`` when the line is not valid UTF-8, else None.
    problem: Optional[str] = None


@contextlib.contextmanager
def _open_binary(path: str) -> Iterator[BinaryIO]:
    """Opens ``path`` (``-``: standard input) for reading bytes. Raises
    OSError when it cannot be opened."""
    if path == "-":
        yield sys.stdin.buffer
        return
    with open(path, "rb") as stream:
        yield stream


def not_utf8(error: UnicodeDecodeError) -> str:
    """The reason for a line that is not UTF-8, e.g. ``not UTF-8: byte
    0xe9 at byte 12 of the line (invalid continuation byte)``."""
    bad = error.object[error.start:error.start + 1]
    return (f"not UTF-8: byte 0x{bad.hex()} at byte {error.start + 1} of "
            f"the line ({error.reason})")


# After a lone CR (one not followed by LF): where a "\r" line ends.
_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")


def _raw_lines(stream: BinaryIO) -> Iterator[bytes]:
    """The lines of ``stream`` as open(newline="") splits them: at ``\n``,
    ``\r\n`` or ``\r``, each with its end."""
    for chunk in stream:  # ends at b"\n", so "\r\n" is never cut
        if b"\r" in chunk:
            yield from (part for part in _LONE_CR.split(chunk) if part)
        else:
            yield chunk


def read_lines(path: str) -> Iterator[Line]:
    """The lines of ``path`` (``-``: standard input), decoded one at a time
    as UTF-8, without a leading byte order mark. Lines end at ``\n``,
    ``\r\n`` or ``\r`` (as text read with ``newline=""``). A line that is
    not UTF-8 comes with its :attr:`Line.problem` set, and the lines after
    it are read as usual. Raises OSError when the input cannot be opened or
    read."""
    with _open_binary(path) as stream:
        for number, raw in enumerate(_raw_lines(stream), start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                yield Line(number, raw.decode("utf-8"))
            except UnicodeDecodeError as error:
                yield Line(number, raw.decode("utf-8", "surrogateescape"),
                           not_utf8(error))


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
    skipped (even when not UTF-8); any other line that is not UTF-8 is an
    error."""
    del args  # No options.
    for line in read_lines(path):
        text = line.text.strip()
        if not text or text.startswith("#"):
            continue
        if line.problem:
            yield Item(line.number, error=line.problem)
            continue
        try:
            yield Item(line.number, event=parse_event_json(text))
        except ValueError as error:
            yield Item(line.number, error=f"invalid JSON event: {error}")


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
