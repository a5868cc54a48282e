"""Profile and queue changes reach open agent sockets without a reconnect: the socket leaves the groups of
queues the agent no longer sees (and hears nothing more of them), joins those they now see, and tells the
page to re-fetch its parts (a `queues` frame)."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from contactcentre.models import Membership
from routing import engine, events
from routing.models import QueueProfile, WebchatQueue
from tests import factories
from tests.webchat_support import agent_socket, next_frame

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10


@pytest.fixture
def queues(company):
    return (
        factories.WebchatQueueFactory(company=company, name="Sales", auto_allocate=False),
        factories.WebchatQueueFactory(company=company, name="Support", auto_allocate=False),
    )


@pytest.fixture
def sales_agent(company, queues):
    profile = QueueProfile.objects.create(company=company, name="Sales only")
    profile.queues.add(queues[0])
    return factories.MembershipFactory(company=company, queue_profile=profile)


# A queue's frames may be held for up to half a second (routing/events.py coalesces them): a socket that does
# not hear of a new chat within this long hears nothing of that queue.
QUIET = 1.5


async def _hears_queue(ws, queue: WebchatQueue, *, within: float = TIMEOUT) -> bool:
    """Whether a chat arriving in the queue reaches this socket as a `queue` frame within `within` seconds:
    a socket that hears it may be told late on a busy machine; one that does not is given QUIET seconds."""
    await database_sync_to_async(engine.chat_open)(queue_token=queue.token, customer_name="Grace")
    deadline = asyncio.get_running_loop().time() + within
    while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
        # receive_nothing waits without ending the socket, as a timed-out receive would.
        if await ws.receive_nothing(timeout=remaining):
            return False
        frame = await ws.receive_json_from(timeout=TIMEOUT)
        if frame == {"type": "queue", "queue_id": queue.pk}:
            while not await ws.receive_nothing(timeout=0.1):
                await ws.receive_from()
            return True
    return False


async def _deaf_to_queue(ws, queue: WebchatQueue) -> bool:
    return not await _hears_queue(ws, queue, within=QUIET)


def _set_profile(agent: Membership, profile: QueueProfile) -> None:
    agent = Membership.objects.get(pk=agent.pk)
    agent.queue_profile = profile
    agent.save()


async def test_a_new_profile_on_the_agent_changes_the_queues_their_open_socket_hears(
    company, queues, sales_agent
):
    sales, support = queues
    support_only = await database_sync_to_async(QueueProfile.objects.create)(company=company, name="Support")
    await database_sync_to_async(support_only.queues.add)(support)
    ws = await agent_socket(sales_agent)
    assert await _hears_queue(ws, sales)

    await database_sync_to_async(_set_profile)(sales_agent, support_only)

    assert await next_frame(ws, lambda f: f["type"] == "queues") == {"type": "queues"}
    assert await _deaf_to_queue(ws, sales)
    assert await _hears_queue(ws, support)
    await ws.disconnect()


async def test_queues_added_to_and_removed_from_a_profile_reach_its_agents_open_sockets(queues, sales_agent):
    sales, support = queues
    profile = sales_agent.queue_profile
    ws = await agent_socket(sales_agent)

    await database_sync_to_async(profile.queues.add)(support)
    await next_frame(ws, lambda f: f["type"] == "queues")
    assert await _hears_queue(ws, support)

    await database_sync_to_async(profile.queues.remove)(sales)
    await next_frame(ws, lambda f: f["type"] == "queues")
    assert await _deaf_to_queue(ws, sales)
    await ws.disconnect()


async def test_a_profile_set_to_every_queue_reaches_its_agents_open_sockets(queues, sales_agent):
    _, support = queues
    ws = await agent_socket(sales_agent)
    assert await _deaf_to_queue(ws, support)

    def every_queue():
        profile = QueueProfile.objects.get(pk=sales_agent.queue_profile_id)
        profile.all_queues = True
        profile.save()

    await database_sync_to_async(every_queue)()

    await next_frame(ws, lambda f: f["type"] == "queues")
    assert await _hears_queue(ws, support)
    await ws.disconnect()


async def test_disabling_and_enabling_a_queue_reaches_the_open_sockets_of_its_agents(queues, sales_agent):
    sales, _ = queues
    ws = await agent_socket(sales_agent)

    await database_sync_to_async(engine.queue_disable)(queue_id=sales.pk)
    await next_frame(ws, lambda f: f["type"] == "queues")
    while not await ws.receive_nothing(timeout=0.3):
        await ws.receive_from()
    # Nothing more of a disabled queue reaches the socket: it left the queue's group.
    await database_sync_to_async(events.send_now)([(events.queue_group(sales.pk), {"type": "queue"})])
    assert await ws.receive_nothing(timeout=QUIET)

    def enable():
        queue = WebchatQueue.objects.get(pk=sales.pk)
        queue.enabled = True
        queue.save()

    await database_sync_to_async(enable)()
    await next_frame(ws, lambda f: f["type"] == "queues")
    assert await _hears_queue(ws, sales)
    await ws.disconnect()


def test_the_queue_list_shows_what_the_profile_now_allows(client, company, queues, sales_agent):
    _, support = queues
    client.force_login(sales_agent.user)
    assert f'id="queue-{support.pk}"' not in client.get("/inbox/queues/").content.decode()

    sales_agent.queue_profile.queues.add(support)

    assert f'id="queue-{support.pk}"' in client.get("/inbox/queues/").content.decode()
