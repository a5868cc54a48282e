"""Whatever people type (customers' names and messages, agents' replies, notes, templates, the names an
administrator gives) is shown as text: in the inbox, the wallboard, the contacts pages, the widget and the
admin, a corpus of script-injection attempts never becomes an element, an attribute, a script or a link.

The pages are read as a browser's HTML parser reads them. The widget and the inbox draw live messages in
the browser: their scripts are checked to put text in the page as text only.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from contactcentre.models import Presence, Role
from crm.models import Interaction
from routing import engine
from tests import factories
from tests.two_factor_support import log_in_verified

pytestmark = pytest.mark.django_db

# Each attempt carries its number ("xss_7") so that what the page made of it can be found.
CORPUS = [
    "<script>window.xss_1=1</script>",
    '"><img src=x onerror="window.xss_2=1">',
    "'><svg onload=window.xss_3=1>",
    "</script><script>window.xss_4=1</script>",
    "</textarea><script>window.xss_5=1</script>",
    "javascript:window.xss_6=1",
    '<a href="javascript:window.xss_7=1">xss_7</a>',
    '<iframe srcdoc="<script>parent.xss_8=1</script>"></iframe>',
    '" hx-get="/evil-xss_9" hx-trigger="load" x="',
    '<div hx-get="/evil-xss_10" hx-trigger="load">xss_10</div>',
    "<style>@import 'https://evil.example/xss_11.css';</style>",
    "{{ xss_12 }}{% debug %}",
    "&lt;b&gt;xss_13&lt;/b&gt;",
    "\u2028xss_14\u2029</script><script>window.xss_14=1</script>",
    "<body onpageshow=window.xss_15=1>",
]
DANGEROUS_URL = re.compile(r"^\s*(javascript|vbscript|data\s*:\s*text/html)", re.IGNORECASE)
# Underscores and the punctuation after "evil" keep the markers apart from random text on a page (a CSRF
# token is letters and digits).
MARKER = re.compile(r"xss_\d+|evil[-.]")


class Injections(HTMLParser):
    """What in a page would run, load or fetch something an attacker wrote."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.text: list[str] = []
        self.inside: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if MARKER.search(name + (value or "")) and self._dangerous(name, value or ""):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag in ("iframe", "svg", "object", "embed") and any(MARKER.search(v or "") for _, v in attrs):
            self.found.append(f"<{tag}> made of typed text")
        self.inside.append(tag)

    @staticmethod
    def _dangerous(name: str, value: str) -> bool:
        if name.startswith(("on", "hx-", "data-hx-")) or name == "srcdoc":
            return True
        return name in ("href", "src", "action", "formaction", "xlink:href") and bool(
            DANGEROUS_URL.match(value)
        )

    def handle_endtag(self, tag: str) -> None:
        if self.inside and self.inside[-1] == tag:
            self.inside.pop()

    def handle_data(self, data: str) -> None:
        current = self.inside[-1] if self.inside else ""
        if current in ("script", "style") and MARKER.search(data):
            self.found.append(f"<{current}> containing {data.strip()[:80]!r}")
        self.text.append(data)

    def parse(self, html: str) -> "Injections":
        # A <script type="application/json"> block (json_script) holds data: it must not close itself early,
        # and is then set aside, its JSON strings being text and not script.
        blocks = r'(<script[^>]*type="application/json"[^>]*>)(.*?)(</script>)'
        for _, block, _ in re.findall(blocks, html, re.DOTALL):
            if "<" in block:
                self.found.append(f"a JSON block with markup in it: {block[:80]!r}")
        self.feed(re.sub(blocks, r"\1\3", html, flags=re.DOTALL))
        self.close()
        return self


def injections(response) -> tuple[list[str], str]:
    html = response.content.decode()
    parsed = Injections().parse(html)
    return parsed.found, "".join(parsed.text)


def typed(n: int, limit: int = 300) -> str:
    return CORPUS[n % len(CORPUS)][:limit]


@pytest.fixture
def everything_typed(settings):
    """A company whose every name and text is an injection attempt, with work in every state."""
    settings.WEBCHAT_RATE_PER_CHAT = 1000
    settings.DEMO_PAGE = True
    company = factories.CompanyFactory(name=typed(0, 120))
    queue = factories.WebchatQueueFactory(
        company=company,
        name=typed(1, 100),
        widget_title=typed(2, 60),
        welcome_message=typed(3, 300),
        auto_allocate=False,
    )
    voice_queue = factories.VoiceQueueFactory(company=company, name=typed(4, 100), slug="switchboard")
    agent = factories.MembershipFactory(
        company=company,
        role=Role.ADMINISTRATOR,
        user__is_staff=True,
        user__first_name=typed(5, 150),
        display_name=typed(6, 80),
        can_voice=True,
    )
    agent.voice_queues.add(voice_queue)
    colleague = factories.MembershipFactory(company=company, display_name=typed(7, 80))
    factories.ResponseTemplateFactory(
        company=company, title=typed(8, 100), text=typed(9) + " {customer_name}"
    )
    classification = factories.ClassificationFactory(company=company, code="X<b>9", label=typed(10, 120))
    reason = factories.BreakReasonFactory(company=company, name=typed(11, 60))
    contact = factories.ContactFactory(
        company=company, name=typed(12, 120), organisation=typed(13, 120), notes=typed(14), phone="+4420"
    )
    chats = []
    for n in range(4):
        chat = engine.chat_open(
            queue_token=queue.token, customer_name=typed(n, 80), first_message=typed(n + 1)
        ).chat
        chats.append(chat)
    active, held, closed, _waiting = chats
    for chat in (active, held, closed):
        engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=closed.pk)
    for n in range(len(CORPUS)):
        engine.message_post_customer(chat_id=closed.pk, client_id=f"c{n}", text=typed(n))
        engine.message_post_agent(agent=agent, chat_id=closed.pk, client_id=f"a{n}", text=typed(n + 3))
    engine.chat_assign_contact(agent=agent, chat_id=closed.pk, contact_id=contact.pk)
    engine.chat_record_details(
        agent=agent, chat_id=closed.pk, notes=typed(6), classification_text=typed(7, 200)
    )
    engine.chat_end(agent=agent, chat_id=closed.pk)
    engine.wrapup_complete(agent=agent, chat_id=closed.pk, classification_id=classification.pk)
    engine.chat_activate(agent=agent, chat_id=active.pk)
    for n in range(len(CORPUS)):
        engine.message_post_customer(chat_id=active.pk, client_id=f"c{n}", text=typed(n))
        engine.message_post_agent(agent=agent, chat_id=active.pk, client_id=f"a{n}", text=typed(n + 5))
    engine.chat_assign_contact(agent=agent, chat_id=active.pk, contact_id=contact.pk)
    engine.chat_record_details(agent=agent, chat_id=active.pk, notes=typed(8))
    engine.call_arrived(
        company_id=company.pk, pbx_call_id="x-1", queue_slug="switchboard", caller_number=typed(1, 40)
    )
    return {
        "company": company,
        "queue": queue,
        "agent": agent,
        "colleague": colleague,
        "reason": reason,
        "contact": contact,
        "active": active,
        "held": held,
        "interaction": Interaction.objects.get(chat=closed),
        "closed": closed,
    }


def pages(world: dict) -> list[tuple[str, dict]]:
    active, contact = world["active"], world["contact"]
    return [
        ("/inbox/", {}),
        (reverse("inbox_chat", args=[active.pk]), {}),
        (reverse("inbox_transcript", args=[active.pk]), {}),
        (reverse("inbox_list"), {}),
        (reverse("inbox_status"), {}),
        (reverse("inbox_call"), {}),
        (reverse("inbox_queue", args=[world["queue"].pk]), {"open": "1"}),
        (reverse("inbox_find_contact", args=[active.pk]), {}),
        (reverse("inbox_find_contact", args=[active.pk]), {"q": "xss"}),
        ("/contacts/", {"q": "xss"}),
        (reverse("contact", args=[contact.pk]), {}),
        (reverse("interaction_transcript", args=[world["interaction"].pk]), {}),
        ("/wallboard/", {}),
        ("/wallboard/board/", {}),
        ("/reports/", {"interval": "hour"}),
        ("/reports/interactions/", {}),
        (reverse("webchat-widget", args=[world["queue"].token]), {}),
        ("/demo/", {"queue": world["queue"].token}),
    ]


def test_typed_text_is_shown_as_text_on_every_page_of_the_inbox_crm_wallboard_and_widget(everything_typed):
    client = log_in_verified(Client(), everything_typed["agent"].user)
    problems, shown = [], set()
    for path, query in pages(everything_typed):
        response = client.get(path, query)
        assert response.status_code == 200, (path, response.status_code)
        found, text = injections(response)
        problems += [f"{path}: {what}" for what in found]
        shown |= set(MARKER.findall(text))
    assert not problems, "\n".join(problems)
    # The attempts did reach the pages (as text): every one of them is shown somewhere.
    assert {f"xss_{n}" for n in range(1, len(CORPUS) + 1)} <= shown


def test_a_break_reasons_name_is_shown_as_text_in_the_status_and_on_the_wallboard(everything_typed):
    colleague = everything_typed["colleague"]
    engine.agent_set_presence(
        agent=colleague, presence=Presence.BREAK, break_reason_id=everything_typed["reason"].pk
    )
    for viewer, path in ((colleague, "/inbox/status/"), (everything_typed["agent"], "/wallboard/board/")):
        client = log_in_verified(Client(), viewer.user)
        found, text = injections(client.get(path))
        assert not found and "xss_12" in text, (path, found)


def test_a_filled_template_reaches_the_page_as_data_of_an_event(everything_typed):
    client = log_in_verified(Client(), everything_typed["agent"].user)
    template = everything_typed["company"].templates.get()
    response = client.get(
        reverse("inbox_template", args=[everything_typed["active"].pk]), {"template": template.pk}
    )
    assert response.status_code == 204
    # The text travels inside the JSON of an htmx event: the page puts it in the message box's value.
    import json

    detail = json.loads(response["HX-Trigger"])["template-filled"]
    assert detail["text"].startswith(CORPUS[9])


def test_typed_text_is_shown_as_text_in_every_page_of_the_admin(everything_typed):
    client = log_in_verified(Client(), everything_typed["agent"].user)
    problems, shown = [], set()
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        paths = [changelist, f"{changelist}?q=xss"]
        obj = model_admin.get_queryset(_request_of(client, everything_typed["agent"].user)).first()
        if obj is not None:
            paths.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]))
        for path in paths:
            response = client.get(path)
            if response.status_code == 403:
                continue  # a page of the operator's only (logins, groups)
            assert response.status_code == 200, (path, response.status_code)
            found, text = injections(response)
            problems += [f"{path}: {what}" for what in found]
            shown |= set(MARKER.findall(text))
    assert not problems, "\n".join(problems)
    assert {f"xss_{n}" for n in range(1, len(CORPUS) + 1)} <= shown


def _request_of(client: Client, user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


# The scripts that draw what arrives live: every way they put text into the page.
HTML_SINKS = re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\.html\(")


@pytest.mark.parametrize("script", ["webchat/widget-app.js", "webchat/widget.js", "inbox/inbox.js"])
def test_the_browser_scripts_put_text_in_the_page_as_text_only(script):
    source = (Path(settings.BASE_DIR) / "static" / script).read_text()
    for number, line in enumerate(source.splitlines(), 1):
        if HTML_SINKS.search(line):
            # The one HTML string allowed is a fixed skeleton, with no variable in it.
            assignment = line.split("=", 1)[1] if "=" in line else line
            assert re.fullmatch(r"\s*'[^'+`$]*';\s*", assignment), (
                f"{script}:{number} puts HTML: {line.strip()}"
            )
