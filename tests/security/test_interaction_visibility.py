"""Interactions and their transcripts follow the reader's Webchat Queues profile, as chats do: an agent or a
supervisor reads those of the queues their profile allows (and those they handled themselves), an
administrator every one of the company; another is not found (404), and the contact's history leaves it out.
"""

import pytest
from django.test import Client
from django.utils import timezone

from contactcentre.models import Role
from crm.models import Channel, Interaction
from routing import engine
from routing.models import QueueProfile
from tests import factories
from tests.two_factor_support import log_in_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def queues(company):
    return (
        factories.WebchatQueueFactory(company=company, name="Sales", auto_allocate=False),
        factories.WebchatQueueFactory(company=company, name="Complaints", auto_allocate=False),
    )


@pytest.fixture
def contact(company):
    return factories.ContactFactory(company=company, name="Grace Hopper")


@pytest.fixture
def sales_profile(company, queues):
    profile = QueueProfile.objects.create(company=company, name="Sales only")
    profile.queues.add(queues[0])
    return profile


def finished_chat(queue, agent, contact, words: str) -> Interaction:
    chat = engine.chat_open(queue_token=queue.token, customer_name="Grace").chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    engine.message_post_customer(chat_id=chat.pk, client_id=f"m-{chat.pk}", text=words)
    engine.chat_assign_contact(agent=agent, chat_id=chat.pk, contact_id=contact.pk)
    engine.chat_end(agent=agent, chat_id=chat.pk)
    engine.wrapup_complete(agent=agent, chat_id=chat.pk, notes=f"Notes: {words}")
    return Interaction.objects.get(chat=chat)


@pytest.fixture
def history(company, queues, contact):
    """One finished chat in each queue, handled by someone who serves every queue."""
    handler = factories.MembershipFactory(company=company)
    sales, complaints = queues
    return (
        finished_chat(sales, handler, contact, "About a quote"),
        finished_chat(complaints, handler, contact, "A formal complaint"),
    )


def signed_in(member) -> Client:
    client = Client()
    log_in_verified(client, member.user)
    return client


def transcript(client: Client, interaction: Interaction):
    return client.get(f"/contacts/interactions/{interaction.pk}/transcript/")


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR])
def test_an_agent_or_supervisor_reads_only_the_transcripts_their_profile_allows(
    company, sales_profile, history, role
):
    reader = signed_in(factories.MembershipFactory(company=company, role=role, queue_profile=sales_profile))
    sales, complaint = history

    assert "About a quote" in transcript(reader, sales).content.decode()
    refused = transcript(reader, complaint)
    assert refused.status_code == 404
    assert "A formal complaint" not in refused.content.decode()


def test_an_administrator_reads_every_transcript_of_the_company(company, sales_profile, history):
    administrator = factories.MembershipFactory(
        company=company, role=Role.ADMINISTRATOR, queue_profile=sales_profile
    )
    reader = signed_in(administrator)

    assert "A formal complaint" in transcript(reader, history[1]).content.decode()


def test_the_contact_page_lists_only_the_interactions_the_reader_may_see(
    company, sales_profile, history, contact
):
    reader = signed_in(factories.MembershipFactory(company=company, queue_profile=sales_profile))

    page = reader.get(f"/contacts/{contact.pk}/").content.decode()

    assert "Notes: About a quote" in page
    assert "A formal complaint" not in page


def test_the_history_beside_a_chat_lists_only_the_interactions_the_agent_may_see(
    company, queues, sales_profile, history, contact
):
    agent = factories.MembershipFactory(company=company, queue_profile=sales_profile)
    chat = engine.chat_open(queue_token=queues[0].token, customer_name="Grace").chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_assign_contact(agent=agent, chat_id=chat.pk, contact_id=contact.pk)

    page = signed_in(agent).get(f"/inbox/{chat.pk}/").content.decode()

    assert "Notes: About a quote" in page
    assert "A formal complaint" not in page


def test_an_agent_still_reads_what_they_handled_after_the_queue_left_their_profile(
    company, queues, contact, sales_profile
):
    agent = factories.MembershipFactory(company=company)
    handled = finished_chat(queues[1], agent, contact, "A formal complaint")
    agent.queue_profile = sales_profile
    agent.save()

    assert transcript(signed_in(agent), handled).status_code == 200


def test_a_call_is_read_by_those_who_answer_its_voice_queue(company, contact):
    switchboard = factories.VoiceQueueFactory(company=company)
    call = Interaction.objects.create(
        company=company,
        contact=contact,
        channel=Channel.VOICE,
        queue_name=switchboard.name,
        voice_queue=switchboard,
        notes="Called about the invoice",
        opened_at=timezone.now(),
        closed_at=timezone.now(),
        outcome="completed",
    )
    answers = factories.MembershipFactory(company=company, can_voice=True)
    answers.voice_queues.add(switchboard)
    does_not = factories.MembershipFactory(company=company)

    assert "Called about the invoice" in signed_in(answers).get(f"/contacts/{contact.pk}/").content.decode()
    assert (
        "Called about the invoice" not in signed_in(does_not).get(f"/contacts/{contact.pk}/").content.decode()
    )
    assert transcript(signed_in(does_not), call).status_code == 404
