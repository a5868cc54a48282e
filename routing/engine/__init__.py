"""The engine: the one writer of chat, call and agent state.

Every public function is one transition, in one transaction. It locks the rows it changes, re-checks the
rule it enforces after locking, refuses an illegal transition with TransitionError (`code` for programs,
`message` for people, `status` for HTTP), and gathers what changed in an Outbox (routing/events.py) that
publishes it only after commit, so nobody hears of a change that was rolled back. Work that may find
nothing to do (allocation and call routing after a change) runs after the transition's own transaction, so
a slow allocation never holds the caller's locks. Each function's docstring says what it locks and which
rule it enforces.

The lock order (locks.py has it in full, and the helpers that take it): the agent's membership first, then
the call, then chats (several by primary key), then queues (several by primary key). Allocation takes
agents and chats with SKIP LOCKED, so any number of server processes allocate at once without giving one
chat to two agents or an agent more than its capacity.

The engine logs as `routing.engine` (docs/operations.md). Its modules, each importing only those above it
(import-linter's contract in pyproject.toml, run by `make lint`):

    rules          the transition tables, target_state, refusals and their texts, what text may be stored
    sql            the message path's statements, written out (each with the ORM it stands for)
    locks          the lock order and the helpers that lock agents, chats, calls and queues
    frames         what a transition tells the agents, queues, wallboards and customers
    status_history the agent's status intervals, written by every transition that changes the status
    clocks         handle time and the wrap-up countdown; a chat entering wrap-up or closing
    messages       customers' and agents' messages, and the product's own
    allocation     giving waiting chats to agents, and the rounds a process shares
    call_routing   offering waiting calls to agents; offering a freed agent work in channel priority
    details        notes, classification, contact and abuse flag on a chat; notes and classification on a call
    chats          open, take, activate, park, put back, transfer and end a chat
    wrapup         extend, complete and expire a chat's wrap-up
    calls          a call arriving, answered, hung up, ended, wrapped up; offers ringing out
    presence       log in, set presence, log out, signs of life, lost connections
    configuration  disabling a queue, its waiting chats handed on
    sweeps         the periodic flags and sweeps that catch what triggers missed

The names below are the engine's interface: callers use `from routing import engine` and `engine.<name>`.
"""

from routing.engine.allocation import (
    allocate_after_change,
    allocate_for_agent,
    allocate_queue,
    allocate_queues,
)
from routing.engine.call_routing import offer_work, route_calls
from routing.engine.calls import (
    call_answer,
    call_answered_by_pbx,
    call_arrived,
    call_ended_by_pbx,
    call_hang_up,
    call_wrapup_complete,
    expire_call_offers,
    expire_call_wrapups,
)
from routing.engine.chats import (
    OpenedChat,
    chat_activate,
    chat_end,
    chat_end_by_customer,
    chat_mark_seen,
    chat_open,
    chat_park,
    chat_put_back,
    chat_take,
    chat_transfer,
)
from routing.engine.configuration import DisabledQueue, queue_disable
from routing.engine.details import chat_assign_contact, chat_flag_abusive, chat_record_details
from routing.engine.messages import message_post_agent, message_post_customer
from routing.engine.presence import (
    agent_login,
    agent_logout,
    agent_seen,
    agent_set_presence,
    expire_lost_connections,
)
from routing.engine.rules import (
    CALL_TRANSITIONS,
    CLASSIFICATION_CHARS,
    CLIENT_ID_CHARS,
    EDITABLE_STATES,
    MOVED_TO_FALLBACK,
    QUEUE_CLOSED,
    REFUSALS,
    TRANSITIONS,
    TransitionError,
    call_target,
    target_state,
)
from routing.engine.sweeps import flag_reply_alerts, sweep_allocation, sweep_calls
from routing.engine.wrapup import expire_wrapups, wrapup_complete, wrapup_extend

__all__ = [
    "CALL_TRANSITIONS",
    "CLASSIFICATION_CHARS",
    "CLIENT_ID_CHARS",
    "EDITABLE_STATES",
    "MOVED_TO_FALLBACK",
    "QUEUE_CLOSED",
    "REFUSALS",
    "TRANSITIONS",
    "DisabledQueue",
    "OpenedChat",
    "TransitionError",
    "agent_login",
    "agent_logout",
    "agent_seen",
    "agent_set_presence",
    "allocate_after_change",
    "allocate_for_agent",
    "allocate_queue",
    "allocate_queues",
    "call_answer",
    "call_answered_by_pbx",
    "call_arrived",
    "call_ended_by_pbx",
    "call_hang_up",
    "call_target",
    "call_wrapup_complete",
    "chat_activate",
    "chat_assign_contact",
    "chat_end",
    "chat_end_by_customer",
    "chat_flag_abusive",
    "chat_mark_seen",
    "chat_open",
    "chat_park",
    "chat_put_back",
    "chat_record_details",
    "chat_take",
    "chat_transfer",
    "expire_call_offers",
    "expire_call_wrapups",
    "expire_lost_connections",
    "expire_wrapups",
    "flag_reply_alerts",
    "message_post_agent",
    "message_post_customer",
    "offer_work",
    "queue_disable",
    "route_calls",
    "sweep_allocation",
    "sweep_calls",
    "target_state",
    "wrapup_complete",
    "wrapup_extend",
]
