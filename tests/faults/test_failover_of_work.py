"""Work moves on when someone drops out: an agent whose browser vanishes, Celery beat down for a while (and
then two of them by mistake), a telephony system that repeats itself and mixes up the order of events."""

import asyncio
import os
import time

import pytest
from django.conf import settings

from faults import checks
from faults.clients import in_thread
from faults.pbx import Pbx
from faults.scenario import Scene

pytestmark = pytest.mark.faults

SEED = int(os.environ.get("FAULTS_SEED", str(int(time.time()))))


async def test_an_agent_whose_browser_vanishes_mid_chat_hands_the_chats_over_with_nothing_lost(
    deployment, figures
):
    scene = Scene(deployment, seed=SEED, agents=2, capacity=3)
    await scene.begin()
    deadline = time.monotonic() + 120
    scene.customers_arrive(4, messages=8, pace=1.0, spread=2, deadline=deadline)
    # Once every customer has had a couple of answers, the busier agent's browser disappears.
    await scene.settle(
        lambda: all(
            c.chat_id and sum(1 for m in c.received.values() if m["sender"] == "agent") >= 2
            for c in scene.customers
        ),
        timeout=60,
        what="every customer has had two answers",
    )
    held = await in_thread(_held_by)([a.membership_id for a in scene.agents])
    leaving = max(scene.agents, key=lambda agent: len(held[agent.membership_id]))
    handed_over = held[leaving.membership_id]
    leaving.vanish()

    failover = await scene.settle(
        lambda: _unavailable(leaving.membership_id),
        timeout=settings.AGENT_CONNECTION_GRACE_SECONDS + 30,
        what="the agent is logged out",
    )
    reallocated = await scene.settle(
        lambda: not set(handed_over) & set(_held_by([leaving.membership_id])[leaving.membership_id]),
        timeout=30,
        what="the chats have left the vanished agent",
    )
    await scene.until_done(deadline)
    problems, numbers = await scene.end()

    released = await in_thread(_released)(handed_over)
    figures.update(
        {
            **numbers,
            "grace seconds": settings.AGENT_CONNECTION_GRACE_SECONDS,
            "seconds from vanishing to logged out": round(failover, 1),
            "seconds from then to every chat taken from the agent": round(reallocated, 1),
            "chats handed over": len(handed_over),
        }
    )
    assert not problems, "\n".join(problems[:50])
    assert handed_over and released == set(handed_over), (
        "each chat told its customer it waits for the next agent"
    )
    # Logged out after the grace period plus the job's interval, not much later.
    assert failover <= settings.AGENT_CONNECTION_GRACE_SECONDS + 4 * settings.JOB_INTERVAL_SECONDS + 10
    finished_by = await in_thread(_interaction_agents)(handed_over)
    assert leaving.membership_id not in finished_by


def _held_by(agent_ids: list[int]) -> dict[int, list[str]]:
    from webchat.models import HELD_STATES, Chat

    held = {agent_id: [] for agent_id in agent_ids}
    for chat_id, agent_id in Chat.objects.filter(agent_id__in=agent_ids, state__in=HELD_STATES).values_list(
        "pk", "agent_id"
    ):
        held[agent_id].append(str(chat_id))
    return held


def _unavailable(agent_id: int) -> bool:
    from contactcentre.models import Membership

    return Membership.objects.get(pk=agent_id).presence == "unavailable"


def _released(chat_ids: list[str]) -> set[str]:
    from webchat.models import Message

    return {
        str(c)
        for c in Message.objects.filter(chat_id__in=chat_ids, text=checks.RELEASED).values_list(
            "chat_id", flat=True
        )
    }


def _interaction_agents(chat_ids: list[str]) -> set[int]:
    from crm.models import Interaction

    return set(Interaction.objects.filter(chat_id__in=chat_ids).values_list("agent_id", flat=True))


async def test_jobs_catch_up_after_beat_was_down_and_a_second_beat_does_no_double_work(deployment, figures):
    scene = Scene(deployment, seed=SEED + 1, agents=3, capacity=2, wrapup_seconds=2)
    await scene.begin()
    deadline = time.monotonic() + 150
    await asyncio.to_thread(deployment.beat.kill)
    beat_down_at = time.monotonic()
    # Six short conversations: they end, and their wrap-ups are due two seconds later.
    scene.customers_arrive(6, messages=2, pace=0.5, spread=1, deadline=deadline)
    # Chats waiting in a queue whose auto-allocation an administrator switches on: nothing but the periodic
    # sweep hands them out.
    waiting = await in_thread(_chats_waiting_for_the_sweep)(scene.world.company, 3)
    scene.harness_chats += waiting
    await scene.settle(
        lambda: _wrapups_overdue(scene.world.company.pk, by_seconds=3) >= 3,
        timeout=60,
        what="wrap-ups are overdue while beat is down",
    )
    overdue = await in_thread(_wrapups_overdue)(scene.world.company.pk, 3)
    still_waiting = await in_thread(_still_queued)(waiting)
    # Beat comes back twice over (a second one by mistake) while the worker is down: the ticks pile up,
    # doubled, and the worker then runs them all.
    await asyncio.to_thread(deployment.worker.kill)
    second_beat = deployment.second_beat()
    await asyncio.to_thread(deployment.start_beat)
    await asyncio.to_thread(second_beat.start)
    await asyncio.sleep(5)
    down_for = time.monotonic() - beat_down_at
    await asyncio.to_thread(deployment.start_worker)
    worker_back, worker_back_at = time.monotonic(), time.time()
    caught_up = await scene.settle(
        lambda: _wrapups_overdue(scene.world.company.pk, by_seconds=0) == 0 and not _still_queued(waiting),
        timeout=30,
        what="the overdue wrap-ups are completed and the waiting chats allocated",
    )
    await asyncio.to_thread(second_beat.kill)
    await scene.until_done(deadline)
    problems, numbers = await scene.end()
    figures.update(
        {
            **numbers,
            "seconds beat was down": round(down_for, 1),
            "wrap-ups overdue while it was down": overdue,
            "chats waiting for the sweep while it was down": still_waiting,
            "seconds to catch up once the worker was back": round(caught_up, 1),
            "job runs the worker caught up on": deployment.log_count(
                deployment.worker, "succeeded", since=worker_back_at
            ),
        }
    )
    assert not problems, "\n".join(problems[:50])
    assert overdue >= 3 and still_waiting == 3, "without beat nothing is due to run them"
    assert time.monotonic() - worker_back < 60


def _chats_waiting_for_the_sweep(company, n: int) -> list[str]:
    from routing import engine
    from routing.models import WebchatQueue

    queue = WebchatQueue.objects.create(
        company=company, name="Switched on later", auto_allocate=False, wrapup_seconds=1
    )
    chats = [
        str(engine.chat_open(queue_token=queue.token, customer_name=f"Early {i}").chat.pk) for i in range(n)
    ]
    WebchatQueue.objects.filter(pk=queue.pk).update(auto_allocate=True)
    return chats


def _still_queued(chat_ids: list[str]) -> int:
    from webchat.models import Chat

    return Chat.objects.filter(pk__in=chat_ids, state="queued").count()


def _wrapups_overdue(company_id: int, by_seconds: float) -> int:
    from datetime import timedelta

    from django.utils import timezone

    from webchat.models import Chat

    cutoff = timezone.now() - timedelta(seconds=by_seconds)
    return Chat.objects.filter(company_id=company_id, state="wrapup", wrapup_deadline__lte=cutoff).count()


async def test_a_telephony_system_that_repeats_and_reorders_events_changes_each_call_once(
    deployment, figures
):
    scene = Scene(deployment, seed=SEED + 2, agents=2, capacity=2)
    await scene.begin()
    deadline = time.monotonic() + 150
    scene.customers_arrive(3, messages=10, pace=1.2, spread=1, deadline=deadline)
    pbx = Pbx(scene.servers, scene.world.company, scene.tally, scene.rng)
    await scene.settle(
        lambda: _active_chats(scene.world.company.pk) >= 2, timeout=60, what="agents are busy on chats"
    )
    interrupted = set()
    for n in range(6):
        call = f"pbx-{SEED}-{n}"
        if n % 3 == 0:
            await pbx.call(call, hold=0.5, disorder=False, everywhere=True)
        else:
            await pbx.call(call, hold=0.5, disorder=n % 3 == 2)
        interrupted |= await in_thread(_interrupted_by)(scene.world.company.pk)
    await scene.until_done(deadline)
    problems, numbers = await scene.end()
    logged = await in_thread(_voice_interactions)(scene.world.company.pk)
    figures.update(
        {
            **numbers,
            "calls": len(pbx.calls),
            "telephony events sent": scene.tally.events["telephony events sent"],
            "chats interrupted by a call": len(interrupted),
            "voice interactions logged": logged,
        }
    )
    assert not problems, "\n".join(problems[:50])
    assert logged == len(pbx.calls), "each call is logged once, however often its events came"


def _active_chats(company_id: int) -> int:
    from webchat.models import Chat

    return Chat.objects.filter(company_id=company_id, state="active").count()


def _interrupted_by(company_id: int) -> set[str]:
    from routing.models import Call

    return {
        str(pk)
        for pk in Call.objects.filter(company_id=company_id, interrupted_chat__isnull=False).values_list(
            "interrupted_chat_id", flat=True
        )
    }


def _voice_interactions(company_id: int) -> int:
    from crm.models import Interaction

    return Interaction.objects.filter(company_id=company_id, channel="voice").count()
