"""Frames of transitions made for a socket or a page are sent by the server's event loop, in order, and a
burst of changes to a queue still leaves every waiting customer with their right place."""

import asyncio
import contextlib

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from routing import engine, events
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


class Listener:
    """A channel of the real channel layer, joined to some groups, as a consumer would be."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = ""

    async def join(self, *groups: str) -> "Listener":
        self.channel = await self.layer.new_channel()
        for group in groups:
            await self.layer.group_add(group, self.channel)
        return self

    async def next_frame(self, kind: str | None = None) -> dict:
        """The next frame (of the given type: earlier frames of other types are passed over)."""
        while True:
            frame = (await asyncio.wait_for(self.layer.receive(self.channel), timeout=5))["frame"]
            if kind is None or frame["type"] == kind:
                return frame


@database_sync_to_async
def active_chat():
    queue = factories.WebchatQueueFactory(auto_allocate=False)
    agent = factories.MembershipFactory(company=queue.company)
    chat = engine.chat_open(queue_token=queue.token).chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    return chat, agent


async def test_messages_stored_from_a_sockets_thread_reach_both_sides_in_the_order_they_were_stored():
    chat, agent = await active_chat()
    customer = await Listener().join(events.chat_group(chat.pk))
    inbox = await Listener().join(events.agent_group(agent.pk))

    for n in range(1, 21):
        await database_sync_to_async(engine.message_post_customer)(
            chat_id=chat.pk, client_id=f"c-{n}", text=f"message {n}"
        )

    heard_by_customer = [(await customer.next_frame("message"))["seq"] for _ in range(20)]
    heard_by_agent = [await inbox.next_frame("message") for _ in range(20)]
    assert heard_by_customer == list(range(1, 21))
    assert [frame["seq"] for frame in heard_by_agent] == list(range(1, 21))
    assert {frame["chat_id"] for frame in heard_by_agent} == {str(chat.pk)}


async def test_customers_left_waiting_after_a_burst_of_takes_hear_their_new_places():
    queue = await database_sync_to_async(factories.WebchatQueueFactory)(auto_allocate=False)
    agent = await database_sync_to_async(factories.MembershipFactory)(company=queue.company)
    opened = [
        await database_sync_to_async(engine.chat_open)(queue_token=queue.token, customer_name=f"c{n}")
        for n in range(6)
    ]
    chats = [result.chat for result in opened]
    left_waiting = {chat.pk: await Listener().join(events.chat_group(chat.pk)) for chat in chats[3:]}

    for chat in chats[:3]:
        await database_sync_to_async(engine.chat_take)(agent=agent, chat_id=chat.pk)

    for expected_place, chat in enumerate(chats[3:], 1):
        listener = left_waiting[chat.pk]
        frame = await listener.next_frame("state")
        while frame.get("position") != expected_place:
            frame = await listener.next_frame("state")
        assert frame == {"type": "state", "state": "queued", "position": expected_place}


# Long enough that a few takes on a busy machine fit well inside it, so "at once" never measures the load.
INTERVAL = 1.0


async def test_a_burst_of_changes_to_a_queue_is_told_to_its_agents_once_at_once_and_once_after(monkeypatch):
    monkeypatch.setattr(events, "COALESCE_SECONDS", INTERVAL)
    queue = await database_sync_to_async(factories.WebchatQueueFactory)(auto_allocate=False)
    agent = await database_sync_to_async(factories.MembershipFactory)(company=queue.company)
    # Written directly: opening them through the engine would tell the queue too.
    chats = [await database_sync_to_async(factories.ChatFactory)(queue=queue) for _ in range(3)]
    agents_of_queue = await Listener().join(events.queue_group(queue.pk))
    inbox = await Listener().join(events.agent_group(agent.pk))
    loop = asyncio.get_running_loop()

    started = loop.time()
    for chat in chats:
        await database_sync_to_async(engine.chat_take)(agent=agent, chat_id=chat.pk)
    # Frames for the agent himself are not held back: every take's is there.
    assert len([await inbox.next_frame("chat") for _ in chats]) == 3

    first = await agents_of_queue.next_frame("queue")
    first_at = loop.time()
    last = await agents_of_queue.next_frame("queue")
    last_at = loop.time()
    assert first == last == {"type": "queue", "queue_id": queue.pk}
    assert first_at - started < INTERVAL <= last_at - started
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(agents_of_queue.next_frame("queue"), timeout=0.6)


async def test_a_burst_of_changes_to_a_queue_tells_its_waiting_customers_their_places_at_once_and_once_after(
    monkeypatch,
):
    monkeypatch.setattr(events, "COALESCE_SECONDS", INTERVAL)
    queue = await database_sync_to_async(factories.WebchatQueueFactory)(auto_allocate=False)
    agent = await database_sync_to_async(factories.MembershipFactory)(company=queue.company)
    # Written directly: opening them through the engine would tell places too.
    chats = [await database_sync_to_async(factories.ChatFactory)(queue=queue) for _ in range(5)]
    last = await Listener().join(events.chat_group(chats[4].pk))
    loop = asyncio.get_running_loop()

    started = loop.time()
    for chat in chats[:3]:
        await database_sync_to_async(engine.chat_take)(agent=agent, chat_id=chat.pk)

    first = await last.next_frame("state")
    first_at = loop.time()
    final = await last.next_frame("state")
    final_at = loop.time()
    # The first place is read when the first take is told; the one after the interval, after all three.
    assert first["position"] in (2, 3, 4)
    assert final == {"type": "state", "state": "queued", "position": 2}
    assert first_at - started < INTERVAL <= final_at - started
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(last.next_frame("state"), timeout=0.6)


async def test_a_publisher_told_to_stop_while_sending_stops_even_if_the_send_swallowed_it(monkeypatch):
    # Some libraries on the way to Redis catch a cancellation to clean up and carry on; the event loop's end
    # then waits for the publisher, which must not go back to waiting for news.
    sending = asyncio.Event()

    async def send_that_swallows_a_cancellation(frames):
        sending.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()  # a send that hangs until it is cancelled

    monkeypatch.setattr(events, "_send_all", send_that_swallows_a_cancellation)
    publisher = events.Publisher()
    publisher.hand_over([("chat_x", {"type": "state"})], set())
    await asyncio.wait_for(sending.wait(), 5)

    publisher.task.cancel()

    done, _ = await asyncio.wait([publisher.task], timeout=5)
    assert publisher.task in done
    assert publisher.task.cancelled()
