"""A flood of frames into either socket reaches the other side as a trickle: typing passes only as it
changes, at most a few times a second; refused frames are answered a few at a time, and a socket that keeps
sending them is closed with 4400. An occasional bad frame is still answered and the socket stays open."""

import json
import time

import pytest
from channels.db import database_sync_to_async
from django.db import connections

from tests import factories
from tests.webchat_support import (
    agent_socket,
    connected_chat,
    customer_socket,
    next_frame,
    say_hello,
)
from webchat import floods
from webchat.tokens import customer_token_for

FLOOD = 2000


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------------------------------------
# The rules, on a clock the test moves


def test_typing_passes_when_it_changes_and_a_repeated_stop_never_does():
    gate = floods.TypingGate(clock=FakeClock())

    assert [gate.passes(typing) for typing in (True, True, False, False, False)] == [
        True,
        False,
        True,
        False,
        False,
    ]


def test_a_repeated_start_passes_once_a_second_to_keep_the_indicator_on(settings):
    clock = FakeClock()
    gate = floods.TypingGate(clock=clock)
    passed = []
    for _ in range(40):
        passed.append(gate.passes(True))
        clock.now += 0.1

    assert sum(passed) == 40 * 0.1 / settings.WEBCHAT_TYPING_THROTTLE_SECONDS


def test_changes_pass_at_most_a_few_times_a_second_then_again_the_next():
    clock = FakeClock()
    gate = floods.TypingGate(clock=clock)

    first_second = sum(gate.passes(n % 2 == 0) for n in range(FLOOD))
    clock.now += 1
    next_second = sum(gate.passes(n % 2 == 1) for n in range(FLOOD))

    assert first_second == next_second == floods.TYPING_PER_SECOND


def test_each_chat_of_an_agent_has_its_own_typing_state():
    gate = floods.TypingGate(clock=FakeClock())

    assert gate.passes(True, "chat-1") and gate.passes(True, "chat-2")
    assert not gate.passes(True, "chat-1")


def test_refusals_are_answered_then_counted_then_the_socket_is_closed_and_a_new_window_forgives():
    clock = FakeClock()
    budget = floods.RefusalBudget(clock=clock)

    verdicts = [budget.refused() for _ in range(floods.REFUSALS_TOLERATED + 1)]
    clock.now += floods.REFUSAL_WINDOW_SECONDS
    later = budget.refused()

    assert verdicts.count("answer") == floods.REFUSALS_ANSWERED
    assert verdicts.count("quiet") == floods.REFUSALS_TOLERATED - floods.REFUSALS_ANSWERED
    assert verdicts[-1] == "close"
    assert later == "answer"


# ---------------------------------------------------------------------------------------------------------
# The sockets


@pytest.fixture
async def chat_between(transactional_db, settings):
    """An active chat, the customer's socket (after hello) and the agent's socket."""
    settings.WEBCHAT_RATE_PER_CHAT = 10_000
    company = await database_sync_to_async(factories.CompanyFactory)()
    queue = await database_sync_to_async(factories.WebchatQueueFactory)(company=company, auto_allocate=False)
    agent = await database_sync_to_async(factories.MembershipFactory)(company=company)
    chat, token = await database_sync_to_async(connected_chat)(queue, agent)
    customer = await customer_socket(chat.pk)
    await say_hello(customer, token)
    agent_ws = await agent_socket(agent)
    yield chat, customer, agent_ws
    await customer.disconnect()
    await agent_ws.disconnect()
    await database_sync_to_async(connections.close_all)()


async def received(ws) -> list[dict]:
    """Every frame that reaches `ws` until it has heard nothing for half a second."""
    frames = []
    while not await ws.receive_nothing(timeout=0.5):
        frames.append(json.loads(await ws.receive_from()))
    return frames


def most_typing_frames(seconds: float) -> int:
    """What the gate may pass in a flood that lasted `seconds`: its rate, in each second begun."""
    return floods.TYPING_PER_SECOND * (int(seconds) + 2)


@pytest.mark.parametrize("pattern", ["alternating", "stops only", "starts only"])
async def test_a_customers_typing_flood_reaches_the_agent_as_a_trickle(chat_between, pattern):
    chat, customer, agent_ws = chat_between
    states = {"alternating": [True, False], "stops only": [False], "starts only": [True]}[pattern]
    await received(agent_ws)

    started = time.monotonic()
    for n in range(FLOOD):
        await customer.send_to(text_data=json.dumps({"type": "typing", "typing": states[n % len(states)]}))
    heard = [frame for frame in await received(agent_ws) if frame["type"] == "typing"]
    flood_seconds = time.monotonic() - started

    assert heard, "typing still reaches the agent"
    assert len(heard) <= most_typing_frames(flood_seconds), len(heard)
    assert all(frame["chat_id"] == str(chat.pk) for frame in heard)
    answers = [frame for frame in await received(customer) if frame["type"] in ("error", "ack", "typing")]
    assert not answers, "typing frames are never answered"


async def test_an_agents_typing_flood_reaches_the_customer_as_a_trickle(chat_between):
    chat, customer, agent_ws = chat_between
    await received(customer)

    started = time.monotonic()
    for n in range(FLOOD):
        await agent_ws.send_json_to({"type": "typing", "chat_id": str(chat.pk), "typing": n % 2 == 0})
    heard = [frame for frame in await received(customer) if frame["type"] == "typing"]
    flood_seconds = time.monotonic() - started

    assert heard
    assert len(heard) <= most_typing_frames(flood_seconds), len(heard)


GARBAGE = ["not json", "[]", json.dumps({"type": "bogus"}), json.dumps({"type": "typing", "typing": "yes"})]


async def test_a_customer_socket_sending_garbage_is_closed_with_4400_after_a_few_answers(chat_between):
    _, customer, agent_ws = chat_between
    # What the chat's set-up still had on its way to the customer is not an answer to the garbage.
    await received(customer)

    for n in range(FLOOD):
        await customer.send_to(text_data=GARBAGE[n % len(GARBAGE)])
    answers = []
    while True:
        output = await customer.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            break
        answers.append(json.loads(output["text"]))

    assert output["code"] == floods.CLOSE_TOO_MANY_REFUSALS
    assert 0 < len(answers) <= floods.REFUSALS_ANSWERED
    assert all(answer["type"] == "error" for answer in answers)
    assert not [frame for frame in await received(agent_ws) if frame["type"] in ("typing", "message")]


async def test_an_agent_socket_sending_garbage_is_closed_with_4400_after_a_few_answers(chat_between):
    _, _, agent_ws = chat_between
    await received(agent_ws)

    for n in range(FLOOD):
        await agent_ws.send_to(text_data=GARBAGE[n % len(GARBAGE)])
    answers = []
    while True:
        output = await agent_ws.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            break
        answers.append(json.loads(output["text"]))

    assert output["code"] == floods.CLOSE_TOO_MANY_REFUSALS
    assert 0 < len([answer for answer in answers if answer["type"] == "error"]) <= floods.REFUSALS_ANSWERED


async def test_an_occasional_bad_frame_is_answered_and_the_socket_stays_open(chat_between):
    _, customer, agent_ws = chat_between

    for frame in GARBAGE:
        await customer.send_to(text_data=frame)
        assert (await next_frame(customer, lambda f: f["type"] == "error"))["code"] == "invalid"
        await agent_ws.send_to(text_data=frame)
        assert (await next_frame(agent_ws, lambda f: f["type"] == "error"))["code"] == "invalid"
    await customer.send_json_to({"type": "message", "client_id": "c-1", "text": "Still here"})

    assert (await next_frame(customer, lambda f: f["type"] == "ack"))["client_id"] == "c-1"


async def test_a_socket_closed_for_garbage_can_reconnect_and_chat(chat_between):
    chat, customer, _ = chat_between
    for _ in range(floods.REFUSALS_TOLERATED + 1):
        await customer.send_to(text_data="not json")
    while (await customer.receive_output(timeout=10))["type"] != "websocket.close":
        pass

    again = await customer_socket(chat.pk)
    await say_hello(again, customer_token_for(chat_id=chat.pk))
    await again.send_json_to({"type": "message", "client_id": "c-2", "text": "Back"})

    assert (await next_frame(again, lambda f: f["type"] == "ack"))["client_id"] == "c-2"
    await again.disconnect()
