"""Served by an ASGI server (Daphne, in production), an export is sent as it is read, a batch of rows at a
time, with the same bytes as under WSGI: Django's ASGI handler reads a synchronous generator to its end
before sending a byte, which for a year of interactions held them all in memory and sent nothing for
seconds."""

import datetime as dt

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client

from contactcentre.models import Role
from crm.models import Channel, Interaction
from reports import views
from tests import factories
from tests.two_factor_support import log_in_verified

pytestmark = pytest.mark.django_db(transaction=True)

QUERY = {"from": "2026-03-02", "to": "2026-03-02"}


def make_interactions(company, queue, n: int) -> None:
    opened = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    Interaction.objects.bulk_create(
        [
            Interaction(
                company=company,
                channel=Channel.WEBCHAT,
                queue_name=queue.name,
                webchat_queue=queue,
                arrival_webchat_queue=queue,
                customer_name=f"Customer {i}",
                opened_at=opened + dt.timedelta(minutes=i),
                answered_at=opened + dt.timedelta(minutes=i, seconds=10),
                ended_at=opened + dt.timedelta(minutes=i, seconds=70),
                closed_at=opened + dt.timedelta(minutes=i, seconds=75),
                wait_seconds=10.0,
                handle_seconds=60.0,
                wrapup_seconds=5.0,
                outcome="completed",
            )
            for i in range(n)
        ]
    )


def signed_in_supervisor():
    company = factories.CompanyFactory()
    queue = factories.WebchatQueueFactory(company=company, name="Sales")
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR)
    make_interactions(company, queue, 5)
    client = log_in_verified(Client(), supervisor.user)
    return client, client.cookies["sessionid"].value


@pytest.mark.parametrize("url", ["/reports/interactions.csv", "/reports/queues.csv", "/reports/agents.csv"])
async def test_an_export_under_asgi_is_sent_in_batches_with_the_bytes_wsgi_sends(monkeypatch, url):
    monkeypatch.setattr(views, "CHUNK", 2)
    client, session_key = await sync_to_async(signed_in_supervisor)()
    whole = b"".join(await sync_to_async(lambda: list(client.get(url, QUERY).streaming_content))())

    async_client = AsyncClient()
    async_client.cookies["sessionid"] = session_key
    response = await async_client.get(url, QUERY)

    assert response.status_code == 200
    assert response.is_async
    chunks = [chunk async for chunk in response.streaming_content]
    assert b"".join(chunks) == whole
    assert all(chunk.count(b"\n") <= 2 for chunk in chunks)
    if url == "/reports/interactions.csv":
        assert len(chunks) == 3  # the header and 5 rows, 2 lines a batch
