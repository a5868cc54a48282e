"""Every action of the active item dialogue: the partial comes back and the engine did the transition."""

import json
from datetime import timedelta

from django.utils import timezone

from contactcentre.models import Presence
from tests import factories
from tests.webchat_support import customer_says
from webchat.models import ChatState, Message, Sender


def state_of(chat) -> str:
    chat.refresh_from_db()
    return chat.state


def test_taking_a_waiting_chat_opens_it_in_the_workspace(htmx_client, agent, waiting_chat):
    response = htmx_client.post(f"/inbox/{waiting_chat.pk}/take/")
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"] == f"/inbox/{waiting_chat.pk}/"
    assert 'id="chat-title">Grace' in response.content.decode()
    assert ">Activate</button>" in response.content.decode()
    assert state_of(waiting_chat) == ChatState.INBOX
    assert waiting_chat.agent == agent


def test_taking_the_next_chat_of_a_queue_whose_list_is_hidden_takes_the_oldest(
    htmx_client, agent, manual_queue
):
    manual_queue.agents_view_queue_status = False
    manual_queue.save()
    now = timezone.now()
    newer = factories.ChatFactory(queue=manual_queue, queued_at=now)
    older = factories.ChatFactory(queue=manual_queue, queued_at=now - timedelta(minutes=1))
    response = htmx_client.post(f"/inbox/queues/{manual_queue.pk}/take/")
    assert response.status_code == 200
    assert state_of(older) == ChatState.INBOX
    assert state_of(newer) == ChatState.QUEUED


def test_activating_makes_the_chat_active_and_offers_the_message_box(htmx_client, held_chat):
    response = htmx_client.post(f"/inbox/{held_chat.pk}/activate/")
    content = response.content.decode()
    assert response.status_code == 200
    assert f'id="composer-{held_chat.pk}"' in content
    assert ">End chat</button>" in content
    assert state_of(held_chat) == ChatState.ACTIVE


def test_parking_keeps_the_chat_in_the_inbox_greyed_with_its_reason(htmx_client, active_chat):
    response = htmx_client.post(f"/inbox/{active_chat.pk}/park/")
    assert response.status_code == 200
    assert '<span class="state state--parked">Parked</span>' in response.content.decode()
    assert state_of(active_chat) == ChatState.PARKED
    row = htmx_client.get("/inbox/list/").content.decode()
    assert "item--parked" in row
    assert '<span class="item__state">Parked' in row


def test_putting_back_returns_the_chat_to_its_queue_and_empties_the_workspace(htmx_client, active_chat):
    response = htmx_client.post(f"/inbox/{active_chat.pk}/put-back/")
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"] == "/inbox/"
    assert "Choose a chat from your inbox" in response.content.decode()
    assert state_of(active_chat) == ChatState.QUEUED
    assert active_chat.agent is None


def test_transferring_moves_the_chat_to_another_queue_the_agent_serves(htmx_client, company, active_chat):
    sales = factories.WebchatQueueFactory(company=company, name="Sales desk", auto_allocate=False)
    response = htmx_client.post(f"/inbox/{active_chat.pk}/transfer/", {"queue": sales.pk})
    assert response.status_code == 200
    assert state_of(active_chat) == ChatState.QUEUED
    assert active_chat.queue == sales


def test_the_transfer_list_offers_the_agents_other_queues(htmx_client, company, held_chat):
    factories.WebchatQueueFactory(company=company, name="Billing")
    content = htmx_client.get(f"/inbox/{held_chat.pk}/").content.decode()
    assert ">Billing</option>" in content
    assert ">Transfer</button>" in content


def test_ending_starts_wrap_up_with_its_countdown_and_extensions(htmx_client, active_chat):
    response = htmx_client.post(f"/inbox/{active_chat.pk}/end/")
    content = response.content.decode()
    assert response.status_code == 200
    assert state_of(active_chat) == ChatState.WRAPUP
    assert "data-until=" in content
    assert ">Extend</button>" in content
    assert "3 left" in content
    assert ">Complete wrap-up</button>" in content
    assert f'id="composer-{active_chat.pk}"' not in content


def test_extending_wrap_up_moves_the_deadline_and_counts_down_the_extensions(htmx_client, wrapup_chat):
    deadline = wrapup_chat.wrapup_deadline
    response = htmx_client.post(f"/inbox/{wrapup_chat.pk}/extend/")
    assert response.status_code == 200
    assert "2 left" in response.content.decode()
    wrapup_chat.refresh_from_db()
    assert wrapup_chat.wrapup_deadline == deadline + timedelta(seconds=60)


def test_extend_is_disabled_when_no_extensions_are_left(htmx_client, wrapup_chat):
    wrapup_chat.queue.wrapup_extensions = 0
    wrapup_chat.queue.save()
    content = htmx_client.get(f"/inbox/{wrapup_chat.pk}/").content.decode()
    assert "disabled>Extend</button>" in content
    assert "0 left" in content


def test_parking_a_wrap_up_pauses_its_countdown(htmx_client, wrapup_chat):
    response = htmx_client.post(f"/inbox/{wrapup_chat.pk}/park/")
    assert "Wrap-up paused" in response.content.decode()
    assert state_of(wrapup_chat) == ChatState.WRAPUP_PARKED
    assert wrapup_chat.wrapup_remaining_seconds is not None


def test_completing_wrap_up_closes_the_chat_with_notes_and_classification(htmx_client, company, wrapup_chat):
    classification = factories.ClassificationFactory(company=company, label="Late delivery")
    response = htmx_client.post(
        f"/inbox/{wrapup_chat.pk}/complete/",
        {"notes": "Refund promised", "classification": classification.pk, "classification_text": ""},
    )
    assert response.status_code == 200
    assert "This chat is closed: " in response.content.decode()
    assert state_of(wrapup_chat) == ChatState.CLOSED
    assert wrapup_chat.interaction.notes == "Refund promised"
    assert wrapup_chat.interaction.classification == classification


def test_a_classification_chosen_during_the_chat_is_recorded(htmx_client, company, active_chat):
    classification = factories.ClassificationFactory(company=company)
    response = htmx_client.post(f"/inbox/{active_chat.pk}/details/", {"classification": classification.pk})
    assert response.status_code == 204
    active_chat.refresh_from_db()
    assert active_chat.classification == classification


def test_a_classification_in_free_text_replaces_a_chosen_one(htmx_client, company, active_chat):
    active_chat.classification = factories.ClassificationFactory(company=company)
    active_chat.save()
    htmx_client.post(f"/inbox/{active_chat.pk}/details/", {"classification_text": "Wants a callback"})
    active_chat.refresh_from_db()
    assert active_chat.classification is None
    assert active_chat.classification_text == "Wants a callback"


def test_wrap_up_notes_are_saved_as_the_agent_types(htmx_client, wrapup_chat):
    response = htmx_client.post(f"/inbox/{wrapup_chat.pk}/details/", {"notes": "Called back"})
    assert response.status_code == 204
    wrapup_chat.refresh_from_db()
    assert wrapup_chat.notes == "Called back"


def test_the_classifications_offered_are_those_of_the_chats_queue(htmx_client, company, active_chat):
    other_queue = factories.WebchatQueueFactory(company=company)
    everywhere = factories.ClassificationFactory(company=company, label="Everywhere")
    here = factories.ClassificationFactory(company=company, label="Here only")
    here.queues.add(active_chat.queue)
    elsewhere = factories.ClassificationFactory(company=company, label="Elsewhere only")
    elsewhere.queues.add(other_queue)
    content = htmx_client.get(f"/inbox/{active_chat.pk}/").content.decode()
    assert f'value="{everywhere.pk}"' in content
    assert f'value="{here.pk}"' in content
    assert f'value="{elsewhere.pk}"' not in content


def test_flagging_as_abusive_marks_the_chat_for_its_history(htmx_client, active_chat):
    response = htmx_client.post(f"/inbox/{active_chat.pk}/abusive/", {"abusive": "1"})
    assert "Flagged as abusive" in response.content.decode()
    assert "Remove abusive flag" in response.content.decode()
    active_chat.refresh_from_db()
    assert active_chat.abusive


def test_a_reply_posted_without_the_socket_is_stored_once(htmx_client, agent, active_chat):
    reply = {"client_id": "c0ffee", "text": "Let me check that for you."}
    first = htmx_client.post(f"/inbox/{active_chat.pk}/messages/", reply)
    again = htmx_client.post(f"/inbox/{active_chat.pk}/messages/", reply)
    assert first.status_code == again.status_code == 201
    assert "Let me check that for you." in first.content.decode()
    assert Message.objects.filter(chat=active_chat, sender=Sender.AGENT).count() == 1


def test_an_empty_reply_is_refused(htmx_client, active_chat):
    response = htmx_client.post(f"/inbox/{active_chat.pk}/messages/", {"client_id": "x", "text": "  "})
    assert response.status_code == 400
    assert not Message.objects.filter(chat=active_chat, sender=Sender.AGENT).exists()


def test_a_template_comes_back_filled_in_for_the_message_box(htmx_client, company, agent, active_chat):
    template = factories.ResponseTemplateFactory(
        company=company, text="Hi {customer_name}, {agent_name} of {company_name} ({queue_name}) here."
    )
    response = htmx_client.get(f"/inbox/{active_chat.pk}/template/", {"template": template.pk})
    assert response.status_code == 204
    assert json.loads(response.headers["HX-Trigger"]) == {
        "template-filled": {
            "chat_id": str(active_chat.pk),
            "text": f"Hi Grace, {agent.name} of {company.name} (Support) here.",
        }
    }


def test_a_template_of_another_queue_is_not_offered(htmx_client, company, active_chat):
    template = factories.ResponseTemplateFactory(company=company)
    template.queues.add(factories.WebchatQueueFactory(company=company))
    page = htmx_client.get(f"/inbox/{active_chat.pk}/").content.decode()
    assert template.title not in page
    response = htmx_client.get(f"/inbox/{active_chat.pk}/template/", {"template": template.pk})
    assert response.status_code == 404


def test_setting_a_break_with_its_reason_shows_in_the_status(htmx_client, company, agent):
    lunch = factories.BreakReasonFactory(company=company, name="Lunch")
    response = htmx_client.post("/inbox/presence/", {"presence": f"break:{lunch.pk}"})
    assert response.status_code == 200
    assert '<strong class="status__label">Break: Lunch</strong>' in response.content.decode()
    agent.refresh_from_db()
    assert agent.presence == Presence.BREAK
    assert agent.break_reason == lunch


def test_setting_available_again_ends_the_break(htmx_client, agent):
    htmx_client.post("/inbox/presence/", {"presence": "break"})
    response = htmx_client.post("/inbox/presence/", {"presence": "available"})
    assert '<strong class="status__label">Available</strong>' in response.content.decode()
    agent.refresh_from_db()
    assert agent.presence == Presence.AVAILABLE


def test_the_status_shows_handling_a_chat_with_its_time(htmx_client, active_chat):
    content = htmx_client.get("/inbox/status/").content.decode()
    assert '<strong class="status__label">Handling a chat</strong>' in content
    assert "data-since=" in content


def test_the_status_shows_the_wrap_up_countdown(htmx_client, wrapup_chat):
    content = htmx_client.get("/inbox/status/").content.decode()
    assert '<strong class="status__label">Wrap-up</strong>' in content
    assert "data-until=" in content


def test_the_transcript_shows_the_conversation_in_order(htmx_client, active_chat):
    customer_says(active_chat, "Hi, my order is late")
    htmx_client.post(f"/inbox/{active_chat.pk}/messages/", {"client_id": "r1", "text": "Let me look"})
    customer_says(active_chat, "Order 1234")
    content = htmx_client.get(f"/inbox/{active_chat.pk}/transcript/").content.decode()
    assert content.index("Hi, my order is late") < content.index("Let me look") < content.index("Order 1234")
    assert '<span class="msg__who">You</span>' in content
