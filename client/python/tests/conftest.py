"""Fixtures: the real dipwired on 127.0.0.1 and the real ingest script.

dipwired is the binary named by DIPWIRE_DIPWIRED (CTest passes this build's),
else the first of build/test/server/dipwired and build/server/dipwired in
the repository. Every wait here is bounded.
"""

from __future__ import annotations

import builtins
import errno
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO = PACKAGE_DIR.parents[1]
DEMO = REPO / "deploy" / "demo" / "seed-article.jsonl"
START_TIMEOUT = 30.0
INGEST_TIMEOUT = 90.0

sys.path.insert(0, str(PACKAGE_DIR))


def dipwired_path() -> Path:
    """The dipwired binary under test."""
    configured = os.environ.get("DIPWIRE_DIPWIRED")
    if configured:
        return Path(configured)
    for candidate in ("build/test/server/dipwired", "build/server/dipwired"):
        if (REPO / candidate).is_file():
            return REPO / candidate
    pytest.fail("no dipwired: build it, or set DIPWIRE_DIPWIRED")


def dipwire_cli_path() -> Path:
    """The dipwire CLI under test: DIPWIRE_CLI, else the one built beside
    dipwired (BUILD/client/dipwire for BUILD/server/dipwired)."""
    configured = os.environ.get("DIPWIRE_CLI")
    if configured:
        return Path(configured)
    candidate = dipwired_path().resolve().parents[1] / "client" / "dipwire"
    if candidate.is_file():
        return candidate
    pytest.fail("no dipwire CLI: build it, or set DIPWIRE_CLI")


class Dipwired:
    """One dipwired process with its data directory.

    ``extra_args`` are added to its command line (e.g. ``--config FILE``)
    and ``env`` entries to its environment, at every start.
    """

    def __init__(self, data_dir: Path, log_dir: Path,
                 extra_args: Sequence[str] = (),
                 env: Optional[Dict[str, str]] = None) -> None:
        self.data_dir = data_dir
        self._log_dir = log_dir
        self._extra_args = list(extra_args)
        self._env = dict(os.environ, **(env or {}))
        self._starts = 0
        self.process: Optional[subprocess.Popen] = None
        self.address = ""

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def start(self, listen: str = "127.0.0.1:0") -> str:
        """Starts dipwired and waits for its "listening on" line."""
        assert self.process is None, "already running"
        self._starts += 1
        log = open(self._log_dir / f"dipwired.{self._starts}.log", "wb")
        self.process = subprocess.Popen(
            [str(dipwired_path()), "--listen", listen, "--data-dir",
             str(self.data_dir), *self._extra_args],
            stdout=subprocess.PIPE, stderr=log, env=self._env)
        log.close()
        self.address = _read_listening(self.process, START_TIMEOUT)
        return self.address

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stops dipwired with ``sig``; returns its exit status."""
        assert self.process is not None
        process, self.process = self.process, None
        process.send_signal(sig)
        try:
            return process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=START_TIMEOUT)
            raise
        finally:
            assert process.stdout is not None
            process.stdout.close()

    def restart(self, sig: int = signal.SIGTERM) -> None:
        """Stops it and starts it again on the same address and data."""
        address = self.address
        self.stop(sig)
        self.start(listen=address)
        assert self.address == address


def _read_listening(process: subprocess.Popen, timeout: float) -> str:
    """The HOST:PORT of the "listening on HOST:PORT" line on stdout."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    output = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            output += chunk
            for line in output.decode(errors="replace").splitlines():
                if line.startswith("listening on "):
                    return line[len("listening on "):].strip()
    process.kill()
    process.wait(timeout=timeout)
    pytest.fail(f"dipwired did not report its address; stdout: {output!r}")


@pytest.fixture
def dipwired(tmp_path: Path) -> Iterator[Dipwired]:
    """A running dipwired on 127.0.0.1 with an empty data directory."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = Dipwired(data_dir, tmp_path)
    server.start()
    yield server
    if server.process is not None:
        server.stop(signal.SIGKILL)


@pytest.fixture
def dipwired_factory(
        tmp_path: Path) -> Iterator[Callable[..., Dipwired]]:
    """Starts dipwired processes with extra arguments and environment:
    ``dipwired_factory(extra_args=[...], env={...})``, each with an empty
    data directory of its own; all are killed at the end of the test."""
    servers: List[Dipwired] = []

    def start(extra_args: Sequence[str] = (),
              env: Optional[Dict[str, str]] = None) -> Dipwired:
        base = tmp_path / f"dipwired-{len(servers) + 1}"
        data_dir = base / "data"
        data_dir.mkdir(parents=True)
        server = Dipwired(data_dir, base, extra_args=extra_args, env=env)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        if server.process is not None:
            server.stop(signal.SIGKILL)


def ingest_command(*args: str) -> List[str]:
    """The command line of ``python3 -m dipwire.ingest ARGS``."""
    return [sys.executable, "-m", "dipwire.ingest", *args]


def ingest_env() -> dict:
    """The environment the ingest script runs in: this package first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PACKAGE_DIR)] + [p for p in env.get("PYTHONPATH", "").split(
            os.pathsep) if p])
    return env


def run_ingest(*args: str) -> subprocess.CompletedProcess:
    """Runs the ingest script to its end (bounded)."""
    return subprocess.run(ingest_command(*args), env=ingest_env(),
                          capture_output=True, text=True,
                          timeout=INGEST_TIMEOUT, check=False)


@pytest.fixture
def no_iso_codes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Runs the test as if Debian's iso-codes were not installed: opening
    a file under /usr/share/iso-codes fails."""
    from dipwire import countries
    real_open = builtins.open

    def open_without_iso_codes(file: object, *args: object,
                               **kwargs: object) -> object:
        if str(file).startswith("/usr/share/iso-codes/"):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT),
                                    str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", open_without_iso_codes)
    countries.known_countries.cache_clear()
    yield
    countries.known_countries.cache_clear()
