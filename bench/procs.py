"""Starting, measuring and stopping a run's processes: each pinned to its core, each stopped by its id."""

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil

from bench.common import PYTHON, ROOT, SERVER_CORE, VENV_BIN, free_port, log

_running: list["Proc"] = []


class Proc:
    """One process this harness started, in its own session so that its children stop with it."""

    def __init__(self, name: str, argv: list[str], env: dict, log_path: Path, core: int = SERVER_CORE):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.core = core
        self.popen: subprocess.Popen | None = None
        self.port: int | None = None

    def start(self) -> "Proc":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.popen = subprocess.Popen(
            ["taskset", "-c", str(self.core), *self.argv],
            env=self.env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        _running.append(self)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def processes(self) -> list[psutil.Process]:
        """The process and its children (Celery's pool, uvicorn's workers)."""
        try:
            main = psutil.Process(self.pid)
            return [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss(self) -> int:
        total = 0
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def num_fds(self) -> int:
        try:
            return psutil.Process(self.pid).num_fds()
        except psutil.Error:
            return 0

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        else:
            # The leader is gone; children left in its session (a pool) are stopped by the session id.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        if self in _running:
            _running.remove(self)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def stop_all() -> None:
    for proc in list(reversed(_running)):
        proc.stop(timeout=5)


atexit.register(stop_all)


def wait_http(port: int, path: str = "/", timeout: float = 60.0, proc: Proc | None = None) -> None:
    """Wait until the server answers an HTTP request on 127.0.0.1:port (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited during start-up:\n{proc.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
                if sock.recv(12).startswith(b"HTTP/1."):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"nothing answered on port {port} within {timeout}s" + (f":\n{proc.tail()}" if proc else "")
    )


def daphne(name: str, app: str, env: dict, log_dir: Path, port: int | None = None) -> Proc:
    port = port or free_port()
    argv = [
        str(VENV_BIN / "daphne"),
        "-e",
        f"tcp:port={port}:interface=127.0.0.1:backlog=4096",
        "--ping-interval",
        "20",
        "--ping-timeout",
        "30",
        app,
    ]
    proc = Proc(name, argv, env, log_dir / f"{name}.log")
    proc.port = port
    proc.start()
    wait_http(port, "/accounts/login/", proc=proc)
    return proc


def uvicorn(name: str, app: str, env: dict, log_dir: Path, port: int | None = None) -> Proc:
    port = port or free_port()
    argv = [
        str(VENV_BIN / "uvicorn"),
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backlog",
        "4096",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--ws",
        "websockets-sansio",
        "--ws-per-message-deflate",
        "false",
        "--ws-ping-interval",
        "20",
        "--ws-ping-timeout",
        "30",
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    proc = Proc(name, argv, env, log_dir / f"{name}.log")
    proc.port = port
    proc.start()
    wait_http(port, "/accounts/login/", proc=proc)
    return proc


def asgi_server(kind: str, name: str, app: str, env: dict, log_dir: Path) -> Proc:
    if kind == "uvicorn":
        return uvicorn(name, app, env, log_dir)
    return daphne(name, app, env, log_dir)


def echo_server(env: dict, log_dir: Path) -> Proc:
    port = free_port()
    proc = Proc(
        "ws-echo",
        [PYTHON, "-m", "bench.baselines.echo_server", "--port", str(port)],
        env,
        log_dir / "ws-echo.log",
    )
    proc.port = port
    proc.start()
    wait_http(port, "/", proc=proc)
    return proc


def celery(env: dict, log_dir: Path, run_dir: Path) -> list[Proc]:
    """The periodic jobs as production runs them: one beat and one worker, on the server core."""
    celery_bin = str(VENV_BIN / "celery")
    worker = Proc(
        "celery-worker",
        [
            celery_bin,
            "-A",
            "contactcentre",
            "worker",
            "-l",
            "warning",
            "-c",
            "2",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"bench-{os.getpid()}@%h",
        ],
        env,
        log_dir / "celery-worker.log",
    ).start()
    beat = Proc(
        "celery-beat",
        [
            celery_bin,
            "-A",
            "contactcentre",
            "beat",
            "-l",
            "warning",
            "-s",
            str(run_dir / "celerybeat-schedule"),
            "--pidfile",
            str(run_dir / "celerybeat.pid"),
        ],
        env,
        log_dir / "celery-beat.log",
    ).start()
    time.sleep(2)
    for proc in (worker, beat):
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited during start-up:\n{proc.tail()}")
    log("celery worker and beat started")
    return [worker, beat]
