"""Every state against every action: allowed ones land where the table says, refused ones change nothing."""

import pytest
from django.forms.models import model_to_dict

from routing import engine
from tests import factories
from tests.engine.conftest import drive_to, reload
from webchat.models import ChatState

STATES = [s.value for s in ChatState]


def perform(action: str, chat, agent, other_queue):
    calls = {
        "take": lambda: engine.chat_take(agent=agent, chat_id=chat.pk),
        "activate": lambda: engine.chat_activate(agent=agent, chat_id=chat.pk),
        "park": lambda: engine.chat_park(agent=agent, chat_id=chat.pk),
        "put_back": lambda: engine.chat_put_back(agent=agent, chat_id=chat.pk),
        "transfer": lambda: engine.chat_transfer(agent=agent, chat_id=chat.pk, queue_id=other_queue.pk),
        "end": lambda: engine.chat_end(agent=agent, chat_id=chat.pk),
        "extend": lambda: engine.wrapup_extend(agent=agent, chat_id=chat.pk),
        "complete_wrapup": lambda: engine.wrapup_complete(agent=agent, chat_id=chat.pk),
    }
    return calls[action]()


AGENT_ACTIONS = ["take", "activate", "park", "put_back", "transfer", "end", "extend", "complete_wrapup"]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", AGENT_ACTIONS)
def test_each_action_lands_where_the_table_says_or_changes_nothing(db, clock, company, state, action):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    other_queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    agent = factories.MembershipFactory(company=company)
    chat = drive_to(state, queue, agent)
    before = model_to_dict(chat)
    clock.shift(5)

    expected = engine.TRANSITIONS[action].get(state)
    if expected is None:
        with pytest.raises(engine.TransitionError) as refusal:
            perform(action, chat, agent, other_queue)
        assert refusal.value.code
        assert refusal.value.message
        assert model_to_dict(reload(chat)) == before
    else:
        perform(action, chat, agent, other_queue)
        assert reload(chat).state == expected


@pytest.mark.parametrize("state", STATES)
def test_the_customer_ending_lands_where_the_table_says_and_an_ended_chat_stays_as_it_is(
    db, clock, company, state
):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    agent = factories.MembershipFactory(company=company)
    chat = drive_to(state, queue, agent)
    already_ended = chat.ended_at is not None
    before = model_to_dict(chat)

    engine.chat_end_by_customer(chat_id=chat.pk)

    chat = reload(chat)
    if already_ended:
        assert model_to_dict(chat) == before
    else:
        assert chat.state == engine.TRANSITIONS["customer_end"][state]
        assert chat.ended_by == "customer"


def test_the_table_names_only_real_states():
    for action, moves in engine.TRANSITIONS.items():
        for source, target in moves.items():
            assert source in STATES, action
            assert target in STATES, action


def test_an_action_missing_from_the_table_is_refused_with_its_code():
    with pytest.raises(engine.TransitionError) as refusal:
        engine.target_state("park", ChatState.INBOX)
    assert refusal.value.code == "not_active"
