"""The agent's WebSocket: one per agent tab, authenticated by the Django session.

Transport only: it joins the groups the agent may hear (their own, the queues their profile allows, the
wallboard for supervisors), relays the engine's frames, and passes the agent's replies and typing to the
engine and the chat's customer. Every sign of life updates the agent's last-seen time, which the engine's
lost-connection rule reads.

Its frames are webchat.protocol's (schemas in docs/frames/agent/). Client to server: heartbeat, message
(answered with ack or error) and typing. Server to client: the engine's frames (inbox, chat, queue, bell,
presence, alert, wallboard, message and typing with chat_id), queues when the queues the agent sees changed
(their profile, a queue's or a profile's settings: re-fetch every part), and error for a bad frame. Typing
is passed on only as it changes, and a socket that keeps sending bad frames is closed (webchat.floods).

Only the product's own pages may open it (contactcentre.origins, in the routing). It lasts as long as the
session that opened it: it closes with 4401 when the agent is deactivated, their password changes, they
sign out, or the session is gone when the socket re-checks it (with the sign of life it writes at most every
SEEN_WRITE_SECONDS, in the same trip to the database); see contactcentre.agent_sessions.
"""

import logging
import time
from functools import cached_property

from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.utils import timezone

from contactcentre import agent_sessions
from contactcentre.models import Membership
from routing import engine, events, selectors
from runtime import error_reporting
from runtime.channel_layer import ReconnectOnLossMixin
from runtime.database import SocketDatabaseMixin, in_database
from runtime.refusals import Refused
from webchat import customer, floods, protocol
from webchat.models import Chat, ChatState, Message

CLOSE_UNAUTHENTICATED = 4401
# The last-seen time is written at most this often per connection, and the session re-checked with it.
SEEN_WRITE_SECONDS = 5

SOCKET = protocol.AGENT

logger = logging.getLogger(__name__)


class SessionEnded(Exception):
    """The socket's session no longer signs the agent in."""


class AgentConsumer(ReconnectOnLossMixin, SocketDatabaseMixin, AsyncWebsocketConsumer):
    membership: Membership | None = None
    groups_joined: list[str]
    ended = False  # closed by the session's end (agent_sessions)
    closing = False  # closed for too many refused frames (floods)

    async def connect(self) -> None:
        self.groups_joined = []
        self.last_seen_write = 0.0
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.opened_at = timezone.now()
        self.membership = await self._membership(user.pk)
        if self.membership is None or not self.session_key:
            self.membership = None
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        error_reporting.tag(agent_id=self.membership.pk, company_id=self.membership.company_id)
        # Joined before the socket is accepted: a change made once the page sees the socket open is heard.
        await self._join(await self._groups())
        await self.accept()
        await self._seen(force=True)
        logger.info(
            "agent socket opened",
            extra={"agent_id": self.membership.pk, "company_id": self.membership.company_id},
        )

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []
        if self.membership is not None:
            if not self.ended:
                await in_database(engine.agent_seen)(agent_id=self.membership.pk)
            logger.info("agent socket closed", extra={"agent_id": self.membership.pk, "close_code": code})

    async def agent_end(self, event: dict) -> None:
        """The agent was deactivated, their password changed or they signed out (agent_sessions.END)."""
        await self._end(event.get("reason", "session ended"))

    async def agent_refresh(self, event: dict) -> None:
        """What the agent may hear changed (agent_sessions.REFRESH): follow it without a reconnect."""
        if self.ended or self.membership is None:
            return
        membership = await self._membership(self.membership.user_id)
        if membership is None:
            await self._end("no longer a member")
            return
        self.membership = membership
        wanted = await self._groups()
        for group in [group for group in self.groups_joined if group not in wanted]:
            await self.channel_layer.group_discard(group, self.channel_name)
        await self._join([group for group in wanted if group not in self.groups_joined])
        self.groups_joined = [group for group in wanted if group in self.groups_joined]
        await self._send(protocol.queues())

    async def _join(self, groups: list[str]) -> None:
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)

    async def _end(self, reason: str) -> None:
        """Close with 4401; frames still in flight from the client are dropped."""
        if self.ended:
            return
        self.ended = True
        logger.info(
            "agent socket ended: %s",
            reason,
            extra={"agent_id": self.membership.pk if self.membership else None, "close_code": 4401},
        )
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing or self.ended:
            return  # Closed: frames still in flight are dropped.
        try:
            frame = protocol.read(text_data)
        except Refused as refusal:
            await self._error(refusal.code, refusal.message)
            return
        kind = frame.get("type")
        if kind == "message":
            # Its sign of life is written in the same trip to the database as the message.
            await self._message(frame)
            return
        await self._seen()
        if kind == "heartbeat":
            return
        if kind == "typing":
            await self._typing(frame)
        else:
            await self._error("invalid", "Unknown frame type.")

    async def relay(self, event: dict) -> None:
        await self._send(event["frame"])

    async def _send(self, frame: dict) -> None:
        await self.send(text_data=protocol.encode(SOCKET, frame))

    async def _message(self, frame: dict) -> None:
        if self.ended:
            return
        try:
            outgoing = protocol.read_agent_message(frame)
        except Refused as refusal:
            await self._seen()
            await self._error(refusal.code, refusal.message, chat_id=frame.get("chat_id"))
            return
        chat_id, client_id = outgoing.chat_id, outgoing.client_id
        error_reporting.tag(chat_id=chat_id)
        try:
            message = await in_database(self._post_message)(
                chat_id, client_id, outgoing.text, self._seen_due()
            )
        except SessionEnded:
            await self._end_session()
            return
        except engine.TransitionError as refusal:
            await self._error(refusal.code, refusal.message, chat_id=chat_id, client_id=client_id)
            return
        except DatabaseError as error:
            refusal = customer.database_refusal(error)
            await self._error(refusal.code, refusal.message, chat_id=chat_id, client_id=client_id)
            return
        await self._send(protocol.ack(client_id, message.seq, chat_id=chat_id))

    async def _typing(self, frame: dict) -> None:
        try:
            chat_id, typing = protocol.read_agent_typing(frame)
        except Refused as refusal:
            await self._error(refusal.code, refusal.message)
            return
        # Never stored, and passed on only as it changes (webchat.floods): a flood reaches neither the
        # database nor the customer.
        if not self.typing_gate.passes(typing, chat_id):
            return
        if not await self._holds_active(chat_id):
            return
        await self.channel_layer.group_send(
            events.chat_group(chat_id), protocol.relay(protocol.typing_to_customer(typing))
        )

    @cached_property
    def typing_gate(self) -> floods.TypingGate:
        return floods.TypingGate()

    @cached_property
    def refusals(self) -> floods.RefusalBudget:
        return floods.RefusalBudget()

    async def _error(self, code: str, message: str, **extra) -> None:
        """Answer a refused frame, within the socket's budget of refusals; past it, close the socket."""
        verdict = self.refusals.refused()
        if verdict == "close":
            self.closing = True
            logger.info(
                "agent socket closed: too many refused frames",
                extra={"agent_id": self.membership.pk, "close_code": floods.CLOSE_TOO_MANY_REFUSALS},
            )
            await self.close(code=floods.CLOSE_TOO_MANY_REFUSALS)
        elif verdict == "answer":
            await self._send(protocol.error(code, message, **extra))

    def _post_message(self, chat_id: str, client_id: str, text: str, seen: bool) -> Message:
        if seen:
            self._check_session()
            engine.agent_seen(agent_id=self.membership.pk)
        message, _ = engine.message_post_agent(
            agent=self.membership, chat_id=chat_id, client_id=client_id, text=text
        )
        return message

    def _seen_due(self, force: bool = False) -> bool:
        # At most one write every few seconds per connection: enough for a grace period of a minute.
        now = time.monotonic()
        if force or now - self.last_seen_write > SEEN_WRITE_SECONDS:
            self.last_seen_write = now
            return True
        return False

    async def _seen(self, force: bool = False) -> None:
        if self.ended or not self._seen_due(force):
            return
        try:
            await in_database(self._checked_seen)()
        except SessionEnded:
            await self._end_session()

    def _checked_seen(self) -> None:
        self._check_session()
        engine.agent_seen(agent_id=self.membership.pk)

    def _check_session(self) -> None:
        """In the database thread, with the sign of life: no extra trip, at most every SEEN_WRITE_SECONDS."""
        if not agent_sessions.session_is_valid(session_key=self.session_key, user_id=self.membership.user_id):
            raise SessionEnded

    async def _end_session(self) -> None:
        """The session ended without anyone saying so (it expired, was deleted, or a close was lost): close,
        and log the agent out through the engine unless they have signed in again since this socket opened
        (then the newer session's sockets carry on)."""
        if self.ended:
            return
        await self._end("session no longer valid")
        await in_database(self._logout_unless_signed_in_again)()

    def _logout_unless_signed_in_again(self) -> None:
        agent = self.membership
        if not agent_sessions.signed_in_since(user_id=agent.user_id, moment=self.opened_at):
            engine.agent_logout(agent=agent.pk, reason="session ended")

    @in_database
    def _membership(self, user_id: int) -> Membership | None:
        # With its user: the agent's name goes on every reply they send.
        return (
            Membership.objects.select_related("company", "queue_profile", "user")
            .filter(user_id=user_id, user__is_active=True)
            .first()
        )

    @in_database
    def _groups(self) -> list[str]:
        agent = self.membership
        groups = [
            events.agent_group(agent.pk),
            agent_sessions.session_group(self.session_key),
            agent_sessions.company_agents_group(agent.company_id),
        ]
        groups += [
            events.queue_group(pk) for pk in selectors.queues_visible_to(agent).values_list("pk", flat=True)
        ]
        if agent.is_supervisor:
            groups.append(events.wallboard_group(agent.company_id))
        return groups

    @in_database
    def _holds_active(self, chat_id: str) -> bool:
        try:
            return Chat.objects.filter(
                pk=chat_id, agent_id=self.membership.pk, state=ChatState.ACTIVE
            ).exists()
        except (ValueError, TypeError, ValidationError):
            return False
