"""dipwire-ingest (python3 -m dipwire.ingest) against the real dipwired."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from conftest import (DEMO, INGEST_TIMEOUT, REPO, Dipwired, ingest_command,
                      ingest_env, run_ingest)
from dipwire import countries, csv_events, formats, ingest, validate
from dipwire.client import Client
from dipwire.formats import Item

DEMO_EVENTS = sum(1 for line in DEMO.read_text().splitlines()
                  if line.startswith("{"))


def trade_event(event_id: str, country_b: str = "USA",
                year: int = 2023) -> dict:
    """A trade figure in proto JSON."""
    return {"eventId": event_id, "occurredAt": "2024-01-13T00:00:00Z",
            "source": {"outlet": "Reuters"},
            "trade": {"countryA": "CHN", "countryB": country_b, "year": year,
                      "valueUsd": "1000000", "flow": "TOTAL",
                      "reporter": "China customs"}}


def write_jsonl(path: Path, lines: List[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def stored_event_ids(address: str) -> List[str]:
    with Client(address, timeout=10) as client:
        return [event.event_id for event in client.all_events()]


def test_demo_is_accepted_then_duplicate(dipwired: Dipwired) -> None:
    first = run_ingest("--server", dipwired.address, str(DEMO))
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"{DEMO_EVENTS} accepted, 0 duplicate, 0 rejected" in first.stdout

    again = run_ingest("--server", dipwired.address, "--batch", "4", str(DEMO))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"0 accepted, {DEMO_EVENTS} duplicate, 0 rejected" in again.stdout
    assert len(stored_event_ids(dipwired.address)) == DEMO_EVENTS


def test_rejected_lines_are_named_with_the_server_reason(
        dipwired: Dipwired, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [
        "# a comment, then a blank line",
        "",
        json.dumps(trade_event("good-1")),
        json.dumps(trade_event("bad-country", country_b="RU")),
        json.dumps(trade_event("good-2", year=2022)),
        "{not json",
    ])
    result = run_ingest("--server", dipwired.address, str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 accepted, 0 duplicate, 2 rejected" in result.stdout
    # The server's reason, verbatim, under the file's line number.
    assert ('line 4: events[1] (event_id "bad-country"): '
            'events[1].trade.country_b: "RU" is not an ISO 3166-1 alpha-3 '
            "country code") in result.stdout
    assert "line 6: invalid JSON event:" in result.stdout
    # The rest of the rejected batch is stored; the bad event is not.
    assert sorted(stored_event_ids(dipwired.address)) == ["good-1", "good-2"]


def test_conflicting_event_id_is_rejected(dipwired: Dipwired,
                                          tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "conflict.jsonl", [
        json.dumps(trade_event("t-1")),
        json.dumps(trade_event("t-1", year=2020)),
    ])
    result = run_ingest("--server", dipwired.address, str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 accepted, 0 duplicate, 1 rejected" in result.stdout
    assert "line 2: ALREADY_EXISTS: " in result.stdout


MEETING_CSV = """\
event_id,occurred_at,reported_at,outlet,meeting_id,participant1_name,\
participant1_country,participant1_role,participant2_name,\
participant2_country,participant2_role,host_country,city,status,topics
m-1,2024-04-08,2024-04-07T00:00:00Z,Reuters,lavrov-wang,Sergei Lavrov,RUS,\
foreign_minister,Wang Yi,CHN,FOREIGN_MINISTER,CHN,Beijing,scheduled,\
Ukraine;Asia-Pacific
"""
TRADE_CSV = """\
# China customs figures
event_id,occurred_at,outlet,country_a,country_b,year,value_usd,flow,reporter
t-2022,2023-01-13,Reuters,CHN,RUS,2022,190300000000,TOTAL,China customs
t-2023,2024-01-12,Reuters,CHN,RUS,2023,240100000000,total,China customs
"""
PEACE_CSV = """\
event_id,occurred_at,outlet,process_id,title,status,parties,detail
p-1,2023-02-24,MFA,china-plan,"China's plan, 12 points",PROPOSED,CHN;RUS;UKR,\
"a ""position"" paper"
"""
MIXED_CSV = """\
kind,event_id,occurred_at,outlet,country_a,country_b,year,value_usd,flow,\
reporter,process_id,status,parties
trade,x-trade,2024-01-12,Reuters,CHN,USA,2023,5000,EXPORTS,China customs,,,
peace_talk,x-peace,2024-01-12,Reuters,,,,,,,geneva,IN_PROGRESS,UKR;RUS
"""


def test_csv_per_kind_and_with_kind_column(dipwired: Dipwired,
                                           tmp_path: Path) -> None:
    files = {"meeting": MEETING_CSV, "trade": TRADE_CSV, "peace_talk":
             PEACE_CSV}
    for kind, text in files.items():
        path = tmp_path / f"{kind}.csv"
        path.write_text(text)
        result = run_ingest("--server", dipwired.address, "--kind", kind,
                            str(path))
        assert result.returncode == 0, result.stdout + result.stderr
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(MIXED_CSV)
    result = run_ingest("--server", dipwired.address, str(mixed))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 accepted, 0 duplicate, 0 rejected" in result.stdout

    with Client(dipwired.address, timeout=10) as client:
        events = {event.event_id: event for event in client.all_events()}
    assert sorted(events) == ["m-1", "p-1", "t-2022", "t-2023", "x-peace",
                              "x-trade"]
    meeting = events["m-1"].meeting
    assert [(p.name, p.country) for p in meeting.participants] == [
        ("Sergei Lavrov", "RUS"), ("Wang Yi", "CHN")]
    assert meeting.city == "Beijing" and list(meeting.topics) == [
        "Ukraine", "Asia-Pacific"]
    assert events["t-2023"].trade.value_usd == 240100000000
    assert events["p-1"].peace_talk.title == "China's plan, 12 points"
    assert events["p-1"].peace_talk.detail == 'a "position" paper'
    assert list(events["x-peace"].peace_talk.parties) == ["UKR", "RUS"]
    assert events["x-trade"].trade.flow == events["x-trade"].trade.EXPORTS
    with Client(dipwired.address, timeout=10) as client:
        types = [a.type for a in client.all_alerts("type = TRADE_RECORD")]
    assert len(types) == 1  # 2023 beat 2022 in the CSV's own series


def test_csv_errors_name_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "trade.csv"
    path.write_text(TRADE_CSV + "t-bad,2024-01-12,Reuters,CHN,RUS,2024,"
                    "lots,TOTAL,China customs\n"
                    "t-flow,2024-01-12,Reuters,CHN,RUS,2024,5,SIDEWAYS,x\n")
    result = run_ingest("--dry-run", "--kind", "trade", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'line 5: column "value_usd": "lots" is not a whole number' in (
        result.stdout)
    assert 'line 6: column "flow": "SIDEWAYS" is not a trade flow' in (
        result.stdout)

    no_kind = run_ingest("--dry-run", str(path))
    assert no_kind.returncode == 1
    assert 'line 2: no "kind" column' in no_kind.stdout


def test_dry_run_checks_locally_without_a_server(tmp_path: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [
        json.dumps(trade_event("ok")),
        json.dumps(trade_event("bad", country_b="CHN")),
        json.dumps({"eventId": "no-kind", "occurredAt":
                    "2024-01-01T00:00:00Z", "source": {"outlet": "R"}}),
        json.dumps({"eventId": "x", "unknownField": 1}),
        json.dumps(dict(trade_event("tone"),
                        coverage={"numSources": -1, "avgTone": 100.5})),
    ])
    # Port 1: nothing listens there; a dry run never connects.
    result = run_ingest("--dry-run", "--server", "127.0.0.1:1", str(bad))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 valid, 4 invalid" in result.stdout
    assert "line 2: trade.country_b: must differ from country_a" in (
        result.stdout)
    assert "line 3: kind: one of meeting, trade, peace_talk required" in (
        result.stdout)
    assert "line 4: invalid JSON event:" in result.stdout
    assert "unknownField" in result.stdout
    assert ("line 5: coverage.num_sources: -1 is negative; "
            "coverage.avg_tone: 100.5 is not in -100..100") in result.stdout

    good = run_ingest("--dry-run", "--server", "127.0.0.1:1", str(DEMO))
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"{DEMO_EVENTS} valid, 0 invalid" in good.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = run_ingest(str(tmp_path / "missing.jsonl"))
    assert missing.returncode == 2
    assert "cannot open" in missing.stderr
    unknown = tmp_path / "events.txt"
    unknown.write_text("")
    assert run_ingest(str(unknown)).returncode == 2
    assert run_ingest("--batch", "0", str(DEMO)).returncode == 2


def test_unreachable_server_exits_3(tmp_path: Path) -> None:
    result = run_ingest("--server", "127.0.0.1:1", "--retry-for", "1",
                        str(DEMO))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "retrying in" in result.stderr
    assert "server 127.0.0.1:1 unreachable: UNAVAILABLE" in result.stderr


def wait_for_stderr(process: subprocess.Popen, text: str,
                    timeout: float) -> str:
    """Reads the process's stderr until ``text`` appears (bounded)."""
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen += line
    assert text in seen, seen
    return seen


def test_retries_while_the_server_is_down(dipwired: Dipwired) -> None:
    address = dipwired.address
    dipwired.stop()
    process = subprocess.Popen(
        ingest_command("--server", address, "--retry-for", "30", str(DEMO)),
        env=ingest_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        wait_for_stderr(process, "retrying in", timeout=20)
        dipwired.start(listen=address)
        out, _ = process.communicate(timeout=INGEST_TIMEOUT)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert process.returncode == 0, out
    assert f"{DEMO_EVENTS} accepted, 0 duplicate, 0 rejected" in out
    assert len(stored_event_ids(address)) == DEMO_EVENTS


def test_server_killed_mid_ingest_stores_each_event_once(
        dipwired: Dipwired, tmp_path: Path) -> None:
    count = 1500
    ids = [f"bulk-{i:05d}" for i in range(count)]
    path = write_jsonl(tmp_path / "bulk.jsonl", [
        json.dumps(trade_event(event_id, year=1900 + i % 200))
        for i, event_id in enumerate(ids)])
    process = subprocess.Popen(
        ingest_command("--server", dipwired.address, "--batch", "5",
                       "--window", "2", "--retry-for", "30", str(path)),
        env=ingest_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        with Client(dipwired.address, timeout=5) as client:
            deadline = time.monotonic() + 20
            while not client.list_events(page_size=1).events:
                assert time.monotonic() < deadline, "nothing stored"
                time.sleep(0.01)
        dipwired.restart(signal.SIGKILL)
        out, err = process.communicate(timeout=INGEST_TIMEOUT)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert process.returncode == 0, out + err
    assert "server unavailable" in err
    assert "0 rejected" in out
    stored = stored_event_ids(dipwired.address)
    assert sorted(stored) == ids  # every event, each exactly once


def run_main(*args: str) -> Tuple[int, str, str]:
    """Runs dipwire-ingest in this process: (exit status, stdout, stderr).
    An exception that escapes main fails the test."""
    out, err = io.StringIO(), io.StringIO()
    status = ingest.main(list(args), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_lines_that_are_not_utf8_are_rejected_and_reading_goes_on(
        tmp_path: Path) -> None:
    jsonl = tmp_path / "latin1.jsonl"
    jsonl.write_bytes(
        json.dumps(trade_event("ok-1")).encode() + b"\n"
        + b"# a comment in Latin-1: caf\xe9 (skipped like any comment)\n"
        + json.dumps(trade_event("caf\u00e9"),
                     ensure_ascii=False).encode("latin-1") + b"\n"
        + json.dumps(trade_event("ok-2", year=2022)).encode() + b"\n")
    status, out, _ = run_main("--dry-run", str(jsonl))
    assert status == 1, out
    assert "2 valid, 1 invalid" in out
    # {"eventId": "caf<0xe9>
    assert ("line 3: not UTF-8: byte 0xe9 at byte 17 of the line (invalid "
            "continuation byte)") in out

    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes(
        TRADE_CSV.encode()
        + b"t-bad,2024-01-12,Caf\xe9 Press,CHN,RUS,2024,5,TOTAL,x\n"
        + b'p-x,2024-01-12,R,"two\nlines \xff",CHN,RUS,2024,5,TOTAL,x\n'
        + b"t-2024,2025-01-12,Reuters,CHN,RUS,2024,5,TOTAL,x\n")
    status, out, _ = run_main("--dry-run", "--kind", "trade", str(csv_path))
    assert status == 1, out
    assert "3 valid, 2 invalid" in out
    assert "line 5: not UTF-8: byte 0xe9 at byte 21 of the line" in out
    # A quoted cell spanning lines: the row's line, and the line at fault.
    assert "line 6: not UTF-8: byte 0xff at byte 7 of the line (invalid " \
        "start byte) (on line 7)" in out

    export = tmp_path / "20250807220000.export.CSV"
    export.write_bytes(b"1\tbad \xc3(\n" + b"2\tstill read\n")
    status, out, _ = run_main("--dry-run", str(export))
    assert status == 1, out
    assert "line 1: not UTF-8: byte 0xc3 at byte 7 of the line" in out
    assert "line 2: GDELT row: 2 tab-separated columns" in out
    assert "  malformed                   2" in out


def test_old_mac_line_ends_are_still_lines(tmp_path: Path) -> None:
    path = tmp_path / "cr.csv"
    path.write_bytes(TRADE_CSV.replace("\n", "\r").encode())
    status, out, _ = run_main("--dry-run", "--kind", "trade", str(path))
    assert status == 0, out
    assert "2 valid, 0 invalid" in out


def test_a_reader_failing_to_decode_is_one_line_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_whole(path: str, args: object) -> Iterator[Item]:
        del args
        Path(path).read_text(encoding="utf-8")  # raises UnicodeDecodeError
        yield Item(1, error="unreachable")

    monkeypatch.setitem(formats.FORMATS, "whole", formats.Format(
        name="whole", description="decodes the whole file", read=read_whole))
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\xff\xfe")
    status, _, err = run_main("--format", "whole", "--dry-run", str(path))
    assert status == ingest.EXIT_USAGE
    assert err.splitlines()[0] == (f"dipwire-ingest: cannot read {path}: not "
                                   "UTF-8 (byte 0xff: invalid start byte)")


def test_csv_reads_a_summary_longer_than_pythons_field_limit(
        tmp_path: Path) -> None:
    # Python's csv stops at 131072 characters a cell by default; the server
    # takes events of 262144 bytes.
    long_summary = "x" * 200_000
    path = tmp_path / "long.csv"
    path.write_text(
        "event_id,occurred_at,outlet,summary,country_a,country_b,year,"
        "value_usd,flow,reporter\n"
        f"t-long,2024-01-12,R,{long_summary},CHN,RUS,2023,5,TOTAL,x\n"
        "t-2,2024-01-12,R,,CHN,RUS,2022,5,TOTAL,x\n"
        "t-3,2024-01-12,R,,CHN,USA,2022,5,TOTAL,x\n")
    status, out, _ = run_main("--dry-run", "--kind", "trade", str(path))
    assert status == 0, out
    assert "3 valid, 0 invalid" in out

    # Past the limit the reader cannot go on: it says so.
    path.write_text(
        "event_id,occurred_at,outlet,summary,country_a,country_b,year,"
        "value_usd,flow,reporter\n"
        "t-2,2024-01-12,R,,CHN,RUS,2022,5,TOTAL,x\n"
        f"t-huge,2024-01-12,R,{'x' * (csv_events.FIELD_SIZE_LIMIT + 1)},"
        "CHN,RUS,2023,5,TOTAL,x\n"
        "t-3,2024-01-12,R,,CHN,USA,2022,5,TOTAL,x\n")
    status, out, _ = run_main("--dry-run", "--kind", "trade", str(path))
    assert status == 1, out
    assert "1 valid, 1 invalid" in out
    assert ("line 3: malformed CSV: field larger than field limit "
            f"({csv_events.FIELD_SIZE_LIMIT}); reading stopped here") in out


def test_dry_run_requires_a_participants_country(tmp_path: Path) -> None:
    # The server's CheckParticipant requires name and country.
    meeting = {"eventId": "m-1", "occurredAt": "2024-04-08T00:00:00Z",
               "source": {"outlet": "Reuters"},
               "meeting": {"status": "SCHEDULED", "participants": [
                   {"name": "Sergei Lavrov", "country": "RUS"},
                   {"name": "Wang Yi"}]}}
    path = write_jsonl(tmp_path / "meeting.jsonl", [json.dumps(meeting)])
    status, out, _ = run_main("--dry-run", str(path))
    assert status == 1, out
    assert "0 valid, 1 invalid" in out
    assert "line 1: meeting.participants[1].country: required" in out


def test_country_codes_are_the_servers_with_or_without_iso_codes() -> None:
    # The fallback is a copy of the server's list (common/countries.cc).
    source = (REPO / "common" / "countries.cc").read_text()
    table = source[source.index("kCountryCodes"):]
    server = set(re.findall(r'"([A-Z]{3})"', table[:table.index("};")]))
    assert countries.SERVER_COUNTRY_CODES == server
    if Path(countries.ISO_CODES_JSON).is_file():
        assert countries.known_countries() == server


@pytest.mark.usefixtures("no_iso_codes")
def test_dry_run_without_iso_codes_judges_countries_as_the_server() -> None:
    assert countries.known_countries() == countries.SERVER_COUNTRY_CODES
    event = formats.parse_event_json(json.dumps(trade_event("t", "ZZZ")))
    assert validate.check_event(event) == [
        'trade.country_b: "ZZZ" is not an ISO 3166-1 alpha-3 country code']
    event.trade.country_b = "XKX"  # Kosovo: not ISO, but accepted
    assert validate.check_event(event) == []
