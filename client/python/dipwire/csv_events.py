"""CSV input of dipwire-ingest: one event a row, under a header row.

Columns (names in the header, any order; empty cells are unset; columns a
row's kind does not use must be empty):

every kind
    ``event_id`` (required), ``occurred_at`` (RFC 3339, e.g.
    ``2024-04-08T09:00:00Z``, or a date ``2024-04-08`` meaning 00:00 UTC),
    ``reported_at``, ``outlet``, ``url``, ``summary``, ``cameo_code``, and
    ``kind`` (``meeting``, ``trade`` or ``peace_talk``) unless the whole
    file is one kind given by ``--kind``
meeting
    ``meeting_id``, ``participant1_name``, ``participant1_country``,
    ``participant1_role``, ``participant2_name``, ... (any number of
    participants, numbered from 1), ``host_country``, ``city``,
    ``status``, ``topics`` (separated by ``;``)
trade
    ``country_a``, ``country_b``, ``year``, ``value_usd`` (whole dollars),
    ``flow``, ``reporter``
peace_talk
    ``process_id``, ``title``, ``status``, ``parties`` (separated by
    ``;``), ``venue_country``, ``detail``

Enum cells (``status``, ``flow``, ``participantN_role``) take the proto
value names, in any case. Rows whose first cell starts with ``#`` and empty
rows are skipped. Errors name the line and the column; a row with a line
that is not UTF-8 is rejected (``not UTF-8: ...``) and the next rows are
read. A cell may hold up to :data:`FIELD_SIZE_LIMIT` characters; when the
file cannot be parsed as CSV past some point (a longer cell, a NUL byte),
the error says ``reading stopped here``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import re
from typing import Callable, Dict, Iterator, List, Optional, Set

from google.protobuf import message

from dipwire.api import events_pb2
from dipwire.formats import Item, Line, read_lines

KINDS = ("meeting", "trade", "peace_talk")

COMMON_COLUMNS = ("event_id", "occurred_at", "reported_at", "outlet", "url",
                  "summary", "cameo_code", "kind")
KIND_COLUMNS: Dict[str, tuple] = {
    "meeting": ("meeting_id", "host_country", "city", "status", "topics"),
    "trade": ("country_a", "country_b", "year", "value_usd", "flow",
              "reporter"),
    "peace_talk": ("process_id", "title", "status", "parties",
                   "venue_country", "detail"),
}
_PARTICIPANT = re.compile(r"^participant([1-9][0-9]*)_(name|country|role)$")

#: The longest cell, in characters. Python's csv default (131072) is less
#: than the server's event limit (--max-event-bytes, 262144 bytes of
#: serialized event, so a summary can be about that long); 4 MiB is the
#: server's message limit, which no event can exceed. A cell up to the
#: message limit is read, so that the server (or --dry-run's event) judges
#: its size rather than the parser.
FIELD_SIZE_LIMIT = 4 * 1024 * 1024


class CellError(ValueError):
    """A cell that cannot be read; names its column."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f'column "{column}": {reason}')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``--kind`` to the ingest's parser."""
    parser.add_argument(
        "--kind", choices=KINDS,
        help="csv: the kind of every row, for a file without a kind column")


def _known_column(name: str) -> bool:
    if name in COMMON_COLUMNS or _PARTICIPANT.match(name):
        return True
    return any(name in columns for columns in KIND_COLUMNS.values())


def _columns_of(kind: str) -> Set[str]:
    return set(COMMON_COLUMNS) | set(KIND_COLUMNS[kind])


def parse_time(column: str, text: str) -> datetime.datetime:
    """An RFC 3339 time with a zone, or a date (00:00 UTC)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.datetime.fromisoformat(text).replace(
                tzinfo=datetime.timezone.utc)
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise CellError(column, f'"{text}" is not an RFC 3339 time such as '
                        '2024-04-08T09:00:00Z, nor a date such as '
                        '2024-04-08') from None
    if value.tzinfo is None:
        raise CellError(column, f'"{text}" has no time zone (add Z or '
                        '+hh:mm)')
    return value


def _set_time(field: message.Message, column: str, text: str) -> None:
    value = parse_time(column, text).astimezone(datetime.timezone.utc)
    field.FromDatetime(value.replace(tzinfo=None))


def _enum(column: str, enum_type: object, text: str, what: str) -> int:
    """The value of enum ``enum_type`` named ``text``, in any case."""
    names = [name for name in enum_type.keys()  # type: ignore[attr-defined]
             if not name.endswith("_UNSPECIFIED")]
    if text.upper() not in names:
        raise CellError(column, f'"{text}" is not a {what} '
                        f'({", ".join(names)})')
    return enum_type.Value(text.upper())  # type: ignore[attr-defined]


def _integer(column: str, text: str) -> int:
    if not re.fullmatch(r"-?[0-9]+", text):
        raise CellError(column, f'"{text}" is not a whole number')
    return int(text)


def _list(text: str) -> List[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def _fill_meeting(event: events_pb2.DiplomaticEvent,
                  cells: Dict[str, str]) -> None:
    meeting = event.meeting
    meeting.meeting_id = cells.get("meeting_id", "")
    meeting.host_country = cells.get("host_country", "")
    meeting.city = cells.get("city", "")
    if cells.get("status"):
        meeting.status = _enum("status", events_pb2.LeaderMeeting.Status,
                               cells["status"], "meeting status")
    meeting.topics.extend(_list(cells.get("topics", "")))
    numbers = sorted({int(m.group(1)) for m in map(_PARTICIPANT.match, cells)
                      if m})
    for number in numbers:
        prefix = f"participant{number}_"
        name = cells.get(prefix + "name", "")
        country = cells.get(prefix + "country", "")
        role = cells.get(prefix + "role", "")
        if not (name or country or role):
            continue
        actor = meeting.participants.add(name=name, country=country)
        if role:
            actor.role = _enum(prefix + "role", events_pb2.Actor.Role, role,
                               "role")


def _fill_trade(event: events_pb2.DiplomaticEvent,
                cells: Dict[str, str]) -> None:
    trade = event.trade
    trade.country_a = cells.get("country_a", "")
    trade.country_b = cells.get("country_b", "")
    if cells.get("year"):
        trade.year = _integer("year", cells["year"])
    if cells.get("value_usd"):
        trade.value_usd = _integer("value_usd", cells["value_usd"])
    if cells.get("flow"):
        trade.flow = _enum("flow", events_pb2.TradeFigure.Flow,
                           cells["flow"], "trade flow")
    trade.reporter = cells.get("reporter", "")


def _fill_peace_talk(event: events_pb2.DiplomaticEvent,
                     cells: Dict[str, str]) -> None:
    talk = event.peace_talk
    talk.process_id = cells.get("process_id", "")
    talk.title = cells.get("title", "")
    if cells.get("status"):
        talk.status = _enum("status", events_pb2.PeaceTalkUpdate.Status,
                            cells["status"], "peace talk status")
    talk.parties.extend(_list(cells.get("parties", "")))
    talk.venue_country = cells.get("venue_country", "")
    talk.detail = cells.get("detail", "")


_FILLERS: Dict[str, Callable[[events_pb2.DiplomaticEvent, Dict[str, str]],
                             None]] = {
    "meeting": _fill_meeting,
    "trade": _fill_trade,
    "peace_talk": _fill_peace_talk,
}


def event_from_row(cells: Dict[str, str],
                   default_kind: Optional[str]) -> events_pb2.DiplomaticEvent:
    """The event of one row (header name -> stripped cell; empty cells
    left out). Raises CellError naming the column at fault."""
    kind = cells.get("kind", "").lower() or default_kind
    if kind is None:
        raise CellError("kind", "empty: give each row a kind (meeting, "
                        "trade, peace_talk) or the file a --kind")
    if kind not in KINDS:
        raise CellError("kind", f'"{cells["kind"]}" is not meeting, trade '
                        'or peace_talk')
    allowed = _columns_of(kind)
    for column in cells:
        if column not in allowed and not (
                kind == "meeting" and _PARTICIPANT.match(column)):
            raise CellError(column, f"not a column of a {kind} row (leave it "
                            "empty)")
    event = events_pb2.DiplomaticEvent(
        event_id=cells.get("event_id", ""),
        summary=cells.get("summary", ""),
        cameo_code=cells.get("cameo_code", ""))
    if cells.get("outlet") or cells.get("url"):
        event.source.outlet = cells.get("outlet", "")
        event.source.url = cells.get("url", "")
    if cells.get("occurred_at"):
        _set_time(event.occurred_at, "occurred_at", cells["occurred_at"])
    if cells.get("reported_at"):
        _set_time(event.reported_at, "reported_at", cells["reported_at"])
    _FILLERS[kind](event, cells)
    return event


def _check_header(header: List[str], kind: Optional[str]) -> Optional[str]:
    """Why ``header`` cannot be read, or None."""
    names = [name.strip() for name in header]
    for name in names:
        if not name:
            return "the header has an empty column name"
        if not _known_column(name):
            return (f'column "{name}": unknown column (see '
                    "client/python/README.md)")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        return f'column "{duplicates[0]}": appears twice in the header'
    if "kind" not in names and kind is None:
        return ('no "kind" column: add one, or give the kind of every row '
                "with --kind meeting|trade|peace_talk")
    return None


def _texts(lines: Iterator[Line], problems: Dict[int, str]) -> Iterator[str]:
    """The text of each line, for csv.reader; records in ``problems`` the
    lines that are not UTF-8 (their bytes reach the reader as surrogates)."""
    for line in lines:
        if line.problem:
            problems[line.number] = line.problem
        yield line.text


def read_csv(path: str, args: argparse.Namespace) -> Iterator[Item]:
    """The events of a CSV file (see the module's documentation)."""
    kind: Optional[str] = getattr(args, "kind", None)
    if csv.field_size_limit() < FIELD_SIZE_LIMIT:
        csv.field_size_limit(FIELD_SIZE_LIMIT)
    problems: Dict[int, str] = {}
    reader = csv.reader(_texts(read_lines(path), problems))
    header: Optional[List[str]] = None
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # The reader cannot go on past this point: say so, rather than
            # drop the rest of the file silently.
            yield Item(line, error=f"malformed CSV: {error}; reading "
                       "stopped here")
            return
        # A row spans lines line..reader.line_num (a quoted cell may hold
        # line breaks).
        bad: List[str] = []
        for number in range(line, reader.line_num + 1):
            if number in problems:
                where = "" if number == line else f" (on line {number})"
                bad.append(problems.pop(number) + where)
        if not any(cell.strip() for cell in row) or (
                row[0].lstrip().startswith("#")):
            continue
        if bad:
            yield Item(line, error=bad[0])
            if header is None:
                return  # No header to read the rows under.
            continue
        if header is None:
            header = [name.strip() for name in row]
            problem = _check_header(header, kind)
            if problem:
                yield Item(line, error=problem)
                return
            continue
        yield _row_item(line, header, row, kind)


def _row_item(line: int, header: List[str], row: List[str],
              kind: Optional[str]) -> Item:
    """Reads one data row into an Item."""
    if len(row) > len(header):
        return Item(line, error=f"{len(row)} cells under a header of "
                    f"{len(header)} columns")
    cells = {name: cell.strip() for name, cell in zip(header, row)
             if cell.strip()}
    try:
        return Item(line, event=event_from_row(cells, kind))
    except CellError as error:
        return Item(line, error=str(error))
