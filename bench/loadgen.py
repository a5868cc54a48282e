"""Load-generation primitives: many WebSocket connections, a small keep-alive HTTP client, open-loop pacing.

Open loop: a message is due at its scheduled time whatever happened to the previous ones, and its latency is
measured from that scheduled time, so a server that falls behind shows its queueing delay instead of slowing
the generator down (no coordinated omission).
"""

import asyncio
import contextlib
import gc
import json
from collections.abc import Awaitable, Callable

import websockets
from websockets.asyncio.client import ClientConnection, connect

from bench.common import Hist, now

FrameHandler = Callable[["Conn", dict], None]


class Conn:
    """One client WebSocket with a reader task that hands every JSON frame to a handler."""

    __slots__ = ("closed_code", "handler", "key", "reader", "role", "ws")

    def __init__(self, ws: ClientConnection, role: str, key, handler: FrameHandler | None):
        self.ws = ws
        self.role = role
        self.key = key
        self.handler = handler
        self.closed_code: int | None = None
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                if self.handler is None:
                    continue
                try:
                    frame = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(frame, dict):
                    self.handler(self, frame)
        except websockets.ConnectionClosed:
            pass
        except Exception:  # a bench reader must never take the run down
            pass
        finally:
            self.closed_code = self.ws.close_code if self.ws.close_code is not None else -1

    @property
    def open(self) -> bool:
        return self.closed_code is None

    async def send(self, frame: dict | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)
        self.reader.cancel()


async def open_conn(
    url: str,
    *,
    role: str,
    key=None,
    handler: FrameHandler | None = None,
    headers: dict | None = None,
    timeout: float = 30.0,
) -> Conn:
    ws = await connect(
        url,
        compression=None,
        additional_headers=headers,
        open_timeout=timeout,
        ping_interval=None,  # the servers ping; answering is enough
        close_timeout=2,
        max_queue=None,
        max_size=2**20,
        user_agent_header=None,
    )
    return Conn(ws, role, key, handler)


class ConnectStats:
    def __init__(self) -> None:
        self.ok = 0
        self.failed = 0
        self.errors: dict[str, int] = {}
        self.latency = Hist()

    def fail(self, error: BaseException) -> None:
        self.failed += 1
        name = type(error).__name__
        self.errors[name] = self.errors.get(name, 0) + 1

    def summary(self) -> dict:
        return {
            "ok": self.ok,
            "failed": self.failed,
            "errors": self.errors,
            "latency": self.latency.summary(),
        }


async def connect_all(
    factories: list[Callable[[], Awaitable[object]]], *, concurrency: int, stats: ConnectStats
) -> list[object | None]:
    """Run the connection factories with at most `concurrency` handshakes in flight; None for a failure."""
    semaphore = asyncio.Semaphore(concurrency)
    results: list[object | None] = [None] * len(factories)

    async def one(index: int, factory) -> None:
        async with semaphore:
            started = now()
            try:
                results[index] = await factory()
            except Exception as error:
                stats.fail(error)
                return
            stats.ok += 1
            stats.latency.record(now() - started)

    await asyncio.gather(*(one(i, f) for i, f in enumerate(factories)))
    return results


async def pace(rate: float, count: int, fire: Callable[[int, float], Awaitable[None]]) -> dict:
    """Call fire(k, due_time) for k in 0..count-1 at `rate` per second from now; report how late it ran."""
    start = now()
    interval = 1.0 / rate
    worst_lag = 0.0
    for k in range(count):
        due = start + k * interval
        delay = due - now()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            worst_lag = max(worst_lag, -delay)
        await fire(k, due)
    elapsed = now() - start
    return {"elapsed_s": round(elapsed, 3), "worst_send_lag_ms": round(worst_lag * 1000, 2)}


class HttpResponse:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body


class HttpClient:
    """A minimal HTTP/1.1 client over one keep-alive connection (enough for 127.0.0.1 and Django).
    Cookies are the caller's: each request names its own (one client serves many agents)."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _ensure(self) -> None:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**22)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.writer = None

    async def request(
        self, method: str, path: str, *, headers: dict | None = None, body: bytes = b"", timeout: float = 60.0
    ) -> HttpResponse:
        try:
            return await asyncio.wait_for(self._request(method, path, headers or {}, body), timeout)
        except Exception:
            await self.close()
            raise

    async def _request(self, method: str, path: str, headers: dict, body: bytes) -> HttpResponse:
        await self._ensure()
        assert self.reader is not None and self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        response_headers: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                name = name.strip().lower()
                value = value.strip()
                response_headers[name] = value
        if "content-length" in response_headers:
            data = await self.reader.readexactly(int(response_headers["content-length"]))
        elif response_headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            data = b"".join(chunks)
        else:
            data = await self.reader.read()
            await self.close()
        if response_headers.get("connection", "").lower() == "close":
            await self.close()
        return HttpResponse(status, response_headers, data)


class LoopLag:
    """How late an event loop wakes up: the load generator's own stalls, reported beside its figures, or a
    server's (`on_wake` is called with each wake's lateness in seconds)."""

    def __init__(self, interval: float = 0.005, on_wake: Callable[[float], None] | None = None):
        self.interval = interval
        self.on_wake = on_wake
        self.hist = Hist()
        self.task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            started = now()
            await asyncio.sleep(self.interval)
            late = max(now() - started - self.interval, 0.0)
            self.hist.record(late)
            if self.on_wake is not None:
                self.on_wake(late)

    def start(self) -> "LoopLag":
        self.hist = Hist()
        self.task = asyncio.create_task(self._run())
        return self

    def stop(self) -> dict:
        if self.task is not None:
            self.task.cancel()
        summary = self.hist.summary()
        return {key: summary.get(key) for key in ("p50_ms", "p99_ms", "max_ms")}


@contextlib.contextmanager
def quiet_gc():
    """No cyclic garbage collection while measuring: a full collection over the fixtures and thousands of
    connections stalls the load generator for hundreds of milliseconds. Reference counting still frees
    almost everything; the collector runs again afterwards."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
        gc.collect()
