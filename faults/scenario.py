"""A scenario's cast and its ending: agents at work, customers arriving, and the checks once it is over."""

import asyncio
import random
import time

from faults import checks
from faults.clients import Agent, Customer, Tally, in_thread
from faults.deploy import Deployment
from faults.world import World, build


class Scene:
    def __init__(
        self, deployment: Deployment, *, seed: int, agents: int, capacity: int, wrapup_seconds: int = 2
    ):
        self.deployment = deployment
        self.seed = seed
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.world_size = (agents, capacity, wrapup_seconds)
        self.world: World | None = None
        self.agents: list[Agent] = []
        self.customers: list[Customer] = []
        self.conversations: list[asyncio.Task] = []
        self.background: list[asyncio.Task] = []
        self.run_over = asyncio.Event()
        self.breaches: list[str] = []
        self.harness_chats: list[str] = []  # chats a scenario opened itself, with no customer client
        self.started = time.monotonic()
        self.started_at = time.time()

    @property
    def servers(self) -> list[str]:
        return self.deployment.base_urls

    async def begin(self) -> None:
        """Build the company and put its agents to work (sockets open, answering)."""
        agents, capacity, wrapup_seconds = self.world_size
        self.world = await in_thread(build)(agents=agents, capacity=capacity, wrapup_seconds=wrapup_seconds)
        self.agents = [
            Agent(pk, key, self.servers, self.tally, random.Random(self.rng.random()))
            for pk, key in self.world.agents
        ]
        self.background += [asyncio.create_task(agent.listen(until=self.run_over)) for agent in self.agents]
        self.background += [asyncio.create_task(agent.work(until=self.run_over)) for agent in self.agents]
        self.background.append(asyncio.create_task(self._sample_capacity()))
        await asyncio.gather(*(agent.connected.wait() for agent in self.agents))

    def customers_arrive(self, n: int, *, messages: int, pace: float, spread: float, deadline: float) -> None:
        """`n` customers arrive over `spread` seconds, each to write `messages` messages and end the chat."""
        first = len(self.customers)
        for i in range(n):
            customer = Customer(
                f"c{first + i + 1:03d}",
                self.servers,
                self.world.queue.token,
                self.tally,
                random.Random(self.rng.random()),
            )
            self.customers.append(customer)
            self.conversations.append(
                asyncio.create_task(self._arrive(customer, i * spread / max(n, 1), messages, pace, deadline))
            )

    async def _arrive(
        self, customer: Customer, delay: float, messages: int, pace: float, deadline: float
    ) -> None:
        await asyncio.sleep(delay)
        await customer.open()
        await customer.talk(messages=messages, pace=pace, until=self.run_over, deadline=deadline)

    async def _sample_capacity(self) -> None:
        while not self.run_over.is_set():
            self.breaches += await in_thread(checks.capacity_breaches)()
            await asyncio.sleep(0.5)

    async def until_done(self, deadline: float, customers: list[Customer] | None = None) -> None:
        """Wait for the customers to finish; past the deadline, fail saying where each one stands."""
        customers = self.customers if customers is None else customers
        while not all(customer.done.is_set() for customer in customers):
            failed = [t for t in self.conversations if t.done() and not t.cancelled() and t.exception()]
            if failed:
                raise failed[0].exception()
            if time.monotonic() > deadline:
                stuck = [c for c in customers if not c.done.is_set()]
                report = await in_thread(_where_they_stand)(stuck)
                raise AssertionError("customers did not finish:\n" + "\n".join(report))
            await asyncio.sleep(0.5)

    async def settle(self, condition, *, timeout: float, what: str) -> float:
        """Wait, polling the database, until the condition holds; returns how long it took."""
        started = time.monotonic()
        while not await in_thread(condition)():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"timed out after {timeout}s waiting until {what}")
            await asyncio.sleep(0.25)
        return time.monotonic() - started

    async def end(self) -> tuple[list[str], dict]:
        """Close what is left (chats whose opening answer a crash lost), wait until nothing is stuck, stop
        everyone, and check. Returns the violations and the figures."""
        try:
            orphans = await in_thread(_end_orphans)(
                self.world.company.pk, [c.chat_id for c in self.customers]
            )
            chat_ids = await in_thread(_chat_ids)(self.world.company.pk)
            await self.settle(
                lambda: not checks.nothing_stuck(chat_ids), timeout=60, what="every chat and call is closed"
            )
            await asyncio.sleep(2)  # the last frames reach the clients still connected
        finally:
            await self.stop()
        for task in self.conversations:
            if not task.cancelled() and task.exception():
                raise task.exception()
        problems = await in_thread(checks.conversations)(self.customers, self.agents)
        problems += await in_thread(checks.nothing_stuck)(chat_ids)
        problems += sorted(set(self.breaches))
        logs = [p.log_path for p in self.deployment.processes()[1:]]
        expected, unexpected = checks.unexpected_errors(logs, since=self.started_at)
        problems += unexpected
        counts = await in_thread(checks.transcript_counts)(chat_ids)
        figures = {
            "seed": self.seed,
            "seconds": round(time.monotonic() - self.started),
            "faults injected": sum(self.tally.faults.values()),
            "faults by kind": dict(self.tally.faults),
            "chats": len(chat_ids),
            "chats with no customer client (an open answer lost in a crash), ended as left": orphans
            - len(self.harness_chats),
            "customer messages acknowledged": sum(len(c.acked) for c in self.customers),
            "agent replies acknowledged": sum(len(a.acked) for a in self.agents),
            "messages stored": counts,
            "events": dict(self.tally.events),
            "errors explained by a fault (per process)": dict(expected),
        }
        return problems, figures

    async def stop(self) -> None:
        self.run_over.set()
        for task in [*self.background, *self.conversations]:
            task.cancel()
        await asyncio.gather(*self.background, *self.conversations, return_exceptions=True)


def _where_they_stand(customers: list[Customer]) -> list[str]:
    from webchat.models import Chat

    lines = []
    for customer in customers:
        chat = (
            Chat.objects.filter(pk=customer.chat_id)
            .values("state", "agent_id", "ended_at", "last_seq")
            .first()
        )
        lines.append(f"{customer.name}: {customer.progress()} database: {chat}")
    return lines


def _chat_ids(company_id: int) -> list[str]:
    from webchat.models import Chat

    return [str(pk) for pk in Chat.objects.filter(company_id=company_id).values_list("pk", flat=True)]


def _end_orphans(company_id: int, known: list[str]) -> int:
    from routing import engine
    from webchat.models import Chat

    orphans = Chat.objects.filter(company_id=company_id).exclude(pk__in=known)
    for chat_id in list(orphans.exclude(state="closed").values_list("pk", flat=True)):
        engine.chat_end_by_customer(chat_id=chat_id)
    return orphans.count()
