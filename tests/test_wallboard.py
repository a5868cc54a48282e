"""The supervisors' wallboard: each queue's waiting chats and longest wait, each agent's status."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contactcentre.models import Role
from routing import engine
from tests import factories
from tests.two_factor_support import log_in_verified


@pytest.fixture
def supervisor_client(client, company):
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR)
    return log_in_verified(client, supervisor.user)


def test_agents_may_not_see_the_wallboard(agent_client):
    assert agent_client.get("/wallboard/").status_code == 403
    assert agent_client.get("/wallboard/board/").status_code == 403


def test_the_wallboard_shows_waiting_chats_and_agents_statuses(
    supervisor_client, agent, manual_queue, waiting_chat
):
    mine = factories.ChatFactory(queue=manual_queue)
    engine.chat_take(agent=agent, chat_id=mine.pk)
    engine.chat_activate(agent=agent, chat_id=mine.pk)
    content = supervisor_client.get("/wallboard/").content.decode()
    assert '<span class="channel channel--chat">Chat</span> Support</th>' in content
    assert '<td class="number number--waiting" data-figure="waiting">1</td>' in content
    assert "data-since=" in content
    assert f'<th scope="row">{agent.name}</th>' in content
    assert "Handling a chat</span>" in content
    assert '<td class="number" data-figure="chats-held">1</td>' in content


def test_the_wallboard_refreshes_its_board_when_told(supervisor_client):
    content = supervisor_client.get("/wallboard/board/", headers={"HX-Request": "true"}).content.decode()
    assert content.lstrip().startswith('<div id="board"')
    assert 'hx-trigger="wallboard-changed from:body, agent-resync from:body, every 20s"' in content


def test_the_wallboard_shows_only_the_supervisors_company(supervisor_client, other_company_chat):
    content = supervisor_client.get("/wallboard/").content.decode()
    assert other_company_chat.queue.name not in content
    assert other_company_chat.agent.name not in content


def test_supervisors_find_the_wallboard_in_the_navigation(supervisor_client):
    assert 'href="/wallboard/"' in supervisor_client.get("/contacts/").content.decode()


def test_agents_do_not_find_the_wallboard_in_the_navigation(agent_client):
    assert 'href="/wallboard/"' not in agent_client.get("/contacts/").content.decode()


def test_the_wallboard_costs_the_same_queries_for_many_agents_as_for_few(
    supervisor_client, company, manual_queue
):
    def board_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert (
                supervisor_client.get("/wallboard/board/", headers={"HX-Request": "true"}).status_code == 200
            )
        return len(queries)

    def add_busy_agent():
        member = factories.MembershipFactory(company=company)
        chat = factories.ChatFactory(queue=manual_queue)
        engine.chat_take(agent=member, chat_id=chat.pk)
        engine.chat_activate(agent=member, chat_id=chat.pk)

    for _ in range(2):
        add_busy_agent()
    few = board_queries()
    for _ in range(10):
        add_busy_agent()

    assert board_queries() == few


def test_the_wallboard_counts_waiting_and_held_chats_not_closed_ones(supervisor_client, agent, manual_queue):
    held = factories.ChatFactory(queue=manual_queue)
    engine.chat_take(agent=agent, chat_id=held.pk)
    factories.ChatFactory.create_batch(2, queue=manual_queue)
    closed = {"state": "closed", "outcome": "completed", "agent": agent}
    factories.ChatFactory.create_batch(4, queue=manual_queue, **closed)
    content = supervisor_client.get("/wallboard/").content.decode()
    assert '<td class="number number--waiting" data-figure="waiting">2</td>' in content
    assert '<td class="number" data-figure="chats-held">1</td>' in content


def test_supervisors_turn_their_own_alert_emails_on_and_off(client, company):
    supervisor = factories.MembershipFactory(
        company=company, role=Role.SUPERVISOR, user=factories.UserFactory(email="sue@centre.example")
    )
    colleague = factories.MembershipFactory(company=company, role=Role.SUPERVISOR)
    log_in_verified(client, supervisor.user)
    content = client.get("/wallboard/").content.decode()
    assert '<input type="checkbox" name="kpi_alert_emails">' in content
    assert "(sue@centre.example)" in content

    response = client.post("/wallboard/alerts/", {"kpi_alert_emails": "on"})
    assert (response.status_code, response["Location"]) == (302, "/wallboard/")
    supervisor.refresh_from_db()
    colleague.refresh_from_db()
    assert supervisor.kpi_alert_emails and not colleague.kpi_alert_emails
    assert (
        '<input type="checkbox" name="kpi_alert_emails" checked>'
        in client.get("/wallboard/").content.decode()
    )

    client.post("/wallboard/alerts/", {})
    supervisor.refresh_from_db()
    assert not supervisor.kpi_alert_emails


def test_agents_may_not_set_alert_emails(agent_client, agent):
    assert agent_client.post("/wallboard/alerts/", {"kpi_alert_emails": "on"}).status_code == 403
    agent.refresh_from_db()
    assert not agent.kpi_alert_emails


def test_administrators_set_anyones_alert_emails_in_the_admin(client, company):
    admin = factories.MembershipFactory(company=company, role=Role.ADMINISTRATOR, user__is_staff=True)
    log_in_verified(client, admin.user)
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR)
    page = client.get(f"/admin/contactcentre/membership/{supervisor.pk}/change/")
    assert page.status_code == 200
    assert '<input type="checkbox" name="kpi_alert_emails"' in page.content.decode()
