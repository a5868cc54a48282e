"""Fixtures of the inbox tests: an agent signed in, and chats in each state reached through the engine."""

import uuid

import pytest

from routing import engine
from tests import factories


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent.user)
    return client


@pytest.fixture
def htmx_client(agent_client):
    """The signed-in agent's browser as htmx drives it."""
    agent_client.defaults["HTTP_HX_REQUEST"] = "true"
    return agent_client


@pytest.fixture
def manual_queue(company):
    return factories.WebchatQueueFactory(company=company, name="Support", auto_allocate=False)


@pytest.fixture
def waiting_chat(manual_queue):
    return factories.ChatFactory(queue=manual_queue, customer_name="Grace")


@pytest.fixture
def held_chat(agent, waiting_chat):
    """A chat in the agent's inbox, not yet active."""
    return engine.chat_take(agent=agent, chat_id=waiting_chat.pk)


@pytest.fixture
def active_chat(agent, held_chat):
    return engine.chat_activate(agent=agent, chat_id=held_chat.pk)


@pytest.fixture
def wrapup_chat(agent, active_chat):
    return engine.chat_end(agent=agent, chat_id=active_chat.pk)


@pytest.fixture
def other_company_chat():
    """A chat held by an agent of another company."""
    stranger = factories.MembershipFactory()
    queue = factories.WebchatQueueFactory(company=stranger.company, auto_allocate=False)
    chat = factories.ChatFactory(queue=queue, customer_name="Stranger")
    engine.chat_take(agent=stranger, chat_id=chat.pk)
    return engine.chat_activate(agent=stranger, chat_id=chat.pk)


def customer_says(chat, text: str):
    message, _ = engine.message_post_customer(chat_id=chat.pk, client_id=str(uuid.uuid4()), text=text)
    return message
