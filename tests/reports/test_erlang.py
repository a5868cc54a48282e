"""Erlang C staffing (reports/erlang.py) against published values, and at its edges."""

import math
import time
from fractions import Fraction

import pytest

from reports import erlang


def test_the_classic_worked_example_gives_the_published_figures():
    """Call Centre Helper's worked example of the Erlang C formula
    (https://www.callcentrehelper.com/erlang-c-formula-example-121281.htm): 100 calls in 30 minutes,
    3-minute handle time, 80 % of calls answered within 20 seconds. Its figures as published by two
    independent implementations that reproduce it: the CRAN package ErlangC's README
    (https://rdocumentation.org/packages/ErlangC/versions/0.1.0: traffic_intensity 10, agents 14,
    wait_probability 0.1741319, service_level 0.88835, average_speed_of_answer 7.83593701177724 s,
    occupancy 0.7142857) and pyworkforce's README (https://pypi.org/project/pyworkforce/0.1.0/:
    raw_positions 14, service_level 0.8883500191794669, occupancy 0.7142857142857143,
    waiting_probability 0.1741319335950498)."""
    traffic = erlang.traffic_erlangs(100, 30 * 60, 180)
    assert traffic == 10

    plan = erlang.agents_needed(traffic, 180, 20, 80)

    assert plan.agents == 14
    assert plan.probability_of_waiting == pytest.approx(0.1741319335950498, abs=1e-12)
    assert plan.service_level_pct == pytest.approx(88.83500191794669, abs=1e-9)
    assert plan.asa_seconds == pytest.approx(7.83593701177724, abs=1e-9)
    assert plan.occupancy_pct == pytest.approx(71.42857142857143, abs=1e-9)
    assert erlang.service_level(traffic, 13, 180, 20) < 0.80


def test_a_published_planning_example_needs_the_published_number_of_advisors():
    """Jones the Net, "Erlang uplift" (http://www.jonesthenet.com/budgeting/service-levels-erlang/erlang-uplift/):
    250 calls in an hour with a 330-second handle time, 80 % in 30 seconds: "the accountant thinks you need
    250 x 330 / 3600 = 22.9 advisors in this hour; Erlang ... thinks we need 28"."""
    traffic = erlang.traffic_erlangs(250, 3600, 330)
    assert round(traffic, 1) == 22.9

    assert erlang.agents_needed(traffic, 330, 30, 80).agents == 28
    assert erlang.service_level(traffic, 27, 330, 30) < 0.80


def exact_erlang_c(traffic: int, servers: int) -> Fraction:
    """Erlang C from its textbook formula in exact rational arithmetic: A^N / N! and all."""
    terms = [Fraction(traffic**k, math.factorial(k)) for k in range(servers)]
    top = Fraction(traffic**servers, math.factorial(servers)) * Fraction(servers, servers - traffic)
    return top / (sum(terms) + top)


def test_the_probability_of_waiting_is_exact_for_hundreds_of_agents_where_factorials_overflow_a_float():
    # 250^270 and 270! are far past a float's range (about 1.8e308): the textbook formula cannot run in
    # floats at all, the recurrence must still agree with the exact value.
    with pytest.raises(OverflowError):
        float(250**270)

    assert erlang.probability_of_waiting(250, 270) == pytest.approx(
        float(exact_erlang_c(250, 270)), rel=1e-12
    )
    assert erlang.probability_of_waiting(10, 14) == pytest.approx(float(exact_erlang_c(10, 14)), rel=1e-12)


def test_huge_traffic_is_staffed_quickly_and_just_enough():
    started = time.perf_counter()
    plan = erlang.agents_needed(20_000, 300, 20, 80)
    elapsed = time.perf_counter() - started

    assert 20_000 < plan.agents < 20_200
    assert plan.service_level_pct >= 80
    assert erlang.service_level(20_000, plan.agents - 1, 300, 20) < 0.80
    assert 0 <= plan.probability_of_waiting <= 1
    assert elapsed < 1


def test_no_traffic_needs_no_agents():
    plan = erlang.agents_needed(erlang.traffic_erlangs(0, 1800, 180), 180, 20, 80)

    assert plan == erlang.Staffing(
        agents=0,
        traffic_erlangs=0.0,
        probability_of_waiting=0.0,
        service_level_pct=100.0,
        asa_seconds=0.0,
        occupancy_pct=0.0,
    )


def test_too_few_agents_never_empty_the_queue():
    assert erlang.probability_of_waiting(10, 10) == 1.0
    assert erlang.service_level(10, 9, 180, 20) == 0.0
    assert erlang.asa_seconds(10, 10, 180) == math.inf
    assert erlang.occupancy(10, 8) == 1.0


def test_an_agent_holding_three_chats_is_three_slots_each_busy_for_a_whole_handle_time():
    # 10 erlangs need 14 single-chat servers; three chats an agent: the fewest multiple of 3 reaching the
    # target is 15 slots, so 5 agents, with the figures of 15 servers.
    plan = erlang.agents_needed(10, 180, 20, 80, concurrency=3)
    slots = erlang.staffing_for(10, 15, 180, 20)

    assert plan.agents == 5
    assert plan.probability_of_waiting == slots.probability_of_waiting
    assert plan.service_level_pct == slots.service_level_pct
    assert plan.occupancy_pct == pytest.approx(100 * 10 / 15)
    assert erlang.staffing_for(10, 4, 180, 20, concurrency=3).service_level_pct < 80


def test_the_trade_off_table_gives_each_number_of_agents_its_own_figures():
    rows = erlang.staffing_table(10, 14, 6, 180, 20)

    assert [row.agents for row in rows] == [14, 15, 16, 17, 18, 19]
    for row in rows:
        assert row == erlang.staffing_for(10, row.agents, 180, 20)
    assert rows[0].service_level_pct < rows[1].service_level_pct < rows[-1].service_level_pct
    assert rows[0].asa_seconds > rows[1].asa_seconds > rows[-1].asa_seconds

    chats = erlang.staffing_table(10, 5, 3, 180, 20, concurrency=3)
    assert chats == [erlang.staffing_for(10, n, 180, 20, concurrency=3) for n in (5, 6, 7)]


@pytest.mark.parametrize(
    "arguments",
    [
        {"traffic": 10, "aht_seconds": 180, "target_seconds": 20, "service_level_pct": 100},
        {"traffic": 10, "aht_seconds": 180, "target_seconds": 20, "service_level_pct": 0},
        {"traffic": -1, "aht_seconds": 180, "target_seconds": 20, "service_level_pct": 80},
        {"traffic": 10, "aht_seconds": 0, "target_seconds": 20, "service_level_pct": 80},
        {"traffic": 10, "aht_seconds": 180, "target_seconds": -1, "service_level_pct": 80},
        {"traffic": 10, "aht_seconds": 180, "target_seconds": 20, "service_level_pct": 80, "concurrency": 0},
        {"traffic": erlang.MAX_SERVERS, "aht_seconds": 180, "target_seconds": 20, "service_level_pct": 80},
    ],
)
def test_questions_without_an_answer_are_refused(arguments):
    with pytest.raises(ValueError):
        erlang.agents_needed(**arguments)


def test_an_interval_must_have_a_length():
    with pytest.raises(ValueError):
        erlang.traffic_erlangs(100, 0, 180)
