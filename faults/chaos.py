"""Faults, one after another, while the clients talk: the kinds a contact centre's operator lives through."""

import asyncio
import random
import time

from faults.clients import Agent, Customer, Tally
from faults.deploy import Deployment

KINDS = (
    "kill -9 a server",
    "drop client connections",
    "restart Redis",
    "kill -9 the Celery worker",
    "drop client connections",
    "stop Celery beat for a while",
)


class Chaos:
    def __init__(
        self,
        deployment: Deployment,
        tally: Tally,
        rng: random.Random,
        customers: list[Customer],
        agents: list[Agent],
    ) -> None:
        self.deployment = deployment
        self.tally = tally
        self.rng = rng
        self.customers = customers
        self.agents = agents

    async def run(
        self, *, until: asyncio.Event, max_faults: int, max_seconds: float, gap: float = 2.0
    ) -> None:
        """Inject faults in turn, `gap` seconds or so apart, until `until` is set or a limit is reached."""
        started = time.monotonic()
        for n in range(max_faults):
            if until.is_set() or time.monotonic() - started > max_seconds:
                return
            kind = KINDS[n % len(KINDS)]
            await self.inject(kind)
            await asyncio.sleep(gap * (0.5 + self.rng.random()))

    async def inject(self, kind: str) -> None:
        deployment = self.deployment
        if kind == "kill -9 a server":
            n = self.rng.randrange(len(deployment.servers))
            await asyncio.to_thread(deployment.kill_server, n)
            await asyncio.sleep(self.rng.uniform(0.5, 2.0))
            await asyncio.to_thread(deployment.start_server, n)
        elif kind == "restart Redis":
            await asyncio.to_thread(deployment.restart_redis, self.rng.uniform(0.2, 1.5))
        elif kind == "kill -9 the Celery worker":
            await asyncio.to_thread(deployment.worker.kill)
            await asyncio.sleep(self.rng.uniform(1.0, 3.0))
            await asyncio.to_thread(deployment.start_worker)
        elif kind == "stop Celery beat for a while":
            await asyncio.to_thread(deployment.beat.kill)
            await asyncio.sleep(self.rng.uniform(3.0, 6.0))
            await asyncio.to_thread(deployment.start_beat)
        elif kind == "drop client connections":
            clients = [c for c in [*self.customers, *self.agents] if not getattr(c, "vanished", False)]
            dropped = sum(client.drop() for client in self.rng.sample(clients, min(len(clients), 4)))
            self.tally.count("client connections dropped", dropped)
        else:
            raise ValueError(kind)
        self.tally.fault(kind)
