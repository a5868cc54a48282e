"""Identifying the customer from the chat: search the CRM or create a contact, then assign it."""

from routing import engine
from tests import factories
from webchat.models import Chat


def test_assign_contact_opens_a_search_and_a_new_contact_form(htmx_client, active_chat):
    content = htmx_client.get(f"/inbox/{active_chat.pk}/contact/find/").content.decode()
    assert 'name="q"' in content
    assert ">Create and assign</button>" in content


def test_contacts_are_found_by_name_email_or_phone(htmx_client, company, active_chat):
    factories.ContactFactory(company=company, name="Grace Hopper", email="grace@navy.example")
    factories.ContactFactory(company=company, name="Alan", phone="+44 20 7946 0018")
    url = f"/inbox/{active_chat.pk}/contact/find/"
    assert "Grace Hopper" in htmx_client.get(url, {"q": "hopper"}).content.decode()
    assert "Grace Hopper" in htmx_client.get(url, {"q": "navy.example"}).content.decode()
    by_phone = htmx_client.get(url, {"q": "020 7946-0018"}).content.decode()
    assert "Alan" in by_phone
    assert "Grace Hopper" not in by_phone


def test_assigning_a_contact_shows_it_with_its_previous_interactions(
    htmx_client, agent, company, manual_queue, active_chat
):
    contact = factories.ContactFactory(company=company, name="Grace Hopper")
    earlier = factories.ChatFactory(queue=manual_queue)
    engine.chat_take(agent=agent, chat_id=earlier.pk)
    engine.chat_activate(agent=agent, chat_id=earlier.pk)
    engine.chat_assign_contact(agent=agent, chat_id=earlier.pk, contact_id=contact.pk)
    engine.chat_record_details(agent=agent, chat_id=earlier.pk, notes="Asked about a refund")
    engine.chat_flag_abusive(agent=agent, chat_id=earlier.pk)
    engine.chat_end(agent=agent, chat_id=earlier.pk)
    engine.wrapup_complete(agent=agent, chat_id=earlier.pk)
    engine.chat_activate(agent=agent, chat_id=active_chat.pk)

    response = htmx_client.post(f"/inbox/{active_chat.pk}/contact/", {"contact": contact.pk})

    content = response.content.decode()
    assert response.status_code == 200
    assert ">Grace Hopper</a></p>" in content
    assert "Asked about a refund" in content
    assert '<span class="tag tag--danger">Abusive</span>' in content
    assert f'hx-get="/contacts/interactions/{earlier.interaction.pk}/transcript/"' in content
    active_chat.refresh_from_db()
    assert active_chat.contact == contact


def test_a_new_contact_is_created_and_assigned(htmx_client, company, active_chat):
    response = htmx_client.post(
        f"/inbox/{active_chat.pk}/contact/new/",
        {"name": "Grace Hopper", "email": "grace@example.com", "phone": "", "organisation": ""},
    )
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#chat"
    chat = Chat.objects.select_related("contact").get(pk=active_chat.pk)
    assert chat.contact.name == "Grace Hopper"
    assert chat.contact.company == company


def test_a_new_contact_needs_a_name_and_a_valid_email(htmx_client, active_chat):
    response = htmx_client.post(f"/inbox/{active_chat.pk}/contact/new/", {"name": "", "email": "nope"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert "Enter a valid email address." in response.content.decode()
    active_chat.refresh_from_db()
    assert active_chat.contact is None
