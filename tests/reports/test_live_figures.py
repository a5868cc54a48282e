"""The wallboard's live figures per queue, chat and voice, against hand-computed values of known traffic
(docs/reports.md, "Live figures and alerts"), and what it shows of each agent."""

import datetime as dt
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contactcentre.models import Presence, Role
from routing import engine
from tests import factories
from tests.reports.conftest import START
from tests.reports.live_support import call, chat
from tests.two_factor_support import log_in_verified

NOW = START  # 09:00 UTC, the `clock` fixture's moment; the windows run from 08:45
DAY = START.replace(hour=0)


def t(hour, minute, second=0) -> dt.datetime:
    return START.replace(hour=hour, minute=minute, second=second)


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def board(client) -> dict:
    """The board partial as a supervisor's page re-fetches it: per queue (`chat-<id>`, `voice-<id>`) its
    figures by name, its row's classes and the service level's label; per agent (id) the same."""
    content = client.get("/wallboard/board/", headers={"HX-Request": "true"}).content.decode()
    rows = {}
    for kind, key, body in re.findall(
        r'<tr class="([^"]*)" data-(?:queue|agent)="([^"]+)">(.*?)</tr>', content, re.S
    ):
        figures = {
            name: _text(html)
            for name, html in re.findall(r'data-figure="([^"]+)"[^>]*>(.*?)</td>', body, re.S)
        }
        figures["row"] = kind
        figures["name"] = _text(re.search(r"<th[^>]*>(.*?)</th>", body, re.S).group(1))
        label = re.search(r'aria-label="([^"]+)"', body)
        figures["label"] = label.group(1) if label else ""
        rows[key] = figures
    return rows


@pytest.fixture
def supervisor_client(client, company):
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR)
    return log_in_verified(client, supervisor.user)


@pytest.fixture
def sales(company):
    return factories.WebchatQueueFactory(company=company, name="Sales", auto_allocate=False)


@pytest.fixture
def switchboard(company):
    return factories.VoiceQueueFactory(
        company=company, name="Switchboard", sl_target_pct=60, sl_warning_pct=40
    )


@pytest.fixture
def known_traffic(sales, switchboard):
    """Sales (chat; target 80 % in 60 s, warning 70 %, short abandon 5 s, window 15 min) at 09:00:

    in the window (from 08:45):
      1. arrived 08:50:00, answered 08:50:30 (30 s: within), still active;
      2. arrived 08:48, answered 08:49 (60 s: within, the target is inclusive), ended 08:55, 240 s handle;
      3. arrived 08:50, answered 08:52 (120 s: past target), ended 08:58, 300 s handle;
      4. arrived 08:40 (before the window), answered 08:46 (360 s: past), still active;
      5. arrived 08:51, abandoned 08:53 (120 s: counts against);
      6. arrived 08:55:00, abandoned 08:55:03 (3 s: short, counts neither way);
    earlier today: 7. arrived 08:00, answered 08:00:20, ended 08:10, 500 s handle; 8. abandoned 08:19-08:20;
    yesterday: 9. answered and ended (nothing today); refused at 08:56: 10 (never offered);
    waiting now: 11. since 08:57; 12. since 08:59.

    Window: answered 1-4 = 4, within target 1-2 = 2, abandoned 5-6 = 2, short 6 = 1:
    service level 2 / (4 + 2 − 1) = 40 %: below the 70 % warning.
    Today: answered 1-4, 7 = 5; abandoned 5, 6, 8 = 3; handled (answered and ended today) 2, 3, 7:
    (240 + 300 + 500) / 3 = 346.7 s = 5:47.

    Switchboard (voice; target 60 % in 20 s, warning 40 %):
      a. arrived 08:50:00, answered 08:50:10 (within), connected;
      b. arrived 08:52, answered 08:52:30 (past), hung up 08:56 (210 s talk);
      c. arrived 08:54, hung up 08:54:02 unanswered (short abandon);
      d. waiting since 08:58:30.
    Service level 1 / (2 + 1 − 1) = 50 %: below target, above warning. Today: 2 answered, 1 abandoned,
    average handle 210 s = 3:30.
    """
    chat(sales, t(8, 50), answered=t(8, 50, 30))
    chat(sales, t(8, 48), answered=t(8, 49), ended=t(8, 55), outcome="completed", handle=240)
    chat(sales, t(8, 50), answered=t(8, 52), ended=t(8, 58), outcome="completed", handle=300)
    chat(sales, t(8, 40), answered=t(8, 46))
    chat(sales, t(8, 51), ended=t(8, 53), outcome="abandoned")
    chat(sales, t(8, 55), ended=t(8, 55, 3), outcome="abandoned")
    chat(sales, t(8, 0), answered=t(8, 0, 20), ended=t(8, 10), outcome="completed", handle=500)
    chat(sales, t(8, 19), ended=t(8, 20), outcome="abandoned")
    yesterday = t(16, 0) - dt.timedelta(days=1)
    chat(
        sales, yesterday, answered=yesterday, ended=yesterday + dt.timedelta(minutes=10), outcome="completed"
    )
    chat(sales, t(8, 56), ended=t(8, 56), outcome="refused")
    chat(sales, t(8, 57))
    chat(sales, t(8, 59))

    call(switchboard, t(8, 50), answered=t(8, 50, 10))
    call(switchboard, t(8, 52), answered=t(8, 52, 30), ended=t(8, 56), outcome="completed")
    call(switchboard, t(8, 54), ended=t(8, 54, 2), outcome="abandoned")
    call(switchboard, t(8, 58, 30))


def test_the_wallboard_figures_match_the_hand_computed_ones(
    clock, supervisor_client, known_traffic, sales, switchboard
):
    rows = board(supervisor_client)

    assert rows[f"chat-{sales.pk}"] == {
        "row": "queue-row queue-row--warning",
        "name": "Chat Sales",
        "waiting": "2",
        "longest-wait": "3:00",
        "service-level": "40 % ▲ Below warning target 80 % in 60 s · warning < 70 % · last 15 min",
        "answered-today": "5",
        "abandoned-today": "3",
        "average-handle-today": "5:47",
        "label": "Service level 40 %, below the 70 % warning",
    }
    assert rows[f"voice-{switchboard.pk}"] == {
        "row": "queue-row",
        "name": "Voice Switchboard",
        "waiting": "1",
        "longest-wait": "1:30",
        "service-level": "50 % Below target target 60 % in 20 s · warning < 40 % · last 15 min",
        "answered-today": "2",
        "abandoned-today": "1",
        "average-handle-today": "3:30",
        "label": "",
    }


def test_the_window_slides_with_the_clock(clock, supervisor_client, known_traffic, sales):
    # At 09:05:30 the window starts at 08:50:30: chats 2 (answered 08:49) and 4 (08:46) leave it; the
    # abandons 5 (08:53) and 6 (08:55:03) stay. Answered 1 (08:50:30, on the edge) and 3: 1 of 2 within
    # target, abandoned 2 of which 1 short: 1 / (2 + 2 − 1) = 33 %.
    clock.move_to(t(9, 5, 30))
    assert board(supervisor_client)[f"chat-{sales.pk}"]["service-level"].startswith("33 % ▲ Below warning")
    # At 09:20 nothing is left in the window: the service level is undefined, and no warning shows.
    clock.move_to(t(9, 20))
    row = board(supervisor_client)[f"chat-{sales.pk}"]
    assert row["service-level"].startswith("— target")
    assert row["row"] == "queue-row"
    assert row["answered-today"] == "5"


def test_a_queue_at_or_above_its_warning_is_not_marked(clock, supervisor_client, sales):
    # 7 of 10 within target: exactly the 70 % warning, which is not below it.
    for n in range(10):
        chat(sales, t(8, 50), answered=t(8, 50, 10 if n < 7 else 0) + dt.timedelta(minutes=0 if n < 7 else 2))
    row = board(supervisor_client)[f"chat-{sales.pk}"]
    assert row["row"] == "queue-row"
    assert row["service-level"].startswith("70 % Below target")
    chat(sales, t(8, 51), ended=t(8, 53), outcome="abandoned")  # 7 / 11 = 63.6 %
    row = board(supervisor_client)[f"chat-{sales.pk}"]
    assert row["row"] == "queue-row queue-row--warning"
    assert row["service-level"].startswith("64 % ▲ Below warning")


def test_the_board_names_the_queues_below_warning_for_screen_readers(clock, supervisor_client, known_traffic):
    content = supervisor_client.get("/wallboard/board/", headers={"HX-Request": "true"}).content.decode()
    banner = re.search(r'<div class="board__alert" role="status">(.*?)</div>', content, re.S).group(1)
    assert _text(banner) == "▲ Service level below warning: Sales (chat)"


def test_the_board_refreshes_itself_as_the_window_slides(supervisor_client):
    content = supervisor_client.get("/wallboard/board/", headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="wallboard-changed from:body, agent-resync from:body, every 20s"' in content


def test_another_companys_traffic_counts_nowhere(clock, supervisor_client, sales):
    stranger = factories.WebchatQueueFactory(name="Sales")
    chat(stranger, t(8, 50), answered=t(8, 55))
    chat(sales, t(8, 50), answered=t(8, 50, 10))
    rows = board(supervisor_client)
    assert f"chat-{stranger.pk}" not in rows
    assert rows[f"chat-{sales.pk}"]["service-level"].startswith("100 %")
    assert rows[f"chat-{sales.pk}"]["answered-today"] == "1"


def since_of(content: str, agent) -> str:
    row = re.search(rf'data-agent="{agent.pk}">(.*?)</tr>', content, re.S).group(1)
    return re.search(r'data-since="([^"]+)"', row).group(1)


def test_each_agent_shows_status_with_break_reason_time_in_status_and_what_they_hold(
    clock, supervisor_client, company, manual_queue, switchboard
):
    lunch = factories.BreakReasonFactory(company=company, name="Lunch")
    bea = factories.MembershipFactory(company=company, display_name="Bea", presence=Presence.UNAVAILABLE)
    engine.agent_login(agent=bea)
    engine.agent_set_presence(agent=bea, presence=Presence.BREAK, break_reason_id=lunch.pk)
    cal = factories.MembershipFactory(company=company, display_name="Cal", presence=Presence.UNAVAILABLE)
    engine.agent_login(agent=cal)
    first = factories.ChatFactory(queue=manual_queue)
    engine.chat_take(agent=cal, chat_id=first.pk)
    engine.chat_activate(agent=cal, chat_id=first.pk)
    engine.chat_take(agent=cal, chat_id=factories.ChatFactory(queue=manual_queue).pk)
    dee = factories.MembershipFactory(company=company, display_name="Dee", presence=Presence.UNAVAILABLE)
    engine.agent_login(agent=dee)
    done = factories.ChatFactory(queue=manual_queue)
    engine.chat_take(agent=dee, chat_id=done.pk)
    engine.chat_activate(agent=dee, chat_id=done.pk)
    clock.shift(120)
    engine.chat_end(agent=dee, chat_id=done.pk)
    engine.wrapup_complete(agent=dee, chat_id=done.pk)
    clock.shift(60)

    rows = board(supervisor_client)
    content = supervisor_client.get("/wallboard/board/", headers={"HX-Request": "true"}).content.decode()

    assert (rows[str(bea.pk)]["chats-held"], rows[str(bea.pk)]["calls-held"]) == ("0", "0")
    assert "Break: Lunch</span>" in content
    assert (rows[str(cal.pk)]["chats-held"], rows[str(cal.pk)]["calls-held"]) == ("2", "0")
    assert since_of(content, cal).startswith("2026-03-02T09:00:00")
    # Dee logged in at 09:00 and has been Available again since her wrap-up ended at 09:02: her time in
    # status is the open status interval's, not her presence's.
    assert since_of(content, dee).startswith("2026-03-02T09:02:00")


def test_the_calls_an_agent_holds_show(clock, supervisor_client, company, switchboard):
    eve = factories.MembershipFactory(company=company, display_name="Eve", can_voice=True)
    call(switchboard, t(8, 59), answered=t(8, 59, 10)).__class__.objects.update(agent=eve)
    assert board(supervisor_client)[str(eve.pk)]["calls-held"] == "1"


def test_the_board_costs_the_same_queries_for_ten_queues_as_for_two(clock, supervisor_client, company):
    def board_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            rows = board(supervisor_client)
        return len(queries), len(rows)

    def add_queues(n: int) -> None:
        for _ in range(n):
            chat_queue = factories.WebchatQueueFactory(company=company)
            voice_queue = factories.VoiceQueueFactory(company=company)
            agent = factories.MembershipFactory(company=company, can_voice=True)
            held = chat(chat_queue, t(8, 50), answered=t(8, 51))
            held.agent = agent
            held.save(update_fields=["agent"])
            chat(chat_queue, t(8, 52))
            chat(chat_queue, t(8, 53), ended=t(8, 54), outcome="abandoned")
            call(voice_queue, t(8, 50), answered=t(8, 50, 5))
            call(voice_queue, t(8, 55))

    add_queues(2)
    few, rows = board_queries()
    add_queues(8)
    many, more_rows = board_queries()
    assert more_rows == rows + 8 * 3  # two queues and an agent each: every one is on the board
    assert many == few


def test_with_no_short_abandon_threshold_every_abandon_counts(clock, supervisor_client, sales):
    sales.short_abandon_seconds = 0
    sales.save(update_fields=["short_abandon_seconds"])
    chat(sales, t(8, 50), answered=t(8, 50, 10))
    chat(sales, t(8, 51), ended=t(8, 51), outcome="abandoned")  # left at once: still counts, 1 / 2
    assert board(supervisor_client)[f"chat-{sales.pk}"]["service-level"].startswith("50 %")
