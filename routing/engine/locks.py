"""The lock order, and the helpers that take it.

Every transition locks rows with SELECT ... FOR NO KEY UPDATE (no key of a locked row changes), in one
order, so no two transitions can wait for each other in a circle:

1. the agent's membership (one; allocation locks several by primary key, SKIP LOCKED; call routing tries
   candidates one at a time, each released again by a savepoint if no longer eligible);
2. the call;
3. chats, several by primary key (allocation: SKIP LOCKED);
4. queues, several by primary key.

A chat's agent is read, locked, then confirmed (`_lock_chat_with_agent`), so a transition that starts from
a chat still locks its agent first; storing a message locks the chat alone. Two transitions take no
membership: chat_open locks the queue it opens in, and queue_disable locks the queue and its fallback
queue (by primary key), then that queue's waiting chats (by primary key). Neither waits for a membership,
and no transition that holds a waiting chat waits for a queue, so a transition holding an agent and their
chats may wait for a queue (`_lock_queues`). agent_logout locks the calls ringing for the agent last: every
other transition that locks such a call holds that agent's lock first, or locks nothing after the call.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from contactcentre.models import Membership
from routing.engine.rules import TransitionError
from routing.engine.sql import _chat_pk, _prepared
from routing.models import Call, WebchatQueue
from webchat.models import Chat


def _lock_agent(agent: Membership | int) -> Membership:
    agent_id = agent if isinstance(agent, int) else agent.pk
    return (
        Membership.objects.select_for_update(no_key=True, of=("self",))
        .select_related("company", "queue_profile", "user")
        .get(pk=agent_id)
    )


def _lock_chat(chat_id, *, company_id: int | None = None) -> Chat:
    chats = Chat.objects.select_for_update(no_key=True, of=("self",)).select_related(
        "queue", "queue__company"
    )
    return _locked_chat(chats, chat_id, company_id)


def _locked_chat(chats, chat_id, company_id: int | None) -> Chat:
    """The chat of `chats` (a locking queryset) with this id, in this company if given; else not_found."""
    if company_id is not None:
        chats = chats.filter(company_id=company_id)
    try:
        return chats.get(pk=chat_id)
    except (Chat.DoesNotExist, ValueError, TypeError, ValidationError):
        raise TransitionError("not_found", "No such chat.", status=404) from None


def _lock_chat_for_message(chat_id, *, company_id: int | None = None) -> Chat:
    """The chat's MESSAGE_CHAT_FIELDS, its row locked; the other fields are deferred (sql.py's lock).

    Equivalent ORM: _locked_chat(Chat.objects.select_for_update(no_key=True).only(*MESSAGE_CHAT_FIELDS),
    chat_id, company_id).
    """
    db, statements = _prepared()
    with db.cursor() as cursor:
        if company_id is None:
            cursor.execute(statements.lock, [_chat_pk(chat_id, db)])
        else:
            cursor.execute(statements.lock_in_company, [_chat_pk(chat_id, db), company_id])
        row = cursor.fetchone()
    if row is None:
        raise TransitionError("not_found", "No such chat.", status=404)
    if statements.chat_converters:
        row = list(row)
        for index, column, converters in statements.chat_converters:
            for convert in converters:
                row[index] = convert(row[index], column, db)
    return Chat.from_db(db.alias, statements.chat_attnames, row)


def _lock_agents_chat(agent_id: int, chat_id) -> tuple[Membership, Chat]:
    """Lock an agent and one of their chats; another agent's or company's chat is not found."""
    agent = _lock_agent(agent_id)
    chat = _lock_chat(chat_id, company_id=agent.company_id)
    if chat.agent_id != agent.pk:
        raise TransitionError("not_yours", "This chat is not in your inbox.", status=404)
    return agent, chat


def _lock_agents_call(agent: Membership | int, call_id: int, *, not_yours: str) -> tuple[Membership, Call]:
    """Lock an agent, then one of their calls; another company's call is not found, another agent's is
    refused with `not_yours`."""
    agent = _lock_agent(agent)
    call = _lock_call(call_id, company_id=agent.company_id)
    if call.agent_id != agent.pk:
        raise TransitionError("not_yours", not_yours, status=404)
    return agent, call


def _chats_to_lock() -> QuerySet[Chat]:
    """Chats, with their queue, locked by primary key (the order several chats are locked in): filtered by
    the caller to those it changes."""
    return Chat.objects.select_for_update(no_key=True, of=("self",)).select_related("queue").order_by("pk")


def _lock_queues(queue_ids) -> dict[int, WebchatQueue]:
    """Lock these queues, with their company, by primary key.

    queue_disable locks a queue this way and chat_open locks the one it opens in, so the queues that chats
    are about to wait in are locked this way too: a queue being disabled is waited for and then read as
    disabled, and no chat joins a queue after its waiting chats were handed on. Such a caller holds the
    agent's and the chats' locks; neither chat_open nor queue_disable waits for those, so the order cannot
    deadlock.
    """
    return {
        queue.pk: queue
        for queue in WebchatQueue.objects.select_for_update(no_key=True, of=("self",))
        .select_related("company")
        .filter(pk__in=queue_ids)
        .order_by("pk")
    }


class _ChangedHands(Exception):
    pass


def _lock_chat_with_agent(chat_id) -> Chat:
    """Lock a chat and its agent, agent first: the chat's agent is read, locked, then confirmed.

    If the chat changed hands between the read and the lock, the attempt's savepoint is rolled back, which
    releases its row locks, so the fixed order is never broken.
    """
    for _ in range(5):
        try:
            agent_id = Chat.objects.filter(pk=chat_id).values_list("agent_id", flat=True).get()
        except (Chat.DoesNotExist, ValueError, TypeError, ValidationError):
            raise TransitionError("not_found", "No such chat.", status=404) from None
        try:
            with transaction.atomic():
                if agent_id is not None:
                    _lock_agent(agent_id)
                chat = _lock_chat(chat_id)
                if chat.agent_id != agent_id:
                    raise _ChangedHands
                return chat
        except _ChangedHands:
            continue
    raise TransitionError("busy", "The chat is changing hands; try again.")


def _lock_call(call_id: int, *, company_id: int) -> Call:
    call = (
        Call.objects.select_for_update(no_key=True, of=("self",))
        .select_related("queue", "company")
        .filter(pk=call_id, company_id=company_id)
        .first()
    )
    if call is None:
        raise TransitionError("unknown_call", "No such call.", status=404)
    return call
