import pytest

from crm.models import Interaction
from routing import engine
from tests import factories
from tests.engine.conftest import drive_to, reload


def test_extend_adds_the_extension_time_up_to_the_allowed_count(db, clock, manual_queue, agent):
    manual_queue.wrapup_seconds = 60
    manual_queue.wrapup_extension_seconds = 30
    manual_queue.wrapup_extensions = 2
    manual_queue.save()
    chat = drive_to("wrapup", manual_queue, agent)
    deadline = chat.wrapup_deadline

    engine.wrapup_extend(agent=agent, chat_id=chat.pk)
    engine.wrapup_extend(agent=agent, chat_id=chat.pk)
    with pytest.raises(engine.TransitionError) as refusal:
        engine.wrapup_extend(agent=agent, chat_id=chat.pk)

    assert refusal.value.code == "no_extensions_left"
    assert (reload(chat).wrapup_deadline - deadline).total_seconds() == 60


def test_a_queue_with_no_extensions_refuses_extend(db, clock, manual_queue, agent):
    manual_queue.wrapup_extensions = 0
    manual_queue.save()
    chat = drive_to("wrapup", manual_queue, agent)

    with pytest.raises(engine.TransitionError):
        engine.wrapup_extend(agent=agent, chat_id=chat.pk)


def test_the_countdown_completes_wrapup_when_it_runs_out_and_not_before(db, clock, manual_queue, agent):
    chat = drive_to("wrapup", manual_queue, agent)

    clock.shift(59)
    assert engine.expire_wrapups() == 0
    clock.shift(1)
    assert engine.expire_wrapups() == 1

    chat = reload(chat)
    assert (chat.state, chat.outcome) == ("closed", "completed")


def test_completing_wrapup_records_notes_and_classification_in_the_crm(
    db, clock, company, manual_queue, agent
):
    sale = factories.ClassificationFactory(company=company, code="SALE")
    chat = drive_to("active", manual_queue, agent)
    clock.shift(90)
    engine.chat_end(agent=agent, chat_id=chat.pk)
    clock.shift(20)

    engine.wrapup_complete(agent=agent, chat_id=chat.pk, notes="Sold two", classification_id=sale.pk)

    interaction = Interaction.objects.get(chat=chat)
    assert (interaction.notes, interaction.classification, interaction.outcome) == (
        "Sold two",
        sale,
        "completed",
    )
    assert interaction.handle_seconds == pytest.approx(90)
    assert interaction.wrapup_seconds == pytest.approx(20)
    assert interaction.agent == agent


def test_a_classification_chosen_during_the_chat_is_kept_to_the_end(db, clock, company, manual_queue, agent):
    query = factories.ClassificationFactory(company=company, code="QUERY")
    chat = drive_to("active", manual_queue, agent)

    engine.chat_record_details(agent=agent, chat_id=chat.pk, classification_id=query.pk)
    engine.chat_end(agent=agent, chat_id=chat.pk)
    engine.wrapup_complete(agent=agent, chat_id=chat.pk, notes="done")

    assert Interaction.objects.get(chat=chat).classification == query


def test_a_free_text_classification_is_recorded(db, clock, manual_queue, agent):
    chat = drive_to("wrapup", manual_queue, agent)

    engine.wrapup_complete(agent=agent, chat_id=chat.pk, classification_text="Warranty question")

    assert Interaction.objects.get(chat=chat).classification_display == "Warranty question"


def test_a_classification_of_another_company_or_queue_is_refused(db, clock, company, manual_queue, agent):
    foreign = factories.ClassificationFactory()
    elsewhere = factories.ClassificationFactory(company=company)
    elsewhere.queues.add(factories.WebchatQueueFactory(company=company))
    chat = drive_to("active", manual_queue, agent)

    for classification in (foreign, elsewhere):
        with pytest.raises(engine.TransitionError):
            engine.chat_record_details(agent=agent, chat_id=chat.pk, classification_id=classification.pk)

    assert reload(chat).classification is None


def test_closing_logs_the_interaction_with_its_contact_and_transcript(
    db, clock, company, manual_queue, agent
):
    contact = factories.ContactFactory(company=company, name="Grace Hopper")
    chat = engine.chat_open(queue_token=manual_queue.token, first_message="My order is late").chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    engine.message_post_agent(agent=agent, chat_id=chat.pk, client_id="r1", text="Looking now")
    engine.chat_assign_contact(agent=agent, chat_id=chat.pk, contact_id=contact.pk)
    engine.chat_flag_abusive(agent=agent, chat_id=chat.pk)
    engine.chat_end(agent=agent, chat_id=chat.pk)
    engine.wrapup_complete(agent=agent, chat_id=chat.pk)

    interaction = contact.interactions.get()
    assert interaction.abusive
    assert interaction.answered_at is not None
    assert [m.text for m in interaction.chat.messages.all()][:2] == ["My order is late", "Looking now"]
