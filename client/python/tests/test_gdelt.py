"""The GDELT 2.0 reader (dipwire.gdelt) and ``dipwire-ingest --format gdelt``.

The golden files hold what the reader yields from the real export in
tests/data (a copy of ../shared/data/gdelt/): ``golden/gdelt-20250807220000
.jsonl``, one event in proto3 JSON a line, and ``golden/gdelt-20250807220000
.summary.json``, the rows' counts by reason. After a deliberate change to
the mapping, regenerate both and review the diff:

    DIPWIRE_UPDATE_GOLDEN=1 /usr/bin/python3 -m pytest -q \\
        client/python/tests/test_gdelt.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Dict, List

import pytest
from google.protobuf import json_format

from conftest import REPO, Dipwired, run_ingest
from dipwire import gdelt
from dipwire.api import alerts_pb2, events_pb2
from dipwire.client import Client
from dipwire.formats import FORMATS, format_for_path

TESTS = Path(__file__).resolve().parent
EXPORT = TESTS / "data" / "20250807220000.export.CSV"
EXPORT_SHA256 = ("009dd5c081f477c67fa0295d12942a6cfc2554cd6d7a19543c25c48"
                 "9a55ee88d")
# The original, beside the checkout (absent in a fresh clone, e.g. in CI).
SHARED_EXPORT = (REPO.parent / "shared" / "data" / "gdelt"
                 / "20250807220000.export.CSV")
GOLDEN_EVENTS = TESTS / "golden" / "gdelt-20250807220000.jsonl"
GOLDEN_SUMMARY = TESTS / "golden" / "gdelt-20250807220000.summary.json"
UPDATE = os.environ.get("DIPWIRE_UPDATE_GOLDEN") == "1"

MEETING = events_pb2.LeaderMeeting
TALK = events_pb2.PeaceTalkUpdate


def to_json(event: events_pb2.DiplomaticEvent) -> str:
    """One golden line: proto3 JSON on one line, keys in field order."""
    return json_format.MessageToJson(event, indent=None, ensure_ascii=False)


def check_golden(path: Path, text: str) -> None:
    """``text`` equals the golden file (rewrites it under UPDATE)."""
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (f"{path.name} differs; if the change is "
                              "meant, rerun with DIPWIRE_UPDATE_GOLDEN=1")


def golden_events() -> List[Dict[str, object]]:
    return [json.loads(line) for line in
            GOLDEN_EVENTS.read_text(encoding="utf-8").splitlines()]


# --- The shared export -------------------------------------------------------


def test_export_copy_is_the_shared_file_byte_for_byte() -> None:
    data = EXPORT.read_bytes()
    assert hashlib.sha256(data).hexdigest() == EXPORT_SHA256
    if SHARED_EXPORT.is_file():
        assert SHARED_EXPORT.read_bytes() == data


def test_export_yields_the_golden_events() -> None:
    items, _ = gdelt.read_all(str(EXPORT))
    assert all(item.error is None for item in items)
    text = "".join(to_json(item.event) + "\n" for item in items)
    check_golden(GOLDEN_EVENTS, text)


def test_export_counts_by_reason_match_the_golden_summary() -> None:
    _, counts = gdelt.read_all(str(EXPORT))
    text = json.dumps(counts.as_dict(), indent=2) + "\n"
    check_golden(GOLDEN_SUMMARY, text)
    # Every row is accounted for: an event of its own, or one reason.
    assert counts.rows == 909
    assert counts.events + sum(counts.dropped.values()) == counts.rows


@pytest.mark.usefixtures("no_iso_codes")
def test_export_yields_the_golden_events_without_iso_codes() -> None:
    # The fallback list is the server's: the same events and counts.
    items, counts = gdelt.read_all(str(EXPORT))
    text = "".join(to_json(item.event) + "\n" for item in items)
    assert text == GOLDEN_EVENTS.read_text(encoding="utf-8")
    assert json.dumps(counts.as_dict(), indent=2) + "\n" == (
        GOLDEN_SUMMARY.read_text(encoding="utf-8"))
    assert gdelt.iso_country("EUR") is None  # a CAMEO region
    assert gdelt.iso_country("ZZZ") is None  # three letters, no country


# --- Synthetic rows ----------------------------------------------------------


def actor_cells(code: str = "", name: str = "", country: str = "",
                group: str = "", types: tuple = ()) -> List[str]:
    """The ten cells of an actor block."""
    padded = list(types) + [""] * (3 - len(types))
    return [code, name, country, group, "", "", ""] + padded


def row(event_id: int, code: str, actor1: List[str], actor2: List[str],
        day: str = "20250807", url: str = "https://www.example.com/a",
        root: str = "1") -> str:
    """One tab-separated export row with the cells the reader uses."""
    cells = [""] * gdelt.COLUMN_COUNT
    cells[gdelt.GLOBAL_EVENT_ID] = str(event_id)
    cells[gdelt.SQLDATE] = day
    cells[gdelt.ACTOR1:gdelt.ACTOR1 + 10] = actor1
    cells[gdelt.ACTOR2:gdelt.ACTOR2 + 10] = actor2
    cells[gdelt.IS_ROOT_EVENT] = root
    cells[gdelt.EVENT_CODE] = code
    cells[gdelt.GOLDSTEIN_SCALE] = "1.9"
    cells[gdelt.NUM_MENTIONS] = "6"
    cells[gdelt.NUM_SOURCES] = "1"
    cells[gdelt.NUM_ARTICLES] = "6"
    cells[gdelt.AVG_TONE] = "0.33"
    cells[gdelt.DATEADDED] = "20250807220000"
    cells[gdelt.SOURCEURL] = url
    return "\t".join(cells)


USA = actor_cells("USA", "UNITED STATES", "USA")
CHN = actor_cells("CHN", "CHINA", "CHN")
USA_PRESIDENT = actor_cells("USAGOV", "PRESIDENT", "USA", types=("GOV",))
CHN_FM = actor_cells("CHNGOV", "FOREIGN MINISTER", "CHN", types=("GOV",))


def read(tmp_path: Path, *rows: str):
    """The items and counts of an export made of ``rows``."""
    path = tmp_path / "20250807220000.export.CSV"
    path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    return gdelt.read_all(str(path))


def only_event(items) -> events_pb2.DiplomaticEvent:
    assert len(items) == 1 and items[0].event is not None, items
    return items[0].event


def test_visit_and_host_rows_become_one_meeting(tmp_path: Path) -> None:
    items, counts = read(tmp_path, row(10, "042", USA_PRESIDENT, CHN),
                         row(11, "043", CHN, USA_PRESIDENT))
    event = only_event(items)
    assert event.event_id == "gdelt-10"
    assert event.cameo_code == "042"
    meeting = event.meeting
    assert meeting.meeting_id == "gdelt:CHN-USA:2025-08-07"
    assert meeting.status == MEETING.HELD
    assert meeting.host_country == "CHN"  # the visitor is Actor1 of 042
    assert [(p.name, p.country, p.role) for p in meeting.participants] == [
        ("PRESIDENT", "USA", events_pb2.Actor.HEAD_OF_STATE),
        ("CHINA", "CHN", events_pb2.Actor.OTHER)]
    assert event.summary == ("GDELT 042 (Make a visit): PRESIDENT (USA) "
                             "\u2192 CHINA (CHN); merged rows: 11 (043)")
    assert counts.events == 1 and counts.dropped["merged_visit"] == 1


def test_rows_of_one_meeting_in_any_order_share_its_id(
        tmp_path: Path) -> None:
    # The host's row first, an intent to meet, and a second name variant:
    # one meeting, HELD (a held meeting never goes back to EXPECTED).
    items, counts = read(
        tmp_path, row(20, "036", CHN, USA), row(21, "043", CHN, USA),
        row(22, "042", actor_cells("USA", "THE US", "USA"), CHN))
    event = only_event(items)
    assert event.event_id == "gdelt-21"
    assert event.meeting.status == MEETING.HELD
    assert event.meeting.host_country == "CHN"
    assert counts.dropped["merged_visit"] == 1
    assert counts.dropped["merged_repeat"] == 1
    # The same meeting on another day is another meeting.
    items, _ = read(tmp_path, row(30, "042", USA, CHN, day="20250808"))
    assert only_event(items).meeting.meeting_id == "gdelt:CHN-USA:2025-08-08"


@pytest.mark.parametrize("code", sorted(gdelt.CAMEO_MAPPING))
def test_each_cameo_code_maps_to_its_kind_and_status(
        tmp_path: Path, code: str) -> None:
    expected = {
        "036": ("meeting", MEETING.EXPECTED), "040": ("meeting", MEETING.HELD),
        "042": ("meeting", MEETING.HELD), "043": ("meeting", MEETING.HELD),
        "044": ("meeting", MEETING.HELD),
        "045": ("peace_talk", TALK.IN_PROGRESS),
        "046": ("peace_talk", TALK.IN_PROGRESS),
        "057": ("peace_talk", TALK.AGREED),
        "0871": ("peace_talk", TALK.AGREED),
        "125": ("peace_talk", TALK.REJECTED),
        "126": ("peace_talk", TALK.REJECTED),
        "127": ("peace_talk", TALK.REJECTED),
        "164": ("peace_talk", TALK.STALLED),
        "165": ("peace_talk", TALK.STALLED),
    }[code]
    items, _ = read(tmp_path, row(40, code, USA, CHN))
    event = only_event(items)
    kind = event.WhichOneof("kind")
    assert (kind, getattr(event, kind).status) == expected
    assert event.cameo_code == code
    if kind == "peace_talk":
        assert event.peace_talk.process_id == "gdelt:CHN-USA"
        assert list(event.peace_talk.parties) == ["CHN", "USA"]


def test_peace_talk_rows_merge_per_status(tmp_path: Path) -> None:
    items, counts = read(tmp_path, row(50, "046", USA, CHN),
                         row(51, "057", CHN, USA), row(52, "045", USA, CHN))
    statuses = [item.event.peace_talk.status for item in items]
    assert statuses == [TALK.IN_PROGRESS, TALK.AGREED]
    assert counts.dropped["merged_repeat"] == 1


@pytest.mark.parametrize("actor2, reason", [
    (actor_cells("BUS", "COMPANY", types=("BUS",)), "not_state_actor"),
    (actor_cells("CHNBUS", "CHINESE COMPANY", "CHN", types=("BUS",)),
     "not_state_actor"),
    (actor_cells("CHNEDU", "SCHOOL", "CHN", types=("EDU",)),
     "not_state_actor"),
    (actor_cells("CHNGOVEDU", "MINISTRY OF EDUCATION", "CHN",
                 types=("GOV", "EDU")), "not_state_actor"),
    (actor_cells("NAT", "NATO", group="NAT"), "not_state_actor"),
    (actor_cells("GOV", "PRESIDENT", types=("GOV",)), "no_country"),
    (actor_cells("EUR", "EUROPE", "EUR"), "unknown_country_code"),
    (actor_cells("USAGOV", "WHITE HOUSE", "USA", types=("GOV",)),
     "same_country"),
    (actor_cells(), "missing_actor"),
])
def test_rows_that_are_no_state_to_state_event_are_counted(
        tmp_path: Path, actor2: List[str], reason: str) -> None:
    items, counts = read(tmp_path, row(60, "042", USA, actor2))
    assert items == []
    assert counts.dropped[reason] == 1
    assert counts.events == 0 and counts.rows == 1


def test_state_actors_are_countries_governments_and_militaries(
        tmp_path: Path) -> None:
    items, _ = read(
        tmp_path, row(70, "040", USA_PRESIDENT, CHN_FM),
        row(71, "043", actor_cells("TURMIL", "TURKEY", "TUR", types=("MIL",)),
            actor_cells("ROM", "ROMANIA", "ROM")))
    roles = [p.role for p in items[0].event.meeting.participants]
    assert roles == [events_pb2.Actor.HEAD_OF_STATE,
                     events_pb2.Actor.FOREIGN_MINISTER]
    # CAMEO's ROM is ISO's ROU.
    assert [p.country for p in items[1].event.meeting.participants] == [
        "TUR", "ROU"]


def test_unmapped_code_and_malformed_row_are_counted(tmp_path: Path) -> None:
    items, counts = read(tmp_path, row(80, "010", USA, CHN),
                         "1256322770\tnot enough columns")
    assert counts.dropped["unmapped_cameo_code"] == 1
    assert counts.dropped["malformed"] == 1
    assert len(items) == 1 and items[0].event is None
    assert items[0].line == 2
    assert "2 tab-separated columns" in (items[0].error or "")


def test_row_with_a_measure_out_of_range_is_malformed(
        tmp_path: Path) -> None:
    bad = row(85, "042", USA, CHN).split("\t")
    bad[gdelt.GOLDSTEIN_SCALE] = "12.5"
    items, counts = read(tmp_path, "\t".join(bad))
    assert counts.dropped["malformed"] == 1
    assert items[0].error == ("GDELT row: GoldsteinScale '12.5' is not in "
                              "-10..10")


def test_event_carries_source_times_and_coverage(tmp_path: Path) -> None:
    items, _ = read(tmp_path, row(90, "042", USA, CHN, day="20250731",
                                  url="https://www.wdrb.com/news/x"))
    event = only_event(items)
    assert event.source.outlet == "wdrb.com"
    assert event.source.url == "https://www.wdrb.com/news/x"
    assert event.occurred_at.ToJsonString() == "2025-07-31T00:00:00Z"
    assert event.reported_at.ToJsonString() == "2025-08-07T22:00:00Z"
    coverage = event.coverage
    assert (coverage.num_mentions, coverage.num_sources,
            coverage.num_articles) == (6, 1, 6)
    assert coverage.goldstein_scale == pytest.approx(1.9)
    assert coverage.avg_tone == pytest.approx(0.33)


def test_a_url_whose_host_cannot_be_read_gives_outlet_gdelt(
        tmp_path: Path) -> None:
    assert gdelt.outlet_of("http://[bad/x") == "GDELT"  # unclosed IPv6
    items, _ = read(tmp_path, row(91, "042", USA, CHN, url="http://[bad/x"))
    event = only_event(items)
    assert event.source.outlet == "GDELT"
    assert event.source.url == "http://[bad/x"


def test_format_is_chosen_by_the_exports_name() -> None:
    gdelt_format = FORMATS["gdelt"]
    assert format_for_path(str(EXPORT)) is gdelt_format
    assert format_for_path("x/20250807220000.export.csv") is gdelt_format
    assert format_for_path("events.csv") is FORMATS["csv"]
    reader = gdelt_format.read(str(EXPORT), argparse.Namespace())
    assert callable(getattr(reader, "summary", None))


# --- dipwire-ingest ----------------------------------------------------------


def summary_counts(stdout: str) -> Dict[str, int]:
    """The reasons and counts of the gdelt summary lines in ``stdout``."""
    counts: Dict[str, int] = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in gdelt.REASONS:
            counts[parts[0]] = int(parts[1])
    return counts


def test_dry_run_prints_counts_by_reason() -> None:
    result = run_ingest("--dry-run", str(EXPORT))
    assert result.returncode == 0, result.stdout + result.stderr
    golden = json.loads(GOLDEN_SUMMARY.read_text())
    assert f"{golden['events']} valid, 0 invalid" in result.stdout
    assert summary_counts(result.stdout) == golden["dropped"]


def alert_types(address: str) -> Dict[str, int]:
    with Client(address, timeout=10) as client:
        alerts = client.all_alerts()
    counts: Dict[str, int] = {}
    for alert in alerts:
        name = alerts_pb2.Alert.Type.Name(alert.type)
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_ingest_publishes_the_golden_events(dipwired: Dipwired) -> None:
    result = run_ingest("--server", dipwired.address, "--format", "gdelt",
                        str(EXPORT))
    assert result.returncode == 0, result.stdout + result.stderr
    golden = golden_events()
    assert f"{len(golden)} accepted, 0 duplicate, 0 rejected" in result.stdout
    assert summary_counts(result.stdout) == json.loads(
        GOLDEN_SUMMARY.read_text())["dropped"]

    with Client(dipwired.address, timeout=10) as client:
        stored = [json.loads(to_json(event)) for event in client.all_events()]
    assert stored == golden

    # One alert per meeting (a visit's two rows are one meeting), and one
    # per peace-talk event (each is a status its process did not have).
    meetings = sum(1 for event in golden if "meeting" in event)
    expected = {"LEADER_MEETING_NEW": meetings,
                "PEACE_TALK_STATUS_CHANGED": len(golden) - meetings}
    assert alert_types(dipwired.address) == expected

    # Again: every event a duplicate, no new alert.
    again = run_ingest("--server", dipwired.address, str(EXPORT))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"0 accepted, {len(golden)} duplicate, 0 rejected" in again.stdout
    assert alert_types(dipwired.address) == expected
