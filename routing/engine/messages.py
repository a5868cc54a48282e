"""Messages: the customer's, the agent's and the product's own, each with the chat's next sequence
number, broadcast after commit. A client id already stored returns the stored message, when the text is the
same; with another text it is refused (client_id_reused)."""

from datetime import datetime

from django.db import transaction

from contactcentre.models import Membership
from routing import events
from routing.engine.clocks import _now
from routing.engine.locks import _lock_chat_for_message
from routing.engine.rules import TransitionError, _require_client_id, _require_storable
from routing.engine.sql import _chat_pk, _insert_message, _prepared
from routing.events import Outbox
from runtime import metrics
from webchat import protocol
from webchat.models import Chat, ChatState, Message, Sender

S = ChatState


def _store_message(
    chat: Chat, sender: str, client_id: str, text: str, now: datetime, agent=None, agent_text: str = ""
) -> Message:
    """Store a message with the chat's next sequence number, and the chat's MESSAGE_CHAT_UPDATE_FIELDS; the
    caller holds the chat's lock. `agent_text`: what agents read instead of `text` (blank: the same)."""
    chat.last_seq += 1
    if sender == Sender.CUSTOMER and chat.customer_waiting_since is None:
        chat.customer_waiting_since = now
    elif sender == Sender.AGENT:
        chat.customer_waiting_since = None
        chat.reply_overdue = False
    message = Message(
        chat=chat,
        seq=chat.last_seq,
        client_id=client_id,
        sender=sender,
        agent=agent,
        agent_name=agent.name if agent else "",
        text=text,
        agent_text=agent_text,
        sent_at=now,
    )
    _insert_message(message, chat)
    transaction.on_commit(metrics.MESSAGES_STORED.labels(sender).inc)
    return message


def _broadcast_message(out: Outbox, chat: Chat, message: Message) -> None:
    frame = protocol.message(message)
    out.add(events.chat_group(chat.pk), frame)
    if chat.agent_id is not None:
        # The agent's page refreshes its inbox row from this frame too: no separate `inbox` frame.
        out.add(events.agent_group(chat.agent_id), protocol.agent_message(frame, chat.pk))


def _system_message(out: Outbox, chat: Chat, text: str, now: datetime, *, agent_text: str = "") -> Message:
    """Store and broadcast a message of the product's own: `text` in the customer's words, `agent_text` in
    the agents' where it says more (a queue's name, which is the company's own business). Its client id is
    in the reserved namespace (webchat.text), which no client may use, so it never clashes with a client's
    message."""
    message = _store_message(
        chat, Sender.SYSTEM, f"system-{chat.pk}-{chat.last_seq + 1}", text, now, agent_text=agent_text
    )
    _broadcast_message(out, chat, message)
    return message


def _existing_message(chat_id, client_id: str, text: str) -> Message | None:
    """The chat's message with this client id, if one is stored; refused (409 client_id_reused) if that
    message's text is not `text`: a client id names one message, and a send again must not change it.

    Equivalent ORM: Message.objects.filter(chat_id=chat_id, client_id=client_id).first(), then its text
    compared with `text`.
    """
    db, statements = _prepared()
    with db.cursor() as cursor:
        cursor.execute(statements.existing, [text, _chat_pk(chat_id, db), client_id])
        row = cursor.fetchone()
    if row is None:
        return None
    if not row[1]:
        raise TransitionError(
            "client_id_reused", "This client_id was already used for a message with another text."
        )
    return Message.objects.get(pk=row[0])


def message_post_customer(*, chat_id, client_id: str, text: str) -> tuple[Message, bool]:
    """Store and broadcast a customer's message; the same client_id again with the same text returns the
    stored one.

    Locks the chat. Refuses a message to an ended chat (409 chat_ended), a client id of the product's own
    (400 invalid) and a client id already stored with another text (409 client_id_reused). Returns
    (message, created).
    """
    _require_client_id(client_id)
    _require_storable(text, what="message")
    now = _now()
    out = Outbox()
    with transaction.atomic():
        chat = _lock_chat_for_message(chat_id)
        existing = _existing_message(chat.pk, client_id, text)
        if existing is not None:
            return existing, False
        if chat.ended_at is not None or chat.state == S.CLOSED:
            raise TransitionError("chat_ended", "The chat has ended.")
        message = _store_message(chat, Sender.CUSTOMER, client_id, text, now)
        _broadcast_message(out, chat, message)
        out.send_on_commit()
    return message, True


def message_post_agent(*, agent: Membership, chat_id, client_id: str, text: str) -> tuple[Message, bool]:
    """Store and broadcast an agent's reply. The chat must be the agent's active chat.

    Locks the chat only: the rule (this agent holds it and it is active) is a property of the chat row. A
    client id of the product's own is refused (400 invalid), one already stored with another text 409
    client_id_reused.
    """
    _require_client_id(client_id)
    _require_storable(text, what="message")
    now = _now()
    out = Outbox()
    with transaction.atomic():
        chat = _lock_chat_for_message(chat_id, company_id=agent.company_id)
        if chat.agent_id != agent.pk:
            raise TransitionError("not_yours", "This chat is not in your inbox.", status=404)
        existing = _existing_message(chat.pk, client_id, text)
        if existing is not None:
            return existing, False
        if chat.state != S.ACTIVE:
            raise TransitionError("not_active", "Make the chat active to reply.")
        message = _store_message(chat, Sender.AGENT, client_id, text, now, agent=agent)
        _broadcast_message(out, chat, message)
        out.send_on_commit()
    return message, True
