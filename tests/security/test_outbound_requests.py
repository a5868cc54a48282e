"""Requests to an address a company configures go only to public https hosts, and nowhere else.

The telephony URL is checked when it is saved in the admin and again before every request; the request
connects to the address that was checked, follows no redirect, times out fast and reads a bounded answer.
The servers here are real, on loopback: the product must refuse to reach them unless a lab allows it.
"""

import logging
import socket
import ssl
import time

import pytest
import trustme
from django.core.exceptions import ValidationError
from django.test import Client

from contactcentre.models import Company, Role
from routing import telephony
from runtime import outbound
from tests import factories
from tests.outbound_servers import Endpoint
from tests.two_factor_support import log_in_verified

PUBLIC = "https://93.184.215.14/commands"  # a public address, written as one: no name to resolve

NOT_PUBLIC = {
    "loopback": "https://127.0.0.1/commands",
    "loopback by name": "https://localhost/commands",
    "the rest of 127/8": "https://127.1.2.3:8443/commands",
    "private 10/8": "https://10.0.0.5/commands",
    "private 172.16/12": "https://172.16.0.1/commands",
    "private 192.168/16": "https://192.168.1.10/commands",
    "carrier-grade NAT": "https://100.64.0.1/commands",
    "link-local (cloud metadata)": "https://169.254.169.254/latest/meta-data/",
    "unspecified": "https://0.0.0.0/commands",
    "multicast": "https://224.0.0.1/commands",
    "reserved": "https://240.0.0.1/commands",
    "broadcast": "https://255.255.255.255/commands",
    "IPv6 loopback": "https://[::1]/commands",
    "IPv6 unspecified": "https://[::]/commands",
    "IPv6 link-local": "https://[fe80::1]/commands",
    "IPv6 unique local": "https://[fd00::1]/commands",
    "IPv6 site-local": "https://[fec0::1]/commands",
    "IPv6 multicast": "https://[ff02::1]/commands",
    "IPv4-mapped loopback": "https://[::ffff:127.0.0.1]/commands",
    "IPv4-mapped private": "https://[::ffff:10.0.0.1]/commands",
    "6to4 of loopback": "https://[2002:7f00:1::1]/commands",
    "NAT64 of a private address": "https://[64:ff9b::a00:1]/commands",
    "NAT64 local use": "https://[64:ff9b:1::1]/commands",
    "decimal loopback": "https://2130706433/commands",
    "octal loopback": "https://0177.0.0.1/commands",
}

NOT_HTTPS = {
    "plain http": "http://93.184.215.14/commands",
    "ftp": "ftp://93.184.215.14/commands",
    "a file": "file:///etc/passwd",
    "javascript": "javascript:alert(1)",
    "gopher": "gopher://93.184.215.14:25/",
}


@pytest.fixture
def endpoint():
    server = Endpoint()
    yield server
    server.stop()


# ---------------------------------------------------------------------------------------------------------
# When it is saved


@pytest.mark.parametrize("url", NOT_PUBLIC.values(), ids=NOT_PUBLIC.keys())
def test_a_telephony_url_that_is_not_a_public_host_is_refused_with_the_reason(url):
    with pytest.raises(ValidationError) as refusal:
        outbound.validate_outbound_url(url)

    assert "is not a public address" in refusal.value.messages[0]


@pytest.mark.parametrize("url", NOT_HTTPS.values(), ids=NOT_HTTPS.keys())
def test_a_telephony_url_that_is_not_https_is_refused_with_the_reason(url):
    with pytest.raises(ValidationError) as refusal:
        outbound.validate_outbound_url(url)

    assert refusal.value.messages == ["The address must start with https://."]


def test_a_telephony_url_with_a_user_name_and_password_in_it_is_refused():
    with pytest.raises(ValidationError) as refusal:
        outbound.validate_outbound_url("https://pbx:secret@93.184.215.14/commands")

    assert refusal.value.messages == ["Leave the user name and password out of the address."]


def test_a_telephony_url_whose_host_cannot_be_found_is_refused():
    with pytest.raises(ValidationError) as refusal:
        outbound.validate_outbound_url("https://pbx.invalid/commands")

    assert refusal.value.messages == ["The host pbx.invalid could not be found."]


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch):
    resolve_as(monkeypatch, {"pbx.example": ["93.184.215.14", "10.0.0.7"]})

    with pytest.raises(ValidationError) as refusal:
        outbound.validate_outbound_url("https://pbx.example/commands")

    assert "(10.0.0.7)" in refusal.value.messages[0]


def test_an_https_url_of_a_public_host_is_accepted(monkeypatch):
    resolve_as(monkeypatch, {"pbx.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})

    outbound.validate_outbound_url(PUBLIC)
    outbound.validate_outbound_url("https://pbx.example:8443/commands?company=acme")


@pytest.fixture
def administrator_client(db):
    company = factories.CompanyFactory()
    administrator = factories.MembershipFactory(company=company, role=Role.ADMINISTRATOR, user__is_staff=True)
    client = Client(raise_request_exception=False)
    log_in_verified(client, administrator.user)
    client.company = company
    return client


def company_form(company: Company, telephony_url: str) -> dict:
    return {
        "name": company.name,
        "default_max_chats_per_agent": company.default_max_chats_per_agent,
        "channel_priority": company.channel_priority,
        "telephony_url": telephony_url,
    }


@pytest.mark.parametrize(
    "url, message",
    [
        ("https://127.0.0.1:8443/commands", "The host 127.0.0.1 is not a public address (127.0.0.1)"),
        ("https://[::1]/commands", "The host ::1 is not a public address (::1)"),
        ("https://169.254.169.254/latest/meta-data/", "is not a public address (169.254.169.254)"),
        ("http://93.184.215.14/commands", "The address must start with https://."),
    ],
)
def test_an_administrator_cannot_save_a_telephony_url_the_product_would_not_send_to(
    administrator_client, url, message
):
    company = administrator_client.company

    response = administrator_client.post(
        f"/admin/contactcentre/company/{company.pk}/change/", company_form(company, url)
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    company.refresh_from_db()
    assert company.telephony_url == ""


def test_an_administrator_can_save_an_https_telephony_url_of_a_public_host(administrator_client):
    company = administrator_client.company

    response = administrator_client.post(
        f"/admin/contactcentre/company/{company.pk}/change/", company_form(company, PUBLIC)
    )

    assert response.status_code == 302
    company.refresh_from_db()
    assert company.telephony_url == PUBLIC


def test_a_telephony_url_typed_without_a_scheme_is_taken_as_https(administrator_client):
    company = administrator_client.company

    response = administrator_client.post(
        f"/admin/contactcentre/company/{company.pk}/change/",
        company_form(company, PUBLIC.removeprefix("https://")),
    )

    assert response.status_code == 302
    company.refresh_from_db()
    assert company.telephony_url == PUBLIC


def test_a_lab_may_save_a_telephony_url_on_its_own_machine_when_private_addresses_are_allowed(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True

    outbound.validate_outbound_url("http://127.0.0.1:9000/commands")
    outbound.validate_outbound_url("https://[::1]:9000/commands")
    with pytest.raises(ValidationError, match="must start with https"):
        outbound.validate_outbound_url("http://93.184.215.14/commands")


# ---------------------------------------------------------------------------------------------------------
# When it is sent


def command_to(url: str) -> None:
    telephony.post_command(
        url, "secret", {"command": "offer", "call_id": "pbx-1", "agent": "a", "extension": "1"}
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"], ids=["IPv4", "by name", "IPv6"])
@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_command_to_a_loopback_url_saved_before_the_check_never_reaches_the_server(scheme, host, caplog):
    server = Endpoint(host="::1" if host == "::1" else "127.0.0.1")
    try:
        with pytest.raises(outbound.Refused):
            outbound.post(server.url(scheme, host), body=b"{}", headers={})
        with caplog.at_level(logging.ERROR, logger="routing.telephony"):
            command_to(server.url(scheme, host))  # not retried: refused is refused

        assert server.connections == 0
        assert "not sent to" in caplog.text
    finally:
        server.stop()


def test_a_name_that_resolved_to_a_public_address_when_saved_and_to_loopback_now_is_refused(
    endpoint, monkeypatch
):
    resolve_as(monkeypatch, {"pbx.example": ["93.184.215.14"]})
    outbound.validate_outbound_url(f"https://pbx.example:{endpoint.port}/commands")

    resolve_as(monkeypatch, {"pbx.example": ["127.0.0.1"]})

    with pytest.raises(outbound.Refused, match=r"not a public address \(127.0.0.1\)"):
        outbound.post(f"https://pbx.example:{endpoint.port}/commands", body=b"{}", headers={})
    assert endpoint.connections == 0


def test_the_request_goes_to_the_address_that_was_checked_not_to_a_second_answer_of_the_name(
    settings, monkeypatch
):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    checked = Endpoint(host="127.0.0.1")
    other = Endpoint(
        host="127.0.0.2", port=checked.port
    )  # the same port, as a rebinding attacker would arrange
    try:
        # The name answers the checked server once, and the other server to anyone who asks again.
        lookups = resolve_as(monkeypatch, {"pbx.lab": ["127.0.0.1"]}, then={"pbx.lab": ["127.0.0.2"]})
        response = outbound.post(f"http://pbx.lab:{checked.port}/commands", body=b"{}", headers={})

        assert response.status == 200
        assert len(checked.requests) == 1 and other.connections == 0
        assert checked.requests[0]["headers"]["Host"] == f"pbx.lab:{checked.port}"
        assert lookups.count("pbx.lab") == 1
    finally:
        checked.stop()
        other.stop()


def test_when_the_first_checked_address_refuses_the_connection_the_next_one_is_used(
    settings, monkeypatch, endpoint
):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    resolve_as(monkeypatch, {"pbx.lab": ["127.0.0.3", "127.0.0.1"]})  # nothing listens on 127.0.0.3

    response = outbound.post(f"http://pbx.lab:{endpoint.port}/commands", body=b"{}", headers={})

    assert response.status == 200
    assert len(endpoint.requests) == 1


def test_a_redirect_is_not_followed_even_to_an_address_a_lab_allows(settings, caplog):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    target = Endpoint()
    redirecting = Endpoint(status=302, headers={"Location": target.url()})
    try:
        response = outbound.post(redirecting.url(), body=b"{}", headers={})
        assert response.status == 302

        with caplog.at_level(logging.ERROR, logger="routing.telephony"):
            command_to(redirecting.url())  # not retried either: a redirect will not mend itself

        assert len(redirecting.requests) == 2
        assert target.connections == 0
        assert "redirects are not followed" in caplog.text
    finally:
        target.stop()
        redirecting.stop()


def test_a_telephony_system_that_does_not_answer_is_given_up_on_after_the_read_timeout(settings, monkeypatch):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    monkeypatch.setattr(outbound, "READ_TIMEOUT_SECONDS", 0.3)
    silent = Endpoint(hang=True)
    try:
        started = time.monotonic()
        with pytest.raises(outbound.Failed, match="timed out"):
            outbound.post(silent.url(), body=b"{}", headers={})
        assert time.monotonic() - started < 2
        with pytest.raises(outbound.TryLater):
            command_to(silent.url())
    finally:
        silent.stop()


def test_an_answer_longer_than_the_limit_is_not_read_to_its_end(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    flooding = Endpoint(body=b"x" * (outbound.MAX_RESPONSE_BYTES * 16))
    try:
        with pytest.raises(outbound.Failed, match="longer than"):
            outbound.post(flooding.url(), body=b"{}", headers={})
    finally:
        flooding.stop()


def test_a_command_carries_its_signature_and_is_taken_by_a_2xx(settings, endpoint):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True

    command_to(endpoint.url())

    (request,) = endpoint.requests
    assert request["headers"]["X-Contact-Signature"] == telephony.signature("secret", request["body"])
    assert b'"command": "offer"' in request["body"]


# ---------------------------------------------------------------------------------------------------------
# TLS: connecting to the checked address still proves the host's name


@pytest.fixture
def certificate_authority(monkeypatch, tmp_path):
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # read by OpenSSL when the default trust is loaded
    return authority


def tls_endpoint(authority: trustme.CA, name: str) -> tuple[Endpoint, list[str]]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert(name).configure_cert(context)
    names_asked: list[str] = []
    context.sni_callback = lambda _socket, server_name, _context: names_asked.append(server_name)
    return Endpoint(tls=context), names_asked


def test_https_to_the_checked_address_asks_for_and_verifies_the_host_name(
    settings, monkeypatch, certificate_authority
):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    resolve_as(monkeypatch, {"pbx.lab": ["127.0.0.1"]})
    server, names_asked = tls_endpoint(certificate_authority, "pbx.lab")
    try:
        response = outbound.post(f"https://pbx.lab:{server.port}/commands", body=b"{}", headers={})

        assert response.status == 200
        assert names_asked == ["pbx.lab"]
    finally:
        server.stop()


def test_https_to_a_host_whose_certificate_names_another_host_fails(
    settings, monkeypatch, certificate_authority
):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    resolve_as(monkeypatch, {"pbx.lab": ["127.0.0.1"]})
    server, _ = tls_endpoint(certificate_authority, "someone-else.lab")
    try:
        with pytest.raises(outbound.Failed, match="certificate"):
            outbound.post(f"https://pbx.lab:{server.port}/commands", body=b"{}", headers={})
        assert server.requests == []
    finally:
        server.stop()


def test_a_production_check_warns_while_private_addresses_are_allowed(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True

    assert [message.id for message in outbound.private_addresses_allowed(None)] == ["contactcentre.W001"]


# ---------------------------------------------------------------------------------------------------------


def resolve_as(monkeypatch, names: dict[str, list[str]], *, then: dict[str, list[str]] | None = None) -> list:
    """Answer these names with these addresses (`then`: from the second lookup on); others as usual."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        answers = then if then is not None and host in asked else names
        asked.append(host)
        if host not in answers:
            return real(host, port, *args, **kwargs)
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked
