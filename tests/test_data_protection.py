"""Data protection in the admin: erasing a contact, exporting what the product holds of them, and the
retention period after which transcripts are anonymised. The figures stay, so reports count the same."""

import datetime as dt
import json
import threading

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contactcentre.models import AuditEntry, Role
from crm import services
from crm.models import Contact, Interaction
from routing import engine, jobs
from routing.models import Call
from tests import factories
from tests.engine.concurrency import run_together
from tests.two_factor_support import log_in_verified
from webchat.models import Chat, Message

pytestmark = pytest.mark.django_db

Action = AuditEntry.Action
CONTACTS = reverse("admin:crm_contact_changelist")
FIGURES = [
    "channel",
    "queue_name",
    "webchat_queue_id",
    "voice_queue_id",
    "arrival_webchat_queue_id",
    "arrival_voice_queue_id",
    "agent_id",
    "agent_name",
    "opened_at",
    "answered_at",
    "ended_at",
    "closed_at",
    "wait_seconds",
    "handle_seconds",
    "wrapup_seconds",
    "transfers",
    "classification_id",
    "classification_text",
    "outcome",
    "contact_id",
]


@pytest.fixture
def queue(company):
    """Agents take its chats: none is allocated to whoever happens to be Available."""
    return factories.WebchatQueueFactory(company=company, name="Sales", auto_allocate=False)


@pytest.fixture
def administrator(company):
    return factories.MembershipFactory(
        company=company, role=Role.ADMINISTRATOR, user__username="admin-of-company", user__is_staff=True
    )


@pytest.fixture
def grace(company):
    return factories.ContactFactory(
        company=company, name="Grace Hopper", email="grace@example.com", phone="+44 20 7946 0000"
    )


def admin_client(membership) -> Client:
    client = Client()
    log_in_verified(client, membership.user)
    return client


def finished_chat(queue, agent, *, customer: str, contact=None, said: str, notes: str) -> Chat:
    """A chat from open to closed: the customer and the agent write, the agent notes and classifies."""
    classification = factories.ClassificationFactory(company=queue.company)
    chat = engine.chat_open(queue_token=queue.token, customer_name=customer, visitor_id="visitor-7").chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    engine.message_post_customer(chat_id=chat.pk, client_id="c-1", text=said)
    engine.message_post_agent(agent=agent, chat_id=chat.pk, client_id="a-1", text=f"Thanks, {customer}")
    if contact is not None:
        engine.chat_assign_contact(agent=agent, chat_id=chat.pk, contact_id=contact.pk)
    engine.chat_end(agent=agent, chat_id=chat.pk)
    engine.wrapup_complete(agent=agent, chat_id=chat.pk, notes=notes, classification_id=classification.pk)
    return Chat.objects.get(pk=chat.pk)


def finished_call(company, *, number: str, contact=None) -> Call:
    voice = factories.VoiceQueueFactory(company=company)
    call = engine.call_arrived(
        company_id=company.pk, pbx_call_id=f"call-{number}", queue_slug=voice.slug, caller_number=number
    )
    Call.objects.filter(pk=call.pk).update(contact=contact, notes=f"Rang from {number}")
    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id=call.pbx_call_id)
    return Call.objects.get(pk=call.pk)


def figures(interaction: Interaction) -> dict:
    return {name: getattr(interaction, name) for name in FIGURES}


def test_erasing_asks_for_confirmation_first_and_changes_nothing_until_then(administrator, grace):
    response = admin_client(administrator).post(
        CONTACTS, {"action": "erase_contacts", "_selected_action": [grace.pk]}
    )

    assert response.status_code == 200
    assert "Grace Hopper" in response.text and "Yes, erase them" in response.text
    grace.refresh_from_db()
    assert grace.name == "Grace Hopper" and grace.email == "grace@example.com"


def test_an_erased_contacts_words_and_details_are_gone_and_their_figures_stay(
    administrator, grace, queue, agent
):
    chat = finished_chat(queue, agent, customer="Grace", contact=grace, said="My card is 4111", notes="VIP")
    call = finished_call(queue.company, number="+44 20 7946 0000", contact=grace)
    interaction = Interaction.objects.get(chat=chat)
    before = figures(interaction)
    sent_at = list(Message.objects.filter(chat=chat).values_list("seq", "sender", "sent_at"))
    others = finished_chat(queue, agent, customer="Someone else", said="Keep me", notes="Other notes")

    response = admin_client(administrator).post(
        CONTACTS, {"action": "erase_contacts", "_selected_action": [grace.pk], "post": "yes"}
    )

    assert response.status_code == 302
    grace.refresh_from_db()
    assert (grace.name, grace.email, grace.phone, grace.notes) == (services.ERASED_NAME, "", "", "")
    interaction.refresh_from_db()
    assert (interaction.customer_name, interaction.notes, interaction.caller_number) == ("", "", "")
    assert interaction.anonymised_at is not None
    assert figures(interaction) == before
    chat.refresh_from_db()
    assert (chat.customer_name, chat.visitor_id, chat.notes) == ("", "", "")
    texts = list(Message.objects.filter(chat=chat).values_list("text", flat=True))
    assert texts and set(texts) == {services.REMOVED_TEXT}
    # The messages stay, with who sent them and when: response times still count.
    assert list(Message.objects.filter(chat=chat).values_list("seq", "sender", "sent_at")) == sent_at
    call.refresh_from_db()
    assert (call.caller_number, call.notes) == ("", "")
    assert Interaction.objects.filter(company=queue.company).count() == 3
    assert Message.objects.filter(chat=others, text="Keep me").exists()
    assert Interaction.objects.get(chat=others).notes == "Other notes"


def test_an_erasure_is_audited_and_leaves_no_trace_of_the_name_in_the_log(administrator, grace, queue, agent):
    finished_chat(queue, agent, customer="Grace", contact=grace, said="Hello", notes="")
    client = admin_client(administrator)
    client.post(CONTACTS, {"action": "export_contacts", "_selected_action": [grace.pk]})

    client.post(CONTACTS, {"action": "erase_contacts", "_selected_action": [grace.pk], "post": "yes"})

    erased = AuditEntry.objects.get(action=Action.CONTACT_ERASED)
    assert erased.company == grace.company and erased.actor == administrator.user
    assert erased.additional_data["interactions"] == 1
    assert erased.remote_addr == "127.0.0.1"
    assert not AuditEntry.objects.filter(object_repr__contains="Grace").exists()
    assert AuditEntry.objects.filter(
        action=Action.CONTACT_EXPORTED, object_repr=services.ERASED_NAME
    ).exists()


def test_a_contact_in_a_chat_still_open_is_not_erased(administrator, grace, queue, agent):
    chat = engine.chat_open(queue_token=queue.token, customer_name="Grace").chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_assign_contact(agent=agent, chat_id=chat.pk, contact_id=grace.pk)

    response = admin_client(administrator).post(
        CONTACTS, {"action": "erase_contacts", "_selected_action": [grace.pk], "post": "yes"}, follow=True
    )

    assert "in progress" in response.text
    grace.refresh_from_db()
    assert grace.name == "Grace Hopper"
    assert not AuditEntry.objects.filter(action=Action.CONTACT_ERASED).exists()


def test_another_companys_administrator_cannot_erase_or_export_a_contact(grace):
    other = factories.CompanyFactory()
    outsider = factories.MembershipFactory(
        company=other, role=Role.ADMINISTRATOR, user__username="outsider", user__is_staff=True
    )
    client = admin_client(outsider)

    client.post(CONTACTS, {"action": "erase_contacts", "_selected_action": [grace.pk], "post": "yes"})
    exported = client.post(CONTACTS, {"action": "export_contacts", "_selected_action": [grace.pk]})

    grace.refresh_from_db()
    assert grace.name == "Grace Hopper"
    assert "Grace" not in exported.content.decode()
    assert not AuditEntry.objects.filter(action__in=[Action.CONTACT_ERASED, Action.CONTACT_EXPORTED]).exists()


def test_a_contacts_data_is_exported_as_a_json_download_and_the_export_is_audited(
    administrator, grace, queue, agent
):
    finished_chat(queue, agent, customer="Grace", contact=grace, said="Where is my order?", notes="Chased")

    response = admin_client(administrator).post(
        CONTACTS, {"action": "export_contacts", "_selected_action": [grace.pk]}
    )

    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment;")
    [exported] = json.loads(response.content)["contacts"]
    assert exported["contact"]["email"] == "grace@example.com"
    [interaction] = exported["interactions"]
    assert interaction["notes"] == "Chased" and interaction["outcome"] == "completed"
    transcript = [(line["sender"], line["text"]) for line in interaction["transcript"]]
    assert ("customer", "Where is my order?") in transcript
    assert ("agent", "Thanks, Grace") in transcript
    exported_entry = AuditEntry.objects.get(action=Action.CONTACT_EXPORTED)
    assert exported_entry.actor == administrator.user and exported_entry.company == grace.company


def test_the_retention_job_anonymises_what_is_older_than_the_companys_period_only(company, queue, agent):
    keeps_forever = factories.CompanyFactory()
    forever_queue = factories.WebchatQueueFactory(company=keeps_forever, auto_allocate=False)
    forever_agent = factories.MembershipFactory(company=keeps_forever)
    company.transcript_retention_days = 30
    company.save()
    with time_machine.travel(timezone.now() - dt.timedelta(days=31)):
        old = finished_chat(queue, agent, customer="Old customer", said="Old words", notes="Old notes")
        old_call = finished_call(company, number="+44 1632 960000")
        kept_elsewhere = finished_chat(forever_queue, forever_agent, customer="Kept", said="Kept", notes="")
    with time_machine.travel(timezone.now() - dt.timedelta(days=29)):
        recent = finished_chat(queue, agent, customer="Recent customer", said="Recent words", notes="Recent")
    old_figures = figures(Interaction.objects.get(chat=old))

    services.transcripts_expire()

    old_interaction = Interaction.objects.get(chat=old)
    assert old_interaction.customer_name == "" and old_interaction.notes == ""
    assert figures(old_interaction) == old_figures
    assert set(Message.objects.filter(chat=old).values_list("text", flat=True)) == {services.REMOVED_TEXT}
    old_call.refresh_from_db()
    assert old_call.caller_number == "" and old_call.notes == ""
    old_call_interaction = Interaction.objects.get(channel="voice", opened_at=old_call.arrived_at)
    assert old_call_interaction.caller_number == "" and old_call_interaction.anonymised_at is not None
    assert Message.objects.filter(chat=recent, text="Recent words").exists()
    assert Interaction.objects.get(chat=recent).notes == "Recent"
    assert Message.objects.filter(chat=kept_elsewhere, text="Kept").exists()
    expired = AuditEntry.objects.get(action=Action.TRANSCRIPTS_EXPIRED)
    assert expired.company == company and expired.additional_data["interactions"] == 2


def test_the_retention_job_is_one_of_the_periodic_jobs():
    assert services.transcripts_expire in jobs.PERIODIC_JOBS


def test_the_retention_job_costs_the_same_few_queries_however_much_it_already_anonymised(
    company, queue, agent
):
    company.transcript_retention_days = 1
    company.save()
    with time_machine.travel(timezone.now() - dt.timedelta(days=2)):
        finished_chat(queue, agent, customer="One", said="One", notes="")
    services.transcripts_expire()
    with CaptureQueriesContext(connection) as few:
        services.transcripts_expire()

    with time_machine.travel(timezone.now() - dt.timedelta(days=2)):
        for n in range(5):
            finished_chat(queue, agent, customer=f"More {n}", said="More", notes="")
    services.transcripts_expire()
    with CaptureQueriesContext(connection) as after:
        assert services.transcripts_expire() == 0

    # The companies with a period, and what is due of this one (inside the test's transaction the company's
    # turn also takes a savepoint and its release).
    assert len(after) == len(few) == 4


@pytest.mark.django_db(transaction=True)
def test_an_interaction_another_transaction_holds_is_skipped_and_anonymised_on_the_next_run(company):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    agent = factories.MembershipFactory(company=company)
    company.transcript_retention_days = 1
    company.save()
    with time_machine.travel(timezone.now() - dt.timedelta(days=2)):
        held = finished_chat(queue, agent, customer="Held", said="Held", notes="")
        free = finished_chat(queue, agent, customer="Free", said="Free", notes="")
    holding, release, runs = threading.Event(), threading.Event(), []

    def hold_the_interaction():
        try:
            with transaction.atomic():
                Interaction.objects.select_for_update().get(chat=held)
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_interaction)
    holder.start()
    assert holding.wait(timeout=30)
    try:
        runs.append(services.transcripts_expire())
    finally:
        release.set()
        holder.join(timeout=30)
    runs.append(services.transcripts_expire())

    assert runs == [1, 1]
    assert Interaction.objects.get(chat=free).anonymised_at is not None
    assert Interaction.objects.get(chat=held).anonymised_at is not None


def test_the_retention_period_is_set_on_the_companys_admin_page(administrator, company):
    page = admin_client(administrator).get(reverse("admin:contactcentre_company_change", args=[company.pk]))

    assert 'name="transcript_retention_days"' in page.text


@pytest.mark.django_db(transaction=True)
def test_an_erasure_racing_the_end_of_the_contacts_chat_never_leaves_a_transcript_behind(company):
    """The erasure and the agent completing the contact's last wrap-up, at the same moment, a few times:
    either the erasure is refused (the chat was still open) and everything is kept, or it erased the
    interaction that the wrap-up just logged too."""
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    agent = factories.MembershipFactory(company=company)
    for attempt in range(4):
        contact = factories.ContactFactory(company=company, name=f"Racer {attempt}")
        chat = engine.chat_open(queue_token=queue.token, customer_name="Racer").chat
        engine.chat_take(agent=agent, chat_id=chat.pk)
        engine.chat_activate(agent=agent, chat_id=chat.pk)
        engine.message_post_customer(chat_id=chat.pk, client_id="c-1", text="My secret")
        engine.chat_assign_contact(agent=agent, chat_id=chat.pk, contact_id=contact.pk)
        engine.chat_end(agent=agent, chat_id=chat.pk)
        refusals = []

        def erase(contact=contact, refusals=refusals):
            try:
                services.contact_erase(company_id=company.pk, contact_id=contact.pk)
            except ValidationError:
                refusals.append("refused")

        def complete(chat=chat):
            engine.wrapup_complete(agent=agent, chat_id=chat.pk, notes="Secret notes")

        assert run_together([erase, complete]) == []

        interaction = Interaction.objects.get(chat=chat)
        texts = set(Message.objects.filter(chat=chat).values_list("text", flat=True))
        if refusals:
            assert Contact.objects.get(pk=contact.pk).name == f"Racer {attempt}"
            assert "My secret" in texts and interaction.notes == "Secret notes"
        else:
            assert Contact.objects.get(pk=contact.pk).name == services.ERASED_NAME
            assert texts == {services.REMOVED_TEXT} and interaction.notes == ""
