"""The server started by `make run` names no server software in its responses."""

import contextlib
import os
import shlex
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_target_command(port: int) -> list[str]:
    """The server command of `make run`, as make would run it."""
    planned = subprocess.run(
        ["make", "-n", "run", "HOST=127.0.0.1", f"PORT={port}"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    [line] = [line for line in planned.splitlines() if "bin/daphne" in line]
    return shlex.split(line)


def response_headers(command: list[str], port: int) -> dict:
    server = subprocess.Popen(
        command, cwd=PROJECT_DIR, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/accounts/login/", timeout=5
                ) as response:
                    return {name.lower(): value for name, value in response.headers.items()}
            except OSError:
                if time.monotonic() > deadline:
                    raise
                # Wait for the server to be up, or for it to have failed to start (then say why).
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.wait(timeout=0.2)
                    raise AssertionError(f"the server exited with {server.returncode}") from None
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_make_runs_the_server_without_a_server_banner():
    port = free_port()
    command = run_target_command(port)

    headers = response_headers(command, port)

    assert "server" not in headers
    # The page itself is served as usual, with its headers.
    assert "script-src 'self'" in headers["content-security-policy"]
