"""The health endpoint a load balancer polls, and the structured logs an operator reads.

/healthz answers 200 only when this process reaches the database, the cache and the channel layer; 503
naming the one that failed otherwise, quickly, without a login and without telling anything else. Log
lines are single JSON objects carrying the ids of the chats, agents and calls they are about.
"""

import json
import logging
import sys

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError, connections

from routing import engine
from runtime import health
from runtime.logging import JsonFormatter
from tests import factories
from tests.webchat_support import closed_with, customer_socket

UNREACHABLE_REDIS = "redis://127.0.0.1:9/0"


def test_a_healthy_process_answers_200_with_each_dependency_checked(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "channel_layer"}
    assert all(check["ok"] and check["ms"] >= 0 for check in body["checks"].values())
    assert "no-store" in response["Cache-Control"]


def test_health_needs_no_login_and_tells_nothing_but_the_checks(client, db):
    factories.ChatFactory(customer_name="Grace Hopper")
    body = client.get("/healthz").json()
    assert set(body) == {"status", "checks"}
    assert "Grace" not in json.dumps(body)


def test_an_unreachable_cache_is_503_naming_it_and_not_its_address(client, db, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": UNREACHABLE_REDIS}
    }

    response = client.get("/healthz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert (checks["cache"]["ok"], checks["database"]["ok"], checks["channel_layer"]["ok"]) == (
        False,
        True,
        True,
    )
    assert "127.0.0.1" not in response.content.decode()


def test_an_unreachable_channel_layer_is_503_naming_it(client, db, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [UNREACHABLE_REDIS]},
        }
    }

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"] == {"ok": False, "error": "ConnectionError"}


def test_a_database_that_fails_is_503_naming_it(client, db, monkeypatch):
    def fails() -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(health, "_database", fails)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "OperationalError"}


def test_a_dependency_that_hangs_is_reported_after_the_timeout_not_waited_for(client, db, monkeypatch):
    import asyncio

    async def hangs() -> None:
        await asyncio.sleep(60)

    monkeypatch.setattr(health, "_channel_layer", hangs)
    monkeypatch.setattr(health, "TIMEOUT_SECONDS", 0.1)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"]["error"] == "timeout"


# ---------------------------------------------------------------------------------------------------------
# Structured logs


def line_of(record: logging.LogRecord) -> dict:
    text = JsonFormatter().format(record)
    assert "\n" not in text, "one event, one line"
    return json.loads(text)


def test_a_log_line_is_one_json_object_with_time_level_logger_message_and_the_ids_given():
    record = logging.LogRecord("routing.engine", logging.INFO, __file__, 1, "chat %s taken", ("c-1",), None)
    record.chat_id, record.agent_id = "c-1", 7

    line = line_of(record)

    assert line["message"] == "chat c-1 taken"
    assert (line["level"], line["logger"], line["chat_id"], line["agent_id"]) == (
        "INFO",
        "routing.engine",
        "c-1",
        7,
    )
    assert line["time"].endswith("+00:00")


def test_an_exception_is_logged_with_its_traceback_on_the_same_line():
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = line_of(record)
    assert "ValueError: boom" in line["exception"]


def test_values_that_are_not_json_are_logged_as_text_and_a_request_as_its_method_and_path(rf):
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found", (), None)
    record.request, record.thing = rf.get("/inbox/"), object()
    line = line_of(record)
    assert line["request"] == {"method": "GET", "path": "/inbox/"}
    assert line["thing"].startswith("<object")


@pytest.mark.django_db
def test_allocations_and_logouts_are_logged_with_the_chat_and_agent_ids(caplog, company):
    agent = factories.MembershipFactory(company=company)
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=True)
    with caplog.at_level(logging.INFO, logger="routing.engine"):
        chat = engine.chat_open(queue_token=queue.token).chat
        engine.agent_logout(agent=agent)
    lines = [line_of(record) for record in caplog.records if record.name == "routing.engine"]

    allocated = next(line for line in lines if line["message"].startswith("allocated"))
    assert allocated["queue_id"] == queue.pk
    assert allocated["allocations"] == [{"chat_id": str(chat.pk), "agent_id": agent.pk}]
    released = next(line for line in lines if "released" in line["message"])
    assert (released["agent_id"], released["chat_ids"]) == (agent.pk, [str(chat.pk)])


@pytest.mark.django_db
def test_a_call_offer_is_logged_with_the_call_and_agent_ids(caplog, company):
    voice = factories.VoiceQueueFactory(company=company, slug="switchboard")
    agent = factories.MembershipFactory(company=company, can_voice=True)
    agent.voice_queues.add(voice)
    with caplog.at_level(logging.INFO, logger="routing.engine"):
        call = engine.call_arrived(company_id=company.pk, pbx_call_id="p-1", queue_slug="switchboard")
    offered = next(line_of(r) for r in caplog.records if r.getMessage().startswith("call"))
    assert (offered["call_id"], offered["agent_id"], offered["company_id"]) == (call.pk, agent.pk, company.pk)


@pytest.mark.django_db(transaction=True)
async def test_a_refused_customer_socket_is_logged_with_its_chat_id(caplog):
    queue = await database_sync_to_async(factories.WebchatQueueFactory)()
    chat = (await database_sync_to_async(engine.chat_open)(queue_token=queue.token)).chat
    with caplog.at_level(logging.INFO, logger="webchat.customer_socket"):
        ws = await customer_socket(chat.pk)
        await ws.send_json_to({"type": "hello", "customer_token": "forged", "after_seq": 0})
        assert await closed_with(ws) == 4401
        await ws.disconnect()
    await database_sync_to_async(connections.close_all)()
    line = line_of(next(r for r in caplog.records if r.name == "webchat.customer_socket"))
    assert (line["chat_id"], line["close_code"]) == (str(chat.pk), 4401)
