"""TLS, mutual TLS and bearer tokens from the Python client and
dipwire-ingest, against the real dipwired (README.md, "Security: TLS and
tokens"). Certificates are made by openssl for each test."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Callable, Dict

import grpc
import pytest

from conftest import DEMO, Dipwired, ingest_command, ingest_env, INGEST_TIMEOUT
from dipwire.client import EARLIEST, Client, DipwireError, is_local_target
from dipwire.formats import parse_event_json

EVENT = next(parse_event_json(line) for line in DEMO.read_text().splitlines()
             if line.startswith("{"))
PUBLISHER = "dw_python-test-publisher"
SUBSCRIBER = "dw_python-test-subscriber"


def token_config(tmp_path: Path) -> Path:
    """A config file with a publisher and a subscriber token."""
    lines = []
    for name, token, role in (("publisher", PUBLISHER, "PUBLISH"),
                              ("subscriber", SUBSCRIBER, "SUBSCRIBE")):
        digest = hashlib.sha256(token.encode()).hexdigest()
        lines.append(f'tokens {{ name: "{name}" sha256: "{digest}" '
                     f'roles: {role} }}')
    path = tmp_path / "dipwired.textproto"
    path.write_text("auth {\n" + "\n".join(lines) + "\n}\n")
    return path


def make_certificates(directory: Path) -> Dict[str, str]:
    """A CA, a server certificate for IP 127.0.0.1 and a client
    certificate signed by it; returns their paths by name."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True,
                       capture_output=True, timeout=60)

    openssl("req", "-x509", *key, "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.pem")
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    (directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        openssl("req", *key, "-subj", f"/CN=dipwire-{name}", "-keyout",
                f"{name}.key", "-out", f"{name}.csr")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    return {name: str(directory / name) for name in (
        "ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


def test_tokens_and_roles(tmp_path: Path,
                          dipwired_factory: Callable[..., Dipwired]) -> None:
    server = dipwired_factory(["--config", str(token_config(tmp_path))])
    with Client(server.address, timeout=10) as anonymous:
        with pytest.raises(DipwireError) as missing:
            anonymous.publish([EVENT])
        assert missing.value.code == grpc.StatusCode.UNAUTHENTICATED
    with Client(server.address, timeout=10, token=PUBLISHER) as publisher:
        assert len(publisher.publish([EVENT]).results) == 1
        with pytest.raises(DipwireError) as denied:
            publisher.list_events()
        assert denied.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert '"publisher"' in denied.value.message
    with Client(server.address, timeout=10, token=SUBSCRIBER) as subscriber:
        assert len(subscriber.list_events().events) == 1
        # Streams carry the token too.
        alert = next(subscriber.subscribe(start=EARLIEST))
        assert alert.event.event_id == EVENT.event_id


def test_ingest_takes_the_token_from_the_environment(
        tmp_path: Path, dipwired_factory: Callable[..., Dipwired]) -> None:
    server = dipwired_factory(["--config", str(token_config(tmp_path))])
    env = ingest_env()
    env.pop("DIPWIRE_TOKEN", None)
    command = ingest_command("--server", server.address, "--retry-for", "5",
                             "--no-progress", str(DEMO))
    refused = subprocess.run(command, env=env, capture_output=True, text=True,
                             timeout=INGEST_TIMEOUT, check=False)
    assert refused.returncode == 3, refused.stderr
    assert "UNAUTHENTICATED" in refused.stderr
    env["DIPWIRE_TOKEN"] = PUBLISHER
    accepted = subprocess.run(command, env=env, capture_output=True,
                              text=True, timeout=INGEST_TIMEOUT, check=False)
    assert accepted.returncode == 0, accepted.stderr
    assert PUBLISHER not in accepted.stdout + accepted.stderr


def test_mutual_tls(tmp_path: Path,
                    dipwired_factory: Callable[..., Dipwired]) -> None:
    certs = make_certificates(tmp_path)
    server = dipwired_factory(["--tls-cert", certs["server.pem"],
                               "--tls-key", certs["server.key"],
                               "--tls-client-ca", certs["ca.pem"]])
    with Client(server.address, timeout=10, tls_ca=certs["ca.pem"],
                tls_cert=certs["client.pem"],
                tls_key=certs["client.key"]) as client:
        assert len(client.publish([EVENT]).results) == 1
    with Client(server.address, timeout=10,
                tls_ca=certs["ca.pem"]) as without_certificate:
        with pytest.raises(DipwireError) as refused:
            without_certificate.list_events()
        assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    with pytest.raises(ValueError, match="go together"):
        Client(server.address, tls_cert=certs["client.pem"])


@pytest.mark.parametrize("target,local", [
    ("127.0.0.1:50051", True), ("localhost:50051", True),
    ("LOCALHOST:50051", True), ("localhost.:50051", True),
    ("[::1]:50051", True), ("[::ffff:127.0.0.1]:50051", True),
    ("[::ffff:10.0.0.1]:50051", False), ("dns:///localhost:50051", True),
    ("ipv4:127.0.0.1:1,127.0.0.2:2", True), ("unix:/run/dw.sock", True),
    ("10.1.2.3:50051", False), ("alerts.example:443", False),
    ("dns:///alerts.example:443", False),
    ("ipv4:127.0.0.1:1,10.0.0.1:2", False),
    ("0.0.0.0:50051", False), ("", False)])
def test_which_targets_are_local(target: str, local: bool) -> None:
    assert is_local_target(target) == local


def test_a_token_is_not_sent_in_plaintext_to_another_machine() -> None:
    # 203.0.113.1 (TEST-NET-3) is never contacted: the refusal comes first,
    # and an allowed channel connects lazily.
    with pytest.raises(ValueError) as refused:
        Client("203.0.113.1:50051", token=PUBLISHER)
    assert "plaintext to 203.0.113.1:50051" in str(refused.value)
    assert "--plaintext-token" in str(refused.value)
    assert PUBLISHER not in str(refused.value)
    Client("203.0.113.1:50051", token=PUBLISHER, plaintext_token=True).close()

    env = ingest_env()
    env["DIPWIRE_TOKEN"] = PUBLISHER
    result = subprocess.run(
        ingest_command("--server", "203.0.113.1:50051", "--no-progress",
                       str(DEMO)),
        env=env, capture_output=True, text=True, timeout=INGEST_TIMEOUT,
        check=False)
    assert result.returncode == 2, result.stderr
    assert "refusing to send the token in plaintext" in result.stderr
    assert PUBLISHER not in result.stderr


def test_a_plaintext_token_to_loopback_bypasses_a_proxy(
        tmp_path: Path, dipwired_factory: Callable[..., Dipwired],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # gRPC sends a loopback target through http_proxy too: the token, let
    # through in plaintext because the target is local, would reach the
    # proxy readable. Port 1 refuses connections: through it, the call fails.
    server = dipwired_factory(["--config", str(token_config(tmp_path))])
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")
    with Client(server.address, timeout=10, token=PUBLISHER) as publisher:
        assert len(publisher.publish([EVENT]).results) == 1
