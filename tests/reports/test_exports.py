"""The CSV exports (PROTOCOL.md section 7): interactions.csv, queues.csv and agents.csv, checked column by
column against a day of known traffic run through the engine, in a company whose days are Paris days."""

import csv
import datetime as dt
import io

import pytest

from contactcentre.models import Presence, Role
from crm.models import Interaction
from reports import queries
from reports.filters import ReportFilters
from routing import engine
from tests import factories
from tests.reports.conftest import at, move_to, open_chat
from tests.two_factor_support import log_in_verified

DAY = {"from": "2026-03-02", "to": "2026-03-02"}

INTERACTIONS_HEADER = [
    "interaction_id",
    "channel",
    "queue",
    "agent",
    "contact",
    "arrived_at",
    "answered_at",
    "ended_at",
    "closed_at",
    "wait_seconds",
    "handle_seconds",
    "wrapup_seconds",
    "outcome",
    "classification",
    "transfers",
    "csat_score",
]
QUEUES_HEADER = [
    "queue",
    "channel",
    "interval_start",
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_within_target",
    "service_level_pct",
    "asa_seconds",
    "average_handle_seconds",
    "average_wrapup_seconds",
    "max_wait_seconds",
    "csat_average",
    "csat_responses",
]
AGENTS_HEADER = [
    "agent",
    "interactions",
    "average_handle_seconds",
    "average_wrapup_seconds",
    "seconds_available",
    "seconds_busy",
    "seconds_on_break",
    "seconds_wrapup",
    "occupancy_pct",
    "csat_average",
]


def line(text: str) -> list[str]:
    """A CSV line's fields (none of them holds a comma)."""
    return text.split(",")


def rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def logged_out(company, username, **kwargs):
    return factories.MembershipFactory(
        company=company,
        user__username=username,
        presence=Presence.UNAVAILABLE,
        presence_since=None,
        **kwargs,
    )


@pytest.fixture
def paris(settings):
    """The company counts its days in Paris (UTC+1 in March): 2 March is 23:00 UTC on the 1st to 23:00 UTC
    on the 2nd."""
    settings.TIME_ZONE = "Europe/Paris"


@pytest.fixture
def supervisor_client(client, company):
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR, user__username="sue")
    return log_in_verified(client, supervisor.user)


@pytest.fixture
def day(db, clock, paris, company):
    """Monday 2 March 2026 (times UTC; queues' service-level targets: chat 60 s, voice 20 s; short abandon
    5 s):

    alice logs in at 09:00.
    - A, Sales, 09:00:00 "Grace" (contact Grace Hopper, classified BILL): taken 09:00:30 (wait 30), active
      120 s, parked 60 s, active 60 s, ended 09:04:30 (handle 180), wrap-up completed 09:04:50 (20).
    - B, Sales, 09:05:00 "-Eve": the customer leaves after 3 s (short abandon).
    - C, Sales, 09:06:00 "Hal": leaves after 90 s (abandon).
    - D, Full (holds 1), 09:08:00 "Ida": leaves after 10 s (abandon). E, Full, 09:08:05 "Jo": refused.
    - F, Sales, 09:10:00 "Kim": taken 09:11:30 (wait 90, over target), active 30 s, transferred to
      Billing 09:12:00, taken again 09:13:00, ended 09:14:00 (handle 90); wrap-up 10 s, parked 6 min,
      15 s more, completed 09:20:25 (wrap-up 25).
    - call 1, Switchboard, 09:30:00: answered 09:30:12 (wait 12), hung up 09:33:32 (handle 200), wrap-up
      completed 09:34:02 (30).
    - call 2, Switchboard, 09:40:00: the caller hangs up after 4 s (short abandon).
    - alice on a break 09:50-10:20, logs out 11:00.
    bob logs in at 10:00.
    - G, Billing, 10:05:00 "Lou": taken 10:05:10 (wait 10), ended 10:07:10 (handle 120), wrap-up 5 s.
    The clock stops at 11:00 with bob still Available.
    Another company's chat arrives at 09:00 too, and its customer leaves at 09:00:30.
    """
    sales = factories.WebchatQueueFactory(company=company, name="Sales", auto_allocate=False)
    billing = factories.WebchatQueueFactory(company=company, name="Billing", auto_allocate=False)
    full = factories.WebchatQueueFactory(
        company=company, name="Full", auto_allocate=False, max_queue_length=1
    )
    switchboard = factories.VoiceQueueFactory(
        company=company, name="Switchboard", slug="switchboard", ring_timeout_seconds=20, wrapup_seconds=30
    )
    alice = logged_out(company, "alice", can_voice=True)
    alice.voice_queues.add(switchboard)
    bob = logged_out(company, "bob")
    lunch = factories.BreakReasonFactory(company=company, name="Lunch")
    billing_question = factories.ClassificationFactory(company=company, code="BILL", label="Billing question")
    grace = factories.ContactFactory(company=company, name="Grace Hopper")
    other = factories.WebchatQueueFactory(name="Theirs", auto_allocate=False)
    chats = {}

    engine.agent_login(agent=alice)
    theirs = open_chat(other, name="Not yours")
    chats["A"] = open_chat(sales, name="Grace")
    move_to(clock, at(seconds=30))
    engine.chat_end_by_customer(chat_id=theirs.pk)
    engine.chat_take(agent=alice, chat_id=chats["A"].pk)
    engine.chat_activate(agent=alice, chat_id=chats["A"].pk)
    engine.chat_assign_contact(agent=alice, chat_id=chats["A"].pk, contact_id=grace.pk)
    engine.chat_record_details(agent=alice, chat_id=chats["A"].pk, classification_id=billing_question.pk)
    move_to(clock, at(minutes=2, seconds=30))
    engine.chat_park(agent=alice, chat_id=chats["A"].pk)
    move_to(clock, at(minutes=3, seconds=30))
    engine.chat_activate(agent=alice, chat_id=chats["A"].pk)
    move_to(clock, at(minutes=4, seconds=30))
    engine.chat_end(agent=alice, chat_id=chats["A"].pk)
    move_to(clock, at(minutes=4, seconds=50))
    engine.wrapup_complete(agent=alice, chat_id=chats["A"].pk)

    move_to(clock, at(minutes=5))
    chats["B"] = open_chat(sales, name="-Eve")
    move_to(clock, at(minutes=5, seconds=3))
    engine.chat_end_by_customer(chat_id=chats["B"].pk)
    move_to(clock, at(minutes=6))
    chats["C"] = open_chat(sales, name="Hal")
    move_to(clock, at(minutes=7, seconds=30))
    engine.chat_end_by_customer(chat_id=chats["C"].pk)

    move_to(clock, at(minutes=8))
    chats["D"] = open_chat(full, name="Ida")
    move_to(clock, at(minutes=8, seconds=5))
    with pytest.raises(engine.TransitionError):
        open_chat(full, name="Jo")
    move_to(clock, at(minutes=8, seconds=10))
    engine.chat_end_by_customer(chat_id=chats["D"].pk)

    move_to(clock, at(minutes=10))
    chats["F"] = open_chat(sales, name="Kim")
    move_to(clock, at(minutes=11, seconds=30))
    engine.chat_take(agent=alice, chat_id=chats["F"].pk)
    engine.chat_activate(agent=alice, chat_id=chats["F"].pk)
    move_to(clock, at(minutes=12))
    engine.chat_transfer(agent=alice, chat_id=chats["F"].pk, queue_id=billing.pk)
    move_to(clock, at(minutes=13))
    engine.chat_take(agent=alice, chat_id=chats["F"].pk)
    engine.chat_activate(agent=alice, chat_id=chats["F"].pk)
    move_to(clock, at(minutes=14))
    engine.chat_end(agent=alice, chat_id=chats["F"].pk)
    move_to(clock, at(minutes=14, seconds=10))
    engine.chat_park(agent=alice, chat_id=chats["F"].pk)
    move_to(clock, at(minutes=20, seconds=10))
    engine.chat_activate(agent=alice, chat_id=chats["F"].pk)
    move_to(clock, at(minutes=20, seconds=25))
    engine.wrapup_complete(agent=alice, chat_id=chats["F"].pk)

    move_to(clock, at(minutes=30))
    call = engine.call_arrived(company_id=company.pk, pbx_call_id="pbx-1", queue_slug="switchboard")
    move_to(clock, at(minutes=30, seconds=12))
    engine.call_answer(agent=alice, call_id=call.pk)
    move_to(clock, at(minutes=33, seconds=32))
    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-1")
    move_to(clock, at(minutes=34, seconds=2))
    engine.call_wrapup_complete(agent=alice, call_id=call.pk)
    move_to(clock, at(minutes=40))
    engine.call_arrived(company_id=company.pk, pbx_call_id="pbx-2", queue_slug="switchboard")
    move_to(clock, at(minutes=40, seconds=4))
    engine.call_ended_by_pbx(company_id=company.pk, pbx_call_id="pbx-2")

    move_to(clock, at(minutes=50))
    engine.agent_set_presence(agent=alice, presence="break", break_reason_id=lunch.pk)
    move_to(clock, at(hours=1))
    engine.agent_login(agent=bob)
    move_to(clock, at(hours=1, minutes=5))
    chats["G"] = open_chat(billing, name="Lou")
    move_to(clock, at(hours=1, minutes=5, seconds=10))
    engine.chat_take(agent=bob, chat_id=chats["G"].pk)
    engine.chat_activate(agent=bob, chat_id=chats["G"].pk)
    move_to(clock, at(hours=1, minutes=7, seconds=10))
    engine.chat_end(agent=bob, chat_id=chats["G"].pk)
    move_to(clock, at(hours=1, minutes=7, seconds=15))
    engine.wrapup_complete(agent=bob, chat_id=chats["G"].pk)
    move_to(clock, at(hours=1, minutes=20))
    engine.agent_set_presence(agent=alice, presence="available")
    move_to(clock, at(hours=2))
    engine.agent_logout(agent=alice)

    ids = {name: Interaction.objects.get(chat_id=chat.pk).pk for name, chat in chats.items()}
    ids["E"] = Interaction.objects.get(company=company, customer_name="Jo").pk
    calls = Interaction.objects.filter(company=company, channel="voice").order_by("opened_at")
    ids["call 1"], ids["call 2"] = (i.pk for i in calls)
    return {
        "ids": ids,
        "queues": {"sales": sales, "billing": billing, "full": full, "switchboard": switchboard},
        "alice": alice,
        "bob": bob,
        "classification": billing_question,
        "other": other,
    }


def expected_interactions(ids) -> list[list]:
    return [
        INTERACTIONS_HEADER,
        [ids["A"], "webchat", "Sales", "alice", "Grace Hopper",
         "2026-03-02T09:00:00Z", "2026-03-02T09:00:30Z", "2026-03-02T09:04:30Z", "2026-03-02T09:04:50Z",
         "30.0", "180.0", "20.0", "completed", "BILL – Billing question", "0", ""],
        [ids["B"], "webchat", "Sales", "", "'-Eve",
         "2026-03-02T09:05:00Z", "", "2026-03-02T09:05:03Z", "2026-03-02T09:05:03Z",
         "", "", "", "abandoned", "", "0", ""],
        [ids["C"], "webchat", "Sales", "", "Hal",
         "2026-03-02T09:06:00Z", "", "2026-03-02T09:07:30Z", "2026-03-02T09:07:30Z",
         "", "", "", "abandoned", "", "0", ""],
        [ids["D"], "webchat", "Full", "", "Ida",
         "2026-03-02T09:08:00Z", "", "2026-03-02T09:08:10Z", "2026-03-02T09:08:10Z",
         "", "", "", "abandoned", "", "0", ""],
        [ids["E"], "webchat", "Full", "", "Jo",
         "2026-03-02T09:08:05Z", "", "2026-03-02T09:08:05Z", "2026-03-02T09:08:05Z",
         "", "", "", "refused", "", "0", ""],
        [ids["F"], "webchat", "Sales", "alice", "Kim",
         "2026-03-02T09:10:00Z", "2026-03-02T09:11:30Z", "2026-03-02T09:14:00Z", "2026-03-02T09:20:25Z",
         "90.0", "90.0", "25.0", "completed", "", "1", ""],
        [ids["call 1"], "voice", "Switchboard", "alice", "",
         "2026-03-02T09:30:00Z", "2026-03-02T09:30:12Z", "2026-03-02T09:33:32Z", "2026-03-02T09:34:02Z",
         "12.0", "200.0", "30.0", "completed", "", "0", ""],
        [ids["call 2"], "voice", "Switchboard", "", "",
         "2026-03-02T09:40:00Z", "", "2026-03-02T09:40:04Z", "2026-03-02T09:40:04Z",
         "", "", "", "abandoned", "", "0", ""],
        [ids["G"], "webchat", "Billing", "bob", "Lou",
         "2026-03-02T10:05:00Z", "2026-03-02T10:05:10Z", "2026-03-02T10:07:10Z", "2026-03-02T10:07:15Z",
         "10.0", "120.0", "5.0", "completed", "", "0", ""],
    ]  # fmt: skip


def as_text(table: list[list]) -> list[list[str]]:
    return [[str(cell) for cell in row] for row in table]


def test_interactions_csv_has_every_column_of_every_interaction_of_the_day(supervisor_client, day):
    response = supervisor_client.get("/reports/interactions.csv", DAY)

    assert rows(response) == as_text(expected_interactions(day["ids"]))
    assert (
        response["Content-Disposition"] == 'attachment; filename="interactions-2026-03-02-to-2026-03-02.csv"'
    )


def test_queues_csv_by_hour_counts_each_queue_where_its_contacts_arrived(supervisor_client, day):
    response = supervisor_client.get("/reports/queues.csv", {**DAY, "interval": "hour"})

    assert rows(response) == [
        QUEUES_HEADER,
        # G arrived in Billing at 10:05 (F was only transferred there: it counts in Sales).
        line("Billing,webchat,2026-03-02T10:00:00Z,1,1,0,0,1,100.0,10.0,120.0,5.0,10.0,,0"),
        # D abandoned after 10 s; E refused is not offered.
        line("Full,webchat,2026-03-02T09:00:00Z,1,0,1,0,0,0.0,,,,,,0"),
        # A (wait 30) and F (wait 90 > 60) answered, B short abandon, C abandon: 1 / (2 + 2 - 1).
        line("Sales,webchat,2026-03-02T09:00:00Z,4,2,2,1,1,33.3,60.0,135.0,22.5,90.0,,0"),
        # call 1 answered in 12 s (target 20), call 2 a short abandon: 1 / (1 + 1 - 1).
        line("Switchboard,voice,2026-03-02T09:00:00Z,2,1,1,1,1,100.0,12.0,200.0,30.0,12.0,,0"),
    ]  # fmt: skip
    assert response["Content-Disposition"] == 'attachment; filename="queues-2026-03-02-to-2026-03-02.csv"'


def test_queues_csv_by_day_and_week_start_at_the_companys_midnight(supervisor_client, day):
    # Paris midnight of Monday 2 March is 23:00 UTC on the 1st; the week starts that Monday.
    for interval in ("day", "week"):
        table = rows(supervisor_client.get("/reports/queues.csv", {**DAY, "interval": interval}))
        assert [row[:4] for row in table[1:]] == [
            ["Billing", "webchat", "2026-03-01T23:00:00Z", "1"],
            ["Full", "webchat", "2026-03-01T23:00:00Z", "1"],
            ["Sales", "webchat", "2026-03-01T23:00:00Z", "4"],
            ["Switchboard", "voice", "2026-03-01T23:00:00Z", "2"],
        ]


def test_agents_csv_has_each_agents_contacts_and_time_in_each_status(supervisor_client, day):
    response = supervisor_client.get("/reports/agents.csv", DAY)

    # alice: A (180 + 20), F (90 + 25), call 1 (200 + 30). Available 30 + 60 + 400 + 60 + 360 (F's parked
    # wrap-up) + 587 + 958 + 2400 = 4855 s; handling 120 + 60 + 30 + 60 and on a call 200 = 470 s; break
    # 1800 s; wrap-up 20 + 10 + 15 + 30 = 75 s; occupancy (470 + 75) / (470 + 75 + 4855) = 10.09 %.
    # bob: G (120 + 5); Available 310 + 3165 (until now, 11:00) = 3475 s; occupancy 125 / 3600 = 3.47 %.
    assert rows(response) == [
        AGENTS_HEADER,
        ["alice", "3", "156.7", "25.0", "4855.0", "470.0", "1800.0", "75.0", "10.1", ""],
        ["bob", "1", "120.0", "5.0", "3475.0", "120.0", "0.0", "5.0", "3.5", ""],
    ]
    assert response["Content-Disposition"] == 'attachment; filename="agents-2026-03-02-to-2026-03-02.csv"'


def ids_of(response) -> list[str]:
    return [row[0] for row in rows(response)[1:]]


def test_interactions_csv_filters_by_arrival_queue_agent_and_channel(supervisor_client, day):
    ids, queues = day["ids"], day["queues"]
    get = supervisor_client.get
    url = "/reports/interactions.csv"

    # F was transferred to Billing but arrived in Sales: it is Sales'.
    assert ids_of(get(url, {**DAY, "queue": f"chat-{queues['billing'].pk}"})) == [str(ids["G"])]
    assert ids_of(get(url, {**DAY, "queue": str(queues["full"].pk)})) == [str(ids["D"]), str(ids["E"])]
    assert ids_of(get(url, {**DAY, "queue": f"voice-{queues['switchboard'].pk}"})) == [
        str(ids["call 1"]),
        str(ids["call 2"]),
    ]
    both = get(url, {**DAY, "queue": [f"chat-{queues['billing'].pk}", f"voice-{queues['switchboard'].pk}"]})
    assert ids_of(both) == [str(ids["call 1"]), str(ids["call 2"]), str(ids["G"])]
    assert ids_of(get(url, {**DAY, "agent": "alice"})) == [str(ids["A"]), str(ids["F"]), str(ids["call 1"])]
    assert ids_of(get(url, {**DAY, "agent": str(day["bob"].pk)})) == [str(ids["G"])]
    assert ids_of(get(url, {**DAY, "channel": "voice"})) == [str(ids["call 1"]), str(ids["call 2"])]
    assert len(ids_of(get(url, {**DAY, "channel": "chat"}))) == 7
    assert ids_of(get(url, {**DAY, "classification": day["classification"].pk})) == [str(ids["A"])]


def test_agents_and_queues_csv_take_the_filters_too(supervisor_client, day):
    agents = rows(supervisor_client.get("/reports/agents.csv", {**DAY, "agent": "bob"}))
    assert [row[0] for row in agents[1:]] == ["bob"]
    queues = rows(supervisor_client.get("/reports/queues.csv", {**DAY, "channel": "voice"}))
    assert [row[0] for row in queues[1:]] == ["Switchboard"]
    # alice's contacts of the voice channel only; her time in each status is hers whatever the channel.
    alice = rows(supervisor_client.get("/reports/agents.csv", {**DAY, "agent": "alice", "channel": "voice"}))
    assert alice[1] == ["alice", "1", "200.0", "30.0", "4855.0", "470.0", "1800.0", "75.0", "10.1", ""]


def test_the_day_before_and_the_day_after_hold_none_of_it(supervisor_client, day):
    for day_range in ({"from": "2026-03-01", "to": "2026-03-01"}, {"from": "2026-03-03", "to": "2026-03-03"}):
        assert rows(supervisor_client.get("/reports/interactions.csv", day_range)) == [INTERACTIONS_HEADER]
        assert rows(supervisor_client.get("/reports/queues.csv", day_range)) == [QUEUES_HEADER]
    assert rows(supervisor_client.get("/reports/agents.csv", {"from": "2026-03-03", "to": "2026-03-03"})) == [
        AGENTS_HEADER
    ]


def test_another_companys_supervisor_sees_only_their_own(client, day):
    theirs = factories.MembershipFactory(company=day["other"].company, role=Role.SUPERVISOR)
    log_in_verified(client, theirs.user)

    table = rows(client.get("/reports/interactions.csv", DAY))
    assert [row[1:] for row in table[1:]] == [
        ["webchat", "Theirs", "", "Not yours", "2026-03-02T09:00:00Z", "", "2026-03-02T09:00:30Z",
         "2026-03-02T09:00:30Z", "", "", "", "abandoned", "", "0", ""],
    ]  # fmt: skip
    assert [row[0] for row in rows(client.get("/reports/queues.csv", DAY))[1:]] == ["Theirs"]
    assert rows(client.get("/reports/agents.csv", DAY)) == [AGENTS_HEADER]
    # Naming the first company's queue or agent finds nothing.
    queue = day["queues"]["sales"]
    assert client.get("/reports/interactions.csv", {**DAY, "queue": f"chat-{queue.pk}"}).status_code == 404
    assert client.get("/reports/agents.csv", {**DAY, "agent": "alice"}).status_code == 404


def test_the_queries_count_refused_chats_apart_and_classifications(day):
    filters = ReportFilters(
        company_id=day["alice"].company_id,
        date_from=dt.date(2026, 3, 2),
        date_to=dt.date(2026, 3, 2),
        time_zone="Europe/Paris",
    )
    queues = day["queues"]
    counts = queries.queue_interval_counts(filters)
    assert [(c.key, c.interval.offered, c.refused) for c in counts] == [
        (f"chat-{queues['billing'].pk}", 1, 0),
        (f"chat-{queues['full'].pk}", 1, 1),
        (f"chat-{queues['sales'].pk}", 4, 0),
        (f"voice-{queues['switchboard'].pk}", 2, 0),
    ]
    assert [c.interval for c in counts] == queries.queue_intervals(filters)
    # Eight interactions besides the refused chat (A to G and the two calls); A is the only one classified.
    assert queries.classification_counts(filters) == [
        queries.ClassificationCount(None, "", 7),
        queries.ClassificationCount(day["classification"].pk, "BILL – Billing question", 1),
    ]
