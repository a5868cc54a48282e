"""`GET /metrics`: what a scrape of a process counts, and who may scrape it (docs/operations.md#metrics)."""

import pytest
from channels.db import database_sync_to_async
from prometheus_client.parser import text_string_to_metric_families

from routing import engine, scheduler
from tests import factories
from tests.webchat_support import connected_chat, customer_socket, open_chat, say_hello

TOKEN = "a-long-random-scrape-token"

# The counters are the process's: each test compares a scrape after what it did with one before.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def scrape_token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def scrape(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_it_counts_a_chat_opened_its_first_message_and_the_request_by_view(client, manual_queue):
    before = scrape(client)

    response = open_chat(client, queue_token=manual_queue.token, name="Grace", message="Hello")
    assert response.status_code == 201

    after = scrape(client)
    opened = "contactcentre_chats_opened_total"
    stored = "contactcentre_messages_stored_total"
    requests = "contactcentre_http_requests_total"
    assert value(after, opened) - value(before, opened) == 1
    assert value(after, stored, sender="customer") - value(before, stored, sender="customer") == 1
    api_call = {"view": "webchat-api-chats", "method": "POST", "status": "2xx"}
    assert value(after, requests, **api_call) - value(before, requests, **api_call) == 1
    latency = "contactcentre_http_request_duration_seconds_count"
    api_timing = {"view": "webchat-api-chats", "method": "POST"}
    assert value(after, latency, **api_timing) - value(before, latency, **api_timing) == 1


def test_it_counts_a_chat_given_to_an_agent_and_the_agents_reply(client, queue, agent):
    before = scrape(client)

    chat = engine.chat_open(queue_token=queue.token, first_message="Hello").chat
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    engine.message_post_agent(agent=agent, chat_id=chat.pk, client_id="reply-1", text="Hi, how can I help?")

    after = scrape(client)
    allocations = "contactcentre_allocations_total"
    stored = "contactcentre_messages_stored_total"
    assert value(after, allocations) - value(before, allocations) == 1
    assert value(after, stored, sender="agent") - value(before, stored, sender="agent") == 1


def test_it_counts_a_refusal_by_its_code(client, company):
    full = factories.WebchatQueueFactory(company=company, auto_allocate=False, max_queue_length=1)
    assert open_chat(client, queue_token=full.token).status_code == 201
    before = scrape(client)

    assert open_chat(client, queue_token=full.token).status_code == 409
    assert open_chat(client, queue_token="no-such-queue").status_code == 404

    after = scrape(client)
    refusals = "contactcentre_refusals_total"
    for code in ("queue_full", "unknown_queue"):
        assert value(after, refusals, code=code) - value(before, refusals, code=code) == 1
    refused = {"view": "webchat-api-chats", "method": "POST", "status": "4xx"}
    requests = "contactcentre_http_requests_total"
    assert value(after, requests, **refused) - value(before, requests, **refused) == 2


def test_the_waiting_gauge_follows_a_chat_queued_then_taken(client, manual_queue, agent):
    labels = {"company": manual_queue.company.slug, "queue": manual_queue.name}
    assert value(scrape(client), "contactcentre_chats_waiting", **labels) == 0
    assert ("contactcentre_chats_waiting", frozenset(labels.items())) in scrape(client)

    chat = engine.chat_open(queue_token=manual_queue.token).chat
    assert value(scrape(client), "contactcentre_chats_waiting", **labels) == 1

    engine.chat_take(agent=agent, chat_id=chat.pk)
    assert value(scrape(client), "contactcentre_chats_waiting", **labels) == 0


def test_it_times_every_periodic_job_of_a_tick(client):
    before = scrape(client)

    scheduler.run_jobs_once()

    after = scrape(client)
    runs = "contactcentre_periodic_job_duration_seconds_count"
    for job in ("expire_wrapups", "sweep_allocation"):
        assert value(after, runs, job=job) - value(before, runs, job=job) == 1
    failures = "contactcentre_periodic_job_failures_total"
    assert value(after, failures, job="expire_wrapups") == value(before, failures, job="expire_wrapups")


def test_it_reports_the_database_pool_and_threads(client, settings):
    samples = scrape(client)

    pool_max = settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]
    pool = "contactcentre_database_pool_connections"
    assert value(samples, pool, database="default", state="max") == pool_max
    assert value(samples, pool, database="default", state="open") >= 1
    assert ("contactcentre_database_threads", frozenset({("state", "queued")})) in samples


def test_a_scrape_without_the_token_is_refused_with_401(client):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"contactcentre_" not in response.content


def test_a_scrape_with_a_wrong_token_is_refused_with_401(client):
    for header in (f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN):
        response = client.get("/metrics", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert b"contactcentre_" not in response.content


def test_without_a_token_or_networks_configured_there_is_no_endpoint(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    assert client.get("/metrics").status_code == 404


def test_an_address_outside_the_allowed_networks_gets_404_even_with_the_token(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 404


def test_an_allowed_network_alone_lets_a_scrape_through(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]

    response = client.get("/metrics")

    assert response.status_code == 200
    assert b"contactcentre_http_requests_total" in response.content


def test_a_scrape_over_plain_http_is_not_redirected_behind_a_tls_proxy(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert scrape(client)


async def test_it_counts_the_customer_sockets_open_and_the_frames_sent_on_them(client, manual_queue, agent):
    chat, token = await database_sync_to_async(connected_chat)(manual_queue, agent)
    scrape_now = database_sync_to_async(scrape)
    before = await scrape_now(client)

    ws = await customer_socket(chat.pk)
    await say_hello(ws, token)
    during = await scrape_now(client)
    await ws.disconnect()
    after = await scrape_now(client)

    open_ = "contactcentre_websocket_connections_open"
    sent = "contactcentre_websocket_frames_sent_total"
    assert value(during, open_, route="customer") - value(before, open_, route="customer") == 1
    assert value(after, open_, route="customer") == value(before, open_, route="customer")
    assert value(during, sent, route="customer") > value(before, sent, route="customer")
