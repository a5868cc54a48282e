"""Customers and agents as real WebSocket clients, behaving as docs/chat-api.md tells a client to.

A customer opens a chat over HTTP, says hello on the chat's socket with the highest `seq` it has, keeps
messages by `seq`, resends what was never acknowledged with the same `client_id`, and reconnects (to
either server, as a load balancer would send it) whenever the socket closes. It never reads the database:
what it shows is what the server sent it.

An agent holds a session, keeps a socket open to hear its events, and sees a chat's transcript the way
the inbox does: re-read when an event names the chat and whenever the socket (re)connects. Its actions
(activate, end) are engine calls; its replies go over its socket, acknowledged like the customer's.
"""

import asyncio
import contextlib
import http.client
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

ACK_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5.0
# Failures a client survives by reconnecting; anything else is a bug in the harness and stops the run.
LOST = (ConnectionClosed, InvalidHandshake, OSError, TimeoutError, asyncio.TimeoutError)


@dataclass
class Tally:
    """What one run covered, for the report."""

    faults: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)

    def fault(self, kind: str) -> None:
        self.faults[kind] += 1

    def count(self, what: str, n: int = 1) -> None:
        self.events[what] += n


def http_json(
    method: str,
    url: str,
    body: dict | None = None,
    headers: dict | None = None,
    *,
    raw: bytes | None = None,
    source: str | None = None,
):
    """(status, JSON body) of one request; status 0 when the server could not be reached. `source` is the
    local address to send from (127.0.0.2 is another client than 127.0.0.1 to the server)."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=10, source_address=(source, 0) if source else None
    )
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(
            method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})}
        )
        response = connection.getresponse()
        raw_answer = response.read()
    except OSError:
        return 0, None
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw_answer or b"null")
    except ValueError:
        return response.status, {"raw": raw_answer.decode(errors="replace")[:500]}


class Reconnecting:
    """A socket that a fault may close at any moment; `drop()` cuts it as a lost network would."""

    ws: ClientConnection | None = None

    def __init__(self, servers: list[str], tally: Tally, rng: random.Random) -> None:
        self.servers = servers
        self.tally = tally
        self.rng = rng
        self.connects = 0

    def ws_url(self, path: str) -> str:
        return self.rng.choice(self.servers).replace("http://", "ws://") + path

    def drop(self) -> bool:
        """Cut the connection without a closing handshake; False when there was none to cut."""
        if self.ws is None or self.ws.transport is None or self.ws.transport.is_closing():
            return False
        self.ws.transport.abort()
        return True

    async def pause(self, attempt: int) -> None:
        # Doubling pauses, as the docs ask of clients, kept short: faults here come every few seconds.
        await asyncio.sleep(min(2.0, 0.1 * 2**attempt) * (0.5 + self.rng.random()))


class Customer(Reconnecting):
    def __init__(
        self, name: str, servers: list[str], queue_token: str, tally: Tally, rng: random.Random
    ) -> None:
        super().__init__(servers, tally, rng)
        self.name = name
        self.queue_token = queue_token
        self.chat_id: str | None = None
        self.token = ""
        self.received: dict[int, dict] = {}
        self.outbox: list[dict] = []  # every message this customer wrote, in order
        self.acked: dict[str, int] = {}
        self.ack_waiters: dict[str, asyncio.Future] = {}
        self.state: dict = {}
        self.errors: list[dict] = []
        self.done = asyncio.Event()

    # ----------------------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the chat, trying again (a new chat) when no answer came back."""
        for attempt in range(30):
            status, body = await asyncio.to_thread(
                http_json,
                "POST",
                self.rng.choice(self.servers) + "/api/webchat/v1/chats",
                {"queue_token": self.queue_token, "name": self.name, "visitor_id": self.name},
            )
            if status == 201:
                self.chat_id, self.token = body["chat_id"], body["customer_token"]
                return
            self.tally.count("chat opens retried")
            if status not in (0, 502, 503):
                raise AssertionError(f"{self.name} could not open a chat: {status} {body}")
            await self.pause(attempt)
        raise AssertionError(f"{self.name} could not open a chat in 30 attempts")

    def highest_seq(self) -> int:
        """The highest seq up to which this customer has every message (what hello asks after)."""
        seq = 0
        while seq + 1 in self.received:
            seq += 1
        return seq

    def write(self, text: str) -> dict:
        message = {"client_id": f"{self.name}-{len(self.outbox) + 1}", "text": text}
        self.outbox.append(message)
        return message

    def unacked(self) -> list[dict]:
        return [message for message in self.outbox if message["client_id"] not in self.acked]

    def replied_to(self, client_id: str) -> bool:
        return any(frame.get("client_id") == f"reply-{client_id}" for frame in self.received.values())

    # ----------------------------------------------------------------------------------------------------

    async def talk(
        self, *, messages: int, pace: float, until: asyncio.Event, deadline: float, want_replies: bool = True
    ) -> None:
        """Write `messages` messages, each once the previous one is acknowledged; wait for the agent's
        replies; end the chat (`done` is set then); keep the window open, reconnecting through every
        fault, until `until` is set. Fails past `deadline` (monotonic) if the conversation is unfinished."""
        attempt = 0
        while not until.is_set():
            if not self.done.is_set() and time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not finish by the deadline: {self.progress()}")
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    self.ws = await connect(self.ws_url(f"/ws/webchat/{self.chat_id}/"), open_timeout=None)
                self.connects += 1
                if self.connects > 1:
                    self.tally.count("customer reconnects")
                reader = asyncio.create_task(self._read())
                try:
                    hello = {"type": "hello", "customer_token": self.token, "after_seq": self.highest_seq()}
                    await self.ws.send(json.dumps(hello))
                    if not self.done.is_set():
                        await self._converse(
                            messages=messages, pace=pace, want_replies=want_replies, reader=reader
                        )
                    while not until.is_set():
                        await self._wait(reader, 0.2)
                finally:
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError, *LOST):
                        await reader
                    with contextlib.suppress(*LOST):
                        await self.ws.close()
                attempt = 0
            except LOST:
                attempt += 1
                await self.pause(attempt)

    async def _converse(
        self, *, messages: int, pace: float, want_replies: bool, reader: asyncio.Task
    ) -> None:
        # What was never acknowledged goes again first, in order, with the same client ids.
        for message in self.unacked():
            await self._send(message, reader)
        while len(self.outbox) < messages:
            await asyncio.sleep(pace * (0.5 + self.rng.random()))
            text = f"{self.name} says #{len(self.outbox) + 1} {self.rng.random():.6f}"
            await self._send(self.write(text), reader)
        if want_replies:
            while not all(self.replied_to(m["client_id"]) for m in self.outbox):
                await self._wait(reader, 0.2)
        while self.state.get("state") != "ended":
            # Sent again while no answer comes: ending twice is harmless, and a `busy` refusal asks for it.
            await self.ws.send(json.dumps({"type": "end"}))
            await self._wait(reader, 2.0)
        self.done.set()

    async def _send(self, message: dict, reader: asyncio.Task) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self.ack_waiters[message["client_id"]] = waiter
        await self.ws.send(json.dumps({"type": "message", **message}))
        done, _ = await asyncio.wait(
            {waiter, reader}, timeout=ACK_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            if reader in done and reader.exception():
                raise reader.exception()
            raise TimeoutError(f"no ack for {message['client_id']}")

    async def _wait(self, reader: asyncio.Task, seconds: float) -> None:
        done, _ = await asyncio.wait({reader}, timeout=seconds)
        if reader in done:
            raise reader.exception() or ConnectionClosed(None, None)

    async def _read(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "message":
                seq = frame["seq"]
                if seq in self.received:
                    self.tally.count("customer frames seen twice")
                    assert self.received[seq] == frame, f"{self.name}: seq {seq} changed: {frame}"
                self.received[seq] = frame
            elif kind == "ack":
                self.acked[frame["client_id"]] = frame["seq"]
                waiter = self.ack_waiters.pop(frame["client_id"], None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame["seq"])
            elif kind == "state":
                self.state = frame
            elif kind == "error":
                self.errors.append(frame)
                if frame.get("code") != "busy":
                    raise AssertionError(f"{self.name} was refused: {frame}")

    def progress(self) -> dict:
        return {
            "chat": self.chat_id,
            "written": len(self.outbox),
            "acked": len(self.acked),
            "received": len(self.received),
            "state": self.state,
        }


class Agent(Reconnecting):
    def __init__(
        self, membership_id: int, session_key: str, servers: list[str], tally: Tally, rng: random.Random
    ) -> None:
        super().__init__(servers, tally, rng)
        self.membership_id = membership_id
        self.session_key = session_key
        self.views: dict[str, dict[int, dict]] = {}  # chat id -> seq -> message, as last read
        self.dirty: set[str] = set()
        self.acked: dict[str, tuple[str, int]] = {}  # client id -> (chat id, seq)
        self.ack_waiters: dict[str, asyncio.Future] = {}
        self.connected = asyncio.Event()
        self.vanished = False

    async def listen(self, *, until: asyncio.Event) -> None:
        """Keep the agent's socket open (heartbeats, events) until `until` is set or the agent vanishes."""
        attempt = 0
        while not until.is_set() and not self.vanished:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    self.ws = await connect(
                        self.ws_url("/ws/agent/"),
                        additional_headers={"Cookie": f"sessionid={self.session_key}"},
                        open_timeout=None,
                    )
                self.connects += 1
                if self.connects > 1:
                    self.tally.count("agent reconnects")
                # A (re)connected inbox re-reads everything it shows.
                self.dirty.update({*self.views, "*"})
                self.connected.set()
                heartbeat = asyncio.create_task(self._heartbeat())
                try:
                    async for raw in self.ws:
                        self._hear(json.loads(raw))
                        if until.is_set() or self.vanished:
                            break
                finally:
                    heartbeat.cancel()
                    self.connected.clear()
                    with contextlib.suppress(*LOST):
                        await self.ws.close()
                attempt = 0
                await self.pause(attempt)
            except LOST:
                attempt += 1
                self.connected.clear()
                await self.pause(attempt)

    def vanish(self) -> None:
        """The agent's browser disappears: no close, no more heartbeats, never back."""
        self.vanished = True
        self.drop()

    async def _heartbeat(self) -> None:
        with contextlib.suppress(*LOST):
            while True:
                await self.ws.send(json.dumps({"type": "heartbeat"}))
                await asyncio.sleep(1.0)

    def _hear(self, frame: dict) -> None:
        kind = frame.get("type")
        chat_id = frame.get("chat_id")
        if kind in ("message", "chat", "bell", "alert", "typing") and chat_id:
            if kind != "typing":
                self.dirty.add(chat_id)
        elif kind == "inbox":
            self.dirty.add("*")
        elif kind == "ack":
            self.acked[frame["client_id"]] = (frame["chat_id"], frame["seq"])
            waiter = self.ack_waiters.pop(frame["client_id"], None)
            if waiter is not None and not waiter.done():
                waiter.set_result(frame["seq"])
        elif kind == "error":
            waiter = self.ack_waiters.pop(frame.get("client_id") or "", None)
            if waiter is not None and not waiter.done():
                waiter.set_exception(AgentRefused(frame))

    async def reply(self, chat_id: str, client_id: str, text: str) -> int:
        """Send a reply over the socket and wait for its ack; resend with the same id until it comes."""
        for attempt in range(40):
            await asyncio.wait_for(self.connected.wait(), 30)
            waiter = asyncio.get_running_loop().create_future()
            self.ack_waiters[client_id] = waiter
            try:
                await self.ws.send(
                    json.dumps({"type": "message", "chat_id": chat_id, "client_id": client_id, "text": text})
                )
                return await asyncio.wait_for(waiter, ACK_TIMEOUT)
            except LOST:
                self.tally.count("agent replies resent")
                await self.pause(min(attempt, 4))
        raise AssertionError(f"agent {self.membership_id}: no ack for {client_id}")

    # ----------------------------------------------------------------------------------------------------
    # Working the inbox

    async def work(self, *, until: asyncio.Event) -> None:
        """Answer every customer message once, in the chats this agent holds, until `until` is set.

        One active item at a time: a running wrap-up is left to its countdown (the periodic job completes
        it); a paused one is resumed; a chat with unanswered messages, or whose customer has left, is
        activated. What needs an answer is read from the agent's view, never from the database directly:
        an event the agent missed leaves the customer unanswered, and the run fails on it.
        """
        while not until.is_set() and not self.vanished:
            if await in_thread(self._back_to_available)():
                # Logged out by the lost-connection rule while its sockets could not get through: the
                # agent sees Unavailable on the screen and makes themselves Available again.
                self.tally.count("agents set Available again after a lost-connection logout")
            await self.refresh()
            held = await in_thread(self._held)()
            if any(chat["state"] == "wrapup" for chat in held) or await in_thread(self._on_a_call)():
                await asyncio.sleep(0.2)
                continue
            acted = False
            for chat in sorted(held, key=lambda chat: chat["allocated_at"]):
                chat_id = str(chat["id"])
                unanswered = self.unanswered(chat_id)
                if chat["state"] == "active" and unanswered:
                    for message in unanswered:
                        await self._answer(chat_id, message)
                    acted = True
                    break
                if chat["state"] == "wrapup_parked" or (
                    chat["state"] in ("inbox", "parked") and (unanswered or chat["ended_at"] is not None)
                ):
                    await self._activate(chat_id)
                    acted = True
                    break
            if not acted:
                await asyncio.sleep(0.2)

    def unanswered(self, chat_id: str) -> list[dict]:
        view = self.views.get(chat_id, {})
        replied = {m["client_id"] for m in view.values() if m["sender"] == "agent"}
        return [
            m
            for m in sorted(view.values(), key=lambda m: m["seq"])
            if m["sender"] == "customer" and f"reply-{m['client_id']}" not in replied
        ]

    async def _answer(self, chat_id: str, message: dict) -> None:
        client_id = f"reply-{message['client_id']}"
        try:
            await self.reply(chat_id, client_id, f"Answer to {message['text']}")
        except AgentRefused as refusal:
            # The chat moved on meanwhile (the customer left, a call came): the next look decides.
            self.tally.count(f"agent replies refused: {refusal.frame.get('code')}")
        self.dirty.add(chat_id)

    async def _activate(self, chat_id: str) -> None:
        from routing import engine

        try:
            await in_thread(self._engine_call)(engine.chat_activate, chat_id)
        except engine.TransitionError as refusal:
            self.tally.count(f"activations refused: {refusal.code}")
        self.dirty.add(chat_id)

    def _engine_call(self, transition, chat_id: str):
        from contactcentre.models import Membership

        return transition(agent=Membership.objects.get(pk=self.membership_id), chat_id=chat_id)

    async def refresh(self) -> None:
        """Re-read what events named, as the inbox re-fetches its partials."""
        if not self.dirty:
            return
        names, self.dirty = self.dirty, set()
        views = await in_thread(self._read_views)(names)
        self.views.update(views)

    def _read_views(self, names: set[str]) -> dict[str, dict[int, dict]]:
        from webchat.models import HELD_STATES, Chat, Message

        chat_ids = {name for name in names if name != "*"}
        if "*" in names:
            chat_ids |= {
                str(pk)
                for pk in Chat.objects.filter(agent_id=self.membership_id, state__in=HELD_STATES).values_list(
                    "pk", flat=True
                )
            }
        # The inbox shows a chat only to the agent who holds or held it.
        mine = Chat.objects.filter(pk__in=chat_ids, agent_id=self.membership_id).values_list("pk", flat=True)
        views: dict[str, dict[int, dict]] = {str(pk): {} for pk in mine}
        rows = Message.objects.filter(chat_id__in=list(mine)).values(
            "chat_id", "seq", "client_id", "sender", "text"
        )
        for row in rows:
            views[str(row["chat_id"])][row["seq"]] = {
                "seq": row["seq"],
                "client_id": row["client_id"],
                "sender": row["sender"],
                "text": row["text"],
            }
        return views

    def _back_to_available(self) -> bool:
        from contactcentre.models import Membership, Presence
        from routing import engine

        agent = Membership.objects.get(pk=self.membership_id)
        if agent.presence != Presence.UNAVAILABLE:
            return False
        engine.agent_set_presence(agent=agent, presence=Presence.AVAILABLE)
        return True

    def _held(self) -> list[dict]:
        from webchat.models import HELD_STATES, Chat

        return list(
            Chat.objects.filter(agent_id=self.membership_id, state__in=HELD_STATES).values(
                "id", "state", "ended_at", "allocated_at"
            )
        )

    def _on_a_call(self) -> bool:
        from routing.models import Call, CallState

        return Call.objects.filter(
            agent_id=self.membership_id, state__in=(CallState.CONNECTED, CallState.WRAPUP)
        ).exists()


class AgentRefused(Exception):
    def __init__(self, frame: dict) -> None:
        super().__init__(frame.get("code"))
        self.frame = frame


def in_thread(function):
    """Run a database-touching function off the event loop, in a thread; its connection goes back to the
    pool afterwards."""
    return database_sync_to_async(function, thread_sensitive=False)
