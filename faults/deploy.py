"""A real deployment on this machine, started and broken on purpose.

Two Daphne processes on two ports, a Redis server of its own (never the shared one), a Celery worker and
Celery beat, all on a PostgreSQL database of its own. Every process is started here in a session of its
own and stopped by its id, so a fault never touches anything this harness did not start.

The environment (DATABASE_URL, REDIS_URL, ...) is the one `make faults` sets for the whole run: the test
process that drives the clients and reads the database uses the same settings as the servers.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, *, timeout: float, interval: float = 0.1, what: str = "a condition"):
    """Poll until `condition()` is truthy and return it; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Process:
    """One process of the deployment, in its own session so that its children go with it."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_dir / f"{name}.log"
        self.env = env
        self.popen: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> "Process":
        assert not self.alive(), f"{self.name} is already running"
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to this process's own session (itself and its children) and reap it."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


class Deployment:
    """The processes of one fault run and the faults that can be done to them."""

    SERVERS = 2

    def __init__(self, work_dir: Path, env: dict[str, str] | None = None) -> None:
        self.work_dir = work_dir
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.env = {**(env or os.environ), "PYTHONUNBUFFERED": "1"}
        self.database_url = self.env["DATABASE_URL"]
        redis = urlsplit(self.env["REDIS_URL"])
        if redis.hostname not in ("127.0.0.1", "localhost") or redis.port in (None, 6379):
            raise RuntimeError(
                "the fault deployment needs a Redis of its own on 127.0.0.1, not the shared one"
            )
        self.redis_port = redis.port
        self.redis = Process(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.work_dir),
            ],
            self.work_dir,
            self.env,
        )
        self.ports = [free_port() for _ in range(self.SERVERS)]
        self.servers = [
            Process(
                f"daphne-{n}",
                [
                    str(BIN / "daphne"),
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "--websocket-max-message-size",
                    "65536",
                    "--websocket-max-frame-size",
                    "65536",
                    "contactcentre.asgi:application",
                ],
                self.work_dir,
                self.env,
            )
            for n, port in enumerate(self.ports, 1)
        ]
        celery = [str(BIN / "celery"), "-A", "contactcentre"]
        self.worker = Process(
            "celery-worker",
            [*celery, "worker", "-l", "info", "--pool", "solo", "--without-gossip", "--without-mingle"],
            self.work_dir,
            self.env,
        )
        self.beat = Process(
            "celery-beat",
            [*celery, "beat", "-l", "info", "-s", str(self.work_dir / "beat-schedule")],
            self.work_dir,
            self.env,
        )

    # ----------------------------------------------------------------------------------------------------
    # The whole deployment

    @property
    def base_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def processes(self) -> list[Process]:
        return [self.redis, *self.servers, self.worker, self.beat]

    def start(self) -> None:
        self.start_redis()
        self.recreate_database()
        self.manage("migrate", "--noinput", "-v0")
        for n in range(self.SERVERS):
            self.start_server(n)
        self.start_worker()
        self.start_beat()

    def stop(self) -> None:
        for process in reversed(self.processes()):
            process.kill(signal.SIGTERM)

    def manage(self, *arguments: str) -> None:
        subprocess.run(
            [str(BIN / "python"), "manage.py", *arguments], cwd=ROOT, env=self.env, check=True, timeout=300
        )

    def recreate_database(self) -> None:
        parts = urlsplit(self.database_url)
        name = parts.path.lstrip("/")
        if not name.endswith("_faults"):
            raise RuntimeError(f"refusing to recreate {name!r}: the fault database's name ends in _faults")
        admin = parts._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')

    # ----------------------------------------------------------------------------------------------------
    # Each part, and the faults

    def start_redis(self) -> None:
        if self.redis.starts == 0 and self.redis_answers():
            raise RuntimeError(
                f"something already answers on 127.0.0.1:{self.redis_port}: stop it, or set FAULTS_REDIS_PORT"
            )
        self.redis.start()
        wait_for(self.redis_answers, timeout=15, what="Redis to answer")

    def redis_answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def restart_redis(self, down_seconds: float = 0.0) -> None:
        """kill -9 Redis (it keeps nothing on disk: groups, counters and queued tasks are lost); start it."""
        self.redis.kill()
        time.sleep(down_seconds)
        self.start_redis()

    def start_server(self, n: int) -> None:
        self.servers[n].start()
        wait_for(
            lambda: self.healthy(n), timeout=60, interval=0.2, what=f"{self.servers[n].name} to be healthy"
        )

    def kill_server(self, n: int) -> None:
        self.servers[n].kill()

    def health(self, n: int) -> dict | None:
        try:
            with urllib.request.urlopen(f"{self.base_urls[n]}/healthz", timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return json.loads(error.read() or b"{}")
        except (OSError, ValueError):
            return None

    def healthy(self, n: int) -> bool:
        answer = self.health(n)
        return bool(answer) and answer.get("status") == "ok"

    def start_worker(self) -> None:
        self.worker.start()

    def start_beat(self) -> None:
        self.beat.start()

    def second_beat(self) -> Process:
        """Another beat, as an operator might start by mistake (its own schedule file)."""
        argv = [
            str(BIN / "celery"),
            "-A",
            "contactcentre",
            "beat",
            "-l",
            "info",
            "-s",
            str(self.work_dir / "beat-2"),
        ]
        return Process("celery-beat-2", argv, self.work_dir, self.env)

    def log_count(self, process: Process, text: str, *, since: float) -> int:
        """JSON log lines of the process containing `text`, logged at or after `since` (epoch seconds)."""
        count = 0
        for line in self.log_lines(process):
            if text not in line or not line.startswith("{"):
                continue
            try:
                logged = datetime.fromisoformat(json.loads(line)["time"]).timestamp()
            except (ValueError, KeyError):
                continue
            count += logged >= since
        return count

    def log_lines(self, process: Process) -> list[str]:
        try:
            return process.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
