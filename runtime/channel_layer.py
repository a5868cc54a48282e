"""The channel layer in production: Redis pub/sub, which tells its sockets when frames may have been lost.

channels_redis's pub/sub layer sends a group's frame with one PUBLISH, received once by each server process
and handed to its member sockets in memory; its list-based layer spends four Redis round trips on a
group_send and a blocking pop on each delivery. But when the connection that holds a process's
subscriptions breaks (Redis restarts, a network blip), redis-py reconnects and subscribes again by itself,
and whatever was published in between is gone without anyone noticing.

This layer notices: once its subscriptions are back, every channel of the process receives a
`channel_layer.lost` message, and the product's sockets close with 4503 (come back shortly). Their clients
reconnect and catch up from the database, the truth, as they do after any reconnect (sequence numbers for
the customer, a full re-fetch for the agent's page).
"""

import asyncio
import logging
import weakref

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, decode_hosts
from redis.exceptions import ConnectionError

from runtime import metrics

logger = logging.getLogger(__name__)

LOST = {"type": "channel_layer.lost"}
# Pauses (seconds) between the tries of a subscription made while its connection is being re-made.
SUBSCRIBE_RETRY_PAUSES = (0.05, 0.2, 1.0)
# "Connect again": the WebSocket close code for a server that cannot vouch for what it relayed (1012, the
# standard "service restart", is one that a server may not send under autobahn, Daphne's WebSocket library).
CLOSE_RECONNECT = 4503


class PubSubChannelLayer(RedisPubSubChannelLayer):
    def _get_layer(self) -> "LoopLayer":
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = self._layers[loop] = LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
            return layer


class LoopLayer(RedisPubSubLoopLayer):
    """The layer of one event loop: its channels, groups and one connection per Redis host."""

    def __init__(self, hosts=None, **kwargs) -> None:
        super().__init__(hosts, **kwargs)
        self._shards = [WatchedShard(host, self) for host in decode_hosts(hosts)]
        _loop_layers.add(self)

    async def send(self, channel: str, message: dict) -> None:
        try:
            await super().send(channel, message)
        except Exception:
            metrics.CHANNEL_LAYER_SEND_FAILURES.labels("send").inc()
            raise

    async def group_send(self, group: str, message: dict) -> None:
        try:
            await super().group_send(group, message)
        except Exception:
            metrics.CHANNEL_LAYER_SEND_FAILURES.labels("group_send").inc()
            raise

    async def discard_channel(self, channel: str) -> None:
        """Forget a channel made with new_channel() that will not be read again (its subscription ends)."""
        if self.channels.pop(channel, None) is not None:
            await self._get_shard(channel).unsubscribe(channel)

    def tell_every_channel(self, message: dict) -> None:
        data = self.channel_layer.serialize(message)
        for queue in self.channels.values():
            queue.put_nowait(data)


class WatchedShard(RedisSingleShardConnection):
    """One Redis host's connections; tells the layer's channels when its subscriptions were re-made."""

    _watched = None

    async def subscribe(self, channel: str) -> None:
        await self._retried(super().subscribe, channel)
        connection = self._pubsub.connection if self._pubsub is not None else None
        if connection is not None and connection is not self._watched:
            # Registered once the connection is up: the callback runs on every connect after this one.
            self._watched = connection
            connection.register_connect_callback(self._reconnected)

    async def unsubscribe(self, channel: str) -> None:
        await self._retried(super().unsubscribe, channel)

    async def _retried(self, call, channel: str) -> None:
        """`call(channel)`, tried again while the subscriptions' connection is being re-made. Right after that
        connection broke, the first command on it fails ("Connection lost" while writing), or it meets the
        receiving task re-making it at the same moment (redis-py: "another coroutine is already waiting for
        incoming data"): a socket saying hello then would be closed with an error, though Redis is back."""
        for pause in SUBSCRIBE_RETRY_PAUSES:
            try:
                return await call(channel)
            except (ConnectionError, OSError, RuntimeError) as problem:
                if isinstance(problem, RuntimeError) and "already waiting" not in str(problem):
                    raise
                logger.warning("subscribing again after %s", problem, extra={"channel": channel})
                await asyncio.sleep(pause)
        return await call(channel)

    def _reconnected(self, connection) -> None:
        metrics.CHANNEL_LAYER_RECONNECTS.inc()
        logger.warning(
            "the channel layer reconnected to Redis; its sockets are told frames may have been lost",
            extra={"channels": len(self.channel_layer.channels)},
        )
        self.channel_layer.tell_every_channel(LOST)


_loop_layers: "weakref.WeakSet[LoopLayer]" = weakref.WeakSet()


def _backlog() -> list[tuple[tuple[str, ...], int]]:
    """Messages from Redis waiting in this process for their socket to read them, and the channels (one a
    socket, plus the health check's) subscribed: read by the scrape's thread while the event loop changes
    the dictionaries, so each is copied first and a copy that raced is taken again."""
    channels = pending = 0
    for layer in list(_loop_layers):
        for _ in range(3):
            try:
                queues = list(layer.channels.values())
                break
            except RuntimeError:
                continue
        else:
            queues = []
        channels += len(queues)
        pending += sum(queue.qsize() for queue in queues)
    return [(("channels",), channels), (("pending_messages",), pending)]


metrics.register(
    metrics.GaugeCollector(
        "contactcentre_channel_layer",
        "This process's channel layer: its subscribed channels, and the messages received from Redis that "
        "its sockets have not read yet",
        ["what"],
        _backlog,
    )
)


class ReconnectOnLossMixin:
    """For WebSocket consumers whose clients catch up from the database when they reconnect."""

    async def channel_layer_lost(self, event: dict) -> None:
        await self.close(code=CLOSE_RECONNECT)
