"""Who a transition tells, through its Outbox (sent after commit): the agent's tabs, a queue's agents, the
company's wallboards and the customer's sockets. The frames themselves are webchat.protocol's; agents'
frames only name what changed."""

from contactcentre.models import Membership
from routing import events, selectors
from routing.events import Outbox
from routing.models import Call, WebchatQueue
from webchat import protocol
from webchat.models import Chat


def _tell_agent(out: Outbox, agent_id: int | None, frame: dict) -> None:
    if agent_id is not None:
        out.add_once(events.agent_group(agent_id), frame)


def _tell_inbox(out: Outbox, chat: Chat, agent_id: int | None) -> None:
    """The agent's inbox row and workspace for this chat changed."""
    _tell_agent(out, agent_id, protocol.inbox())
    _tell_agent(out, agent_id, protocol.chat(chat.pk, chat.state))


def _tell_queue(out: Outbox, queue: WebchatQueue) -> None:
    out.add_once(events.queue_group(queue.pk), protocol.queue(queue.pk))
    _tell_wallboard(out, queue.company_id)


def _tell_wallboard(out: Outbox, company_id: int) -> None:
    out.add_once(events.wallboard_group(company_id), protocol.wallboard())


def _tell_customer(out: Outbox, chat: Chat) -> None:
    out.add(events.chat_group(chat.pk), protocol.state(selectors.customer_state(chat)))


def _tell_presence(out: Outbox, agent: Membership) -> None:
    _tell_agent(out, agent.pk, protocol.presence())
    _tell_wallboard(out, agent.company_id)


def _tell_call(out: Outbox, call: Call, agent_id: int | None) -> None:
    _tell_agent(out, agent_id, protocol.call(call.pk, call.state))
    _tell_agent(out, agent_id, protocol.presence())
    _tell_wallboard(out, call.company_id)
