"""Customers and agents chat through two servers while servers are killed, Redis and the Celery worker
restart, beat stops for a while and connections drop; a telephony system repeats and reorders its events.
Afterwards every acknowledged message is stored once, in order, shown on both sides, and no chat is stuck."""

import asyncio
import os
import time

import pytest

from faults.chaos import Chaos
from faults.pbx import Pbx
from faults.scenario import Scene

pytestmark = pytest.mark.faults

CUSTOMERS = int(os.environ.get("FAULTS_CUSTOMERS", "16"))
MESSAGES = int(os.environ.get("FAULTS_MESSAGES", "8"))
AGENTS = int(os.environ.get("FAULTS_AGENTS", "4"))
MAX_FAULTS = int(os.environ.get("FAULTS_MAX", "30"))
SECONDS = float(os.environ.get("FAULTS_SECONDS", "150"))
SEED = int(os.environ.get("FAULTS_SEED", str(int(time.time()))))


async def test_every_acknowledged_message_survives_crashes_restarts_and_dropped_connections(
    deployment, figures
):
    scene = Scene(deployment, seed=SEED, agents=AGENTS, capacity=3)
    await scene.begin()
    deadline = time.monotonic() + SECONDS + 120
    scene.customers_arrive(CUSTOMERS, messages=MESSAGES, pace=0.6, spread=SECONDS / 2, deadline=deadline)
    everyone_done = asyncio.Event()
    chaos = Chaos(deployment, scene.tally, scene.rng, scene.customers, scene.agents)
    pbx = Pbx(scene.servers, scene.world.company, scene.tally, scene.rng)

    async def telephony() -> None:
        n = 0
        while not everyone_done.is_set():
            await asyncio.sleep(scene.rng.uniform(4, 8))
            n += 1
            await pbx.call(f"call-{SEED}-{n}", hold=scene.rng.uniform(0.5, 2.0), disorder=n % 2 == 0)

    faults = asyncio.create_task(chaos.run(until=everyone_done, max_faults=MAX_FAULTS, max_seconds=SECONDS))
    calls = asyncio.create_task(telephony())
    try:
        await scene.until_done(deadline)
        everyone_done.set()
        await faults
        await calls
    finally:
        everyone_done.set()
        for task in (faults, calls):
            task.cancel()
        await asyncio.gather(faults, calls, return_exceptions=True)
    problems, numbers = await scene.end()
    figures.update({**numbers, "telephony calls": len(pbx.calls)})
    assert not problems, "\n".join(problems[:50])
    stored = numbers["messages stored"]
    assert numbers["customer messages acknowledged"] == stored["customer"] == CUSTOMERS * MESSAGES
    assert numbers["agent replies acknowledged"] == stored["agent"] == CUSTOMERS * MESSAGES
