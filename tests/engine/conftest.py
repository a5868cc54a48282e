import pytest

from routing import engine
from tests import factories
from webchat.models import Chat


@pytest.fixture
def auto_queue(company):
    return factories.WebchatQueueFactory(company=company, name="Sales", auto_allocate=True)


def open_chat(queue, name="Grace", message="") -> Chat:
    return engine.chat_open(queue_token=queue.token, customer_name=name, first_message=message).chat


def reload(obj):
    """The row as the database has it now."""
    return type(obj).objects.get(pk=obj.pk)


def drive_to(state: str, queue, agent) -> Chat:
    """A chat brought to `state` through the engine, the way agents and customers get it there."""
    chat = open_chat(queue)
    if state == "queued":
        return reload(chat)
    engine.chat_take(agent=agent, chat_id=chat.pk)
    if state == "inbox":
        return reload(chat)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    if state == "active":
        return reload(chat)
    if state == "parked":
        engine.chat_park(agent=agent, chat_id=chat.pk)
        return reload(chat)
    engine.chat_end(agent=agent, chat_id=chat.pk)
    if state == "wrapup":
        return reload(chat)
    if state == "wrapup_parked":
        engine.chat_park(agent=agent, chat_id=chat.pk)
        return reload(chat)
    engine.wrapup_complete(agent=agent, chat_id=chat.pk)
    assert state == "closed"
    return reload(chat)
