"""Local checks of an event, for ``dipwire-ingest --dry-run``.

The server is the authority: these checks catch what can be told without
it, so that a file can be fixed before it is sent. They are the contract's
required fields and formats (DESIGN.md, and the server's
``common/event_validation.cc``): ``event_id`` (1-128 of
``[A-Za-z0-9._:-]``), ``occurred_at``, ``source.outlet``, one kind; a
meeting's two or more participants, each with a name and a country, its
status; a trade figure's
countries (different), year 1900-2100, ``value_usd`` > 0, flow and
reporter; a peace talk's ``process_id`` and status; ``cameo_code`` 2-4
digits; ``coverage`` counts >= 0, Goldstein scale in -10..10, tone in
-100..100. A country must be an ISO 3166-1 alpha-3 code as the server
accepts it (:func:`dipwire.countries.known_countries`).
Not checked here: ``reported_at`` in the future, size limits, and anything
that depends on what the server has stored (``event_id`` conflicts).
"""

from __future__ import annotations

import re
from typing import List

from dipwire.api import events_pb2
from dipwire.countries import known_countries

_EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_CAMEO = re.compile(r"[0-9]{2,4}")


def _check_country(path: str, code: str, errors: List[str],
                   required: bool = True) -> None:
    if not code:
        if required:
            errors.append(f"{path}: required")
        return
    if code not in known_countries():
        errors.append(f'{path}: "{code}" is not an ISO 3166-1 alpha-3 '
                      "country code")


def _check_meeting(meeting: events_pb2.LeaderMeeting,
                   errors: List[str]) -> None:
    if len(meeting.participants) < 2:
        errors.append("meeting.participants: at least 2 required, got "
                      f"{len(meeting.participants)}")
    for index, actor in enumerate(meeting.participants):
        path = f"meeting.participants[{index}]"
        if not actor.name.strip():
            errors.append(f"{path}.name: required")
        # Required, as the server's CheckParticipant has it.
        _check_country(f"{path}.country", actor.country, errors)
    _check_country("meeting.host_country", meeting.host_country, errors,
                   required=False)
    if meeting.status == events_pb2.LeaderMeeting.STATUS_UNSPECIFIED:
        errors.append("meeting.status: required")


def _check_trade(trade: events_pb2.TradeFigure, errors: List[str]) -> None:
    _check_country("trade.country_a", trade.country_a, errors)
    _check_country("trade.country_b", trade.country_b, errors)
    if trade.country_a and trade.country_a == trade.country_b:
        errors.append("trade.country_b: must differ from country_a")
    if not 1900 <= trade.year <= 2100:
        errors.append(f"trade.year: {trade.year} is not in 1900-2100")
    if trade.value_usd <= 0:
        errors.append("trade.value_usd: must be > 0")
    if trade.flow == events_pb2.TradeFigure.FLOW_UNSPECIFIED:
        errors.append("trade.flow: required")
    if not trade.reporter.strip():
        errors.append("trade.reporter: required")


def _check_peace_talk(talk: events_pb2.PeaceTalkUpdate,
                      errors: List[str]) -> None:
    if not talk.process_id.strip():
        errors.append("peace_talk.process_id: required")
    if talk.status == events_pb2.PeaceTalkUpdate.STATUS_UNSPECIFIED:
        errors.append("peace_talk.status: required")
    for index, party in enumerate(talk.parties):
        _check_country(f"peace_talk.parties[{index}]", party, errors)
    _check_country("peace_talk.venue_country", talk.venue_country, errors,
                   required=False)


def _check_coverage(coverage: events_pb2.Coverage, errors: List[str]) -> None:
    for name in ("num_mentions", "num_sources", "num_articles"):
        count = getattr(coverage, name)
        if count < 0:
            errors.append(f"coverage.{name}: {count} is negative")
    # NaN fails both comparisons, so it is out of range too.
    if not -10.0 <= coverage.goldstein_scale <= 10.0:
        errors.append(f"coverage.goldstein_scale: {coverage.goldstein_scale} "
                      "is not in -10..10")
    if not -100.0 <= coverage.avg_tone <= 100.0:
        errors.append(f"coverage.avg_tone: {coverage.avg_tone} is not in "
                      "-100..100")


def check_event(event: events_pb2.DiplomaticEvent) -> List[str]:
    """What is locally wrong with ``event``: ``field.path: reason`` each;
    empty when nothing is."""
    errors: List[str] = []
    if not _EVENT_ID.fullmatch(event.event_id):
        errors.append(f'event_id: "{event.event_id}" is not 1-128 of '
                      "[A-Za-z0-9._:-]" if event.event_id
                      else "event_id: required")
    if not event.HasField("occurred_at"):
        errors.append("occurred_at: required")
    if not event.source.outlet.strip():
        errors.append("source.outlet: required")
    if event.cameo_code and not _CAMEO.fullmatch(event.cameo_code):
        errors.append(f'cameo_code: "{event.cameo_code}" is not 2-4 digits')
    if event.HasField("coverage"):
        _check_coverage(event.coverage, errors)
    kind = event.WhichOneof("kind")
    if kind == "meeting":
        _check_meeting(event.meeting, errors)
    elif kind == "trade":
        _check_trade(event.trade, errors)
    elif kind == "peace_talk":
        _check_peace_talk(event.peace_talk, errors)
    else:
        errors.append("kind: one of meeting, trade, peace_talk required")
    return errors
