"""The staffing calculator's page, /reports/staffing/: a planner's question and the trade-off around the
answer."""

import re

import pytest

from contactcentre.models import Role
from tests import factories
from tests.reports.reports_support import known_traffic
from tests.two_factor_support import log_in_verified

URL = "/reports/staffing/"
CLASSIC = "?interval_minutes=30&volume=100&aht_seconds=180&target_seconds=20&service_level_pct=80"


@pytest.fixture
def supervisor_client(client, company):
    return log_in_verified(client, factories.MembershipFactory(company=company, role=Role.SUPERVISOR).user)


def cells(content: str) -> list[list[str]]:
    """The text of each row of the page's table body."""
    body = content[content.index("<tbody>") : content.index("</tbody>")]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_the_empty_form_labels_every_input_and_lists_the_companys_queues(
    supervisor_client, company, manual_queue, other_company_chat
):
    switchboard = factories.VoiceQueueFactory(company=company, name="Switchboard")

    response = supervisor_client.get(URL)

    content = response.content.decode()
    assert response.status_code == 200
    for input_id, label in [
        ("staffing-queue", "Queue"),
        ("staffing-interval", "Interval (minutes)"),
        ("staffing-volume", "Contacts per interval"),
        ("staffing-aht", "Average handle time (seconds)"),
        ("staffing-target", "Answer within (seconds)"),
        ("staffing-level", "Service level target (%)"),
        ("staffing-concurrency", "Chats an agent holds at once"),
    ]:
        assert f'<label for="{input_id}">{label}</label>' in content
        assert f'id="{input_id}"' in content
    assert f'<option value="chat-{manual_queue.pk}" >Support (webchat)</option>' in content
    assert f'<option value="voice-{switchboard.pk}" >Switchboard (voice)</option>' in content
    assert other_company_chat.queue.name not in content
    assert 'name="interval_minutes" type="number" inputmode="decimal" step="1" min="1" value="30"' in content
    assert "agents needed" not in content


def test_the_answer_shows_the_agents_needed_one_fewer_and_five_more_with_their_figures(supervisor_client):
    content = supervisor_client.get(URL + CLASSIC).content.decode()

    assert '<h2 id="staffing-result">14 agents needed</h2>' in content
    assert "10.00 erlangs of traffic" in content
    rows = cells(content)
    assert [row[0] for row in rows] == ["13", "14 fewest", "15", "16", "17", "18", "19"]
    assert rows[0][1:3] == ["79.6 %", "No"]
    assert rows[1] == ["14 fewest", "88.8 %", "Yes", "17.4 %", "7.8 s", "71.4 %"]
    assert all(row[2] == "Yes" for row in rows[1:])


def test_a_queue_chosen_fills_the_form_with_its_own_figures(clock, supervisor_client, company, manual_queue):
    known_traffic(manual_queue, factories.WebchatQueueFactory(company=company))

    content = supervisor_client.get(
        URL,
        {
            "queue": f"chat-{manual_queue.pk}",
            "interval_minutes": 30,
            "target_seconds": 20,
            "service_level_pct": 80,
        },
    ).content.decode()

    assert f'<option value="chat-{manual_queue.pk}" selected>Support (webchat)</option>' in content
    assert 'name="volume" type="number" inputmode="decimal" step="any" min="0" value="2.75"' in content
    assert 'name="aht_seconds" type="number" inputmode="decimal" step="any" min="0" value="260"' in content
    assert "Support's busiest hour, 10:00, averaged over 2 days with contacts" in content
    assert "2 agents needed" in content


def test_a_refused_input_is_named_beside_its_field(supervisor_client):
    response = supervisor_client.get(URL + CLASSIC.replace("service_level_pct=80", "service_level_pct=100"))

    content = response.content.decode()
    assert response.status_code == 400
    assert 'aria-invalid="true"' in content
    assert (
        '<span id="staffing-level-error" class="field-error">Give a percentage above 0 and below 100.</span>'
        in content
    )
    assert "agents needed" not in content


def test_agents_may_not_use_the_calculator(agent_client):
    assert agent_client.get(URL).status_code == 403


def test_a_visitor_who_has_not_signed_in_goes_to_the_login(client, company):
    response = client.get(URL + CLASSIC)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_supervisors_find_the_calculator_in_the_navigation(supervisor_client):
    assert f'href="{URL}"' in supervisor_client.get("/wallboard/").content.decode()


def test_agents_do_not_find_the_calculator_in_the_navigation(agent_client):
    assert f'href="{URL}"' not in agent_client.get("/contacts/").content.decode()
