"""Nobody hears of a change that was rolled back; everybody concerned hears of one that committed."""

import asyncio
import threading

import pytest
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.db import transaction

from routing import engine, events
from tests import factories


class Listener:
    """A channel of the real channel layer joined to some groups, as another server process would hold it:
    a layer and an event loop of its own, in a thread, listening while the test runs."""

    def __init__(self, *groups: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        self._run(self._join(groups))

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    async def _join(self, groups: tuple[str, ...]) -> None:
        self.channel = await self.layer.new_channel()
        for group in groups:
            await self.layer.group_add(group, self.channel)

    async def _next_frame(self) -> dict:
        return (await asyncio.wait_for(self.layer.receive(self.channel), timeout=5))["frame"]

    def next_frame(self) -> dict:
        return self._run(self._next_frame())

    def close(self) -> None:
        self._run(self.layer.flush())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def listen():
    listeners = []

    def start(*groups: str) -> Listener:
        listeners.append(Listener(*groups))
        return listeners[-1]

    yield start
    for listener in listeners:
        listener.close()


class Rollback(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transition_publishes_nothing_and_a_committed_one_publishes_after_commit(listen):
    queue = factories.WebchatQueueFactory(auto_allocate=False)
    agent = factories.MembershipFactory(company=queue.company)
    rolled_back = engine.chat_open(queue_token=queue.token).chat
    committed = engine.chat_open(queue_token=queue.token).chat
    listener = listen(events.agent_group(agent.pk))

    with pytest.raises(Rollback), transaction.atomic():
        engine.chat_take(agent=agent, chat_id=rolled_back.pk)
        raise Rollback

    with transaction.atomic():
        engine.chat_take(agent=agent, chat_id=committed.pk)

    frames = [listener.next_frame(), listener.next_frame()]
    assert {"type": "chat", "chat_id": str(committed.pk), "state": "inbox"} in frames
    assert all(frame.get("chat_id") != str(rolled_back.pk) for frame in frames)


def test_frames_are_queued_for_commit_not_sent_inside_the_transaction(db, django_capture_on_commit_callbacks):
    queue = factories.WebchatQueueFactory(auto_allocate=False)
    agent = factories.MembershipFactory(company=queue.company)
    chat = engine.chat_open(queue_token=queue.token).chat

    with django_capture_on_commit_callbacks() as callbacks:
        engine.chat_take(agent=agent, chat_id=chat.pk)

    assert len(callbacks) == 1


def test_a_customer_message_reaches_the_customer_group_and_the_holding_agent(
    db, django_capture_on_commit_callbacks, listen
):
    queue = factories.WebchatQueueFactory(auto_allocate=False)
    agent = factories.MembershipFactory(company=queue.company)
    chat = engine.chat_open(queue_token=queue.token).chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    listener = listen(events.agent_group(agent.pk), events.chat_group(chat.pk))

    with django_capture_on_commit_callbacks(execute=True):
        engine.message_post_customer(chat_id=chat.pk, client_id="c-1", text="Hello")

    messages = [listener.next_frame() for _ in range(2)]
    assert [m["type"] for m in messages] == ["message", "message"]
    assert {m.get("chat_id") for m in messages} == {None, str(chat.pk)}
    assert all(m["seq"] == 1 and m["text"] == "Hello" and m["sender"] == "customer" for m in messages)
