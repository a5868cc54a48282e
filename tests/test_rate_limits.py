"""Rate limits: chats opened per client IP per minute, messages per chat per 10 seconds."""

from tests import factories
from tests.webchat_support import API, open_chat, post_message
from webchat.models import Chat, Message


def opens(client, queue, *addresses, forwarded_for: str = "") -> list[int]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    body = {"queue_token": queue.token}
    return [
        client.post(
            f"{API}/chats", body, "application/json", headers=headers, REMOTE_ADDR=address
        ).status_code
        for address in addresses
    ]


def test_a_flood_of_chats_from_one_address_is_refused_with_429_and_nothing_stored(
    client, manual_queue, settings, clock
):
    settings.WEBCHAT_RATE_PER_IP = 2

    response = [open_chat(client, queue_token=manual_queue.token) for _ in range(3)][-1]

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert Chat.objects.count() == 2


def test_the_open_limit_is_per_address_and_per_minute(client, manual_queue, settings, clock):
    settings.WEBCHAT_RATE_PER_IP = 1

    assert opens(client, manual_queue, "10.0.0.1", "10.0.0.2", "10.0.0.1") == [201, 201, 429]
    clock.shift(60)
    assert opens(client, manual_queue, "10.0.0.1") == [201]


def test_x_forwarded_for_is_ignored_without_trusted_proxies(client, manual_queue, settings, clock):
    settings.WEBCHAT_RATE_PER_IP = 1

    first = opens(client, manual_queue, "10.0.0.9", forwarded_for="203.0.113.1")
    second = opens(client, manual_queue, "10.0.0.9", forwarded_for="203.0.113.2")

    assert first + second == [201, 429]


def test_behind_a_trusted_proxy_the_address_it_saw_counts_and_a_forged_one_does_not(
    client, manual_queue, settings, clock
):
    settings.WEBCHAT_RATE_PER_IP = 1
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.254"

    assert opens(client, manual_queue, proxy, forwarded_for="203.0.113.1") == [201]
    assert opens(client, manual_queue, proxy, forwarded_for="203.0.113.2") == [201]
    assert opens(client, manual_queue, proxy, forwarded_for="198.51.100.7, 203.0.113.1") == [429]


def test_a_flood_of_messages_in_one_chat_is_refused_with_429_and_not_stored(
    client, manual_queue, settings, clock
):
    settings.WEBCHAT_RATE_PER_CHAT = 3
    body = open_chat(client, queue_token=manual_queue.token).json()

    statuses = [
        post_message(
            client, body["chat_id"], body["customer_token"], client_id=f"c{n}", text="spam"
        ).status_code
        for n in range(4)
    ]

    assert statuses == [201, 201, 201, 429]
    assert Message.objects.count() == 3
    clock.shift(10)
    sent = post_message(client, body["chat_id"], body["customer_token"], client_id="c9", text="later")
    assert sent.status_code == 201


def test_the_message_limit_is_per_chat(client, manual_queue, settings, clock):
    settings.WEBCHAT_RATE_PER_CHAT = 1
    first, second = (open_chat(client, queue_token=manual_queue.token).json() for _ in range(2))

    for chat in (first, second):
        response = post_message(client, chat["chat_id"], chat["customer_token"], client_id="c1", text="Hello")
        assert response.status_code == 201


def test_a_refused_open_says_when_to_retry_from_the_limits_clock_minute(
    client, manual_queue, settings, clock
):
    settings.WEBCHAT_RATE_PER_IP = 1
    clock.shift(15)  # 09:00:15: the minute's window ends in 45 seconds

    opened = open_chat(client, queue_token=manual_queue.token)
    refused = open_chat(client, queue_token=manual_queue.token)

    assert opened.status_code == 201
    assert (opened["RateLimit-Limit"], opened["RateLimit-Remaining"], opened["RateLimit-Reset"]) == (
        "1",
        "0",
        "45",
    )
    assert refused.status_code == 429
    assert refused["Retry-After"] == "45"
    assert (refused["RateLimit-Remaining"], refused["RateLimit-Reset"]) == ("0", "45")
    clock.shift(44)
    assert open_chat(client, queue_token=manual_queue.token).status_code == 429
    clock.shift(1)
    assert open_chat(client, queue_token=manual_queue.token).status_code == 201


def test_a_refused_message_says_when_to_retry(client, manual_queue, settings, clock):
    settings.WEBCHAT_RATE_PER_CHAT = 1
    body = open_chat(client, queue_token=manual_queue.token).json()
    clock.shift(3)

    sent, refused = (
        post_message(client, body["chat_id"], body["customer_token"], client_id=f"c{n}", text="hi")
        for n in range(2)
    )

    assert sent["RateLimit-Remaining"] == "0"
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused["Retry-After"] == "7"


def test_opens_the_queue_refuses_do_not_spend_the_budget(client, company, settings, clock):
    settings.WEBCHAT_RATE_PER_IP = 2
    full = factories.WebchatQueueFactory(company=company, auto_allocate=False, max_queue_length=1)
    assert open_chat(client, queue_token=full.token).status_code == 201

    retries = [open_chat(client, queue_token=full.token).status_code for _ in range(5)]
    unknown = open_chat(client, queue_token="no-such-queue").status_code

    assert retries == [409] * 5
    assert unknown == 404
    assert open_chat(client, queue_token=full.token)["RateLimit-Remaining"] == "1"
    other = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    assert [open_chat(client, queue_token=other.token).status_code for _ in range(2)] == [201, 429]
