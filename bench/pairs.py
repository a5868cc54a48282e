"""A conversation as the load generator sees it: a customer connection and an agent connection.

The same pair shape runs against the three servers, so their figures compare:
- raw `websockets`: /relay/<room>/a and /relay/<room>/b of bench.baselines.echo_server, relayed in process;
- bare Channels: the same paths on bench.baselines.relay_asgi, relayed through the channel layer;
- the product: the customer's /ws/webchat/<chat_id>/ (hello with the customer token) and the agent's
  /ws/agent/ (Django session cookie), relayed by the engine after storing the message.
"""

import asyncio
from dataclasses import dataclass

from bench.loadgen import Conn, ConnectStats, FrameHandler, connect_all, open_conn


@dataclass
class Pair:
    index: int
    customer_url: str
    agent_url: str
    product: bool
    chat_id: str = ""
    customer_token: str = ""
    agent_session: str = ""
    customer: Conn | None = None
    agent: Conn | None = None

    @property
    def ready(self) -> bool:
        return self.customer is not None and self.agent is not None and self.customer.open and self.agent.open

    def frame(self, direction: str, client_id: str, text: str) -> dict:
        """The frame that sends a message in `direction` ("c2a" from the customer, "a2c" from the agent)."""
        frame = {"type": "message", "client_id": client_id, "text": text}
        if self.product and direction == "a2c":
            frame["chat_id"] = self.chat_id
        return frame

    def sender(self, direction: str) -> Conn | None:
        return self.customer if direction == "c2a" else self.agent


def relay_pairs(ports: list[int], n: int, *, room_prefix: str, offset: int = 0) -> list[Pair]:
    pairs = []
    for i in range(offset, offset + n):
        a_port, b_port = ports[i % len(ports)], ports[(i + 1) % len(ports)]
        room = f"{room_prefix}{i}"
        pairs.append(
            Pair(
                i,
                f"ws://127.0.0.1:{a_port}/relay/{room}/a/",
                f"ws://127.0.0.1:{b_port}/relay/{room}/b/",
                False,
            )
        )
    return pairs


def product_pairs(ports: list[int], chats: list[tuple[str, str, str]], *, offset: int = 0) -> list[Pair]:
    """chats: (chat_id, customer_token, agent_session_key). Customer and agent alternate processes."""
    pairs = []
    for i, (chat_id, token, session) in enumerate(chats):
        c_port, a_port = ports[i % len(ports)], ports[(i + 1) % len(ports)]
        pairs.append(
            Pair(
                offset + i,
                f"ws://127.0.0.1:{c_port}/ws/webchat/{chat_id}/",
                f"ws://127.0.0.1:{a_port}/ws/agent/",
                True,
                chat_id=chat_id,
                customer_token=token,
                agent_session=session,
            )
        )
    return pairs


class PairConnector:
    """Opens pairs; for the product, a customer counts as connected once its hello was answered."""

    def __init__(self, handler: FrameHandler):
        self.handler = handler
        self.hello: dict[int, asyncio.Future] = {}

    def on_frame(self, conn: Conn, frame: dict) -> None:
        if conn.role == "customer" and frame.get("type") == "state":
            waiter = self.hello.pop(conn.key, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(frame)
        self.handler(conn, frame)

    async def _customer(self, pair: Pair) -> Conn:
        conn = await open_conn(pair.customer_url, role="customer", key=pair.index, handler=self.on_frame)
        if pair.product:
            waiter = asyncio.get_running_loop().create_future()
            self.hello[pair.index] = waiter
            await conn.send({"type": "hello", "customer_token": pair.customer_token, "after_seq": 0})
            try:
                await asyncio.wait_for(waiter, 30)
            except BaseException:
                self.hello.pop(pair.index, None)
                await conn.close()
                raise
        pair.customer = conn
        return conn

    async def _agent(self, pair: Pair) -> Conn:
        headers = {"Cookie": f"sessionid={pair.agent_session}"} if pair.product else None
        conn = await open_conn(
            pair.agent_url, role="agent", key=pair.index, handler=self.on_frame, headers=headers
        )
        pair.agent = conn
        return conn

    async def connect(self, pairs: list[Pair], *, concurrency: int, stats: ConnectStats) -> None:
        """Agents first (so that they hear their chats), then customers."""
        await connect_all([lambda p=p: self._agent(p) for p in pairs], concurrency=concurrency, stats=stats)
        await connect_all(
            [lambda p=p: self._customer(p) for p in pairs], concurrency=concurrency, stats=stats
        )


def abort_all(pairs: list[Pair]) -> None:
    """Drop the client side of every pair at once (the server is stopped right after)."""
    for pair in pairs:
        for conn in (pair.customer, pair.agent):
            if conn is not None:
                transport = conn.ws.transport
                if transport is not None:
                    transport.abort()
                conn.reader.cancel()
