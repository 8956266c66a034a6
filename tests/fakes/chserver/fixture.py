"""Start the chDB-backed ClickHouse test server in a subprocess.

`start_clickhouse_server(tmp_dir)` for scripts and benchmarks; the session-scoped
pytest fixture `clickhouse_server` for tests (re-export it from tests/conftest.py).
Nothing global is set: callers build their own clients and profiles from
`handle.host` / `handle.port` / `handle.url`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SERVER_SCRIPT = Path(__file__).with_name("server.py")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class ClickHouseServerError(RuntimeError):
    """The test server could not be started."""


@dataclass
class ClickHouseServer:
    """A running test server; `stop()` ends it (idempotent)."""

    process: subprocess.Popen
    host: str
    port: int
    data_dir: Path
    log_path: Path
    started_in_s: float = 0.0
    _log_file: object = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM to this PID only; the server closes chdb cleanly
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _ping(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=1) as response:
            return response.status == 200 and response.read() == b"Ok.\n"
    except (urllib.error.URLError, OSError):
        return False


def start_clickhouse_server(
    tmp_dir: str | os.PathLike,
    host: str = "127.0.0.1",
    timeout_s: float = START_TIMEOUT_S,
    log_level: str = "WARNING",
) -> ClickHouseServer:
    """Start a server on a free port with its data under `tmp_dir`; wait until /ping answers.

    The server's output goes to `<tmp_dir>/chserver-<port>.log`; its tail is in the error raised
    when the server dies or does not answer in time.
    """
    tmp_dir = Path(tmp_dir)
    data_dir = tmp_dir / "chdb-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port(host)
    log_path = tmp_dir / f"chserver-{port}.log"
    env = {**os.environ, "TZ": "UTC"}
    started = time.perf_counter()
    log_file = open(log_path, "wb")  # noqa: SIM115 (closed by stop())
    process = subprocess.Popen(
        [
            sys.executable,
            str(SERVER_SCRIPT),
            "--host",
            host,
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--log-level",
            log_level,
        ],
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=env,
    )
    server = ClickHouseServer(process, host, port, data_dir, log_path, _log_file=log_file)
    deadline = started + timeout_s
    while True:
        if process.poll() is not None:
            server.stop()
            raise ClickHouseServerError(
                f"ClickHouse test server exited with code {process.returncode} before answering "
                f"{server.url}/ping. Last lines of {log_path}:\n{server.log_tail()}"
            )
        if _ping(server.url):
            break
        if time.perf_counter() > deadline:
            server.stop()
            raise ClickHouseServerError(
                f"ClickHouse test server did not answer {server.url}/ping within {timeout_s:.0f} s "
                f"(is chdb-core installed in {sys.executable}?). Last lines of {log_path}:\n"
                f"{server.log_tail()}"
            )
        time.sleep(0.05)
    server.started_in_s = time.perf_counter() - started
    return server


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    """One chDB-backed ClickHouse server for the whole test session."""
    server = start_clickhouse_server(tmp_path_factory.mktemp("clickhouse"))
    try:
        yield server
    finally:
        server.stop()
