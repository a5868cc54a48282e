"""A chat's life in the agent's hands: the customer opens and ends it; the agent takes, activates, parks,
puts back, transfers and ends it. One active item per agent: activating parks the one before."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from contactcentre.models import Membership
from routing import selectors
from routing.engine.allocation import (
    _after_given,
    _agent_queue_ids,
    _give_to_agent,
    allocate_after_change,
    allocate_queues,
)
from routing.engine.call_routing import offer_work, route_calls
from routing.engine.clocks import (
    _activate,
    _close,
    _enter_landing,
    _mark_ended,
    _now,
    _pause_wrapup,
    _stop_handle_clock,
)
from routing.engine.frames import (
    _tell_agent,
    _tell_customer,
    _tell_inbox,
    _tell_presence,
    _tell_queue,
    _tell_wallboard,
)
from routing.engine.locks import (
    _chats_to_lock,
    _lock_agent,
    _lock_agents_chat,
    _lock_chat,
    _lock_chat_with_agent,
    _lock_queues,
)
from routing.engine.messages import _store_message, _system_message
from routing.engine.rules import (
    PUT_BACK,
    TRANSFERRED,
    TransitionError,
    _landing,
    _require_client_id,
    _require_logged_in,
    target_state,
)
from routing.engine.status_history import _record_status
from routing.events import Outbox
from routing.models import Call, CallState, WebchatQueue
from runtime import metrics
from webchat import protocol
from webchat.models import HELD_STATES, Chat, ChatState, EndedBy, Message, Outcome, ParkReason, Sender
from webchat.text import displayable_name

S = ChatState
C = CallState


@dataclass(frozen=True)
class OpenedChat:
    chat: Chat
    first_message: Message | None


def chat_open(
    *,
    queue_token: str,
    customer_name: str = "",
    first_message: str = "",
    visitor_id: str = "",
    client_id: str = "",
) -> OpenedChat:
    """Open a chat on the queue the token selects.

    Locks the queue row so that concurrent opens respect Maximum Queue Length exactly. Refuses an unknown
    or disabled queue (404 unknown_queue), a full queue (409 queue_full) and a queue nobody serves when
    waiting is not allowed (409 no_agents); a refused chat is still logged, closed with outcome refused.
    Allocates after commit when the queue auto-allocates. The customer's name is stored without invisible
    formatting characters; a client id of the product's own is refused (400 invalid).
    """
    customer_name = displayable_name(customer_name)
    if client_id:
        _require_client_id(client_id)
    now = _now()
    out = Outbox()
    refusal: TransitionError | None = None
    with transaction.atomic():
        try:
            queue = (
                WebchatQueue.objects.select_for_update(no_key=True, of=("self",))
                .select_related("company")
                .get(token=queue_token, enabled=True)
            )
        except WebchatQueue.DoesNotExist:
            raise TransitionError("unknown_queue", "This chat is not available.", status=404) from None
        waiting = Chat.objects.filter(queue=queue, state=S.QUEUED).count()
        if waiting >= queue.max_queue_length:
            refusal = TransitionError(
                "queue_full", "All our agents are busy and the queue is full. Please try again later."
            )
        elif not queue.allow_wait_without_agents and not selectors.queue_has_agents(queue):
            refusal = TransitionError(
                "no_agents", "No one is available to chat right now. Please try again later."
            )
        chat = Chat.objects.create(
            company_id=queue.company_id,
            queue=queue,
            customer_name=customer_name,
            visitor_id=visitor_id,
            created_at=now,
            queued_at=now,
        )
        message = None
        if refusal is not None:
            _close(chat, now, Outcome.REFUSED)
            chat.save()
        else:
            if first_message:
                message = _store_message(
                    chat, Sender.CUSTOMER, client_id or f"open-{chat.pk}", first_message, now
                )
            _tell_queue(out, queue)
            out.send_on_commit()
            transaction.on_commit(metrics.CHATS_OPENED.inc)
    if refusal is not None:
        raise refusal
    if queue.auto_allocate:
        allocate_after_change(queue_id=queue.pk)
        chat.refresh_from_db()
    return OpenedChat(chat=chat, first_message=message)


def chat_end_by_customer(*, chat_id) -> Chat:
    """The customer ends the chat from the widget or app.

    Locks the chat's agent (if any), then the chat. Queued: closed as abandoned. Active: wrap-up (or closed
    where wrap-up is off). In the inbox or parked: marked ended; it enters wrap-up when the agent activates
    it. Already ended: nothing changes.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        chat = _lock_chat_with_agent(chat_id)
        if chat.ended_at is not None or chat.state == S.CLOSED:
            return chat
        target = target_state("customer_end", chat.state)
        _mark_ended(chat, now, EndedBy.CUSTOMER)
        agent_id = chat.agent_id
        if chat.state == S.QUEUED:
            # Abandoned if nobody ever answered it; left after an answer if it was put back or transferred.
            _close(chat, now, Outcome.ABANDONED if chat.answered_at is None else Outcome.LEFT_AFTER_ANSWER)
            _tell_queue(out, chat.queue)
            out.add_positions(chat.queue_id)
        else:
            _enter_landing(chat, _landing(chat, target), now)
        chat.customer_waiting_since = None
        chat.reply_overdue = False
        chat.save()
        if agent_id is not None:
            _record_status(agent_id, now)
        _system_message(out, chat, "The chat was ended by the customer.", now)
        _tell_customer(out, chat)
        _tell_inbox(out, chat, agent_id)
        if agent_id is not None:
            # The agent's status follows the chat (Handling a chat -> Wrap-up): their tabs and the wallboard.
            _tell_agent(out, agent_id, protocol.presence())
            _tell_wallboard(out, chat.company_id)
        out.send_on_commit()
    if chat.state == S.CLOSED and agent_id is not None:
        offer_work(agent_id=agent_id)
    return chat


def _check_capacity(agent: Membership, queue: WebchatQueue) -> None:
    held = Chat.objects.filter(agent=agent, state__in=HELD_STATES).count()
    if held >= queue.chat_capacity():
        raise TransitionError(
            "at_capacity",
            f"You already hold {held} chats, the most this queue allows ({queue.chat_capacity()}).",
        )


def chat_take(*, agent: Membership, chat_id) -> Chat:
    """The agent takes a waiting chat from a queue they see into their inbox.

    Locks the agent, then the chat; re-checks that the chat is still queued, that the agent serves its
    queue and has capacity under the queue's maximum. Exactly one of several agents taking the same chat wins.
    Refuses an agent whose login is deactivated (403 inactive), who is Unavailable (409 unavailable) or does
    not handle webchat (403 not_webchat), a chat of a queue they do not serve (404 queue_not_visible), one
    no longer waiting (409 not_queued) and an agent at capacity (409 at_capacity).
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent)
        _require_logged_in(agent)
        if not agent.can_webchat:
            raise TransitionError("not_webchat", "Your login does not handle webchat.", status=403)
        chat = _lock_chat(chat_id, company_id=agent.company_id)
        if not selectors.agent_serves_queue(agent, chat.queue):
            raise TransitionError(
                "queue_not_visible", "This chat's queue is not in your profile.", status=404
            )
        target = target_state("take", chat.state)
        _check_capacity(agent, chat.queue)
        _give_to_agent(chat, agent, target, now, unseen=False)
        chat.save()
        agent.save(update_fields=["last_allocated_at"])
        _after_given(out, chat, agent)
        out.send_on_commit()
    return chat


def chat_mark_seen(*, agent: Membership, chat_id) -> Chat:
    """The agent opened the chat: the bell and highlight go, and the customer is told the agent is there.

    Locks the agent, then the chat. Refuses a chat that is not the agent's (404). Changes no state.
    """
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        if chat.unseen:
            chat.unseen = False
            chat.save(update_fields=["unseen"])
            _tell_agent(out, agent.pk, protocol.inbox())
            _tell_customer(out, chat)
        out.send_on_commit()
    return chat


def chat_activate(*, agent: Membership, chat_id) -> Chat:
    """Make the chat the agent's active item.

    Locks the agent, then their active item and this chat (by primary key). The agent's current active chat
    is parked and an active wrap-up is paused: one active item per agent. A chat the customer ended while it
    sat in the inbox or parked enters wrap-up instead. Refuses a chat that is not the agent's (404), an
    agent whose login is deactivated (403 inactive) or who is Unavailable (409 unavailable), a chat in a
    state that cannot be made active (409 cannot_activate) and an agent on a call (409 on_a_call).
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent = _lock_agent(agent)
        _require_logged_in(agent)
        chat = _lock_chat(chat_id, company_id=agent.company_id)
        if chat.agent_id != agent.pk:
            raise TransitionError("not_yours", "This chat is not in your inbox.", status=404)
        target = _landing(chat, target_state("activate", chat.state))
        if Call.objects.filter(agent=agent, state__in=(C.CONNECTED, C.WRAPUP)).exists():
            raise TransitionError("on_a_call", "Finish the call first: it is your active item.")
        _park_active_items(out, agent, except_chat=chat, now=now)
        _activate(chat, target, now)
        chat.unseen = False
        chat.save()
        _record_status(agent, now)
        _tell_inbox(out, chat, agent.pk)
        _tell_presence(out, agent)
        _tell_customer(out, chat)
        out.send_on_commit()
    if chat.state == S.CLOSED:
        offer_work(agent=agent)
    return chat


def _park_active_items(
    out: Outbox,
    agent: Membership,
    *,
    except_chat: Chat | None,
    now: datetime,
    reason: str = ParkReason.MANUAL,
) -> list[Chat]:
    """Park the agent's active chat and pause an active wrap-up. The caller holds the agent's lock."""
    active = _chats_to_lock().filter(agent=agent, state__in=(S.ACTIVE, S.WRAPUP))
    if except_chat is not None:
        active = active.exclude(pk=except_chat.pk)
    parked = []
    for other in active:
        _park(other, now, reason)
        other.save()
        _tell_inbox(out, other, agent.pk)
        parked.append(other)
    return parked


def _park(chat: Chat, now: datetime, reason: str) -> None:
    target = target_state("park", chat.state)
    if chat.state == S.ACTIVE:
        _stop_handle_clock(chat, now)
        chat.park_reason = reason
    else:
        _pause_wrapup(chat, now)
        chat.park_reason = reason
    chat.state = target


def chat_park(*, agent: Membership, chat_id, reason: str = ParkReason.MANUAL) -> Chat:
    """Park the active chat (its handle time kept) or pause an active wrap-up (its countdown kept).

    Locks the agent, then the chat. Refuses a chat that is not the agent's (404) and one neither active nor
    in an active wrap-up (409 not_active). A parked wrap-up no longer holds back calls: they are routed
    after commit.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        was_wrapup = chat.state == S.WRAPUP
        _park(chat, now, reason)
        chat.save()
        _record_status(agent, now)
        _tell_inbox(out, chat, agent.pk)
        _tell_presence(out, agent)
        out.send_on_commit()
    if was_wrapup:
        # A parked wrap-up does not hold back calls.
        route_calls(company_id=agent.company_id)
    return chat


def chat_put_back(*, agent: Membership, chat_id) -> Chat:
    """Return a chat in the inbox, active or parked to its queue.

    Locks the agent, then the chat, then its queue. Refuses a chat that is not the agent's (404), one in
    another state (409 cannot_put_back), one the customer has left (409 customer_left) and one whose queue
    is disabled (409 queue_disabled). The chat waits again; allocation gives it to anyone else first, and back
    to this agent only after PUT_BACK_REOFFER_SECONDS when nobody else has taken it.
    """
    return _requeue(agent=agent, chat_id=chat_id, action="put_back", queue_id=None)


def chat_transfer(*, agent: Membership, chat_id, queue_id: int) -> Chat:
    """Move a chat in the inbox, active or parked to another queue the agent serves, history kept.

    Locks the agent, then the chat, then the queue it moves to. Refuses a chat that is not the agent's
    (404), one in another state (409 cannot_transfer), one the customer has left (409 customer_left), a
    queue the agent does not serve or that is disabled (404 queue_not_visible) and the chat's own queue
    (409 same_queue).
    """
    return _requeue(agent=agent, chat_id=chat_id, action="transfer", queue_id=queue_id)


def _requeue(*, agent: Membership, chat_id, action: str, queue_id: int | None) -> Chat:
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        target = target_state(action, chat.state)
        if chat.ended_at is not None:
            raise TransitionError("customer_left", "The customer has left: activate the chat to wrap it up.")
        old_queue = chat.queue
        if queue_id is None:
            if not _lock_queues([old_queue.pk])[old_queue.pk].enabled:
                raise TransitionError(
                    "queue_disabled", "This chat's queue is disabled: transfer it to another queue."
                )
        else:
            new_queue = _lock_queues(
                WebchatQueue.objects.filter(pk=queue_id, company_id=agent.company_id).values("pk")
            ).get(queue_id)
            if new_queue is None or not selectors.agent_serves_queue(agent, new_queue):
                raise TransitionError(
                    "queue_not_visible", "You can only transfer to queues you serve.", status=404
                )
            if new_queue.pk == old_queue.pk:
                raise TransitionError("same_queue", "The chat is already in that queue.")
            chat.queue = new_queue
            chat.transfers += 1
        _stop_handle_clock(chat, now)
        chat.state = target
        chat.agent = None
        chat.returned_by = agent
        chat.returned_at = now
        chat.park_reason = ""
        chat.unseen = False
        chat.save()
        _record_status(agent, now)
        if action == "transfer":
            text, agent_text = TRANSFERRED, f"Transferred to {chat.queue.name}."
        else:
            text, agent_text = PUT_BACK, f"Returned to the {chat.queue.name} queue."
        _system_message(out, chat, text, now, agent_text=agent_text)
        _tell_inbox(out, chat, agent.pk)
        _tell_presence(out, agent)
        _tell_queue(out, old_queue)
        _tell_queue(out, chat.queue)
        _tell_customer(out, chat)
        out.add_positions(chat.queue_id)
        out.send_on_commit()
    allocate_queues(queue_ids={chat.queue_id, *_agent_queue_ids(agent)})
    return chat


def chat_end(*, agent: Membership, chat_id) -> Chat:
    """The agent ends their active chat: wrap-up starts (or the chat closes where wrap-up is off).

    Locks the agent, then the chat. Refuses a chat that is not the agent's (404) and one that is not active
    (409 not_active). A closed chat frees capacity: the agent is offered more work after commit.
    """
    now = _now()
    out = Outbox()
    with transaction.atomic():
        agent, chat = _lock_agents_chat(agent.pk, chat_id)
        target = _landing(chat, target_state("end", chat.state))
        _mark_ended(chat, now, EndedBy.AGENT)
        chat.customer_waiting_since = None
        chat.reply_overdue = False
        _enter_landing(chat, target, now)
        chat.save()
        _record_status(agent, now)
        _system_message(out, chat, f"{agent.name} ended the chat.", now)
        _tell_customer(out, chat)
        _tell_inbox(out, chat, agent.pk)
        _tell_presence(out, agent)
        out.send_on_commit()
    if chat.state == S.CLOSED:
        offer_work(agent=agent)
    return chat
