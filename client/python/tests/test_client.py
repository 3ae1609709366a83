"""dipwire.client against the real dipwired."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from typing import Callable, Iterator, List

import grpc
import pytest

from conftest import DEMO, Dipwired
from dipwire.api import alerts_pb2, alerts_pb2_grpc
from dipwire.client import (EARLIEST, Alert, Backoff, Client, DipwireError,
                            RetryCallback)
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


def retry_after(gate: threading.Event) -> RetryCallback:
    """An ``on_retry`` that holds each retry until ``gate`` is set (at most
    30 s, so that a test that never sets it fails rather than hangs)."""
    def on_retry(attempt: int, delay: float, error: DipwireError) -> None:
        del attempt, delay, error
        assert gate.wait(timeout=30), "the test never released the retry"
    return on_retry


def test_latest_stream_without_alerts_resumes_after_its_heartbeat(
        dipwired: Dipwired) -> None:
    # A LATEST stream whose filter has matched nothing yet: its resume
    # point is the head_cursor of the heartbeat it got at once, so an alert
    # published while it was disconnected is not skipped.
    published = threading.Event()
    # A channel with an idle connection that nothing polls (the consumer
    # waits in on_retry) holds dipwired's graceful shutdown to its deadline:
    # the calls before the restart use a client of their own.
    with Client(dipwired.address, timeout=10) as setup:
        setup.publish(DEMO_EVENTS[:1])
        head = setup.all_alerts()[-1].cursor
    with Client(dipwired.address, timeout=10,
                backoff=Backoff(initial=0.05, maximum=0.5)) as client:
        heartbeats: List[object] = []
        alerts = client.subscribe(filter="type = PEACE_TALK_STATUS_CHANGED",
                                  on_heartbeat=heartbeats.append,
                                  on_retry=retry_after(published))
        seen: List[Alert] = []
        consumer = threading.Thread(target=lambda: seen.extend(alerts))
        consumer.start()
        try:
            wait_until(lambda: len(heartbeats) >= 1)
            assert alerts.last_cursor == head
            dipwired.restart()
            # Published before the stream's retry, which waits for this.
            client.publish(DEMO_EVENTS[1:])
            published.set()
            expected = client.all_alerts(
                filter="type = PEACE_TALK_STATUS_CHANGED")
            assert expected
            wait_until(lambda: len(seen) >= len(expected))
        finally:
            published.set()
            alerts.cancel()
            consumer.join(timeout=10)
    assert alerts.reconnects >= 1
    assert [a.alert_id for a in seen] == [a.alert_id for a in expected]


def test_latest_stream_on_an_empty_log_resumes_from_its_start(
        dipwired: Dipwired) -> None:
    # On an empty log the heartbeat's head_cursor is empty: the stream
    # stands at position 0. Subscribing again at LATEST would skip what
    # was published while it was disconnected; it resumes at EARLIEST.
    published = threading.Event()
    with Client(dipwired.address, timeout=10,
                backoff=Backoff(initial=0.05, maximum=0.5)) as client:
        heartbeats: List[alerts_pb2.Heartbeat] = []
        alerts = client.subscribe(on_heartbeat=heartbeats.append,
                                  on_retry=retry_after(published))
        seen: List[Alert] = []
        consumer = threading.Thread(target=lambda: seen.extend(alerts))
        consumer.start()
        try:
            wait_until(lambda: len(heartbeats) >= 1)
            assert heartbeats[0].head_cursor == ""
            assert (alerts.last_cursor, alerts.at_origin) == ("", True)
            dipwired.restart()
            client.publish(DEMO_EVENTS)
            published.set()
            expected = client.all_alerts()
            assert expected
            wait_until(lambda: len(seen) >= len(expected), timeout=10)
        finally:
            published.set()
            alerts.cancel()
            consumer.join(timeout=10)
    assert alerts.reconnects >= 1
    assert [a.alert_id for a in seen] == [a.alert_id for a in expected]
    assert (alerts.last_cursor, alerts.at_origin) == (expected[-1].cursor,
                                                      False)


def test_subscribe_never_gives_up_by_default() -> None:
    # The client's backoff gives up after 0.05 s; that is publishing's.
    retries: List[DipwireError] = []

    def on_retry(attempt: int, delay: float, error: DipwireError) -> None:
        retries.append(error)
        if attempt == 20:  # 0.2 s and more: well past 0.05 s
            alerts.cancel()

    with Client("127.0.0.1:1", timeout=2, backoff=Backoff(
            initial=0.01, maximum=0.01, give_up_after=0.05)) as client:
        assert client.backoff.give_up_after == 0.05
        alerts = client.subscribe(on_retry=on_retry)
        assert alerts.backoff.give_up_after is None
        assert alerts.backoff.initial == 0.01  # the client's schedule
        assert list(alerts) == []  # ended by cancel(), not an error
        assert len(retries) == 20
        assert {e.code for e in retries} == {grpc.StatusCode.UNAVAILABLE}

        bounded = client.subscribe(give_up_after=0.05)
        with pytest.raises(DipwireError) as gave_up:
            next(bounded)
        assert gave_up.value.code == grpc.StatusCode.UNAVAILABLE
    assert Client("127.0.0.1:1").backoff.give_up_after == 60.0


def test_subscribe_retries_resource_exhausted(dipwired_factory) -> None:
    # --max-streams 1: a second stream is refused with RESOURCE_EXHAUSTED
    # ("retry later") until the first one ends.
    server = dipwired_factory(extra_args=["--max-streams", "1"])
    refused: List[DipwireError] = []
    with Client(server.address, timeout=10,
                backoff=Backoff(initial=0.05, maximum=0.2)) as client:
        heartbeats: List[object] = []
        first = client.subscribe(on_heartbeat=heartbeats.append)
        first_thread = threading.Thread(target=lambda: list(first))
        first_thread.start()
        wait_until(lambda: len(heartbeats) >= 1)  # it holds the one slot
        second = client.subscribe(
            start=EARLIEST,
            on_retry=lambda attempt, delay, error: refused.append(error))
        seen: List[Alert] = []
        second_thread = threading.Thread(target=lambda: seen.extend(second))
        second_thread.start()
        try:
            wait_until(lambda: len(refused) >= 1)
            first.cancel()
            client.publish(DEMO_EVENTS[:1])
            history = client.all_alerts()
            wait_until(lambda: len(seen) >= len(history))
        finally:
            first.cancel()
            second.cancel()
            first_thread.join(timeout=10)
            second_thread.join(timeout=10)
    assert refused[0].code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-streams" in refused[0].message
    assert [a.alert_id for a in seen] == [a.alert_id for a in history]


def test_publish_batches_waits_for_a_publish_stream(dipwired_factory) -> None:
    # --max-publish-streams 1: while another stream holds the one slot, the
    # stream publish_batches opens is refused with RESOURCE_EXHAUSTED ("retry
    # later"); it retries until the slot is free and loses nothing.
    server = dipwired_factory(extra_args=["--max-publish-streams", "1"])
    refused: List[DipwireError] = []
    release = threading.Event()

    def holder_requests() -> Iterator[alerts_pb2.PublishRequest]:
        yield alerts_pb2.PublishRequest(events=[DEMO_EVENTS[0]])
        release.wait(30)  # then the stream ends

    with Client(server.address, timeout=10,
                backoff=Backoff(initial=0.05, maximum=0.2)) as client:
        held: List[alerts_pb2.PublishResponse] = []
        holder = threading.Thread(
            target=lambda: held.extend(client.publish_stream(
                holder_requests())))
        holder.start()
        results: List[object] = []
        batches = [(i, alerts_pb2.PublishRequest(events=[event]))
                   for i, event in enumerate(DEMO_EVENTS[1:4])]
        worker = threading.Thread(target=lambda: results.extend(
            client.publish_batches(
                iter(batches),
                on_retry=lambda attempt, delay, error: refused.append(error))))
        try:
            wait_until(lambda: len(held) == 1)  # it holds the one slot
            worker.start()
            wait_until(lambda: len(refused) >= 1)
            release.set()
            wait_until(lambda: len(results) == len(batches))
        finally:
            release.set()
            holder.join(timeout=10)
            worker.join(timeout=10)
    assert refused[0].code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-publish-streams=1" in refused[0].message
    assert [tag for tag, _ in results] == [0, 1, 2]
    for _, response in results:
        assert not response.HasField("error")
        assert response.results[0].outcome == response.results[0].ACCEPTED


class _RefusingSubscribe(alerts_pb2_grpc.AlertServiceServicer):
    """A stand-in server whose Subscribe fails with ``codes`` in turn, then
    sends one alert and ends the stream."""

    def __init__(self, codes: List[grpc.StatusCode]) -> None:
        self.codes = list(codes)
        self.requests: List[alerts_pb2.SubscribeRequest] = []

    def Subscribe(self, request: alerts_pb2.SubscribeRequest,
                  context: grpc.ServicerContext
                  ) -> Iterator[alerts_pb2.SubscribeResponse]:
        self.requests.append(request)
        if self.codes:
            context.abort(self.codes.pop(0), "the server is shutting down")
        yield alerts_pb2.SubscribeResponse(
            alerts=[alerts_pb2.Alert(alert_id="a-1", cursor="c-1")])


def test_subscribe_retries_a_cancelled_it_did_not_ask_for() -> None:
    # A dipwired in graceful shutdown answers a new call with CANCELLED.
    servicer = _RefusingSubscribe([grpc.StatusCode.CANCELLED,
                                   grpc.StatusCode.CANCELLED])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    alerts_pb2_grpc.add_AlertServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with Client(f"127.0.0.1:{port}", timeout=10,
                    backoff=Backoff(initial=0.01, maximum=0.05)) as client:
            alerts = client.subscribe(start=EARLIEST)
            assert [a.alert_id for a in alerts] == ["a-1"]
    finally:
        server.stop(grace=None)
    assert alerts.reconnects == 2
    assert len(servicer.requests) == 3


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


def test_subscribe_request_that_does_not_parse_is_invalid_argument(
        dipwired: Dipwired) -> None:
    # The server reads Subscribe's request bytes itself (its responses are
    # built from pre-serialized alerts), so it parses them itself too.
    with grpc.insecure_channel(dipwired.address) as channel:
        subscribe = channel.unary_stream(
            "/dipwire.v1.AlertService/Subscribe")
        with pytest.raises(grpc.RpcError) as error:
            next(subscribe(b"\xff\xff\xff", timeout=10))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "SubscribeRequest" in error.value.details()


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


def test_backoff_after_thousands_of_attempts_stays_at_its_cap() -> None:
    # 2.0 ** 4999 would overflow a float: the exponent is capped.
    assert Backoff().delay(5000, 0.5) == pytest.approx(10.0)
    assert Backoff(multiplier=1e10).delay(5000, 0.5) == pytest.approx(10.0)
