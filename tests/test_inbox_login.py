from contactcentre.models import Presence
from tests import factories
from webchat.models import ChatState


def test_the_root_goes_to_the_inbox(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == "/inbox/"


def test_the_inbox_asks_an_anonymous_visitor_to_sign_in(client, db):
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=/inbox/")


def test_a_partial_fetched_after_the_session_ended_takes_the_page_to_the_login(client, db):
    response = client.get("/inbox/list/", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"] == "/accounts/login/"


def test_a_login_outside_any_contact_centre_is_refused(client, db):
    user = factories.UserFactory()
    client.force_login(user)
    assert client.get("/inbox/").status_code == 403


def test_signing_in_makes_the_agent_available(client, agent):
    agent.presence = Presence.UNAVAILABLE
    agent.save()
    response = client.post(
        "/accounts/login/", {"username": agent.user.username, "password": factories.PASSWORD}
    )
    assert response.status_code == 302
    assert response.url == "/inbox/"
    agent.refresh_from_db()
    assert agent.presence == Presence.AVAILABLE


def test_the_login_page_shows_a_wrong_password(client, agent):
    response = client.post("/accounts/login/", {"username": agent.user.username, "password": "wrong"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_logging_out_returns_the_agents_chats_to_their_queue(agent_client, agent, active_chat):
    response = agent_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response.url == "/accounts/login/"
    active_chat.refresh_from_db()
    agent.refresh_from_db()
    assert active_chat.state == ChatState.QUEUED
    assert agent.presence == Presence.UNAVAILABLE
    assert agent_client.get("/inbox/").status_code == 302


def test_logging_out_needs_a_post(agent_client, agent):
    assert agent_client.get("/accounts/logout/").status_code == 405
    agent.refresh_from_db()
    assert agent.presence == Presence.AVAILABLE


def test_the_log_out_button_is_on_the_inbox(agent_client):
    content = agent_client.get("/inbox/").content.decode()
    assert '<button type="submit" class="button button--quiet">Log out</button>' in content
