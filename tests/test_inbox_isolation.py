"""An agent never sees or acts on another company's chats, a queue outside their profile, or another
agent's chat: each is not found, and nothing changes."""

import pytest
from django.forms.models import model_to_dict

from routing import engine
from tests import factories
from webchat.models import Chat

CHAT_ACTIONS = [
    ("post", "take/", {}),
    ("post", "activate/", {}),
    ("post", "park/", {}),
    ("post", "put-back/", {}),
    ("post", "transfer/", {"queue": "0"}),
    ("post", "end/", {}),
    ("post", "messages/", {"client_id": "x", "text": "Hello"}),
    ("post", "details/", {"notes": "Nosy"}),
    ("post", "extend/", {}),
    ("post", "complete/", {}),
    ("post", "abusive/", {"abusive": "1"}),
    ("post", "contact/", {"contact": ""}),
    ("post", "contact/new/", {"name": "Eve"}),
    ("get", "", {}),
    ("get", "transcript/", {}),
    ("get", "template/", {"template": "1"}),
    ("get", "contact/find/", {}),
]


def snapshot(chat) -> dict:
    return model_to_dict(Chat.objects.get(pk=chat.pk)) | {"messages": chat.messages.count()}


@pytest.mark.parametrize(("method", "path", "data"), CHAT_ACTIONS)
def test_another_companys_chat_is_not_found(htmx_client, other_company_chat, method, path, data):
    before = snapshot(other_company_chat)
    response = getattr(htmx_client, method)(f"/inbox/{other_company_chat.pk}/{path}", data)
    assert response.status_code == 404
    assert snapshot(other_company_chat) == before


# Taking a colleague's chat is refused as no longer waiting (test_inbox_refusals): it was in a queue the
# agent sees a moment ago.
@pytest.mark.parametrize(("method", "path", "data"), CHAT_ACTIONS[1:])
def test_another_agents_chat_is_not_found(htmx_client, company, manual_queue, method, path, data):
    colleague = factories.MembershipFactory(company=company)
    chat = factories.ChatFactory(queue=manual_queue)
    engine.chat_take(agent=colleague, chat_id=chat.pk)
    engine.chat_activate(agent=colleague, chat_id=chat.pk)
    before = snapshot(chat)
    response = getattr(htmx_client, method)(f"/inbox/{chat.pk}/{path}", data)
    assert response.status_code == 404
    assert snapshot(chat) == before


def test_another_agents_chat_never_shows_in_the_inbox(agent_client, company, manual_queue):
    colleague = factories.MembershipFactory(company=company)
    chat = factories.ChatFactory(queue=manual_queue, customer_name="Colleagues customer")
    engine.chat_take(agent=colleague, chat_id=chat.pk)
    assert "Colleagues customer" not in agent_client.get("/inbox/").content.decode()


@pytest.fixture
def hidden_queue(company, agent):
    """A queue of the agent's company that their profile does not show."""
    shown = factories.WebchatQueueFactory(company=company, name="Shown")
    agent.queue_profile.all_queues = False
    agent.queue_profile.save()
    agent.queue_profile.queues.add(shown)
    return factories.WebchatQueueFactory(company=company, name="Hidden", auto_allocate=False)


def test_a_queue_outside_the_profile_is_not_listed_or_opened(agent_client, htmx_client, hidden_queue):
    assert "Hidden" not in agent_client.get("/inbox/").content.decode()
    assert htmx_client.get(f"/inbox/queues/{hidden_queue.pk}/", {"open": "1"}).status_code == 404
    assert htmx_client.post(f"/inbox/queues/{hidden_queue.pk}/take/").status_code == 404


def test_a_chat_in_a_queue_outside_the_profile_cannot_be_taken(htmx_client, hidden_queue):
    chat = factories.ChatFactory(queue=hidden_queue)
    before = snapshot(chat)
    assert htmx_client.post(f"/inbox/{chat.pk}/take/").status_code == 404
    assert snapshot(chat) == before


def test_a_chat_cannot_be_transferred_to_a_queue_outside_the_profile(htmx_client, hidden_queue, agent):
    chat = factories.ChatFactory(queue=hidden_queue.company.webchat_queues.get(name="Shown"))
    engine.chat_take(agent=agent, chat_id=chat.pk)
    before = snapshot(chat)
    response = htmx_client.post(f"/inbox/{chat.pk}/transfer/", {"queue": hidden_queue.pk})
    assert response.status_code == 404
    assert snapshot(chat) == before


def test_another_companys_queue_is_not_found(htmx_client, other_company_chat):
    assert htmx_client.get(f"/inbox/queues/{other_company_chat.queue_id}/").status_code == 404


def test_a_contact_of_another_company_cannot_be_assigned(htmx_client, active_chat):
    stranger = factories.ContactFactory()
    response = htmx_client.post(f"/inbox/{active_chat.pk}/contact/", {"contact": stranger.pk})
    assert response.status_code == 404
    active_chat.refresh_from_db()
    assert active_chat.contact is None


def test_contacts_of_another_company_are_not_found_when_searching(htmx_client, active_chat):
    factories.ContactFactory(name="Foreign Grace")
    content = htmx_client.get(f"/inbox/{active_chat.pk}/contact/find/", {"q": "Grace"}).content.decode()
    assert "Foreign Grace" not in content
