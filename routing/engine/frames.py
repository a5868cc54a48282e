"""What a transition tells whom, through its Outbox (sent after commit): the agent's tabs, a queue's
agents, the company's wallboards and the customer's sockets. Agents' frames only name what changed."""

from contactcentre.models import Membership
from routing import events, selectors
from routing.events import Outbox
from routing.models import Call, WebchatQueue
from webchat.models import Chat


def _tell_agent(out: Outbox, agent_id: int | None, **frame) -> None:
    if agent_id is not None:
        out.add_once(events.agent_group(agent_id), frame)


def _tell_inbox(out: Outbox, chat: Chat, agent_id: int | None) -> None:
    """The agent's inbox row and workspace for this chat changed."""
    _tell_agent(out, agent_id, type="inbox")
    _tell_agent(out, agent_id, type="chat", chat_id=str(chat.pk), state=chat.state)


def _tell_queue(out: Outbox, queue: WebchatQueue) -> None:
    out.add_once(events.queue_group(queue.pk), {"type": "queue", "queue_id": queue.pk})
    out.add_once(events.wallboard_group(queue.company_id), {"type": "wallboard"})


def _tell_customer(out: Outbox, chat: Chat) -> None:
    out.add(events.chat_group(chat.pk), selectors.customer_state(chat))


def _tell_presence(out: Outbox, agent: Membership) -> None:
    _tell_agent(out, agent.pk, type="presence")
    out.add_once(events.wallboard_group(agent.company_id), {"type": "wallboard"})


def _tell_call(out: Outbox, call: Call, agent_id: int | None) -> None:
    _tell_agent(out, agent_id, type="call", call_id=call.pk, state=call.state)
    _tell_agent(out, agent_id, type="presence")
    out.add_once(events.wallboard_group(call.company_id), {"type": "wallboard"})
