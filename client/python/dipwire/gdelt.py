"""GDELT 2.0 events exports as dipwire events (``--format gdelt``).

A GDELT 2.0 events export (``YYYYMMDDHHMMSS.export.CSV``) has no header and
61 tab-separated columns in the order of the GDELT 2.0 Event Codebook. Only
rows of the CAMEO codes in :data:`CAMEO_MAPPING` between the state actors
(:func:`state_actor`) of two different countries become events; every other
row is counted by reason (:class:`Counts`) and reported in the ingest's
summary. client/python/README.md ("GDELT 2.0") documents the mapping, the
actor rule with examples from a real export, and the counts.

The mapping, in short:

- 036 (intent to meet) is a meeting ``EXPECTED``; 040, 042, 043, 044
  (consult, visit, host, third-place meeting) a meeting ``HELD``;
- 045, 046 (mediate, negotiate) a peace talk ``IN_PROGRESS``; 057, 0871
  (sign an agreement, declare a ceasefire) ``AGREED``; 125, 126, 127
  (reject talks, mediation, a settlement plan) ``REJECTED``; 164, 165
  (halt negotiations, mediation) ``STALLED``.

GDELT writes one fact as several rows: a visit as 042 from the visitor and
043 from the host (actors swapped), and the same event again for each name
an actor goes by ("UNITED STATES", "THE US"). All rows of one meeting (the
two countries and the day) become one event, and all rows of one peace
process (the two countries) with one status become one event; the others
are counted as merged. Meetings carry a ``meeting_id`` made of the country
pair and the day (``gdelt:AZE-USA:2025-08-07``), so that the same meeting
in a later export updates it instead of starting another.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import urllib.parse
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Iterator, List, Optional, Sequence, Tuple

from dipwire.api import events_pb2
from dipwire.countries import known_countries
from dipwire.formats import Item, read_lines

#: Columns in a GDELT 2.0 events export.
COLUMN_COUNT = 61

# 0-based columns, named as in the GDELT 2.0 Event Codebook.
GLOBAL_EVENT_ID = 0
SQLDATE = 1
ACTOR1 = 5   # Actor1Code; the Actor2 block starts at ACTOR2
ACTOR2 = 15
# Offsets inside an actor block (Actor1Code .. Actor1Type3Code).
_CODE, _NAME, _COUNTRY, _KNOWN_GROUP, _ETHNIC, _RELIGION1, _RELIGION2 = (
    0, 1, 2, 3, 4, 5, 6)
_TYPES = (7, 8, 9)
IS_ROOT_EVENT = 25
EVENT_CODE = 26
GOLDSTEIN_SCALE = 30
NUM_MENTIONS = 31
NUM_SOURCES = 32
NUM_ARTICLES = 33
AVG_TONE = 34
DATEADDED = 59
SOURCEURL = 60

_MEETING = events_pb2.LeaderMeeting
_TALK = events_pb2.PeaceTalkUpdate
_ROLE = events_pb2.Actor


@dataclass(frozen=True)
class Mapping:
    """What one CAMEO event code becomes."""

    #: ``meeting`` or ``peace_talk``.
    kind: str
    #: The LeaderMeeting.Status or PeaceTalkUpdate.Status value.
    status: int
    #: The CAMEO codebook's description of the code.
    description: str


#: The CAMEO event codes (GDELT's EventCode) that become events; the
#: descriptions are the CAMEO codebook's.
CAMEO_MAPPING: Dict[str, Mapping] = {
    "036": Mapping("meeting", _MEETING.EXPECTED,
                   "Express intent to meet or negotiate"),
    "040": Mapping("meeting", _MEETING.HELD, "Consult- not specified below"),
    "042": Mapping("meeting", _MEETING.HELD, "Make a visit"),
    "043": Mapping("meeting", _MEETING.HELD, "Host a visit"),
    "044": Mapping("meeting", _MEETING.HELD,
                   "Meet at a \u201dthird\u201d location"),
    "045": Mapping("peace_talk", _TALK.IN_PROGRESS, "Mediate"),
    "046": Mapping("peace_talk", _TALK.IN_PROGRESS, "Engage in negotiation"),
    "057": Mapping("peace_talk", _TALK.AGREED, "Sign formal agreement"),
    "0871": Mapping("peace_talk", _TALK.AGREED, "Declare truce, ceasefire"),
    "125": Mapping("peace_talk", _TALK.REJECTED,
                   "Reject proposal to meet, discuss, or negotiate"),
    "126": Mapping("peace_talk", _TALK.REJECTED, "Reject mediation"),
    "127": Mapping("peace_talk", _TALK.REJECTED,
                   "Reject plan, agreement to settle dispute"),
    "164": Mapping("peace_talk", _TALK.STALLED, "Halt negotiations"),
    "165": Mapping("peace_talk", _TALK.STALLED, "Halt mediation"),
}

#: Actor type codes (Actor1Type1Code..3Code) of a state actor: government
#: (which includes the known leaders GDELT names, e.g. "GHAGOV" JOHN
#: MAHAMA) and military. Any other type (BUS, EDU, CVL, LEG, JUD, COP, ELI,
#: ...) makes an actor something other than the state.
STATE_TYPES: FrozenSet[str] = frozenset({"GOV", "MIL"})

#: CAMEO country codes that are not the ISO 3166-1 alpha-3 code of the
#: same country (CAMEO predates some ISO changes).
CAMEO_TO_ISO: Dict[str, str] = {
    "ROM": "ROU",  # Romania (ISO changed ROM to ROU in 2002)
    "ZAR": "COD",  # Zaire, now the Democratic Republic of the Congo
    "TMP": "TLS",  # East Timor, now Timor-Leste
    "KOS": "XKX",  # Kosovo (XKX is what dipwire accepts)
}

# Why a row became no event, in the order the checks run; the values are
# what the summary prints.
REASONS: Dict[str, str] = {
    "malformed": "malformed row (reported as a rejected line)",
    "unmapped_cameo_code": "CAMEO code not in the mapping",
    "missing_actor": "only one actor (GDELT left Actor1 or Actor2 empty)",
    "not_state_actor": "not a state actor pair (a BUS, EDU, CVL, ... actor, "
                       "a known group, or an ethnic or religious actor)",
    "no_country": "an actor without a country (e.g. GOV PRESIDENT)",
    "unknown_country_code": "a country code that is not an ISO 3166-1 "
                            "alpha-3 country (a region such as EUR, AFR)",
    "same_country": "both actors of the same country",
    "merged_visit": "merged: the other row of a visit (042 from the "
                    "visitor, 043 from the host)",
    "merged_repeat": "merged: another row of a meeting or status already "
                     "read",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The GDELT reader has no flags of its own."""
    del parser


@dataclass
class Counts:
    """What became of an export's rows."""

    rows: int = 0
    events: int = 0
    #: Rows that became no event of their own, by reason (keys of REASONS).
    dropped: Dict[str, int] = field(
        default_factory=lambda: collections.OrderedDict(
            (reason, 0) for reason in REASONS))
    #: Of those events, how many are meetings and peace talks.
    by_kind: Dict[str, int] = field(
        default_factory=lambda: {"meeting": 0, "peace_talk": 0})

    def lines(self) -> List[str]:
        """The summary: one line for the totals, one per reason."""
        out = [f"gdelt: {self.rows} rows -> {self.events} events "
               f"({self.by_kind['meeting']} meetings, "
               f"{self.by_kind['peace_talk']} peace talks); rows without an "
               "event of their own, by reason:"]
        for reason, count in self.dropped.items():
            out.append(f"  {reason:<22} {count:>6}  {REASONS[reason]}")
        return out

    def as_dict(self) -> Dict[str, object]:
        """The counts as plain data (for golden files)."""
        return {"rows": self.rows, "events": self.events,
                "by_kind": dict(self.by_kind), "dropped": dict(self.dropped)}


def iso_country(cameo: str) -> Optional[str]:
    """The ISO 3166-1 alpha-3 code of a CAMEO country code, as the server
    accepts it (:func:`dipwire.countries.known_countries`); None when it is
    not a country (a region such as EUR, or unknown)."""
    code = CAMEO_TO_ISO.get(cameo, cameo)
    return code if code in known_countries() else None


@dataclass(frozen=True)
class Actor:
    """One side of a GDELT row."""

    code: str
    name: str
    #: The CAMEO country code (Actor1CountryCode), possibly empty.
    country_code: str
    known_group: str
    ethnic: str
    religions: Tuple[str, ...]
    types: Tuple[str, ...]

    @classmethod
    def from_row(cls, row: Sequence[str], start: int) -> "Actor":
        """The actor block of ``row`` starting at column ``start``."""
        def cell(offset: int) -> str:
            return row[start + offset].strip()

        country = cell(_COUNTRY)
        code = cell(_CODE)
        # GDELT codes Romanian actors "ROU..." but leaves CountryCode empty
        # (its own table says ROM): take a leading ISO code of the actor
        # code when the country column is empty.
        if not country and len(code) >= 3 and code[:3] in known_countries():
            country = code[:3]
        return cls(code=code, name=cell(_NAME), country_code=country,
                   known_group=cell(_KNOWN_GROUP), ethnic=cell(_ETHNIC),
                   religions=tuple(r for r in (cell(_RELIGION1),
                                               cell(_RELIGION2)) if r),
                   types=tuple(t for t in (cell(i) for i in _TYPES) if t))


def state_actor(actor: Actor) -> Optional[str]:
    """Why ``actor`` is not a state actor (a key of REASONS), or None
    when it is one: the country itself (a bare country code such as
    "USA" UNITED STATES) or its government or military ("USAGOV",
    "TURMIL", known leaders such as "GHAGOV" JOHN MAHAMA), of a country
    that is an ISO 3166-1 alpha-3 code.

    Not a state actor: any type code outside GOV and MIL (BUS, EDU, CVL,
    LEG, JUD, COP, ELI, ...), a known group (NATO, UN, ICC), or an ethnic
    or religious code. A government or bare actor with no country code
    ("GOV" PRESIDENT) is ``no_country``; one whose code is a region (EUR,
    AFR, WST, NMR) is ``unknown_country_code``."""
    if not actor.code:
        return "missing_actor"
    if (actor.known_group or actor.ethnic or actor.religions
            or any(t not in STATE_TYPES for t in actor.types)):
        return "not_state_actor"
    if not actor.country_code:
        return "no_country"
    if iso_country(actor.country_code) is None:
        return "unknown_country_code"
    return None


# Worst first: a pair is judged by its worse actor.
_ACTOR_REASONS = ("missing_actor", "not_state_actor", "no_country",
                  "unknown_country_code")

# Roles by words of a government actor's name; the first that matches.
_ROLE_WORDS: Tuple[Tuple[str, int], ...] = (
    ("VICE PRESIDENT", _ROLE.OTHER),
    ("PRIME MINIST", _ROLE.HEAD_OF_GOVERNMENT),
    ("PREMIER", _ROLE.HEAD_OF_GOVERNMENT),
    ("CHANCELLOR", _ROLE.HEAD_OF_GOVERNMENT),
    ("PRESIDENT", _ROLE.HEAD_OF_STATE),
    ("KING", _ROLE.HEAD_OF_STATE),
    ("QUEEN", _ROLE.HEAD_OF_STATE),
    ("EMIR", _ROLE.HEAD_OF_STATE),
    ("FOREIGN MINIST", _ROLE.FOREIGN_MINISTER),
    ("FOREIGN SECRETARY", _ROLE.FOREIGN_MINISTER),
    ("SECRETARY OF STATE", _ROLE.FOREIGN_MINISTER),
    ("MINIST", _ROLE.MINISTER),
    ("AMBASSADOR", _ROLE.ENVOY),
    ("ENVOY", _ROLE.ENVOY),
    ("DIPLOMAT", _ROLE.ENVOY),
)


def role_of(actor: Actor) -> int:
    """The Actor.Role of a state actor: from its name when it is a
    government actor named by office ("PRESIDENT", "PRIME MINISTER",
    "FOREIGN MINISTER", "AMBASSADOR"), else OTHER (a country, a military,
    a leader GDELT names by person)."""
    if "GOV" in actor.types:
        name = actor.name.upper()
        for words, role in _ROLE_WORDS:
            if words in name:
                return role
    return _ROLE.OTHER


@dataclass
class _Row:
    """A row that maps to an event, with what the mapping needs."""

    line: int
    row: List[str]
    mapping: Mapping
    actors: Tuple[Actor, Actor]
    countries: Tuple[str, str]

    @property
    def global_id(self) -> str:
        return self.row[GLOBAL_EVENT_ID]

    @property
    def code(self) -> str:
        return self.row[EVENT_CODE]

    @property
    def pair(self) -> Tuple[str, str]:
        a, b = self.countries
        return (a, b) if a <= b else (b, a)


def _parse_day(text: str) -> datetime.datetime:
    """SQLDATE (YYYYMMDD) at 00:00 UTC. Raises ValueError."""
    day = datetime.datetime.strptime(text, "%Y%m%d")
    return day.replace(tzinfo=datetime.timezone.utc)


def _parse_added(text: str) -> datetime.datetime:
    """DATEADDED (YYYYMMDDHHMMSS, UTC). Raises ValueError."""
    added = datetime.datetime.strptime(text, "%Y%m%d%H%M%S")
    return added.replace(tzinfo=datetime.timezone.utc)


def _number(row: Sequence[str], column: int, name: str, kind: type,
            limit: float) -> None:
    """Raises ValueError unless the cell is a ``kind`` in -limit..limit
    (0..limit for a count, an int)."""
    text = row[column].strip()
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a number") from None
    low = 0 if kind is int else -limit
    if not low <= value <= limit:  # also false for NaN
        raise ValueError(f"{name} {text!r} is not in {low:g}..{limit:g}")


def outlet_of(url: str) -> str:
    """The outlet of a report: its URL's host without "www."; "GDELT" when
    the row has no URL, or one whose host cannot be read (urlsplit raises
    ValueError for "http://[bad/x", an unclosed IPv6 bracket)."""
    try:
        host = urllib.parse.urlsplit(url.strip()).hostname or ""
    except ValueError:
        host = ""
    if host.startswith("www."):
        host = host[len("www."):]
    return host or "GDELT"


def _check_row(row: List[str]) -> None:
    """Raises ValueError when a row cannot be read at all."""
    if len(row) != COLUMN_COUNT:
        raise ValueError(f"{len(row)} tab-separated columns; a GDELT 2.0 "
                         f"events export has {COLUMN_COUNT}")
    if not row[GLOBAL_EVENT_ID].isdigit():
        raise ValueError(f"GlobalEventID {row[GLOBAL_EVENT_ID]!r} is not a "
                         "number")
    try:
        if len(row[SQLDATE]) != 8 or not row[SQLDATE].isdigit():
            raise ValueError
        _parse_day(row[SQLDATE])
    except ValueError:
        raise ValueError(f"SQLDATE {row[SQLDATE]!r} is not a date "
                         "YYYYMMDD") from None
    try:
        if len(row[DATEADDED]) != 14 or not row[DATEADDED].isdigit():
            raise ValueError
        _parse_added(row[DATEADDED])
    except ValueError:
        raise ValueError(f"DATEADDED {row[DATEADDED]!r} is not a time "
                         "YYYYMMDDHHMMSS") from None
    # The ranges dipwire's validation enforces on Coverage.
    _number(row, NUM_MENTIONS, "NumMentions", int, 2**31 - 1)
    _number(row, NUM_SOURCES, "NumSources", int, 2**31 - 1)
    _number(row, NUM_ARTICLES, "NumArticles", int, 2**31 - 1)
    _number(row, GOLDSTEIN_SCALE, "GoldsteinScale", float, 10.0)
    _number(row, AVG_TONE, "AvgTone", float, 100.0)


def judge_row(row: List[str], line: int) -> Tuple[Optional[_Row], str]:
    """A mappable row, or None with the reason (a key of REASONS) it
    becomes no event. Raises ValueError for a malformed row."""
    _check_row(row)
    mapping = CAMEO_MAPPING.get(row[EVENT_CODE].strip())
    if mapping is None:
        return None, "unmapped_cameo_code"
    actors = (Actor.from_row(row, ACTOR1), Actor.from_row(row, ACTOR2))
    problems = {state_actor(actor) for actor in actors}
    for reason in _ACTOR_REASONS:
        if reason in problems:
            return None, reason
    countries = tuple(iso_country(a.country_code) or "" for a in actors)
    if countries[0] == countries[1]:
        return None, "same_country"
    return _Row(line, row, mapping, actors,
                (countries[0], countries[1])), ""


def meeting_id(pair: Tuple[str, str], day: str) -> str:
    """``gdelt:<A>-<B>:<YYYY-MM-DD>``: the two countries, sorted, and the
    day. The same in every export, so a later report of the meeting
    updates it rather than starting another."""
    return f"gdelt:{pair[0]}-{pair[1]}:{day[:4]}-{day[4:6]}-{day[6:]}"


def process_id(pair: Tuple[str, str]) -> str:
    """``gdelt:<A>-<B>``: a peace process is the two countries."""
    return f"gdelt:{pair[0]}-{pair[1]}"


def _side(actor: Actor, country: str) -> str:
    return f"{actor.name or country} ({country})"


def _summary(lead: _Row, merged: Sequence[_Row]) -> str:
    """``GDELT 042 (Make a visit): BRAZIL (BRA) → CHINA (CHN)``, plus the
    rows merged into it."""
    first, second = lead.actors
    text = (f"GDELT {lead.code} ({lead.mapping.description}): "
            f"{_side(first, lead.countries[0])} \u2192 "
            f"{_side(second, lead.countries[1])}")
    if merged:
        text += "; merged rows: " + ", ".join(
            f"{row.global_id} ({row.code})" for row in merged)
    return text


def _event(lead: _Row, merged: Sequence[_Row]) -> events_pb2.DiplomaticEvent:
    """The event of a group of rows, from its lead row."""
    row = lead.row
    url = row[SOURCEURL].strip()
    event = events_pb2.DiplomaticEvent(
        event_id=f"gdelt-{lead.global_id}",
        summary=_summary(lead, merged),
        cameo_code=lead.code)
    event.occurred_at.FromDatetime(
        _parse_day(row[SQLDATE]).replace(tzinfo=None))
    event.reported_at.FromDatetime(
        _parse_added(row[DATEADDED]).replace(tzinfo=None))
    event.source.outlet = outlet_of(url)
    event.source.url = url
    coverage = event.coverage
    coverage.num_mentions = int(row[NUM_MENTIONS])
    coverage.num_sources = int(row[NUM_SOURCES])
    coverage.num_articles = int(row[NUM_ARTICLES])
    coverage.goldstein_scale = float(row[GOLDSTEIN_SCALE])
    coverage.avg_tone = float(row[AVG_TONE])
    if lead.mapping.kind == "meeting":
        meeting = event.meeting
        meeting.meeting_id = meeting_id(lead.pair, row[SQLDATE])
        meeting.status = lead.mapping.status
        for actor, country in zip(lead.actors, lead.countries):
            meeting.participants.add(name=actor.name or country,
                                     country=country, role=role_of(actor))
        # 042: Actor1 visits Actor2; 043: Actor1 hosts Actor2.
        if lead.code == "042":
            meeting.host_country = lead.countries[1]
        elif lead.code == "043":
            meeting.host_country = lead.countries[0]
    else:
        talk = event.peace_talk
        talk.process_id = process_id(lead.pair)
        talk.title = f"{lead.pair[0]}\u2013{lead.pair[1]} talks (GDELT)"
        talk.status = lead.mapping.status
        talk.parties.extend(lead.pair)
        talk.detail = event.summary
    return event


def _merge_reason(lead: _Row, row: _Row) -> str:
    """Why ``row`` was merged into ``lead``'s event."""
    visit = {lead.code, row.code} == {"042", "043"}
    swapped = lead.countries == (row.countries[1], row.countries[0])
    return "merged_visit" if visit and swapped else "merged_repeat"


def _group_key(row: _Row) -> Tuple[str, ...]:
    """Rows with one key become one event: a meeting is the pair and the
    day (whatever its status); a peace-talk update is the pair and the
    status."""
    if row.mapping.kind == "meeting":
        return ("meeting", meeting_id(row.pair, row.row[SQLDATE]))
    return ("peace_talk", process_id(row.pair), str(row.mapping.status))


def _lead_of(rows: Sequence[_Row]) -> _Row:
    """The row an event is made from: the first of the group, except that
    a meeting held beats one only expected (a held meeting was expected
    too, and the event should not move a meeting back to EXPECTED)."""
    held = [row for row in rows if row.mapping.kind == "meeting"
            and row.mapping.status == _MEETING.HELD]
    return held[0] if held else rows[0]


class GdeltReader:
    """Reads one export: an iterator of :class:`~dipwire.formats.Item`
    (one per event, in the order of each event's lead row; malformed rows
    as errors), with :attr:`counts` complete once it is exhausted and
    :meth:`summary` for the ingest to print.

    The whole export is read before the first event is yielded: the rows
    of one event can be anywhere in it. An export is some thousand rows.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.counts = Counts()
        self._items: Optional[Iterator[Item]] = None

    def __iter__(self) -> "GdeltReader":
        return self

    def __next__(self) -> Item:
        if self._items is None:
            self._items = iter(self._read())
        return next(self._items)

    def summary(self) -> List[str]:
        """The counts by reason, one line each."""
        return self.counts.lines()

    def _rows(self) -> Iterator[Tuple[int, List[str], Optional[str]]]:
        """(line, cells, why the line is unreadable or None) per row."""
        for line in read_lines(self.path):
            text = line.text.rstrip("\r\n")
            if not text.strip():
                continue
            yield line.number, text.split("\t"), line.problem

    def _read(self) -> List[Item]:
        counts = self.counts
        groups: Dict[Tuple[str, ...], List[_Row]] = {}
        order: List[Tuple[int, object]] = []  # (line, group key or error)
        for line, cells, problem in self._rows():
            counts.rows += 1
            if problem:  # not UTF-8
                counts.dropped["malformed"] += 1
                order.append((line, Item(line, error=problem)))
                continue
            try:
                mapped, reason = judge_row(cells, line)
            except ValueError as error:
                counts.dropped["malformed"] += 1
                order.append((line, Item(line, error=f"GDELT row: {error}")))
                continue
            if mapped is None:
                counts.dropped[reason] += 1
                continue
            key = _group_key(mapped)
            if key not in groups:
                groups[key] = []
                order.append((line, key))
            groups[key].append(mapped)
        leads: List[Tuple[int, Item]] = []
        for line, entry in order:
            if isinstance(entry, Item):
                leads.append((line, entry))
                continue
            rows = groups[entry]  # type: ignore[index]
            lead = _lead_of(rows)
            merged = [row for row in rows if row is not lead]
            for row in merged:
                counts.dropped[_merge_reason(lead, row)] += 1
            counts.events += 1
            counts.by_kind[lead.mapping.kind] += 1
            leads.append((lead.line, Item(lead.line,
                                          event=_event(lead, merged))))
        # Events in the order of their lead rows: a file in GlobalEventID
        # order gives events in that order.
        return [item for _, item in sorted(leads, key=lambda p: p[0])]


def read_events(path: str, args: argparse.Namespace) -> GdeltReader:
    """The events of a GDELT 2.0 events export (see the module's
    documentation); ``summary()`` of the result gives the counts."""
    del args  # No options.
    return GdeltReader(path)


def read_all(path: str) -> Tuple[List[Item], Counts]:
    """Every item of an export and its counts (for tests and tools)."""
    reader = GdeltReader(path)
    items = list(reader)
    return items, reader.counts
