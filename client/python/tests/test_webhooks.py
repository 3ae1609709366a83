"""Webhook sinks end to end: the real dipwired POSTs to a real HTTP receiver.

The receiver (http.server on 127.0.0.1, port 0, in a thread) verifies every
Standard Webhooks signature with Python's own hmac, fails on purpose when
told to, and records what it got. Every wait is bounded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Set

import pytest

from conftest import DEMO, dipwire_cli_path

# A secret as Standard Webhooks writes them: "whsec_" + base64 of the key.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WAIT = 30.0
CLI_TIMEOUT = 60.0


class Delivery:
    """One request the receiver got."""

    def __init__(self, headers: Dict[str, str], body: bytes) -> None:
        self.headers = headers
        self.body = body
        self.id = headers.get("webhook-id", "")
        self.json = json.loads(body)


class Receiver:
    """An HTTP endpoint for one sink.

    ``fail_next`` requests are answered 500; CloudEvents whose subject (the
    event id) is in ``poison`` always get 500 while ``poison_active``; with ``hang`` set a request waits (up to
    ``hang_limit`` seconds) until ``release`` is called, then gets 200.
    ``delay`` slows every request down. With ``keep_alive`` it speaks
    HTTP/1.1 and keeps connections open between requests; ``ports`` has the
    client port of every request, in order.
    """

    def __init__(self, secret: Optional[str] = None,
                 keep_alive: bool = False) -> None:
        self.key = base64.b64decode(secret[len("whsec_"):]) if secret else None
        self.lock = threading.Condition()
        self.deliveries: List[Delivery] = []  # answered 2xx, in order
        self.attempts: Dict[str, int] = {}  # every request, by webhook-id
        self.bad_signatures: List[str] = []
        self.fail_next = 0
        self.poison: Set[str] = set()
        self.poison_active = True
        self.delay = 0.0
        self.hang = False
        self.hang_limit = 20.0
        self.ports: List[int] = []
        self._released = threading.Event()
        receiver = self

        self.connections: List[socket.socket] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def setup(self) -> None:
                super().setup()
                with receiver.lock:
                    receiver.connections.append(self.connection)

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                with receiver.lock:
                    receiver.ports.append(self.client_address[1])
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                code = receiver.handle(headers, body)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def verify(self, headers: Dict[str, str], body: bytes) -> bool:
        """Standard Webhooks verification, independently of dipwired."""
        msg_id = headers.get("webhook-id", "")
        timestamp = headers.get("webhook-timestamp", "")
        if not msg_id or not timestamp.isdigit():
            return False
        if abs(time.time() - int(timestamp)) > 300:
            return False
        if self.key is None:
            return "webhook-signature" not in headers
        signed = f"{msg_id}.{timestamp}.".encode() + body
        expected = base64.b64encode(
            hmac.new(self.key, signed, hashlib.sha256).digest()).decode()
        for candidate in headers.get("webhook-signature", "").split(" "):
            version, _, signature = candidate.partition(",")
            if version == "v1" and hmac.compare_digest(signature, expected):
                return True
        return False

    def handle(self, headers: Dict[str, str], body: bytes) -> int:
        if self.delay:
            time.sleep(self.delay)
        if self.hang:
            self._released.wait(self.hang_limit)
        with self.lock:
            msg_id = headers.get("webhook-id", "")
            self.attempts[msg_id] = self.attempts.get(msg_id, 0) + 1
            if not self.verify(headers, body):
                self.bad_signatures.append(msg_id)
                self.lock.notify_all()
                return 401
            if self.fail_next > 0:
                self.fail_next -= 1
                self.lock.notify_all()
                return 500
            subject = json.loads(body).get("subject")
            if subject in self.poison and self.poison_active:
                self.lock.notify_all()
                return 500
            self.deliveries.append(Delivery(headers, body))
            self.lock.notify_all()
            return 200

    def release(self) -> None:
        self._released.set()

    def wait_until(self, predicate: Callable[[], bool],
                   timeout: float = WAIT) -> bool:
        """Waits (bounded) until ``predicate()``, evaluated under the lock."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.lock.wait(remaining)
            return True

    def unique_ids(self) -> List[str]:
        """Delivered ids, duplicates (by webhook-id) dropped, first kept."""
        seen: Set[str] = set()
        out = []
        for delivery in self.deliveries:
            if delivery.id not in seen:
                seen.add(delivery.id)
                out.append(delivery.id)
        return out

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
        # Kept-alive connections too: a closed receiver answers nothing.
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed
        self.thread.join(timeout=WAIT)


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: List[Receiver] = []

    def make(secret: Optional[str] = None,
             keep_alive: bool = False) -> Receiver:
        receiver = Receiver(secret, keep_alive)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


def cli(address: str, *args: str, stdin: Optional[str] = None,
        check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(dipwire_cli_path()), *args, "--server", address],
        input=stdin, capture_output=True, text=True, timeout=CLI_TIMEOUT,
        check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def all_alerts(address: str) -> List[dict]:
    out = cli(address, "alerts", "--output", "json", "--limit", "0").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def peace_talk_events(prefix: str, count: int) -> str:
    """``count`` events, each yielding one PEACE_TALK_STATUS_CHANGED."""
    lines = []
    for i in range(count):
        lines.append(json.dumps({
            "eventId": f"{prefix}-{i}",
            "occurredAt": "2024-05-01T00:00:00Z",
            "source": {"outlet": "Reuters",
                       "url": f"https://example.org/{prefix}/{i}"},
            "peaceTalk": {"processId": f"{prefix}-process-{i}",
                          "status": "PROPOSED", "parties": ["UKR", "RUS"]},
        }))
    return "\n".join(lines) + "\n"


def write_config(tmp_path: Path, sinks: List[dict],
                 name: str = "dipwired.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"sinks": sinks}))
    return path


def fast_retries(**extra: object) -> dict:
    sink = {"initialBackoff": "0.05s", "maxBackoff": "0.2s",
            "timeout": "5s", "start": "EARLIEST"}
    sink.update(extra)
    return sink


def test_delivers_every_alert_in_order_signed_through_failures(
        dipwired_factory, receivers, tmp_path: Path) -> None:
    events = receivers(SECRET)
    events.fail_next = 5  # the first five requests get 500
    slack = receivers()
    config = write_config(tmp_path, [
        fast_retries(name="newsroom-events", url=events.url,
                     secretEnv="TEST_SINK_SECRET", maxAttempts=10,
                     source="urn:dipwire:test"),
        fast_retries(name="slack-high", url=slack.url, format="SLACK",
                     filter="severity >= HIGH"),
    ])
    server = dipwired_factory(["--config", str(config)],
                              env={"TEST_SINK_SECRET": SECRET})
    cli(server.address, "publish", str(DEMO))
    alerts = all_alerts(server.address)
    ids = [a["alertId"] for a in alerts]
    high = [a["alertId"] for a in alerts if a["severity"] == "HIGH"]
    assert ids and high

    assert events.wait_until(lambda: len(events.unique_ids()) >= len(ids))
    assert slack.wait_until(lambda: len(slack.unique_ids()) >= len(high))
    assert events.bad_signatures == [] and slack.bad_signatures == []
    # Order, and exactly once after dedup by webhook-id.
    assert events.unique_ids() == ids
    assert slack.unique_ids() == high
    # The failed requests were retried (6 attempts for the first alert).
    assert events.attempts[ids[0]] == 6

    by_id = {a["alertId"]: a for a in alerts}
    for delivery in events.deliveries:
        event = delivery.json
        assert delivery.headers["content-type"] == (
            "application/cloudevents+json; charset=UTF-8")
        assert event["specversion"] == "1.0"
        assert event["id"] == delivery.id
        assert event["source"] == "urn:dipwire:test"
        alert = by_id[event["id"]]
        assert event["type"] == "org.dipwire.alert." + alert["type"].lower()
        assert event["time"] == alert["createdAt"]
        assert event["subject"] == alert["event"]["eventId"]
        assert event["datacontenttype"] == "application/json"
        assert event["data"] == alert
    for delivery in slack.deliveries:
        body = delivery.json
        alert = by_id[delivery.id]
        assert "webhook-signature" not in delivery.headers
        assert body["text"].startswith("[HIGH] ")
        assert body["blocks"][0]["type"] == "section"
        assert body["blocks"][0]["text"]["type"] == "mrkdwn"
        assert "*HIGH*" in body["blocks"][0]["text"]["text"]
        url = alert["event"]["source"].get("url")
        if url:
            assert f"<{url}|" in body["blocks"][0]["text"]["text"]

    listed = cli(server.address, "sinks", "list").stdout
    listed_json = cli(server.address, "sinks", "list", "--output",
                      "json").stdout
    for text in (listed, listed_json):
        assert SECRET not in text
        assert SECRET[len("whsec_"):] not in text
    sinks = [json.loads(line) for line in listed_json.splitlines()]
    assert [s["name"] for s in sinks] == ["newsroom-events", "slack-high"]
    assert sinks[0]["secretSet"] is True
    assert sinks[0]["format"] == "CLOUDEVENTS"
    assert sinks[0]["url"] == events.url
    assert "secretSet" not in sinks[1]
    assert sinks[1]["format"] == "SLACK"
    assert sinks[1]["filter"] == "severity >= HIGH"
    assert "newsroom-events CLOUDEVENTS" in listed and "secret=set" in listed
    # The sinks' cursors are internal: not among the client subscriptions.
    assert "_sink" not in cli(server.address, "subscriptions", "list").stdout


def test_one_connection_carries_many_alerts(dipwired_factory, receivers,
                                           tmp_path: Path) -> None:
    """HTTP keep-alive: a sink does not connect (and, over https, shake
    hands) once per alert."""
    receiver = receivers(keep_alive=True)
    config = write_config(tmp_path, [fast_retries(name="kept",
                                                  url=receiver.url)])
    server = dipwired_factory(["--config", str(config)])
    cli(server.address, "publish", "-", stdin=peace_talk_events("k", 20))
    assert receiver.wait_until(lambda: len(receiver.unique_ids()) >= 20)
    with receiver.lock:
        ports = list(receiver.ports)
    assert len(ports) == 20
    assert len(set(ports)) == 1, ports


def test_kill_9_and_restart_lose_nothing(dipwired_factory, receivers,
                                         tmp_path: Path) -> None:
    receiver = receivers(SECRET)
    receiver.delay = 0.05  # so that the kill lands mid-stream
    config = write_config(tmp_path, [
        fast_retries(name="wire", url=receiver.url, secret=SECRET)])
    server = dipwired_factory(["--config", str(config)])
    cli(server.address, "publish", "-", stdin=peace_talk_events("a", 40))
    assert receiver.wait_until(lambda: len(receiver.deliveries) >= 5)
    server.stop(signal.SIGKILL)
    with receiver.lock:
        before = len(receiver.unique_ids())
    server.start(listen=server.address)
    cli(server.address, "publish", "-", stdin=peace_talk_events("b", 10))
    ids = [a["alertId"] for a in all_alerts(server.address)]
    assert len(ids) == 50
    assert before < 50, "the kill came too late to test anything"
    assert receiver.wait_until(lambda: len(receiver.unique_ids()) >= 50)
    assert receiver.unique_ids() == ids
    assert receiver.bad_signatures == []


def test_dead_letters_after_max_attempts_then_redelivery(
        dipwired_factory, receivers, tmp_path: Path) -> None:
    receiver = receivers(SECRET)
    # Text format, and a secret read from a file.
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    config = tmp_path / "dipwired.textproto"
    config.write_text(f"""
sinks {{
  name: "flaky"
  url: "{receiver.url}"
  secret_file: "{secret_file}"
  max_attempts: 3
  initial_backoff {{ nanos: 10000000 }}
  max_backoff {{ nanos: 50000000 }}
  start: EARLIEST
}}
""")
    receiver.poison = {"p-0", "p-2"}
    server = dipwired_factory(["--config", str(config)])
    cli(server.address, "publish", "-", stdin=peace_talk_events("p", 5))
    ids = [a["alertId"] for a in all_alerts(server.address)]
    assert len(ids) == 5
    assert receiver.wait_until(
        lambda: receiver.unique_ids() == [ids[1], ids[3], ids[4]])

    def dead_letters() -> List[dict]:
        out = cli(server.address, "sinks", "dead-letters", "flaky",
                  "--output", "json").stdout
        return [json.loads(line) for line in out.splitlines()]

    letters = dead_letters()
    poisoned = [ids[0], ids[2]]
    assert [d["alert"]["alertId"] for d in letters] == poisoned
    for letter in letters:
        assert letter["attempts"] == 3
        assert letter["lastError"] == "HTTP 500"
        assert receiver.attempts[letter["alert"]["alertId"]] == 3
    listed = cli(server.address, "sinks", "list", "--output", "json").stdout
    assert json.loads(listed)["deadLetters"] == "2"
    text = cli(server.address, "sinks", "dead-letters", "flaky").stdout
    assert "attempts=3" in text

    # Dead letters survive a restart; redelivery then succeeds.
    server.restart()
    assert [d["alert"]["alertId"] for d in dead_letters()] == poisoned
    receiver.poison_active = False
    out = cli(server.address, "sinks", "redeliver", "flaky").stdout
    assert "queued 2 dead letters" in out
    assert receiver.wait_until(
        lambda: set(receiver.unique_ids()) >= set(ids))
    deadline = time.monotonic() + WAIT
    while dead_letters() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dead_letters() == []
    assert receiver.bad_signatures == []
    unknown = cli(server.address, "sinks", "dead-letters", "nope",
                  check=False)
    assert unknown.returncode == 1 and "no sink named" in unknown.stderr


def test_a_stuck_sink_delays_no_other_sink_nor_subscriber(
        dipwired_factory, receivers, tmp_path: Path) -> None:
    stuck = receivers()
    stuck.hang = True
    healthy = receivers()
    config = write_config(tmp_path, [
        fast_retries(name="stuck", url=stuck.url, timeout="60s"),
        fast_retries(name="healthy", url=healthy.url)])
    server = dipwired_factory(["--config", str(config)])
    subscriber = subprocess.Popen(
        [str(dipwire_cli_path()), "subscribe", "--from", "earliest",
         "--output", "json", "--limit", "20", "--server", server.address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        cli(server.address, "publish", "-", stdin=peace_talk_events("s", 20))
        assert healthy.wait_until(lambda: len(healthy.unique_ids()) >= 20,
                                  timeout=15)
        out, err = subscriber.communicate(timeout=15)
        assert subscriber.returncode == 0, err
        assert len(out.splitlines()) == 20
        # The stuck sink is still on its first request.
        assert stuck.deliveries == []
        assert sum(stuck.attempts.values()) <= 1
    finally:
        if subscriber.poll() is None:
            subscriber.kill()
            subscriber.communicate(timeout=WAIT)
    # Shutting down aborts the stuck request promptly.
    started = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("sink, message", [
    ({"name": "ok", "url": "ftp://example.org/"}, "sinks[1].url"),
    ({"name": "Bad Name", "url": "http://example.org/"}, "sinks[1].name"),
    ({"name": "ok", "url": "http://example.org/", "filter": "colour = red"},
     "sinks[1].filter: column 1"),
    ({"name": "a", "url": "http://example.org/"}, "sinks[1].name"),
    ({"name": "ok", "url": "http://example.org/", "secret": "whsec_c2hvcnQ="},
     "sinks[1].secret"),
    ({"name": "ok", "url": "http://example.org/", "maxAttempts": -1},
     "sinks[1].max_attempts"),
    ({"name": "ok", "url": "http://example.org/", "colour": "red"},
     "colour"),
])
def test_a_bad_config_exits_2_naming_the_field(
        tmp_path: Path, sink: dict, message: str) -> None:
    from conftest import dipwired_path
    config = write_config(tmp_path, [
        {"name": "a", "url": "http://127.0.0.1:9/"}, sink])
    result = subprocess.run(
        [str(dipwired_path()), "--listen", "127.0.0.1:0", "--data-dir",
         str(tmp_path / "data"), "--config", str(config)],
        capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "c2hvcnQ" not in result.stderr
