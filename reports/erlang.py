"""Erlang C: how many agents a queue needs to answer its traffic within a target time.

The model (M/M/N): contacts arrive at random (Poisson) at a steady rate through the interval, handle times
are exponentially distributed, nobody abandons and nothing is refused, every agent serves the whole queue.
docs/reports.md ("Staffing calculator") states each formula with a worked example.

Numerically stable for any number of agents: the probability of waiting is computed from Erlang B by its
recurrence B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1)), never from A^N / N!, which overflows a float from
N = 171. Then C = N·B / (N − A·(1 − B)).

Chat concurrency: an agent who holds up to `concurrency` chats at once is modelled as that many servers
("slots"), each busy for a whole handle time per chat. The handle time must be measured under concurrency
(the product's handle time is: a chat's time active, however many the agent holds), so a slot serves one
chat per AHT. The slots needed come from Erlang C over the slots, and the agents are the slots divided by
the concurrency, rounded up; the figures are those of all the slots those agents hold. This is not the
shortcut "effective AHT = AHT / N" on whole agents: that one treats an agent as one server N times as
fast, which understates how long a chat holds its slot and so overstates the waits. Limits: an agent
answers as fast with N chats as with one only if the measured AHT already includes the slowdown; the
slots of one agent are not independent in truth (an agent taking a new chat slows the others); and a
pool of slots answers sooner than agents who would have to be free of their own chats.
"""

import math
from dataclasses import dataclass

# Past this many agents (or slots) the search stops: no queue of this product needs more, and each step
# of the search costs one step of the Erlang B recurrence.
MAX_SERVERS = 100_000


def traffic_erlangs(volume: float, interval_seconds: float, aht_seconds: float) -> float:
    """Offered traffic A in erlangs: the hours of work arriving per hour, volume × AHT / interval.

    >>> traffic_erlangs(100, 1800, 180)
    10.0
    """
    if volume < 0 or aht_seconds < 0 or interval_seconds <= 0:
        raise ValueError("Volume and handle time may not be negative; the interval must be longer than 0.")
    return volume * aht_seconds / interval_seconds


def erlang_b(traffic: float, servers: int) -> float:
    """Erlang B: the probability that all `servers` are busy when A erlangs are offered and nobody waits.

    >>> round(erlang_b(10, 14), 4)
    0.0568
    """
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def _erlang_c_from_b(traffic: float, servers: int, blocking: float) -> float:
    if traffic <= 0:
        return 0.0
    if servers <= traffic:
        return 1.0
    return servers * blocking / (servers - traffic * (1 - blocking))


def probability_of_waiting(traffic: float, servers: int) -> float:
    """Erlang C: the probability that a contact waits at all (every server busy when it arrives).

    1 when the servers are fewer than (or as many as) the erlangs: the queue grows without end.

    >>> round(probability_of_waiting(10, 14), 4)
    0.1741
    """
    return _erlang_c_from_b(traffic, servers, erlang_b(traffic, servers))


def service_level(traffic: float, servers: int, aht_seconds: float, target_seconds: float) -> float:
    """The fraction (0 to 1) of contacts answered within `target_seconds`:
    1 − C · e^(−(N − A) · target / AHT).

    >>> round(service_level(10, 14, 180, 20), 4)
    0.8884
    """
    return _service_level(
        traffic, servers, aht_seconds, target_seconds, probability_of_waiting(traffic, servers)
    )


def _service_level(traffic: float, servers: int, aht: float, target: float, waiting: float) -> float:
    if traffic <= 0:
        return 1.0
    if servers <= traffic:
        return 0.0
    return 1 - waiting * math.exp(-(servers - traffic) * target / aht)


def asa_seconds(traffic: float, servers: int, aht_seconds: float) -> float:
    """Average speed of answer, over every contact (those answered at once count 0): C · AHT / (N − A).

    Infinite when the servers are fewer than (or as many as) the erlangs.

    >>> round(asa_seconds(10, 14, 180), 2)
    7.84
    """
    return _asa(traffic, servers, aht_seconds, probability_of_waiting(traffic, servers))


def _asa(traffic: float, servers: int, aht: float, waiting: float) -> float:
    if traffic <= 0:
        return 0.0
    if servers <= traffic:
        return math.inf
    return waiting * aht / (servers - traffic)


def occupancy(traffic: float, servers: int) -> float:
    """The fraction of the servers' time spent on contacts: A / N, at most 1 (0 with no servers).

    >>> round(occupancy(10, 14), 4)
    0.7143
    """
    if servers <= 0:
        return 0.0
    return min(traffic / servers, 1.0)


@dataclass(frozen=True)
class Staffing:
    """What `agents` agents give for a queue's traffic: the figures of PROTOCOL.md section 7's
    staffing.json, unrounded. Percentages are 0-100; `asa_seconds` is infinite if the queue never
    empties."""

    agents: int
    traffic_erlangs: float
    probability_of_waiting: float
    service_level_pct: float
    asa_seconds: float
    occupancy_pct: float


def _servers(agents: int, concurrency: int) -> int:
    return agents * concurrency


def _staffing(traffic: float, agents: int, concurrency: int, aht: float, target: float, blocking: float):
    servers = _servers(agents, concurrency)
    waiting = _erlang_c_from_b(traffic, servers, blocking)
    return Staffing(
        agents=agents,
        traffic_erlangs=traffic,
        probability_of_waiting=waiting,
        service_level_pct=100 * _service_level(traffic, servers, aht, target, waiting),
        asa_seconds=_asa(traffic, servers, aht, waiting),
        occupancy_pct=100 * occupancy(traffic, servers),
    )


def _check(traffic: float, aht_seconds: float, target_seconds: float, concurrency: int) -> None:
    if traffic < 0 or aht_seconds < 0 or target_seconds < 0:
        raise ValueError("Traffic, handle time and target time may not be negative.")
    if traffic > 0 and aht_seconds <= 0:
        raise ValueError("Traffic needs a handle time longer than 0.")
    if concurrency < 1:
        raise ValueError("An agent holds at least one contact at a time.")
    if traffic >= MAX_SERVERS:
        raise ValueError(f"The traffic must be under {MAX_SERVERS} erlangs.")


def staffing_for(
    traffic: float, agents: int, aht_seconds: float, target_seconds: float, concurrency: int = 1
) -> Staffing:
    """The figures `agents` agents reach for `traffic` erlangs (each holding `concurrency` contacts).

    >>> s = staffing_for(10, 14, 180, 20)
    >>> round(s.probability_of_waiting, 4), round(s.service_level_pct, 2), round(s.asa_seconds, 2)
    (0.1741, 88.84, 7.84)
    """
    _check(traffic, aht_seconds, target_seconds, concurrency)
    if agents < 0:
        raise ValueError("The agents may not be negative.")
    servers = _servers(agents, concurrency)
    return _staffing(traffic, agents, concurrency, aht_seconds, target_seconds, erlang_b(traffic, servers))


def agents_needed(
    traffic: float,
    aht_seconds: float,
    target_seconds: float,
    service_level_pct: float,
    concurrency: int = 1,
) -> Staffing:
    """The fewest agents whose service level reaches `service_level_pct` (0 < pct < 100) of contacts
    answered within `target_seconds`, with their figures.

    No traffic needs no agents (service level 100 %, occupancy 0). One pass of the Erlang B recurrence
    from 1 server upwards, so thousands of agents cost milliseconds.

    >>> agents_needed(10, 180, 20, 80).agents
    14
    """
    _check(traffic, aht_seconds, target_seconds, concurrency)
    if not 0 < service_level_pct < 100:
        raise ValueError("The target service level must be above 0 and below 100 percent.")
    if traffic == 0:
        return _staffing(0.0, 0, concurrency, aht_seconds, target_seconds, 0.0)
    goal = service_level_pct / 100
    blocking = 1.0
    for servers in range(1, MAX_SERVERS + 1):
        blocking = traffic * blocking / (servers + traffic * blocking)
        if servers % concurrency or servers <= traffic:
            continue
        waiting = _erlang_c_from_b(traffic, servers, blocking)
        if _service_level(traffic, servers, aht_seconds, target_seconds, waiting) >= goal:
            return _staffing(
                traffic, servers // concurrency, concurrency, aht_seconds, target_seconds, blocking
            )
    raise ValueError(f"No staffing of up to {MAX_SERVERS} reaches that service level.")


def staffing_table(
    traffic: float,
    first_agents: int,
    count: int,
    aht_seconds: float,
    target_seconds: float,
    concurrency: int = 1,
) -> list[Staffing]:
    """The figures for `first_agents`, `first_agents` + 1, ... (`count` rows): the trade-off a planner
    weighs between one more agent and the waits.

    >>> [row.agents for row in staffing_table(10, 14, 3, 180, 20)]
    [14, 15, 16]
    """
    _check(traffic, aht_seconds, target_seconds, concurrency)
    rows = []
    blocking = erlang_b(traffic, _servers(first_agents, concurrency))
    for agents in range(first_agents, first_agents + count):
        if agents > first_agents:
            for servers in range(_servers(agents - 1, concurrency) + 1, _servers(agents, concurrency) + 1):
                blocking = traffic * blocking / (servers + traffic * blocking)
        rows.append(_staffing(traffic, agents, concurrency, aht_seconds, target_seconds, blocking))
    return rows
