"""The channel layer on a real Redis: after its subscriptions break and come back, every channel of the
process hears that frames may have been lost, and the sockets close so that their clients catch up."""

import asyncio
import contextlib
import uuid

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings

from routing import events
from runtime.channel_layer import LOST, PubSubChannelLayer
from tests import factories
from tests.webchat_support import agent_socket, closed_with, connected_chat, customer_socket, say_hello
from webchat.tokens import customer_token_for

TIMEOUT = 10


@pytest.fixture
async def layer():
    name = f"layer-test-{uuid.uuid4().hex[:8]}"
    layer = PubSubChannelLayer(hosts=[{"address": settings.REDIS_URL, "client_name": name}], prefix=name)
    yield layer, name
    await layer.flush()


def kill_subscriber_connections(client_name: str) -> int:
    """Close, from the Redis server's side, this layer's connection that holds its subscriptions."""
    server = redis.Redis.from_url(settings.REDIS_URL)
    killed = 0
    for client in server.client_list():
        if client["name"] == client_name and int(client["sub"]) > 0:
            killed += server.client_kill_filter(_id=client["id"])
    server.close()
    return killed


async def test_after_its_subscriptions_break_every_channel_hears_of_the_loss_and_delivery_resumes(layer):
    layer, name = layer
    in_group, alone = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("chat_x", in_group)
    await layer.group_send("chat_x", {"type": "relay", "frame": 1})
    assert (await asyncio.wait_for(layer.receive(in_group), TIMEOUT))["frame"] == 1

    assert kill_subscriber_connections(name) == 1

    assert await asyncio.wait_for(layer.receive(in_group), TIMEOUT) == LOST
    assert await asyncio.wait_for(layer.receive(alone), TIMEOUT) == LOST
    # Subscribed again: frames published from now on arrive.
    await layer.group_send("chat_x", {"type": "relay", "frame": 2})
    assert (await asyncio.wait_for(layer.receive(in_group), TIMEOUT))["frame"] == 2


async def test_subscribing_right_after_the_subscriptions_broke_succeeds_and_delivers(layer):
    """A socket's hello subscribes to its chat's group. One that came just as the subscriptions' connection
    broke (a Redis restart, a network blip) failed about every other time, the first command on the broken
    connection or the receiving task re-making it at the same moment, and the socket closed with an error.
    It succeeds, and once the connection is made again the groups' frames reach the channel."""
    layer, name = layer
    channel = await layer.new_channel()
    await layer.group_add("chat_0", channel)
    for n in range(1, 31):
        kill_subscriber_connections(name)
        await asyncio.sleep(0.05 * (n % 4))

        await layer.group_add(f"chat_{n}", channel)

    async def delivered() -> None:
        while True:
            await layer.group_send("chat_30", {"type": "relay", "frame": 30})
            with contextlib.suppress(TimeoutError):
                while (frame := await asyncio.wait_for(layer.receive(channel), 0.5)) == LOST:
                    pass
                if frame["frame"] == 30:
                    return

    await asyncio.wait_for(delivered(), TIMEOUT)


async def test_a_channel_the_health_check_is_done_with_leaves_no_subscription(layer):
    layer, _ = layer
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "healthz"})
    await asyncio.wait_for(layer.receive(channel), TIMEOUT)

    await layer.discard_channel(channel)

    server = redis.Redis.from_url(settings.REDIS_URL)
    assert server.pubsub_numsub(channel) == [(channel.encode(), 0)]
    server.close()


@pytest.mark.django_db(transaction=True)
class TestSocketsHearingOfALoss:
    @pytest.fixture
    def conversation(self, company, agent):
        queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
        chat, _ = connected_chat(queue, agent)
        return chat, customer_token_for(chat_id=chat.pk)

    async def test_the_customers_socket_closes_with_4503_so_that_its_client_reconnects(self, conversation):
        chat, token = conversation
        ws = await customer_socket(chat.pk)
        await say_hello(ws, token)

        await get_channel_layer().group_send(events.chat_group(chat.pk), LOST)

        assert await closed_with(ws) == 4503

    async def test_the_agents_socket_closes_with_4503_so_that_the_page_reconnects(self, conversation, agent):
        ws = await agent_socket(agent)
        # Answered once the socket has joined its groups (frames are handled after the connect).
        await ws.send_json_to({"type": "dance"})
        assert (await ws.receive_json_from(timeout=TIMEOUT))["type"] == "error"

        await get_channel_layer().group_send(events.agent_group(agent.pk), LOST)

        assert await closed_with(ws) == 4503
