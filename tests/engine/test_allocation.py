import datetime as dt
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from routing import engine
from tests import factories
from tests.engine.conftest import open_chat, reload
from webchat.models import Chat


def test_the_agent_with_fewest_open_chats_is_allocated_first(db, company, manual_queue, auto_queue):
    busy = factories.MembershipFactory(company=company)
    idle = factories.MembershipFactory(company=company)
    held = open_chat(manual_queue)
    engine.chat_take(agent=busy, chat_id=held.pk)

    chat = open_chat(auto_queue)

    assert chat.agent == idle


def test_among_equally_busy_agents_the_longest_since_last_allocation_wins(db, company, auto_queue):
    recent = factories.MembershipFactory(company=company, last_allocated_at=timezone.now())
    longest = factories.MembershipFactory(
        company=company, last_allocated_at=timezone.now() - dt.timedelta(hours=1)
    )

    assert open_chat(auto_queue).agent == longest
    assert open_chat(auto_queue).agent == recent


def test_the_oldest_waiting_chat_is_allocated_first(db, clock, company, auto_queue):
    first = open_chat(auto_queue, name="First")
    clock.shift(10)
    second = open_chat(auto_queue, name="Second")
    agent = factories.MembershipFactory(company=company, presence="break")
    auto_queue.max_chats_per_agent = 1
    auto_queue.save()

    engine.agent_set_presence(agent=agent, presence="available")

    assert reload(first).agent == agent
    assert reload(second).state == "queued"


def test_agents_who_may_not_get_chats_are_passed_over(db, company, auto_queue, manual_queue):
    factories.MembershipFactory(company=company, presence="break")
    factories.MembershipFactory(company=company, presence="unavailable")
    factories.MembershipFactory(company=company, can_webchat=False)
    factories.MembershipFactory(company=company, queue_profile=None)
    factories.MembershipFactory(company=factories.CompanyFactory())
    in_wrapup = factories.MembershipFactory(company=company)
    finished = open_chat(manual_queue)
    engine.chat_take(agent=in_wrapup, chat_id=finished.pk)
    engine.chat_activate(agent=in_wrapup, chat_id=finished.pk)
    engine.chat_end(agent=in_wrapup, chat_id=finished.pk)

    assert open_chat(auto_queue).state == "queued"


def test_a_parked_wrapup_does_not_hold_back_allocation(db, company, manual_queue, auto_queue):
    agent = factories.MembershipFactory(company=company)
    finished = open_chat(manual_queue)
    engine.chat_take(agent=agent, chat_id=finished.pk)
    engine.chat_activate(agent=agent, chat_id=finished.pk)
    engine.chat_end(agent=agent, chat_id=finished.pk)
    engine.chat_park(agent=agent, chat_id=finished.pk)

    assert open_chat(auto_queue).agent == agent


def test_allocation_never_goes_past_capacity(db, company, auto_queue):
    auto_queue.max_chats_per_agent = 2
    auto_queue.save()
    agent = factories.MembershipFactory(company=company)

    chats = [open_chat(auto_queue) for _ in range(3)]

    assert [reload(c).state for c in chats] == ["inbox", "inbox", "queued"]
    assert Chat.objects.filter(agent=agent).count() == 2


def test_completing_a_wrapup_frees_capacity_for_the_next_waiting_chat(db, company, auto_queue):
    auto_queue.max_chats_per_agent = 1
    auto_queue.save()
    agent = factories.MembershipFactory(company=company)
    first, waiting = open_chat(auto_queue), open_chat(auto_queue)
    engine.chat_activate(agent=agent, chat_id=first.pk)
    engine.chat_end(agent=agent, chat_id=first.pk)
    assert reload(waiting).state == "queued"

    engine.wrapup_complete(agent=agent, chat_id=first.pk)

    assert reload(waiting).agent == agent


def test_becoming_available_brings_waiting_chats(db, company, auto_queue):
    agent = factories.MembershipFactory(company=company, presence="break")
    chat = open_chat(auto_queue)
    assert reload(chat).state == "queued"

    engine.agent_set_presence(agent=agent, presence="available")

    assert reload(chat).agent == agent


def test_the_sweep_allocates_what_is_waiting(db, company, auto_queue):
    chat = open_chat(auto_queue)
    agent = factories.MembershipFactory(company=company)

    assert engine.sweep_allocation() == 1
    assert reload(chat).agent == agent


def test_a_manual_queue_never_allocates(db, company, manual_queue, agent):
    chat = open_chat(manual_queue)

    assert engine.sweep_allocation() == 0
    assert reload(chat).state == "queued"


def test_a_chat_put_back_goes_to_someone_else_not_back_to_the_same_agent(db, company, auto_queue):
    first = factories.MembershipFactory(company=company, last_allocated_at=None)
    chat = open_chat(auto_queue)
    assert chat.agent == first

    engine.chat_put_back(agent=first, chat_id=chat.pk)
    assert reload(chat).state == "queued"

    second = factories.MembershipFactory(company=company)
    engine.sweep_allocation()
    assert reload(chat).agent == second


def test_a_chat_put_back_is_offered_again_to_the_same_agent_when_nobody_else_takes_it_in_time(
    db, clock, settings, company, auto_queue
):
    settings.PUT_BACK_REOFFER_SECONDS = 45
    alone = factories.MembershipFactory(company=company)
    chat = open_chat(auto_queue)
    engine.chat_put_back(agent=alone, chat_id=chat.pk)

    clock.shift(44)
    engine.sweep_allocation()
    assert reload(chat).state == "queued"

    clock.shift(1)
    engine.sweep_allocation()
    assert (reload(chat).state, reload(chat).agent) == ("inbox", alone)
    assert reload(chat).unseen


def test_after_the_interval_another_free_agent_still_gets_a_put_back_chat_first(
    db, clock, settings, company, auto_queue
):
    settings.PUT_BACK_REOFFER_SECONDS = 30
    first = factories.MembershipFactory(company=company, last_allocated_at=None)
    chat = open_chat(auto_queue)
    engine.chat_put_back(agent=first, chat_id=chat.pk)
    # A colleague back from a break later, allocated more recently than the first agent ever was.
    colleague = factories.MembershipFactory(
        company=company, presence="break", last_allocated_at=timezone.now()
    )
    clock.shift(60)

    engine.agent_set_presence(agent=colleague, presence="available")

    assert reload(chat).agent == colleague


def test_an_allocated_chat_rings_the_bell_until_opened(db, company, auto_queue, agent):
    chat = open_chat(auto_queue)
    assert chat.unseen

    engine.chat_mark_seen(agent=agent, chat_id=chat.pk)

    assert not reload(chat).unseen


def test_an_agent_whose_profile_chooses_the_queue_is_allocated_and_one_whose_profile_leaves_it_out_is_not(
    db, company, auto_queue
):
    other_queue = factories.WebchatQueueFactory(company=company, name="Billing")
    chooses = factories.QueueProfileFactory(company=company, all_queues=False)
    chooses.queues.add(auto_queue)
    leaves_out = factories.QueueProfileFactory(company=company, all_queues=False)
    leaves_out.queues.add(other_queue)
    outsider = factories.MembershipFactory(company=company, queue_profile=leaves_out)
    chooser = factories.MembershipFactory(company=company, queue_profile=chooses, presence="break")
    chat = open_chat(auto_queue)
    assert reload(chat).state == "queued"

    engine.agent_set_presence(agent=chooser, presence="available")

    assert reload(chat).agent == chooser
    assert outsider.chats.count() == 0


def test_becoming_available_costs_the_same_queries_whoever_else_is_at_work(db, company, auto_queue):
    auto_queue.max_chats_per_agent = 1
    auto_queue.save()

    def queries_to_become_available() -> int:
        open_chat(auto_queue)
        agent = factories.MembershipFactory(company=company, presence="break")
        with CaptureQueriesContext(connection) as captured:
            engine.agent_set_presence(agent=agent, presence="available")
        assert agent.chats.count() == 1
        return len(captured)

    few = queries_to_become_available()
    factories.MembershipFactory.create_batch(20, company=company)
    for _ in range(20):
        open_chat(auto_queue)
    assert queries_to_become_available() == few


def _sweep_queries(sweep) -> int:
    with CaptureQueriesContext(connection) as queries:
        sweep()
    return len(queries)


def test_the_sweep_visits_a_queue_once_however_many_chats_wait_in_it(db, company, auto_queue):
    factories.MembershipFactory(company=company, presence="break")
    factories.ChatFactory.create_batch(2, queue=auto_queue)
    few = _sweep_queries(engine.sweep_allocation)

    factories.ChatFactory.create_batch(20, queue=auto_queue)

    assert _sweep_queries(engine.sweep_allocation) == few


def test_changes_made_while_a_round_runs_share_the_next_round(monkeypatch):
    """Three threads ask for allocation from one queue: the first one's round is running when the other two
    ask; once it ends, one more round runs for both of them, and both return after it."""
    rounds = engine.allocation._Rounds()
    first_round_running = threading.Event()
    let_first_round_end = threading.Event()
    both_asked = threading.Semaphore(0)
    runs: list[str] = []

    def allocate_queue(*, queue_id):
        runs.append(threading.current_thread().name)
        if len(runs) == 1:
            first_round_running.set()
            let_first_round_end.wait(timeout=30)
        return [f"chat of round {len(runs)}"]

    monkeypatch.setattr(engine.allocation, "allocate_queue", allocate_queue)
    original_ask = rounds.ask

    def ask():
        ticket = original_ask()
        if ticket > 1:
            both_asked.release()
        return ticket

    rounds.ask = ask
    returned: dict[str, list] = {}

    def caller(name):
        returned[name] = rounds.allocate(7)

    first = threading.Thread(target=caller, args=("first",), name="first")
    first.start()
    assert first_round_running.wait(timeout=30)
    others = [threading.Thread(target=caller, args=(name,), name=name) for name in ("second", "third")]
    for thread in others:
        thread.start()
    assert both_asked.acquire(timeout=30) and both_asked.acquire(timeout=30)
    let_first_round_end.set()
    for thread in [first, *others]:
        thread.join(timeout=30)

    assert len(runs) == 2
    assert runs[0] == "first"
    assert returned["first"] == ["chat of round 1"]
    # One of the two ran the second round for both; the other found its ask answered.
    assert sorted(map(tuple, (returned["second"], returned["third"]))) == [(), ("chat of round 2",)]


def test_a_round_that_fails_leaves_the_next_asker_to_run_its_own(monkeypatch):
    rounds = engine.allocation._Rounds()
    calls: list[int] = []

    def allocate_queue(*, queue_id):
        calls.append(queue_id)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return ["chat"]

    monkeypatch.setattr(engine.allocation, "allocate_queue", allocate_queue)

    with pytest.raises(RuntimeError):
        rounds.allocate(7)
    assert rounds.allocate(7) == ["chat"]
    assert calls == [7, 7]
