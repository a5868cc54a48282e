"""The contacts pages: search the company's contacts, read a contact's history and transcripts."""

from routing import engine
from tests import factories
from tests.webchat_support import customer_says


def test_contacts_are_searched_by_name_email_or_phone(agent_client, company):
    factories.ContactFactory(company=company, name="Grace Hopper", email="grace@example.com")
    factories.ContactFactory(company=company, name="Linus", phone="0161 496 0000")
    assert "Grace Hopper" in agent_client.get("/contacts/", {"q": "grace@"}).content.decode()
    by_phone = agent_client.get("/contacts/", {"q": "01614960000"}).content.decode()
    assert "Linus" in by_phone
    assert "Grace Hopper" not in by_phone


def test_searching_as_one_types_renders_only_the_results(htmx_client, company):
    factories.ContactFactory(company=company, name="Grace Hopper")
    content = htmx_client.get("/contacts/", {"q": "Gra"}).content.decode()
    assert content.lstrip().startswith('<div id="results">')
    assert "Grace Hopper" in content


def test_contacts_of_another_company_are_never_listed_or_shown(agent_client):
    stranger = factories.ContactFactory(name="Someone Else")
    assert "Someone Else" not in agent_client.get("/contacts/").content.decode()
    assert agent_client.get(f"/contacts/{stranger.pk}/").status_code == 404


def test_a_contact_shows_their_interactions_with_the_transcript_on_demand(
    agent_client, agent, company, active_chat
):
    contact = factories.ContactFactory(company=company, name="Grace Hopper")
    customer_says(active_chat, "My order is late")
    engine.chat_assign_contact(agent=agent, chat_id=active_chat.pk, contact_id=contact.pk)
    engine.chat_end(agent=agent, chat_id=active_chat.pk)
    engine.wrapup_complete(agent=agent, chat_id=active_chat.pk, classification_text="Late order")
    interaction = active_chat.interaction

    page = agent_client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "Late order" in page
    assert "Support" in page
    assert f"with {agent.name}" in page
    assert "My order is late" not in page

    transcript = agent_client.get(f"/contacts/interactions/{interaction.pk}/transcript/").content.decode()
    assert "My order is late" in transcript


def test_a_transcript_of_another_company_is_not_found(agent_client, other_company_chat):
    stranger = other_company_chat.agent
    engine.chat_end(agent=stranger, chat_id=other_company_chat.pk)
    engine.wrapup_complete(agent=stranger, chat_id=other_company_chat.pk)
    other_company_chat.refresh_from_db()
    url = f"/contacts/interactions/{other_company_chat.interaction.pk}/transcript/"
    assert agent_client.get(url).status_code == 404
