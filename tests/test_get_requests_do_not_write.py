"""Looking is not doing: no GET of the inbox, the contacts, the wallboard or the reports changes a row.

A GET may be repeated by the browser, a prefetch or a reload at any time; every change an agent makes is a
POST (opening a chat shows it, and the page then posts that the chat was seen). Django's session store is
the one writer left alone: it keeps the signed-in session, not the product's data.
"""

import re

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contactcentre.models import Role
from routing import engine
from routing.models import Call, CallState
from tests import factories
from tests.security.test_isolation_matrix import http_routes
from tests.two_factor_support import log_in_verified

WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
PAGES = ("inbox/", "contacts/", "wallboard/", "reports/")


def writes(queries: list[dict]) -> list[str]:
    """The statements that change a table, the session store's excepted."""
    return [
        query["sql"]
        for query in queries
        if (match := WRITE.match(query["sql"])) and match.group(1) != Session._meta.db_table
    ]


def routes() -> list[str]:
    """Every route of the agent's and the supervisor's pages, as written in the URL configuration."""
    return [route for route in http_routes() if route.startswith(PAGES)]


@pytest.fixture
def supervisor(company):
    """A supervisor who also holds chats, so that every page has something to show."""
    return factories.MembershipFactory(company=company, role=Role.SUPERVISOR)


@pytest.fixture
def urls(supervisor, manual_queue, company) -> dict[str, list[str]]:
    """The concrete addresses of each route, about things the supervisor holds or may see."""
    # Allocated, not taken: the chat rings the bell until it is seen.
    auto = factories.WebchatQueueFactory(company=company, auto_allocate=True)
    chat = engine.chat_open(queue_token=auto.token, customer_name="Grace", first_message="Hello").chat
    assert chat.unseen and chat.agent == supervisor
    closed = factories.ChatFactory(queue=manual_queue, customer_name="Ada")
    engine.chat_take(agent=supervisor, chat_id=closed.pk)
    engine.chat_activate(agent=supervisor, chat_id=closed.pk)
    contact = factories.ContactFactory(company=company)
    engine.chat_assign_contact(agent=supervisor, chat_id=closed.pk, contact_id=contact.pk)
    engine.chat_end(agent=supervisor, chat_id=closed.pk)
    engine.wrapup_complete(agent=supervisor, chat_id=closed.pk)
    interaction = contact.interactions.get()
    template = factories.ResponseTemplateFactory(company=company, text="Hi {customer_name}")
    factories.ChatFactory(queue=manual_queue)
    call = Call.objects.create(
        company=company,
        queue=factories.VoiceQueueFactory(company=company),
        agent=supervisor,
        pbx_call_id="c1",
        state=CallState.OFFERED,
        arrived_at=timezone.now(),
    )
    today = timezone.localdate().isoformat()
    values = {
        "<uuid:chat_id>": str(chat.pk),
        "<int:queue_id>": str(manual_queue.pk),
        "<int:call_id>": str(call.pk),
        "<int:contact_id>": str(contact.pk),
        "<int:interaction_id>": str(interaction.pk),
    }
    extra = {
        "inbox/queues/<int:queue_id>/": ["?open=1"],
        "inbox/<uuid:chat_id>/contact/find/": ["?q=a"],
        "inbox/<uuid:chat_id>/template/": [f"?template={template.pk}"],
        "contacts/": ["?q=a"],
        "reports/staffing/": [
            f"?queue=chat-{manual_queue.pk}&interval_minutes=30&target_seconds=20&service_level_pct=80"
        ],
        "reports/staffing.json": [
            "?interval_minutes=30&volume=100&aht_seconds=180&target_seconds=20&service_level_pct=80"
        ],
        "reports/": [
            f"?interval=hour&queue=chat-{manual_queue.pk}",
            "?from=2026-01-01&to=2026-12-31&interval=week",
        ],
        "reports/interactions/": [
            "?outcome=abandoned",
            "?answered_within_target=1&interval=day",
            f"?queue=chat-{manual_queue.pk}&wait_min=0&wait_max=60&page=2",
            "?unclassified=1&refused=0",
        ],
        **{
            f"reports/{name}.csv": [
                f"?from={today}&to={today}",
                f"?from={today}&to={today}&interval=hour&queue=chat-{manual_queue.pk}&channel=chat",
            ]
            for name in ("interactions", "queues", "agents")
        },
    }
    concrete = {}
    for route in routes():
        path = "/" + route
        for placeholder, value in values.items():
            path = path.replace(placeholder, value)
        concrete[route] = [path] + [path + query for query in extra.get(route, [])]
    return concrete


def test_the_walk_reaches_every_page_of_the_inbox_the_contacts_the_wallboard_and_the_reports(urls):
    assert {
        "inbox/",
        "inbox/<uuid:chat_id>/",
        "contacts/",
        "wallboard/",
        "wallboard/board/",
        "reports/",
        "reports/interactions/",
        "reports/staffing/",
        "reports/staffing.json",
        "reports/interactions.csv",
        "reports/queues.csv",
        "reports/agents.csv",
    } <= set(urls)
    assert not [path for paths in urls.values() for path in paths if "<" in path]


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "partial"])
def test_no_get_of_an_agents_page_changes_a_row(client, supervisor, urls, htmx):
    log_in_verified(client, supervisor.user)
    headers = {"HX-Request": "true"} if htmx else {}
    for route, paths in urls.items():
        for path in paths:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path, headers=headers)
                if response.streaming:  # an export reads as it is sent
                    b"".join(response.streaming_content)
            assert response.status_code < 500, path
            assert writes(captured.captured_queries) == [], f"GET {path} ({route}) wrote"


def test_a_chat_opened_with_a_get_rings_the_bell_until_the_page_says_it_was_seen(client, supervisor, urls):
    log_in_verified(client, supervisor.user)
    chat_page = urls["inbox/<uuid:chat_id>/"][0]
    for _ in range(2):
        client.get(chat_page)
    assert '<span class="bell__count">1</span>' in client.get("/inbox/bell/").content.decode()
    client.post(chat_page + "seen/", headers={"HX-Request": "true"})
    assert '<span class="bell__count">0</span>' in client.get("/inbox/bell/").content.decode()
