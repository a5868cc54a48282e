"""The widget's iframe page and the demo web page that carries the snippet."""

import json
import re

import pytest

from tests import factories


@pytest.fixture(autouse=True)
def demo_page_served(settings):
    settings.DEMO_PAGE = True


@pytest.fixture
def demo_company(db):
    return factories.CompanyFactory(slug="demo", name="Demo Company")


def widget_config(response) -> dict:
    match = re.search(r'<script id="widget-config" type="application/json">(.*?)</script>', response.text)
    return json.loads(match.group(1))


def test_the_widget_page_carries_the_queues_look_and_limits(client, company, settings):
    queue = factories.WebchatQueueFactory(
        company=company, widget_title="Talk to Sales", widget_colour="#0f766e", welcome_message="Hi there!"
    )

    response = client.get(f"/webchat/w/{queue.token}/")

    assert response.status_code == 200
    assert widget_config(response) == {
        "queueToken": queue.token,
        "title": "Talk to Sales",
        "colour": "#0f766e",
        "apiBase": "/api/webchat/v1",
        "maxMessageChars": settings.WEBCHAT_MAX_MESSAGE_CHARS,
    }
    assert "Hi there!" in response.text
    assert f'maxlength="{settings.WEBCHAT_MAX_NAME_CHARS}"' in response.text


def test_the_widget_page_may_be_framed_only_by_the_queues_sites(client, company):
    queue = factories.WebchatQueueFactory(
        company=company, allowed_origins="https://shop.example\nhttps://www.shop.example"
    )

    response = client.get(f"/webchat/w/{queue.token}/")

    assert "X-Frame-Options" not in response
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://shop.example https://www.shop.example" in policy
    assert "script-src 'self'" in policy
    assert "connect-src 'self' ws://testserver wss://testserver" in policy


def test_a_queue_that_lists_no_sites_may_be_framed_by_any(client, queue):
    response = client.get(f"/webchat/w/{queue.token}/")

    assert "X-Frame-Options" not in response
    assert "frame-ancestors *" in response["Content-Security-Policy"]


def test_an_unknown_or_disabled_queue_gets_a_friendly_404(client, company):
    disabled = factories.WebchatQueueFactory(company=company, enabled=False)

    for token in ("no-such-token", disabled.token):
        response = client.get(f"/webchat/w/{token}/")
        assert response.status_code == 404
        assert "Chat is not available" in response.text
        assert "X-Frame-Options" not in response


def test_a_malformed_token_is_a_404_and_not_an_error(client, db):
    for url in ("/webchat/w/%00/", "/webchat/w/%F0%9F%92%A5/", f"/webchat/w/{'x' * 300}/"):
        assert client.get(url).status_code == 404
    assert "No such chat queue" in client.get("/demo/?queue=%00").text


def test_the_queues_words_are_escaped_on_the_widget_page(client, company):
    company.name = "<b>Acme</b>"
    company.save()
    queue = factories.WebchatQueueFactory(
        company=company,
        widget_title="</script><script>alert(1)</script>",
        welcome_message="<img src=x onerror=alert(2)>",
    )

    response = client.get(f"/webchat/w/{queue.token}/")

    assert "<script>alert(1)" not in response.text
    assert "<img src=x" not in response.text
    assert "<b>Acme</b>" not in response.text
    assert widget_config(response)["title"] == "</script><script>alert(1)</script>"


def test_the_demo_page_carries_the_snippet_for_the_demo_companys_auto_allocating_queue(client, demo_company):
    factories.WebchatQueueFactory(company=demo_company, name="Support", auto_allocate=False)
    sales = factories.WebchatQueueFactory(company=demo_company, name="Sales", auto_allocate=True)

    response = client.get("/demo/")

    snippet = (
        '<script src="http://testserver/static/webchat/widget.js" '
        f'data-queue-token="{sales.token}" async></script>'
    )
    assert response.status_code == 200
    assert snippet in response.text
    assert "&lt;script src=&quot;http://testserver/static/webchat/widget.js&quot;" in response.text


def test_the_demo_page_takes_the_queue_given_in_the_address(client, demo_company, company):
    factories.WebchatQueueFactory(company=demo_company, auto_allocate=True)
    chosen = factories.WebchatQueueFactory(company=company, auto_allocate=False)

    response = client.get(f"/demo/?queue={chosen.token}")

    assert f'data-queue-token="{chosen.token}" async></script>' in response.text


def test_the_demo_page_says_to_run_seed_demo_when_there_is_no_demo_queue(client, db):
    response = client.get("/demo/")

    assert response.status_code == 200
    assert "seed_demo" in response.text
    assert "widget.js" not in response.text


def test_the_demo_page_says_when_the_queue_in_the_address_does_not_exist(client, db):
    response = client.get("/demo/?queue=nope")

    assert "No such chat queue" in response.text
    assert "widget.js" not in response.text
