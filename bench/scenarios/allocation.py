"""Scenario 3: allocation from a backlog to agents with capacity, through the deployment.

Agents on a break hold agent sockets (to hear their bells) while a backlog waits in an auto-allocating
queue. Burst: every agent sets themselves Available through the inbox (POST /inbox/presence/), as many at
a time as the burst's connections (each agent's browser has its own; the server's database pool holds 20);
the engine allocates after each change and the Celery sweep runs as in production, until every agent is at
capacity.
Churn: agents then finish chats at a fixed, open-loop rate (activate, end, complete wrap-up: three inbox
requests); each completion frees capacity that the engine fills from the backlog. After the run, SQL over
the company's chats counts double allocations and capacity breaches, and measures, per freed slot, the time
from the chat's closing to the agent's next allocation.
"""

import asyncio
import secrets
import string
import time
from dataclasses import dataclass, field

from bench.common import Hist, now
from bench.fixtures import Agent
from bench.loadgen import Conn, ConnectStats, HttpClient, connect_all, open_conn, pace

CSRF = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


@dataclass
class AgentState:
    index: int
    agent: Agent
    holdings: list[str] = field(default_factory=list)
    busy: bool = False
    waiting_since: float | None = None  # a completion was sent; the refill has not been heard yet
    conn: Conn | None = None


class AllocationRun:
    def __init__(self, port: int, agents: list[Agent], *, concurrency: int, burst_concurrency: int):
        self.port = port
        self.agents = [AgentState(i, agent) for i, agent in enumerate(agents)]
        self.by_key = {state.index: state for state in self.agents}
        self.concurrency = concurrency
        self.burst_concurrency = burst_concurrency
        self.bells: list[tuple[str, int, float]] = []  # chat id, agent index, wall-clock time
        self.bell_count = 0
        self.refill = Hist()
        self.http = {"presence": Hist(), "activate": Hist(), "end": Hist(), "complete": Hist()}
        self.http_errors: dict[str, int] = {}
        self.clients: asyncio.Queue[HttpClient] = asyncio.Queue()
        self.burst_clients: asyncio.Queue[HttpClient] = asyncio.Queue()
        self.backend_samples: list[int] = []
        self.abort_reason = ""

    def on_frame(self, conn: Conn, frame: dict) -> None:
        if frame.get("type") != "bell":
            return
        state = self.by_key[conn.key]
        chat_id = frame.get("chat_id")
        self.bells.append((chat_id, state.index, time.time()))
        self.bell_count += 1
        if chat_id not in state.holdings:
            state.holdings.append(chat_id)
        if state.waiting_since is not None:
            self.refill.record(now() - state.waiting_since)
            state.waiting_since = None

    async def connect(self) -> dict:
        stats = ConnectStats()

        async def agent_socket(state: AgentState) -> Conn:
            state.conn = await open_conn(
                f"ws://127.0.0.1:{self.port}/ws/agent/",
                role="agent",
                key=state.index,
                handler=self.on_frame,
                headers={"Cookie": f"sessionid={state.agent.session_key}"},
            )
            return state.conn

        await connect_all([lambda s=s: agent_socket(s) for s in self.agents], concurrency=32, stats=stats)
        for _ in range(self.concurrency):
            self.clients.put_nowait(HttpClient(self.port))
        for _ in range(self.burst_concurrency):
            self.burst_clients.put_nowait(HttpClient(self.port))
        await asyncio.sleep(1.5)
        return stats.summary()

    async def post(
        self, kind: str, state: AgentState, path: str, body: str = "", clients: asyncio.Queue | None = None
    ) -> bool:
        clients = self.clients if clients is None else clients
        client = await clients.get()
        started = now()
        try:
            response = await client.request(
                "POST",
                path,
                headers={
                    "Cookie": f"sessionid={state.agent.session_key}; csrftoken={CSRF}",
                    "X-CSRFToken": CSRF,
                    "HX-Request": "true",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                body=body.encode(),
            )
        except Exception as error:
            key = f"{kind}:{type(error).__name__}"
            self.http_errors[key] = self.http_errors.get(key, 0) + 1
            return False
        finally:
            clients.put_nowait(client)
        self.http[kind].record(now() - started)
        if response.status >= 300:
            key = f"{kind}:{response.status}"
            self.http_errors[key] = self.http_errors.get(key, 0) + 1
            return False
        return True

    async def burst(self, expected: int, timeout: float) -> dict:
        started_wall = time.time()
        started = now()
        await asyncio.gather(
            *(
                self.post("presence", s, "/inbox/presence/", "presence=available", self.burst_clients)
                for s in self.agents
            )
        )
        requests_done = now() - started
        while not self.burst_clients.empty():
            await self.burst_clients.get_nowait().close()
        deadline = now() + timeout
        while self.bell_count < expected and now() < deadline:
            await asyncio.sleep(0.05)
        heard = now() - started
        return {
            "started_wall": started_wall,
            "http_concurrency": self.burst_concurrency,
            "requests_seconds": round(requests_done, 3),
            "bells": self.bell_count,
            "expected": expected,
            "seconds_to_last_bell": round(heard, 3),
            "bell_rate_per_s": round(self.bell_count / heard, 1) if heard else None,
        }

    async def cycle(self, state: AgentState) -> None:
        state.busy = True
        try:
            chat_id = state.holdings.pop(0)
            base = f"/inbox/{chat_id}"
            if not await self.post("activate", state, f"{base}/activate/"):
                return
            if not await self.post("end", state, f"{base}/end/"):
                return
            if state.waiting_since is None:
                state.waiting_since = now()
            if not await self.post("complete", state, f"{base}/complete/", "notes=bench"):
                state.waiting_since = None
        finally:
            state.busy = False

    async def churn(self, rate: float, seconds: float) -> dict:
        tasks: list[asyncio.Task] = []
        skipped = 0
        behind = 0
        pointer = 0

        in_flight_limit = self.concurrency * 2

        async def fire(k: int, due: float) -> None:
            nonlocal pointer, skipped, behind
            if self.abort_reason:
                skipped += 1
                return
            if sum(1 for task in tasks if not task.done()) >= in_flight_limit:
                behind += 1  # the server has not finished the earlier cycles: this one is not offered
                return
            for _ in range(len(self.agents)):
                state = self.agents[pointer % len(self.agents)]
                pointer += 1
                if not state.busy and state.holdings:
                    tasks.append(asyncio.create_task(self.cycle(state)))
                    return
            skipped += 1

        started_wall = time.time()
        paced = await pace(rate, int(rate * seconds), fire)
        _, pending = await asyncio.wait(tasks, timeout=30) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        ended_wall = time.time()
        await asyncio.sleep(2.0)  # trailing allocations
        return {
            "started_wall": started_wall,
            "ended_wall": ended_wall,
            "cycles": len(tasks),
            "cycles_completed": sum(1 for task in tasks if task.done() and not task.cancelled()),
            "not_offered_server_behind": behind,
            "skipped_no_idle_agent": skipped,
            "pace": paced,
        }

    async def close(self) -> None:
        while not self.clients.empty():
            await self.clients.get_nowait().close()
        for state in self.agents:
            if state.conn is not None and state.conn.ws.transport is not None:
                state.conn.ws.transport.abort()
                state.conn.reader.cancel()


def sql_checks(
    company_id: int,
    capacity: int,
    bells: list[tuple[str, int, float]],
    agent_ids: list[int],
    churn_window: tuple[float, float],
) -> dict:
    """What the database says after the run (company-scoped): breaches, doubles, refill times."""
    from datetime import UTC, datetime

    from django.db import connection

    with connection.cursor() as cursor:
        # Capacity: at the moment of every allocation, the agent's chats held then (allocated at or before,
        # not closed yet) must not exceed the capacity.
        cursor.execute(
            """
            SELECT count(*) FROM webchat_chat c
            WHERE c.company_id = %s AND c.agent_id IS NOT NULL AND c.allocated_at IS NOT NULL
              AND (SELECT count(*) FROM webchat_chat o
                   WHERE o.agent_id = c.agent_id AND o.allocated_at <= c.allocated_at
                     AND (o.closed_at IS NULL OR o.closed_at > c.allocated_at)) > %s
            """,
            [company_id, capacity],
        )
        breaches_at_allocation = cursor.fetchone()[0]
        # The engine stamps allocated_at and closed_at when a transition starts, not when it commits: an
        # allocation that began before a completion but locked the agent after it committed carries the
        # earlier time. Over capacity only by chats closed within the skew below, it is such an overlap.
        cursor.execute(
            """
            SELECT count(*) FROM webchat_chat c
            WHERE c.company_id = %s AND c.agent_id IS NOT NULL AND c.allocated_at IS NOT NULL
              AND (SELECT count(*) FROM webchat_chat o
                   WHERE o.agent_id = c.agent_id AND o.allocated_at <= c.allocated_at
                     AND (o.closed_at IS NULL OR o.closed_at > c.allocated_at + interval '2 seconds')) > %s
            """,
            [company_id, capacity],
        )
        breaches_beyond_skew = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT count(*) FROM (
              SELECT agent_id FROM webchat_chat
              WHERE company_id = %s AND state IN ('inbox','active','parked','wrapup','wrapup_parked')
              GROUP BY agent_id HAVING count(*) > %s) over_now
            """,
            [company_id, capacity],
        )
        breaches_now = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT count(*) FROM webchat_chat
            WHERE company_id = %s AND state IN ('inbox','active','parked','wrapup','wrapup_parked')
              AND agent_id IS NULL
            """,
            [company_id],
        )
        held_without_agent = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT count(*) FROM (
              SELECT chat_id FROM crm_interaction WHERE company_id = %s AND chat_id IS NOT NULL
              GROUP BY chat_id HAVING count(*) > 1) twice
            """,
            [company_id],
        )
        closed_twice = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT count(*) FROM crm_interaction i JOIN webchat_chat c ON c.id = i.chat_id
            WHERE i.company_id = %s AND i.agent_id IS DISTINCT FROM c.agent_id
            """,
            [company_id],
        )
        interaction_agent_mismatch = cursor.fetchone()[0]
        cursor.execute(
            "SELECT id::text, agent_id FROM webchat_chat WHERE company_id = %s AND agent_id IS NOT NULL",
            [company_id],
        )
        final_agent = dict(cursor.fetchall())
        # Refill: per chat closed in the churn window, the closing agent's next allocation.
        cursor.execute(
            """
            SELECT c.closed_at,
                   (SELECT min(n.allocated_at) FROM webchat_chat n
                    WHERE n.agent_id = c.agent_id AND n.allocated_at >= c.closed_at) AS next_allocated,
                   (SELECT count(*) FROM webchat_chat q WHERE q.queue_id = c.queue_id AND q.state = 'queued')
            FROM webchat_chat c
            WHERE c.company_id = %s AND c.state = 'closed' AND c.closed_at BETWEEN %s AND %s
            """,
            [
                company_id,
                datetime.fromtimestamp(churn_window[0], UTC),
                datetime.fromtimestamp(churn_window[1], UTC),
            ],
        )
        refills = cursor.fetchall()
        cursor.execute(
            "SELECT min(allocated_at), max(allocated_at), count(*) FROM webchat_chat"
            " WHERE company_id = %s AND allocated_at IS NOT NULL",
            [company_id],
        )
        first_alloc, last_alloc, allocated_total = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM webchat_chat WHERE company_id = %s AND allocated_at BETWEEN %s AND %s",
            [
                company_id,
                datetime.fromtimestamp(churn_window[0], UTC),
                datetime.fromtimestamp(churn_window[1], UTC),
            ],
        )
        allocated_in_churn = cursor.fetchone()[0]
    by_chat: dict[str, set[int]] = {}
    repeats = 0
    for chat_id, agent_index, _ in bells:
        agents = by_chat.setdefault(chat_id, set())
        if agent_index in agents:
            repeats += 1
        agents.add(agent_index)
    belled_to_two = sum(1 for agents in by_chat.values() if len(agents) > 1)
    belled_not_final = sum(
        1
        for chat_id, agents in by_chat.items()
        if any(agent_ids[index] != final_agent.get(chat_id) for index in agents)
    )
    refill = Hist()
    not_refilled = 0
    for closed_at, next_allocated, _ in refills:
        if next_allocated is None:
            not_refilled += 1
        else:
            refill.record((next_allocated - closed_at).total_seconds())
    return {
        "capacity_breaches": breaches_beyond_skew + breaches_now,
        "capacity_breaches_by_start_stamps": breaches_at_allocation,
        "capacity_breaches_beyond_2s_stamp_skew": breaches_beyond_skew,
        "agents_over_capacity_at_end": breaches_now,
        "held_without_agent": held_without_agent,
        "double_allocations": closed_twice + interaction_agent_mismatch + belled_to_two + belled_not_final,
        "double_allocation_checks": {
            "chats_closed_twice": closed_twice,
            "interaction_agent_differs_from_chat": interaction_agent_mismatch,
            "chats_belled_to_two_agents": belled_to_two,
            "chats_belled_to_an_agent_not_holding_them": belled_not_final,
            "repeated_bells_same_agent": repeats,
        },
        "server_refill": refill.summary(),
        "freed_slots": len(refills),
        "freed_slots_not_refilled": not_refilled,
        "allocated_total": allocated_total,
        "allocated_in_churn": allocated_in_churn,
        "first_allocated_at": first_alloc.timestamp() if first_alloc else None,
        "last_allocated_at": last_alloc.timestamp() if last_alloc else None,
    }
