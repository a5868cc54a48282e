"""GET /reports/staffing.json (PROTOCOL.md section 7): Erlang C for the company's supervisors and
administrators, with a queue's own recent figures as defaults."""

import pytest

from contactcentre.models import Role
from reports import erlang
from tests import factories
from tests.reports.reports_support import known_traffic
from tests.two_factor_support import log_in_verified

URL = "/reports/staffing.json"
CLASSIC = {
    "interval_minutes": 30,
    "volume": 100,
    "aht_seconds": 180,
    "target_seconds": 20,
    "service_level_pct": 80,
}


@pytest.fixture
def supervisor_client(client, company):
    return log_in_verified(client, factories.MembershipFactory(company=company, role=Role.SUPERVISOR).user)


def test_a_supervisor_gets_the_fewest_agents_and_their_figures(supervisor_client):
    response = supervisor_client.get(URL, CLASSIC)

    assert response.status_code == 200
    assert response.json() == {
        "agents": 14,
        "traffic_erlangs": 10.0,
        "probability_of_waiting": 0.1741,
        "service_level_pct": 88.84,
        "asa_seconds": 7.84,
        "occupancy_pct": 71.43,
    }


def test_an_administrator_may_ask_too(client, company):
    administrator = factories.MembershipFactory(company=company, role=Role.ADMINISTRATOR)
    log_in_verified(client, administrator.user)

    assert client.get(URL, CLASSIC).json()["agents"] == 14


def test_an_agent_is_refused(agent_client):
    response = agent_client.get(URL, CLASSIC)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_a_visitor_who_has_not_signed_in_is_refused_without_a_redirect(client, company):
    response = client.get(URL, CLASSIC)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_chats_held_at_once_need_fewer_agents(supervisor_client):
    single = supervisor_client.get(URL, CLASSIC).json()
    triple = supervisor_client.get(URL, {**CLASSIC, "concurrency": 3}).json()

    assert triple["agents"] == 5
    assert triple["traffic_erlangs"] == single["traffic_erlangs"]
    assert triple["occupancy_pct"] == 66.67


def test_no_volume_needs_no_agents(supervisor_client):
    assert supervisor_client.get(URL, {**CLASSIC, "volume": 0}).json() == {
        "agents": 0,
        "traffic_erlangs": 0.0,
        "probability_of_waiting": 0.0,
        "service_level_pct": 100.0,
        "asa_seconds": 0.0,
        "occupancy_pct": 0.0,
    }


@pytest.mark.parametrize(
    "change",
    [
        {"interval_minutes": None},
        {"interval_minutes": "0"},
        {"interval_minutes": "half an hour"},
        {"interval_minutes": "2.5"},
        {"volume": "-1"},
        {"volume": "many"},
        {"volume": "nan"},
        {"volume": "inf"},
        {"volume": None},
        {"aht_seconds": None},
        {"aht_seconds": "0"},
        {"target_seconds": "-5"},
        {"target_seconds": None},
        {"service_level_pct": "100"},
        {"service_level_pct": "0"},
        {"service_level_pct": "101"},
        {"concurrency": "0"},
        {"concurrency": "two"},
        {"queue": "sales"},
        {"queue": "fax-1"},
        {"queue": "chat-"},
        {"volume": "1000000", "aht_seconds": "86400"},
    ],
)
def test_bad_input_is_refused_with_a_reason(supervisor_client, change):
    query = {**CLASSIC, **change}
    query = {name: value for name, value in query.items() if value is not None}

    response = supervisor_client.get(URL, query)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"]


def test_a_queue_of_another_company_is_not_found(supervisor_client, other_company_chat):
    stranger_voice = factories.VoiceQueueFactory(company=other_company_chat.company)

    for key in (
        f"chat-{other_company_chat.queue_id}",
        str(other_company_chat.queue_id),
        f"voice-{stranger_voice.pk}",
    ):
        response = supervisor_client.get(URL, {**CLASSIC, "queue": key})
        assert response.status_code == 404, key
        assert response.json()["error"]["code"] == "not_found"


def test_volume_and_handle_time_default_to_the_queues_busiest_hour_and_handle_time(
    clock, supervisor_client, company, manual_queue
):
    known_traffic(manual_queue, factories.WebchatQueueFactory(company=company))
    question = {key: value for key, value in CLASSIC.items() if key not in ("volume", "aht_seconds")}

    answer = supervisor_client.get(URL, {**question, "queue": f"chat-{manual_queue.pk}"}).json()

    # 5.5 contacts an hour at the busiest, so 2.75 in 30 minutes, of 260 s each.
    expected = erlang.agents_needed(erlang.traffic_erlangs(2.75, 1800, 260), 260, 20, 80)
    assert answer["traffic_erlangs"] == round(2.75 * 260 / 1800, 4) == 0.3972
    assert answer["agents"] == expected.agents == 2
    assert answer["service_level_pct"] == round(expected.service_level_pct, 2)
    assert supervisor_client.get(URL, {**question, "queue": str(manual_queue.pk)}).json() == answer


def test_a_volume_given_overrides_the_queues_own(clock, supervisor_client, company, manual_queue):
    known_traffic(manual_queue, factories.WebchatQueueFactory(company=company))
    question = {**CLASSIC, "queue": f"chat-{manual_queue.pk}", "interval_minutes": 60, "volume": 100}
    del question["aht_seconds"]

    answer = supervisor_client.get(URL, question).json()

    assert answer["traffic_erlangs"] == round(100 * 260 / 3600, 4)


def test_a_voice_queue_defaults_to_its_own_calls(clock, supervisor_client, company):
    switchboard = factories.VoiceQueueFactory(company=company, name="Switchboard")
    known_traffic(switchboard, factories.VoiceQueueFactory(company=company))

    answer = supervisor_client.get(
        URL,
        {
            "queue": f"voice-{switchboard.pk}",
            "interval_minutes": 15,
            "target_seconds": 20,
            "service_level_pct": 80,
        },
    ).json()

    assert answer["traffic_erlangs"] == round(5.5 / 4 * 260 / 900, 4)


def test_a_queue_without_recent_contacts_asks_for_the_figures(clock, supervisor_client, manual_queue):
    response = supervisor_client.get(
        URL,
        {
            "queue": f"chat-{manual_queue.pk}",
            "interval_minutes": 30,
            "target_seconds": 20,
            "service_level_pct": 80,
        },
    )

    assert response.status_code == 400
    assert "Support had no answered contacts" in response.json()["error"]["message"]
