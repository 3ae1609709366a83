"""dipwire.client against the real dipwired."""

from __future__ import annotations

import threading
import time
from typing import Callable, List

import grpc
import pytest

from conftest import DEMO, Dipwired
from dipwire.client import EARLIEST, Alert, Backoff, Client, DipwireError
from dipwire.formats import parse_event_json

DEMO_EVENTS = [parse_event_json(line) for line in DEMO.read_text().splitlines()
               if line.startswith("{")]


def test_publish_and_history(dipwired: Dipwired) -> None:
    with Client(dipwired.address, timeout=10) as client:
        response = client.publish(DEMO_EVENTS[:3])
        assert [r.event_id for r in response.results] == [
            e.event_id for e in DEMO_EVENTS[:3]]
        assert {r.outcome for r in response.results} == {
            response.results[0].ACCEPTED}
        again = client.publish(DEMO_EVENTS[:1])
        assert again.results[0].outcome == again.results[0].DUPLICATE
        assert again.results[0].sequence == response.results[0].sequence
        events = client.list_events(page_size=2)
        assert len(events.events) == 2 and events.next_page_token
        assert len(client.all_events()) == 3


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Polls ``condition`` until it holds; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_subscribe_resumes_across_a_restart(dipwired: Dipwired) -> None:
    half = len(DEMO_EVENTS) // 2
    with Client(dipwired.address, timeout=10,
                backoff=Backoff(initial=0.05, maximum=0.5)) as client:
        client.publish(DEMO_EVENTS[:half])
        before = len(client.all_alerts())
        assert before > 0
        alerts = client.subscribe(start=EARLIEST, heartbeat_interval=1)
        seen: List[Alert] = []
        # A consumer reading all along, as a real subscriber does.
        consumer = threading.Thread(target=lambda: seen.extend(alerts))
        consumer.start()
        try:
            wait_until(lambda: len(seen) == before)
            dipwired.restart()  # SIGTERM: the stream ends with UNAVAILABLE
            client.publish(DEMO_EVENTS[half:])
            history = client.all_alerts()
            assert len(history) > before
            wait_until(lambda: len(seen) >= len(history))
        finally:
            alerts.cancel()
            consumer.join(timeout=10)

    assert alerts.reconnects >= 1
    # No gap, no duplicate: exactly the log's alerts, in order.
    assert [a.alert_id for a in seen] == [a.alert_id for a in history]
    assert alerts.last_cursor == history[-1].cursor


def test_latest_stream_without_alerts_resumes_after_its_heartbeat(
        dipwired: Dipwired) -> None:
    # A LATEST stream whose filter has matched nothing yet: its resume
    # point is the head_cursor of the heartbeat it got at once, so an alert
    # published while it was disconnected is not skipped.
    with Client(dipwired.address, timeout=10,
                backoff=Backoff(initial=1.0, maximum=1.0, jitter=0.0)) as client:
        client.publish(DEMO_EVENTS[:1])
        heartbeats: List[object] = []
        alerts = client.subscribe(filter="type = PEACE_TALK_STATUS_CHANGED",
                                  on_heartbeat=heartbeats.append)
        seen: List[Alert] = []
        consumer = threading.Thread(target=lambda: seen.extend(alerts))
        consumer.start()
        try:
            wait_until(lambda: len(heartbeats) >= 1)
            assert alerts.last_cursor == client.all_alerts()[-1].cursor
            dipwired.restart()
            # Published before the stream's retry (1 s after the break).
            client.publish(DEMO_EVENTS[1:])
            expected = client.all_alerts(
                filter="type = PEACE_TALK_STATUS_CHANGED")
            assert expected
            wait_until(lambda: len(seen) >= len(expected))
        finally:
            alerts.cancel()
            consumer.join(timeout=10)
    assert alerts.reconnects >= 1
    assert [a.alert_id for a in seen] == [a.alert_id for a in expected]


def test_errors_carry_code_and_message(dipwired: Dipwired) -> None:
    with Client(dipwired.address, timeout=10) as client:
        with pytest.raises(DipwireError) as bad_filter:
            client.list_alerts(filter="nonsense = 1")
        assert bad_filter.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "nonsense" in bad_filter.value.message

        invalid = DEMO_EVENTS[0].__class__()
        invalid.CopyFrom(DEMO_EVENTS[0])
        invalid.meeting.participants[0].country = "XX"
        with pytest.raises(DipwireError) as rejected:
            client.publish([invalid])
        assert rejected.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "events[0].meeting.participants[0].country" in (
            rejected.value.message)
        assert str(rejected.value).startswith("INVALID_ARGUMENT: events[0]")

        client.publish(DEMO_EVENTS[:1])
        cursor = client.all_alerts()[0].cursor
        with pytest.raises(DipwireError) as unknown:
            client.acknowledge("no-such-subscription", cursor)
        assert unknown.value.code == grpc.StatusCode.NOT_FOUND

        # A stream error that retrying cannot fix is raised, not retried.
        with pytest.raises(DipwireError) as stream_error:
            next(client.subscribe(filter="severity >= NOPE", start=EARLIEST))
        assert stream_error.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_unreachable_server_is_unavailable() -> None:
    with Client("127.0.0.1:1", timeout=2) as client:
        with pytest.raises(DipwireError) as unreachable:
            client.list_events()
    assert unreachable.value.code == grpc.StatusCode.UNAVAILABLE


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    backoff = Backoff(initial=0.1, maximum=1.0, multiplier=2.0, jitter=0.2)
    assert backoff.delay(1, 0.5) == pytest.approx(0.1)
    assert backoff.delay(3, 0.5) == pytest.approx(0.4)
    assert backoff.delay(10, 0.5) == pytest.approx(1.0)
    assert backoff.delay(10, 0.0) == pytest.approx(0.8)
    assert backoff.delay(10, 0.999999) == pytest.approx(1.2)
