"""Response headers: a strict Content-Security-Policy, browser features off, HTTPS behind a TLS proxy."""

import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from contactcentre.models import Role
from tests import factories
from tests.two_factor_support import log_in_verified

# As a TLS-terminating proxy forwards a request: the client's Host, and the scheme it used.
HTTPS = {"X-Forwarded-Proto": "https", "Host": "testserver"}


@pytest.fixture
def administrator(company, queue):
    return factories.MembershipFactory(
        company=company, role=Role.ADMINISTRATOR, user__is_staff=True, user__username="ada-the-administrator"
    )


@pytest.fixture
def administrator_client(administrator) -> Client:
    client = Client()
    log_in_verified(client, administrator.user)
    return client


class Elements(HTMLParser):
    """Every element's name and attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.found.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict]]:
    parser = Elements()
    parser.feed(html)
    return parser.found


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


STAFF_PAGES = [
    "/inbox/",
    "/wallboard/",
    "/contacts/",
    "/admin/",
    "/admin/routing/webchatqueue/",
    "/admin/contactcentre/membership/add/",
]


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_staff_pages_allow_only_the_products_own_scripts_and_styles(administrator_client, path):
    response = administrator_client.get(path)

    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    nonces = {value[len("'nonce-") : -1] for value in policy["script-src"] if value.startswith("'nonce-")}
    for tag, attributes in elements(response.content.decode()):
        # What the policy lets run: the product's own files, data that is not script, or the page's nonce.
        if tag == "script":
            assert (
                "src" in attributes
                or attributes.get("type") == "application/json"
                or attributes.get("nonce") in nonces
            ), attributes
        assert tag != "style", "an inline style sheet would be refused"
        assert "style" not in attributes, f"an inline style on <{tag}> would be refused"
        assert not any(name.startswith("on") for name in attributes), f"an inline handler on <{tag}>"


def test_the_login_pages_have_the_policy_too(client, db):
    assert "script-src 'self'" in client.get("/accounts/login/")["Content-Security-Policy"]
    assert "script-src 'self'" in client.get("/admin/login/")["Content-Security-Policy"]


def test_the_widget_page_keeps_its_own_policy_framed_by_its_queues_sites(client, company):
    queue = factories.WebchatQueueFactory(company=company, allowed_origins="https://shop.example")

    response = client.get(f"/webchat/w/{queue.token}/")

    policy = directives(response["Content-Security-Policy"])
    assert policy["frame-ancestors"] == ["'self'", "https://shop.example"]
    assert policy["default-src"] == ["'none'"]
    assert response.headers.get("Content-Security-Policy-Report-Only") is None


@pytest.mark.parametrize("path", ["/inbox/", "/admin/", "/accounts/login/", "WIDGET"])
def test_camera_microphone_and_location_are_off_on_every_page(administrator_client, queue, path):
    path = f"/webchat/w/{queue.token}/" if path == "WIDGET" else path

    response = administrator_client.get(path)

    features = dict(
        feature.strip().split("=", 1)
        for feature in response["Permissions-Policy"].split(",")
        if feature.strip()
    )
    for feature in ["camera", "microphone", "geolocation", "payment", "usb", "display-capture"]:
        assert features[feature] == "()"


def snippet_origin(html: str) -> str:
    return re.search(r"(\w+)://testserver/static/webchat/widget\.js", html).group(0).split("/static/")[0]


def test_behind_a_configured_tls_proxy_the_snippets_are_https(settings, administrator_client, queue, company):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.DEMO_PAGE = True
    demo = factories.WebchatQueueFactory(company=factories.CompanyFactory(slug="demo"), auto_allocate=True)

    in_the_admin = administrator_client.get(
        reverse("admin:routing_webchatqueue_change", args=[queue.pk]), headers=HTTPS
    )
    on_the_demo_page = administrator_client.get(f"/demo/?queue={demo.token}", headers=HTTPS)

    assert snippet_origin(in_the_admin.content.decode()) == "https://testserver"
    assert snippet_origin(on_the_demo_page.content.decode()) == "https://testserver"


def test_without_configuration_the_scheme_header_is_ignored(administrator_client, queue):
    response = administrator_client.get(
        reverse("admin:routing_webchatqueue_change", args=[queue.pk]), headers=HTTPS
    )

    assert snippet_origin(response.content.decode()) == "http://testserver"
    assert "Strict-Transport-Security" not in response


def test_plain_http_is_redirected_to_https_except_the_health_check(settings, db):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    client = Client()

    plain = client.get("/accounts/login/")
    secure = client.get("/accounts/login/", headers=HTTPS)
    health = client.get("/healthz")

    assert (plain.status_code, plain["Location"]) == (301, "https://testserver/accounts/login/")
    assert secure.status_code == 200
    assert health.status_code == 200


def test_https_responses_ask_the_browser_to_keep_to_https(settings, db):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31_536_000

    response = Client().get("/accounts/login/", headers=HTTPS)

    assert response["Strict-Transport-Security"] == "max-age=31536000"
