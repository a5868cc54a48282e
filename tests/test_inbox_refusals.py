"""A refused action is shown to the agent with the engine's reason and status, never as a 500."""

from routing import engine
from tests import factories
from webchat.models import ChatState


def test_a_refusal_is_shown_above_the_workspace_with_its_status(htmx_client, held_chat):
    response = htmx_client.post(f"/inbox/{held_chat.pk}/end/")
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#notice"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert response.content.decode() == (
        '<p class="notice notice--error" role="alert">Make the chat active before ending it.</p>'
    )
    held_chat.refresh_from_db()
    assert held_chat.state == ChatState.INBOX


def test_taking_a_chat_someone_else_took_says_so(htmx_client, company, waiting_chat):
    engine.chat_take(agent=factories.MembershipFactory(company=company), chat_id=waiting_chat.pk)
    response = htmx_client.post(f"/inbox/{waiting_chat.pk}/take/")
    assert response.status_code == 409
    assert "This chat is no longer waiting in a queue." in response.content.decode()


def test_taking_beyond_the_queues_capacity_is_refused(htmx_client, agent, manual_queue):
    manual_queue.max_chats_per_agent = 1
    manual_queue.save()
    first, second = factories.ChatFactory.create_batch(2, queue=manual_queue)
    engine.chat_take(agent=agent, chat_id=first.pk)
    response = htmx_client.post(f"/inbox/{second.pk}/take/")
    assert response.status_code == 409
    assert "the most this queue allows" in response.content.decode()


def test_extending_past_the_last_extension_is_refused(htmx_client, wrapup_chat):
    wrapup_chat.queue.wrapup_extensions = 0
    wrapup_chat.queue.save()
    response = htmx_client.post(f"/inbox/{wrapup_chat.pk}/extend/")
    assert response.status_code == 409
    assert "No wrap-up extensions are left." in response.content.decode()


def test_a_reply_to_a_chat_that_is_not_active_is_refused(htmx_client, held_chat):
    response = htmx_client.post(f"/inbox/{held_chat.pk}/messages/", {"client_id": "a", "text": "Hi"})
    assert response.status_code == 409
    assert "Make the chat active to reply." in response.content.decode()


def test_a_malformed_choice_is_refused_as_a_bad_request(htmx_client, active_chat):
    response = htmx_client.post(f"/inbox/{active_chat.pk}/transfer/", {"queue": "sales"})
    assert response.status_code == 400
    response = htmx_client.post(f"/inbox/{active_chat.pk}/details/", {"classification": "x"})
    assert response.status_code == 400
    response = htmx_client.post("/inbox/presence/", {"presence": "asleep"})
    assert response.status_code == 400


def test_a_break_reason_of_another_company_is_refused(htmx_client, agent):
    foreign = factories.BreakReasonFactory()
    response = htmx_client.post("/inbox/presence/", {"presence": f"break:{foreign.pk}"})
    assert response.status_code == 400
    agent.refresh_from_db()
    assert agent.break_reason is None


def test_without_htmx_a_refusal_shows_the_whole_page_with_the_reason(agent_client, held_chat):
    response = agent_client.post(f"/inbox/{held_chat.pk}/end/")
    assert response.status_code == 409
    assert "<html" in response.content.decode()
    assert "Make the chat active before ending it." in response.content.decode()


def test_without_htmx_an_action_returns_to_the_chat(agent_client, held_chat):
    response = agent_client.post(f"/inbox/{held_chat.pk}/activate/")
    assert response.status_code == 302
    assert response.url == f"/inbox/{held_chat.pk}/"


def test_actions_need_a_post(htmx_client, held_chat):
    assert htmx_client.get(f"/inbox/{held_chat.pk}/activate/").status_code == 405
    held_chat.refresh_from_db()
    assert held_chat.state == ChatState.INBOX


def test_posts_need_the_csrf_token(client, agent, held_chat):
    client.handler.enforce_csrf_checks = True
    client.force_login(agent.user)
    assert client.post(f"/inbox/{held_chat.pk}/activate/").status_code == 403
    held_chat.refresh_from_db()
    assert held_chat.state == ChatState.INBOX


def test_a_chat_that_left_the_agent_gives_htmx_the_empty_workspace(htmx_client, agent, held_chat):
    engine.chat_put_back(agent=agent, chat_id=held_chat.pk)
    for path in ("", "transcript/", "contact/find/"):
        response = htmx_client.get(f"/inbox/{held_chat.pk}/{path}")
        assert response.status_code == 404
        assert response.headers["HX-Retarget"] == "#chat"
        assert "This chat is no longer in your inbox." in response.content.decode()
        assert "Grace" not in response.content.decode()
