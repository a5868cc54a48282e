"""Every state against every action: allowed ones land where docs/states.md says, refused ones change nothing.

The expected table is written here from the rulebook (docs/states.md), not read from the engine's own
table, so a wrong entry in the engine fails here.
"""

import pytest
from django.forms.models import model_to_dict

from routing import engine
from tests import factories
from tests.engine.conftest import drive_to, reload
from webchat.models import ChatState

STATES = [s.value for s in ChatState]

REFUSED = None

# Put back and transfer: a chat in the inbox, active or parked goes back to a queue.
BACK_TO_A_QUEUE = {
    "queued": REFUSED,
    "inbox": "queued",
    "active": "queued",
    "parked": "queued",
    "wrapup": REFUSED,
    "wrapup_parked": REFUSED,
    "closed": REFUSED,
}

# action -> state -> where the chat lands, or REFUSED; every state is named for every action.
EXPECTED = {
    "take": {
        "queued": "inbox",
        "inbox": REFUSED,
        "active": REFUSED,
        "parked": REFUSED,
        "wrapup": REFUSED,
        "wrapup_parked": REFUSED,
        "closed": REFUSED,
    },
    "activate": {
        "queued": REFUSED,
        "inbox": "active",
        "active": REFUSED,
        "parked": "active",
        "wrapup": REFUSED,
        "wrapup_parked": "wrapup",
        "closed": REFUSED,
    },
    "park": {
        "queued": REFUSED,
        "inbox": REFUSED,
        "active": "parked",
        "parked": REFUSED,
        "wrapup": "wrapup_parked",
        "wrapup_parked": REFUSED,
        "closed": REFUSED,
    },
    "put_back": BACK_TO_A_QUEUE,
    "transfer": BACK_TO_A_QUEUE,
    "end": {
        "queued": REFUSED,
        "inbox": REFUSED,
        "active": "wrapup",
        "parked": REFUSED,
        "wrapup": REFUSED,
        "wrapup_parked": REFUSED,
        "closed": REFUSED,
    },
    "extend": {
        "queued": REFUSED,
        "inbox": REFUSED,
        "active": REFUSED,
        "parked": REFUSED,
        "wrapup": "wrapup",
        "wrapup_parked": REFUSED,
        "closed": REFUSED,
    },
    "complete_wrapup": {
        "queued": REFUSED,
        "inbox": REFUSED,
        "active": REFUSED,
        "parked": REFUSED,
        "wrapup": "closed",
        "wrapup_parked": "closed",
        "closed": REFUSED,
    },
}

# The customer ending the chat: queued closes (abandoned), active goes to wrap-up, inbox and parked stay
# where they are (marked ended); a chat that has already ended stays exactly as it is.
CUSTOMER_ENDS = {
    "queued": "closed",
    "inbox": "inbox",
    "active": "wrapup",
    "parked": "parked",
    "wrapup": "unchanged",
    "wrapup_parked": "unchanged",
    "closed": "unchanged",
}


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


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", list(EXPECTED))
def test_each_action_lands_where_the_rulebook_says_or_is_refused_and_changes_nothing(
    db, clock, company, state, action
):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    other_queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    agent = factories.MembershipFactory(company=company)
    chat = drive_to(state, queue, agent)
    before = model_to_dict(chat)
    clock.shift(5)

    expected = EXPECTED[action][state]
    if expected is REFUSED:
        with pytest.raises(engine.TransitionError) as refusal:
            perform(action, chat, agent, other_queue)
        assert refusal.value.code
        assert refusal.value.message
        assert model_to_dict(reload(chat)) == before
    else:
        perform(action, chat, agent, other_queue)
        assert reload(chat).state == expected


@pytest.mark.parametrize("state", STATES)
def test_the_customer_ending_lands_where_the_rulebook_says_and_an_ended_chat_stays_as_it_is(
    db, clock, company, state
):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    agent = factories.MembershipFactory(company=company)
    chat = drive_to(state, queue, agent)
    before = model_to_dict(chat)

    engine.chat_end_by_customer(chat_id=chat.pk)

    chat = reload(chat)
    if CUSTOMER_ENDS[state] == "unchanged":
        assert model_to_dict(chat) == before
    else:
        assert chat.state == CUSTOMER_ENDS[state]
        assert chat.ended_by == "customer"
        assert chat.ended_at is not None
