"""The customer's chat WebSocket (PROTOCOL.md section 2), one per open widget or app screen.

Transport only: it checks the Origin on connect and the customer token in the first frame, joins the
chat's group, sends what the client missed, passes messages and the end to the engine and typing to the
agent, and relays the engine's frames. A bad frame is answered with an error frame and the socket stays open;
one that keeps sending them is closed (webchat.floods), and typing is passed on only as it changes.
"""

import asyncio
import logging

from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError
from django.utils import timezone

from routing import engine, events, selectors
from runtime import error_reporting
from runtime.channel_layer import ReconnectOnLossMixin
from runtime.database import SocketDatabaseMixin, in_database
from runtime.refusals import Refused
from webchat import customer, floods, protocol, ratelimit
from webchat.customer import Refusal
from webchat.models import HELD_STATES, Chat, Message

CLOSE_UNAUTHORIZED = 4401
CLOSE_ORIGIN_NOT_ALLOWED = 4403

SOCKET = protocol.CUSTOMER

logger = logging.getLogger(__name__)


class CustomerChatConsumer(ReconnectOnLossMixin, SocketDatabaseMixin, AsyncWebsocketConsumer):
    # A socket that never says hello holds a connection for nothing.
    hello_timeout_seconds = 10.0

    chat: Chat | None = None
    joined = False
    closing = False
    hello_wait: asyncio.Task | None = None

    async def connect(self) -> None:
        self.chat_id = str(self.scope["url_route"]["kwargs"]["chat_id"])
        error_reporting.tag(chat_id=self.chat_id)
        self.typing_gate = floods.TypingGate()
        self.refusals = floods.RefusalBudget()
        # Accept before closing, so that the client sees the close code rather than a failed handshake.
        await self.accept()
        try:
            self.chat = await in_database(customer.find_chat)(self.chat_id)
            customer.require_allowed_origin(
                self.chat.queue, origin=self._header(b"origin"), host=self._header(b"host") or ""
            )
        except Refusal as refusal:
            await self._refuse(
                CLOSE_ORIGIN_NOT_ALLOWED if refusal.status == 403 else CLOSE_UNAUTHORIZED, refusal.code
            )
            return
        self.hello_wait = asyncio.create_task(self._close_without_hello())

    async def disconnect(self, code: int) -> None:
        if self.hello_wait is not None:
            self.hello_wait.cancel()
        if self.joined:
            await self.channel_layer.group_discard(events.chat_group(self.chat_id), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.chat is None or self.closing:
            return  # Refused and closing: frames still in flight are dropped.
        try:
            frame = protocol.read(text_data)
        except Refused as refusal:
            await self._error(refusal.code, refusal.message)
            return
        kind = frame.get("type")
        try:
            if not self.joined:
                await self._hello(frame)
            elif kind == "message":
                await self._message(frame)
            elif kind == "typing":
                await self._typing(frame)
            elif kind == "end":
                await self._end()
            elif kind == "hello":
                await self._error("invalid", "This socket has already said hello.")
            else:
                await self._error("invalid", "Unknown frame type.")
        except Refused as refusal:
            await self._error(refusal.code, refusal.message, **self._echo(frame))
        except DatabaseError as error:
            refusal = customer.database_refusal(error)
            await self._error(refusal.code, refusal.message, **self._echo(frame))

    async def relay(self, event: dict) -> None:
        await self._send(event["frame"])

    async def _send(self, frame: dict) -> None:
        await self.send(text_data=protocol.encode(SOCKET, frame))

    async def _hello(self, frame: dict) -> None:
        hello = protocol.read_hello(frame)
        try:
            customer.require_token(self.chat, hello.customer_token)
        except Refusal as refusal:
            if refusal.code == "token_expired":
                # Said before the close, so that the client can tell the customer why.
                await self._send_error(refusal.code, refusal.message)
            await self._refuse(CLOSE_UNAUTHORIZED, refusal.code)
            return
        self.hello_wait.cancel()
        # Join before reading the backlog: a message stored in between then arrives twice (the client
        # keeps one per seq) rather than never.
        await self.channel_layer.group_add(events.chat_group(self.chat_id), self.channel_name)
        self.joined = True
        for out in await in_database(self._catch_up)(hello.after_seq):
            await self._send(out)

    def _catch_up(self, after_seq: int) -> list[dict]:
        chat = Chat.objects.select_related("agent__user").get(pk=self.chat_id)
        missed = [protocol.message(message) for message in customer.messages_after(chat, after_seq)]
        return [*missed, protocol.state(selectors.customer_state(chat))]

    async def _message(self, frame: dict) -> None:
        outgoing = protocol.read_customer_message(frame)
        message = await in_database(self._store_message)(outgoing.client_id, outgoing.text)
        await self._send(protocol.ack(outgoing.client_id, message.seq))

    def _store_message(self, client_id: str, text: str) -> Message:
        # The rate limit and the engine in one trip to the database thread that every socket shares.
        if not ratelimit.allow_message(chat_id=self.chat_id).allowed:
            raise Refusal("rate_limited", "Too many messages at once. Please wait a few seconds.", 429)
        message, _ = engine.message_post_customer(chat_id=self.chat_id, client_id=client_id, text=text)
        return message

    async def _typing(self, frame: dict) -> None:
        typing = protocol.read_typing(frame)
        # Never stored, and passed on only as it changes (webchat.floods): a flood reaches neither the
        # database nor the agent.
        if not self.typing_gate.passes(typing):
            return
        agent_id = await in_database(self._holding_agent)()
        if agent_id is None:
            return
        await self.channel_layer.group_send(
            events.agent_group(agent_id), protocol.relay(protocol.typing_to_agent(self.chat_id, typing))
        )

    def _holding_agent(self) -> int | None:
        return (
            Chat.objects.filter(pk=self.chat_id, state__in=HELD_STATES, ended_at__isnull=True)
            .values_list("agent_id", flat=True)
            .first()
        )

    async def _end(self) -> None:
        # The engine's broadcast is the answer (the system message, then `state` ended), to this socket as
        # to the chat's others. A chat that had already ended changes nothing and broadcasts nothing: its
        # state, sent to this socket alone, answers the frame.
        answer = await in_database(self._end_chat)()
        if answer is not None:
            await self._send(answer)

    def _end_chat(self) -> dict | None:
        asked_at = timezone.now()
        chat = engine.chat_end_by_customer(chat_id=self.chat_id)
        if chat.ended_at is not None and chat.ended_at >= asked_at:
            return None
        chat = Chat.objects.select_related("agent__user").get(pk=self.chat_id)
        return protocol.state(selectors.customer_state(chat))

    async def _close_without_hello(self) -> None:
        await asyncio.sleep(self.hello_timeout_seconds)
        if not self.joined:
            await self._refuse(CLOSE_UNAUTHORIZED, "no_hello")

    async def _refuse(self, close_code: int, reason: str) -> None:
        self.closing = True
        logger.info(
            "customer socket closed with %s (%s)",
            close_code,
            reason,
            extra={"chat_id": self.chat_id, "close_code": close_code, "origin": self._header(b"origin")},
        )
        await self.close(code=close_code)

    async def _error(self, code: str, message: str, **extra) -> None:
        """Answer a refused frame, within the socket's budget of refusals; past it, close the socket."""
        verdict = self.refusals.refused()
        if verdict == "close":
            await self._refuse(floods.CLOSE_TOO_MANY_REFUSALS, "too_many_refusals")
        elif verdict == "answer":
            await self._send_error(code, message, **extra)

    async def _send_error(self, code: str, message: str, **extra) -> None:
        await self._send(protocol.error(code, message, **extra))

    def _header(self, name: bytes) -> str | None:
        value = dict(self.scope.get("headers", [])).get(name)
        return value.decode("latin-1") if value is not None else None

    @staticmethod
    def _echo(frame: dict) -> dict:
        """The refused message's client_id, so that the client can mark that message as failed."""
        return {"client_id": frame.get("client_id")} if frame.get("type") == "message" else {}
