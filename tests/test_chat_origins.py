"""Which web sites may use a queue's chat through the API, and the CORS answers browsers need."""

import pytest
from django.test import Client

from tests import factories
from tests.webchat_support import API, bearer, open_chat, post_message
from webchat.models import Chat, Message

SHOP = "https://shop.example"


@pytest.fixture
def shop_queue(company):
    return factories.WebchatQueueFactory(
        company=company, auto_allocate=False, allowed_origins=f"{SHOP}\nhttps://www.shop.example"
    )


def test_a_foreign_origin_cannot_open_a_chat_and_nothing_is_stored(client, shop_queue):
    response = open_chat(
        client, queue_token=shop_queue.token, message="Hi", headers={"Origin": "https://evil.example"}
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response
    assert not Chat.objects.exists()


def test_a_foreign_origin_cannot_use_an_open_chat(client, shop_queue):
    body = open_chat(client, queue_token=shop_queue.token).json()
    foreign = {"Origin": "https://evil.example"}

    sent = post_message(
        client, body["chat_id"], body["customer_token"], client_id="c1", text="hi", headers=foreign
    )
    read = client.get(
        f"{API}/chats/{body['chat_id']}/messages", headers={**bearer(body["customer_token"]), **foreign}
    )

    assert (sent.status_code, read.status_code) == (403, 403)
    assert sent.json()["error"]["code"] == "origin_not_allowed"
    assert not Message.objects.exists()


def test_the_queues_own_sites_the_product_itself_and_clients_without_origin_may_open_chats(
    client, shop_queue
):
    for headers in (
        {"Origin": SHOP},
        {"Origin": "https://WWW.shop.example/"},
        {"Origin": "http://testserver"},
        {},
    ):
        response = open_chat(client, queue_token=shop_queue.token, headers=headers)
        assert response.status_code == 201, headers


def test_a_queue_that_lists_no_sites_may_be_used_from_any(client, company):
    queue = factories.WebchatQueueFactory(company=company, allowed_origins="")

    response = open_chat(client, queue_token=queue.token, headers={"Origin": "https://anyone.example"})

    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == "https://anyone.example"


def test_an_allowed_origin_is_echoed_for_cors(client, shop_queue):
    response = open_chat(client, queue_token=shop_queue.token, headers={"Origin": SHOP})

    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in response["Vary"]
    assert "Access-Control-Allow-Credentials" not in response
    assert "no-store" in response["Cache-Control"]


def test_a_preflight_allows_the_bearer_token_and_json(client, shop_queue):
    body = open_chat(client, queue_token=shop_queue.token).json()

    for url in (
        f"{API}/chats",
        f"{API}/chats/{body['chat_id']}/messages",
        f"{API}/chats/{body['chat_id']}/end",
    ):
        response = client.options(
            url,
            headers={
                "Origin": SHOP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert response.status_code == 204
        assert response["Access-Control-Allow-Origin"] == SHOP
        assert "POST" in response["Access-Control-Allow-Methods"]
        assert response["Access-Control-Allow-Headers"] == "Authorization, Content-Type"


def test_the_api_needs_no_csrf_token(shop_queue):
    client = Client(enforce_csrf_checks=True)

    assert open_chat(client, queue_token=shop_queue.token).status_code == 201
