"""Tenant isolation, route by route.

For every URL of the product (the admin's included) and every WebSocket route, an agent, a supervisor and
an administrator of Acme, and an anonymous visitor, try to read and change Brightside's objects and a
colleague's chat. Every attempt is refused (401/403/404/405..., a redirect to a login page or the admin's
"doesn't exist", a close code) or shows nothing of them; none changes anything of Brightside or of the
colleague; none is a 500. The routes are read from the URL configuration and the WebSocket routing: a
route without a case in this matrix fails the suite, so a new route cannot be forgotten.
"""

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls import reverse as url
from django.utils import timezone

from contactcentre.models import Company, Membership
from routing.telephony import signature
from tests.security.test_isolation_sockets import SOCKET_CASES, websocket_routes
from tests.security.world import ACTORS, B_SECRET, COLLEAGUE_SECRET, QUEUE_SECRET, World, build
from webchat.models import Chat, Message

pytestmark = pytest.mark.django_db

GUARDED_APPS = ("contactcentre", "routing", "webchat", "crm", "auth")
# Searches use the start of the marker: a search box shows back what was typed, a leak shows all of it.
SEARCH = B_SECRET[:-4]
REFUSED_STATUSES = {400, 401, 403, 404, 405, 409, 413}
LOGIN_PAGES = ("/accounts/login/", "/admin/login/")
# A staffing question whose volume and handle time are left to the queue's own figures.
STAFFING = {"interval_minutes": 30, "target_seconds": 20, "service_level_pct": 80}
# The exports' range: every day the world's traffic may fall on (it is built at the time the tests run).
EXPORT_RANGE = {
    "from": (timezone.localdate() - dt.timedelta(days=7)).isoformat(),
    "to": (timezone.localdate() + dt.timedelta(days=1)).isoformat(),
}


def http_routes() -> list[str]:
    """Every URL pattern of the product, as its full pattern text."""

    def walk(patterns, prefix: str):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    return sorted(set(walk(get_resolver(settings.ROOT_URLCONF).url_patterns, "")))


# ---------------------------------------------------------------------------------------------------------
# Attempts


@dataclass
class Attempt:
    method: str
    path: str
    data: dict | str | None = None
    # "refused": the answer must say no; "hidden": the route serves this actor, but shows none of the
    # other company's or the colleague's data.
    expect: str = "refused"
    content_type: str | None = None
    headers: dict = field(default_factory=dict)


def get(path: str, data: dict | None = None, expect: str = "refused") -> Attempt:
    return Attempt("get", path, data, expect)


def post(path: str, data: dict | None = None, expect: str = "refused") -> Attempt:
    return Attempt("post", path, data or {}, expect)


def post_json(path: str, body: dict, token: str = "", expect: str = "refused", **headers) -> Attempt:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return Attempt("post", path, json.dumps(body), expect, "application/json", headers)


def both(path: str, data: dict | None = None) -> list[Attempt]:
    """Read and write the same address: whichever the route takes must be refused."""
    return [get(path, data), post(path, data)]


def served(actor: str, who: tuple[str, ...] = ("agent", "supervisor", "administrator")) -> str:
    """ "hidden" for the actors who may use the route, "refused" for the others."""
    return "hidden" if actor in who else "refused"


Case = Callable[[World, str], list[Attempt]]


def chat_route(name: str, data: dict | None = None) -> Case:
    """A route about one chat: Brightside's chats and the colleague's are refused, whatever the method."""

    def attempts(world: World, actor: str) -> list[Attempt]:
        b = world.b_objects
        chats = [b["chat"], b["waiting_chat"], b["closed_chat"], world.colleague_chat]
        return [attempt for chat in chats for attempt in both(url(name, args=[chat.pk]), data)]

    return attempts


def own_chat(world: World, actor: str) -> Chat:
    return world.own_chats.get(actor, world.own_chats["agent"])


def report_filters_of_brightside(path: str, world: World) -> list[Attempt]:
    """A report asked about Brightside's queues, agent or classification: refused whoever asks."""
    b = world.b_objects
    return [
        get(path, {"queue": f"chat-{b['webchatqueue'].pk}"}),
        get(path, {"queue": f"voice-{b['voicequeue'].pk}"}),
        get(path, {"agent": b["membership"].user.username}),
        get(path, {"agent": str(b["membership"].pk)}),
        get(path, {"classification": str(b["classification"].pk)}),
    ]


def export_case(name: str) -> Case:
    """A CSV export: the company's own figures for supervisors and administrators; Brightside's queues,
    agents and classifications are not found."""

    def attempts(w: World, actor: str) -> list[Attempt]:
        path, b = f"/reports/{name}.csv", w.b_objects
        return [
            get(
                path,
                {**EXPORT_RANGE, "interval": "hour"},
                expect=served(actor, ("supervisor", "administrator")),
            ),
            get(path, {**EXPORT_RANGE, "queue": f"chat-{b['webchatqueue'].pk}"}),
            get(path, {**EXPORT_RANGE, "queue": f"voice-{b['voicequeue'].pk}"}),
            get(path, {**EXPORT_RANGE, "agent": b["membership"].user.username}),
            get(path, {**EXPORT_RANGE, "agent": str(b["membership"].pk)}),
            get(path, {**EXPORT_RANGE, "classification": str(b["classification"].pk)}),
        ]

    return attempts


CASES: dict[str, Case] = {
    "healthz": lambda w, actor: [get("/healthz", expect="hidden")],
    # The chat API's published contract: public, the same for everyone, and no company's data in it.
    "api/webchat/v1/openapi.json": lambda w, actor: [get("/api/webchat/v1/openapi.json", expect="hidden")],
    # The operators' scrape, across every company: no signed-in person of a company may read it.
    "metrics": lambda w, actor: [get("/metrics", expect="refused")],
    "": lambda w, actor: [get("/", expect="hidden")],
    # Signing in and out concern the person doing it only.
    "accounts/login/": lambda w, actor: [
        get("/accounts/login/", expect="hidden"),
        post("/accounts/login/", {"username": "brightside-agent", "password": "guess"}, expect="hidden"),
    ],
    "accounts/logout/": lambda w, actor: [post("/accounts/logout/", expect="hidden")],
    # Two-factor sign-in concerns the person doing it only: no route names another login or its devices.
    "accounts/login/code/": lambda w, actor: [
        get("/accounts/login/code/", expect="hidden"),
        post("/accounts/login/code/", {"code": "123456"}, expect="hidden"),
        post("/accounts/login/code/", {"recovery_code": "abcdefgh"}, expect="hidden"),
    ],
    "accounts/two-factor/": lambda w, actor: [get("/accounts/two-factor/", expect="hidden")],
    "accounts/two-factor/set-up/": lambda w, actor: [
        get("/accounts/two-factor/set-up/", expect="hidden"),
        post("/accounts/two-factor/set-up/", {"code": "123456"}, expect="hidden"),
    ],
    "accounts/two-factor/recovery-codes/": lambda w, actor: [
        post("/accounts/two-factor/recovery-codes/", {"code": "123456"}, expect="hidden")
    ],
    "accounts/two-factor/off/": lambda w, actor: [
        post("/accounts/two-factor/off/", {"code": "123456"}, expect="hidden")
    ],
    # The public chat API: a queue token is public, a chat needs its own customer token.
    "api/webchat/v1/chats": lambda w, actor: [
        post_json(
            "/api/webchat/v1/chats",
            {"queue_token": w.b_objects["webchatqueue"].token, "name": "Mallory"},
            Origin="https://acme.example",
        ),
        post_json("/api/webchat/v1/chats", {"queue_token": w.b_objects["disabled_queue"].token}),
    ],
    "api/webchat/v1/chats/<str:chat_id>/messages": lambda w, actor: [
        attempt
        for chat in (w.b_objects["chat"], w.colleague_chat)
        for token in ("", w.a_token)
        for attempt in (
            Attempt("get", f"/api/webchat/v1/chats/{chat.pk}/messages", headers=_bearer(token)),
            post_json(f"/api/webchat/v1/chats/{chat.pk}/messages", {"client_id": "x", "text": "Hi"}, token),
        )
    ],
    "api/webchat/v1/chats/<str:chat_id>/end": lambda w, actor: [
        post_json(f"/api/webchat/v1/chats/{chat.pk}/end", {}, token)
        for chat in (w.b_objects["chat"], w.colleague_chat)
        for token in ("", w.a_token)
    ],
    "api/telephony/v1/events": lambda w, actor: _telephony_attempts(w),
    # The widget page is public for an enabled queue (it shows the queue's public face only).
    "webchat/w/<str:queue_token>/": lambda w, actor: [
        get(f"/webchat/w/{w.b_objects['webchatqueue'].token}/", expect="hidden"),
        get(f"/webchat/w/{w.b_objects['disabled_queue'].token}/"),
    ],
    "demo/": lambda w, actor: [
        get("/demo/", {"queue": w.b_objects["webchatqueue"].token}, expect="hidden"),
        get("/demo/", {"queue": w.b_objects["disabled_queue"].token}, expect="hidden"),
    ],
    # The inbox: pages and partials show the agent's own company only.
    "inbox/": lambda w, actor: [get("/inbox/", expect=served(actor))],
    "inbox/status/": lambda w, actor: [get("/inbox/status/", expect=served(actor))],
    "inbox/bell/": lambda w, actor: [get("/inbox/bell/", expect=served(actor))],
    "inbox/list/": lambda w, actor: [get("/inbox/list/", expect=served(actor))],
    "inbox/call/": lambda w, actor: [get("/inbox/call/", expect=served(actor))],
    "inbox/presence/": lambda w, actor: [
        post("/inbox/presence/", {"presence": f"break:{w.b_objects['breakreason'].pk}"})
    ],
    "inbox/queues/<int:queue_id>/": lambda w, actor: [
        get(url("inbox_queue", args=[w.b_objects["webchatqueue"].pk]), {"open": "1"})
    ],
    "inbox/queues/<int:queue_id>/take/": lambda w, actor: both(
        url("inbox_take_next", args=[w.b_objects["webchatqueue"].pk])
    ),
    "inbox/calls/<int:call_id>/answer/": lambda w, actor: both(
        url("inbox_call_answer", args=[w.b_objects["call"].pk])
    ),
    "inbox/calls/<int:call_id>/hang-up/": lambda w, actor: both(
        url("inbox_call_hang_up", args=[w.b_objects["call"].pk])
    ),
    "inbox/calls/<int:call_id>/complete/": lambda w, actor: both(
        url("inbox_call_complete", args=[w.b_objects["call"].pk]), {"notes": "Nosy"}
    ),
    "inbox/<uuid:chat_id>/": lambda w, actor: [
        *chat_route("inbox_chat")(w, actor),
        # The contact's history beside the actor's own chat lists only the interactions they may read.
        get(url("inbox_chat", args=[own_chat(w, actor).pk]), expect=served(actor)),
    ],
    "inbox/<uuid:chat_id>/seen/": chat_route("inbox_seen"),
    "inbox/<uuid:chat_id>/transcript/": chat_route("inbox_transcript"),
    "inbox/<uuid:chat_id>/take/": chat_route("inbox_take"),
    "inbox/<uuid:chat_id>/activate/": chat_route("inbox_activate"),
    "inbox/<uuid:chat_id>/park/": chat_route("inbox_park"),
    "inbox/<uuid:chat_id>/put-back/": chat_route("inbox_put_back"),
    "inbox/<uuid:chat_id>/end/": chat_route("inbox_end"),
    "inbox/<uuid:chat_id>/messages/": chat_route("inbox_send", {"client_id": "nosy-1", "text": "Hello"}),
    "inbox/<uuid:chat_id>/extend/": chat_route("inbox_extend"),
    "inbox/<uuid:chat_id>/complete/": chat_route("inbox_complete", {"notes": "Nosy"}),
    "inbox/<uuid:chat_id>/abusive/": chat_route("inbox_abusive", {"abusive": "1"}),
    "inbox/<uuid:chat_id>/contact/find/": lambda w, actor: [
        *chat_route("inbox_find_contact")(w, actor),
        get(url("inbox_find_contact", args=[own_chat(w, actor).pk]), {"q": SEARCH}, expect=served(actor)),
    ],
    "inbox/<uuid:chat_id>/contact/new/": chat_route("inbox_create_contact", {"name": "Eve"}),
    # Routes about one chat that also name another object: the agent's own chat with Brightside's.
    "inbox/<uuid:chat_id>/transfer/": lambda w, actor: [
        *chat_route("inbox_transfer", {"queue": str(w.b_objects["webchatqueue"].pk)})(w, actor),
        post(url("inbox_transfer", args=[own_chat(w, actor).pk]), {"queue": w.b_objects["webchatqueue"].pk}),
    ],
    "inbox/<uuid:chat_id>/template/": lambda w, actor: [
        *chat_route("inbox_template", {"template": str(w.b_objects["responsetemplate"].pk)})(w, actor),
        get(
            url("inbox_template", args=[own_chat(w, actor).pk]),
            {"template": w.b_objects["responsetemplate"].pk},
        ),
    ],
    "inbox/<uuid:chat_id>/details/": lambda w, actor: [
        *chat_route("inbox_details", {"notes": "Nosy"})(w, actor),
        post(
            url("inbox_details", args=[own_chat(w, actor).pk]),
            {"classification": w.b_objects["classification"].pk},
        ),
    ],
    "inbox/<uuid:chat_id>/contact/": lambda w, actor: [
        *chat_route("inbox_assign_contact", {"contact": ""})(w, actor),
        post(
            url("inbox_assign_contact", args=[own_chat(w, actor).pk]), {"contact": w.b_objects["contact"].pk}
        ),
    ],
    "wallboard/": lambda w, actor: [
        get("/wallboard/", expect=served(actor, ("supervisor", "administrator")))
    ],
    "wallboard/board/": lambda w, actor: [
        get("/wallboard/board/", expect=served(actor, ("supervisor", "administrator")))
    ],
    # A supervisor's own alert emails: the route names nobody else, so there is nobody else to reach.
    "wallboard/alerts/": lambda w, actor: [
        post(
            "/wallboard/alerts/",
            {"kpi_alert_emails": "on"},
            expect=served(actor, ("supervisor", "administrator")),
        ),
        get("/wallboard/alerts/"),
    ],
    # The staffing calculator: a question about the company's own queues, for supervisors and administrators.
    "reports/staffing.json": lambda w, actor: [
        get(
            "/reports/staffing.json",
            {**STAFFING, "volume": 100, "aht_seconds": 180},
            expect=served(actor, ("supervisor", "administrator")),
        ),
        get("/reports/staffing.json", {**STAFFING, "queue": f"chat-{w.b_objects['webchatqueue'].pk}"}),
        get("/reports/staffing.json", {**STAFFING, "queue": f"voice-{w.b_objects['voicequeue'].pk}"}),
    ],
    "reports/staffing/": lambda w, actor: [
        get(
            "/reports/staffing/",
            {**STAFFING, "volume": 100, "aht_seconds": 180},
            expect=served(actor, ("supervisor", "administrator")),
        ),
        get("/reports/staffing/", {**STAFFING, "queue": f"chat-{w.b_objects['webchatqueue'].pk}"}),
        get("/reports/staffing/", {**STAFFING, "queue": f"voice-{w.b_objects['voicequeue'].pk}"}),
    ],
    # The report pages: the company's own figures for supervisors and administrators; another company's
    # queue, agent or classification named in the filters is not found.
    "reports/": lambda w, actor: [
        get("/reports/", expect=served(actor, ("supervisor", "administrator"))),
        get(
            "/reports/",
            {"interval": "hour", "channel": "chat"},
            expect=served(actor, ("supervisor", "administrator")),
        ),
        *report_filters_of_brightside("/reports/", w),
    ],
    "reports/interactions/": lambda w, actor: [
        get("/reports/interactions/", expect=served(actor, ("supervisor", "administrator"))),
        get(
            "/reports/interactions/",
            {"outcome": "answered", "unclassified": "1"},
            expect=served(actor, ("supervisor", "administrator")),
        ),
        *report_filters_of_brightside("/reports/interactions/", w),
    ],
    # The exports: the company's own figures for supervisors and administrators; Brightside's queues and
    # agents are not found.
    **{f"reports/{name}.csv": export_case(name) for name in ("interactions", "queues", "agents")},
    # The CRM pages.
    "contacts/": lambda w, actor: [get("/contacts/", {"q": SEARCH}, expect=served(actor))],
    "contacts/<int:contact_id>/": lambda w, actor: [
        get(url("contact", args=[w.b_objects["contact"].pk])),
        # Every member reads their company's contacts, but the history only as their profile allows.
        get(url("contact", args=[w.a_contact.pk]), expect=served(actor)),
    ],
    # Transcripts follow the queue profile: Acme Private's is the administrator's only.
    "contacts/interactions/<int:interaction_id>/transcript/": lambda w, actor: [
        get(url("interaction_transcript", args=[w.b_objects["interaction"].pk])),
        get(
            url("interaction_transcript", args=[w.private_interaction.pk]),
            expect=served(actor, ("administrator",)),
        ),
    ],
    "inbox/queues/": lambda w, actor: [get("/inbox/queues/", expect=served(actor))],
    # The admin's own pages (those of each model are derived from the admin's registry below).
    "admin/": lambda w, actor: [get("/admin/", expect=served(actor, ("administrator",)))],
    "admin/login/": lambda w, actor: [get("/admin/login/", expect="hidden")],
    "admin/logout/": lambda w, actor: [post("/admin/logout/", expect="hidden")],
    "admin/password_change/": lambda w, actor: [
        get("/admin/password_change/", expect=served(actor, ("administrator",)))
    ],
    "admin/password_change/done/": lambda w, actor: [
        get("/admin/password_change/done/", expect=served(actor, ("administrator",)))
    ],
    "admin/jsi18n/": lambda w, actor: [get("/admin/jsi18n/", expect="hidden")],
    # The admin's autocomplete searches the linked model's admin, which is scoped to the company.
    "admin/autocomplete/": lambda w, actor: [
        get(
            "/admin/autocomplete/",
            {"app_label": "webchat", "model_name": "chat", "field_name": field, "term": term},
            expect=served(actor, ("administrator",)),
        )
        for field in ("queue", "agent", "contact", "classification")
        for term in ("", SEARCH)
    ],
    "admin/r/<path:content_type_id>/<path:object_id>/": lambda w, actor: [
        get(f"/admin/r/{ContentType.objects.get_for_model(Chat).pk}/{w.b_objects['chat'].pk}/"),
        get(f"/admin/r/{ContentType.objects.get_for_model(Company).pk}/{w.b.pk}/"),
    ],
    "admin/^(?P<app_label>auth|contactcentre|routing|webchat|crm)/$": lambda w, actor: (
        [
            get(f"/admin/{app}/", expect=served(actor, ("administrator",)))
            for app in ("contactcentre", "routing", "webchat", "crm")
        ]
        + [get("/admin/auth/")]
    ),
    "admin/(?P<url>.*)$": lambda w, actor: [get("/admin/no-such-page/")],
}


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _telephony_attempts(world: World) -> list[Attempt]:
    """Acme's telephony system (it knows Acme's secret) reaching for Brightside's calls, queues, agents."""

    def event(body: dict, secret: str) -> Attempt:
        raw = json.dumps(body)
        return Attempt(
            "post",
            "/api/telephony/v1/events",
            raw,
            content_type="application/json",
            headers={"X-Contact-Signature": signature(secret, raw.encode())},
        )

    a_secret, b = world.a.telephony_secret, world.b_objects
    b_call = b["call"].pbx_call_id
    return [
        event({"event": "call.ended", "company": "brightside", "call_id": b_call}, a_secret),
        event({"event": "call.ended", "company": "acme", "call_id": b_call}, a_secret),
        event(
            {"event": "call.answered", "company": "acme", "call_id": b_call, "agent": "brightside-agent"},
            a_secret,
        ),
        event(
            {"event": "call.arrived", "company": "acme", "call_id": "x-1", "queue": "b-switchboard"}, a_secret
        ),
    ]


# ---------------------------------------------------------------------------------------------------------
# The admin: every model's pages, derived from the URL patterns the admin registers.

ADMIN_MODEL_ROUTE = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/(?P<rest>.*)$")


def admin_attempts(route: str, world: World, actor: str) -> list[Attempt] | None:
    match = ADMIN_MODEL_ROUTE.match(route)
    if match is None or (match["app"], match["model"]) not in _registered_models():
        return None
    model, rest = match["model"], match["rest"]
    target = world.b_objects.get(model)
    if target is None:
        raise AssertionError(
            f"No object of Brightside for the admin of {model}: add one to tests/security/world.py"
        )
    base = f"/admin/{match['app']}/{model}/"
    obj = f"{base}{target.pk}/"
    administrator = served(actor, ("administrator",))
    pages = {
        "": [
            get(base, expect=administrator),
            get(base, {"q": SEARCH}, expect=administrator),
            get(base, {"company__id__exact": world.b.pk}, expect=administrator),
            post(
                base,
                {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"},
                expect=administrator,
            ),
        ],
        "add/": [
            get(f"{base}add/", expect=administrator),
            post(f"{base}add/", _add_form(model, world), expect=administrator),
        ],
        "<path:object_id>/history/": [get(f"{obj}history/")],
        "<path:object_id>/delete/": both(f"{obj}delete/", {"post": "yes"}),
        "<path:object_id>/change/": [
            get(f"{obj}change/"),
            post(f"{obj}change/", {"name": "Hacked", "_save": "Save"}),
        ],
        # The admin's old address of a change page only redirects to the new one, which refuses.
        "<path:object_id>/": [get(obj, expect="hidden")],
        "<path:object_id>/regenerate-token/": both(f"{obj}regenerate-token/"),
        "<id>/password/": both(
            f"{obj}password/", {"password1": "Hacked-pass-123", "password2": "Hacked-pass-123"}
        ),
    }
    if rest not in pages:
        raise AssertionError(f"The admin route {route} is new: say in this matrix what may be done there")
    attempts = pages[rest]
    if model == "webchatqueue" and rest == "":
        attempts.append(
            post(base, {"action": "regenerate_tokens", "_selected_action": [target.pk]}, expect=administrator)
        )
    return attempts


def _registered_models() -> set[tuple[str, str]]:
    from django.contrib import admin

    return {(model._meta.app_label, model._meta.model_name) for model in admin.site._registry}


def _add_form(model: str, world: World) -> dict:
    """An add form naming Brightside's objects wherever the model links to a company's objects."""
    b = world.b_objects
    queue, profile, voice = b["webchatqueue"].pk, b["queueprofile"].pk, b["voicequeue"].pk
    forms = {
        "queueprofile": {"name": "Stolen", "queues": [queue]},
        "responsetemplate": {"title": "Stolen", "text": "Hi", "queues": [queue]},
        "classification": {"code": "STOLEN", "label": "Stolen", "queues": [queue]},
        "membership": {
            "username": "stolen-agent",
            "password": "A-long-enough-password-1",
            "role": "agent",
            "can_webchat": "on",
            "is_active": "on",
            "queue_profile": profile,
            "voice_queues": [voice],
        },
    }
    return {"company": world.b.pk, "name": "Stolen", **forms.get(model, {})}


def attempts_for(route: str, world: World, actor: str) -> list[Attempt]:
    case = CASES.get(route)
    if case is not None:
        return case(world, actor)
    derived = admin_attempts(route, world, actor)
    if derived is None:
        raise AssertionError(
            f"{route!r} has no case in the isolation matrix: add to CASES what may be done there, and by whom"
        )
    return derived


# ---------------------------------------------------------------------------------------------------------
# What must hold


def guarded_rows(world: World) -> dict[str, list[str]]:
    """Every row of Brightside, and the colleague with their chat, as stored now."""
    b, colleague, chat = world.b, world.colleague, world.colleague_chat
    rows = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        # The audit log grows with the attempts themselves: a failed login on a Brightside account belongs in
        # Brightside's log. That nobody reads or changes it is checked through its admin pages.
        if meta.app_label not in GUARDED_APPS or meta.model_name in ("permission", "auditentry"):
            continue
        names = {f.name for f in meta.get_fields()}
        if model is Company:
            scope = Q(pk=b.pk)
        elif model is Message:
            scope = Q(chat__company=b) | Q(chat=chat)
        elif meta.model_name == "user":
            scope = Q(membership__company=b) | Q(pk=colleague.user_id)
        elif "company" in names:
            scope = Q(company=b)
            if model is Chat:
                scope |= Q(pk=chat.pk)
            if model is Membership:
                scope |= Q(pk=colleague.pk)
        else:
            scope = Q()  # links between objects (many-to-many tables) and groups: every row
        rows[meta.label] = sorted(
            repr(sorted(row.items())) for row in model._default_manager.filter(scope).values()
        )
    return rows


def refused(response) -> bool:
    if response.status_code in REFUSED_STATUSES:
        return True
    if response.status_code in (301, 302):
        location = response["Location"]
        return location.startswith(LOGIN_PAGES) or location == "/admin/"
    return False


def shows_what_it_must_not(response, route: str, actor: str) -> list[str]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode(errors="replace")
    secrets = [B_SECRET]
    # A company administrator reads every chat of their company in the admin; nobody else reads a
    # colleague's.
    if not (route.startswith("admin/") and actor == "administrator"):
        secrets.append(COLLEAGUE_SECRET)
    # Interactions of queues outside the reader's profile: an administrator reads every one of them.
    if actor != "administrator":
        secrets.append(QUEUE_SECRET)
    return [secret for secret in secrets if secret in text]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """One world for the module, in a transaction rolled back at the end; each test in a savepoint."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build()
        transaction.set_rollback(True)


@pytest.fixture
def isolated(world, db, settings):
    """The module's world; what a test changes is rolled back after it."""
    settings.DEMO_PAGE = True
    return world


def test_every_route_has_a_case_in_the_matrix(isolated):
    missing = []
    for route in http_routes():
        try:
            attempts_for(route, isolated, "agent")
        except AssertionError as problem:
            missing.append(str(problem))
    missing += [
        f"{route!r} (WebSocket) has no case" for route in websocket_routes() if route not in SOCKET_CASES
    ]
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("route", http_routes())
def test_no_one_reaches_another_companys_data_or_a_colleagues_chat(isolated, route):
    before = guarded_rows(isolated)
    problems = []
    for actor in ACTORS:
        client = isolated.client(actor)
        for attempt in attempts_for(route, isolated, actor):
            options = {"content_type": attempt.content_type} if attempt.content_type else {}
            response = getattr(client, attempt.method)(
                attempt.path, attempt.data, headers=attempt.headers, **options
            )
            what = f"{actor} {attempt.method.upper()} {attempt.path} {attempt.data or ''}"
            if response.status_code >= 500:
                problems.append(f"{what}: {response.status_code}")
            elif attempt.expect == "refused" and not refused(response):
                problems.append(
                    f"{what}: not refused ({response.status_code} {response.get('Location', '')})"
                )
            if leaked := shows_what_it_must_not(response, route, actor):
                problems.append(f"{what}: shows {leaked}")
    assert not problems, "\n".join(problems)
    assert guarded_rows(isolated) == before, "an attempt changed Brightside's data or the colleague's"
