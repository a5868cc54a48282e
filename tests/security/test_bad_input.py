"""Whatever arrives (any JSON, any bytes, any frame, any form), the answer is the documented error or the
documented success: never a 500, never a closed socket, and a refusal leaves nothing half-written.

Property-based (hypothesis): the strategies mix well-formed values with wrong types, NUL characters,
lone surrogates, huge and empty strings, deep nesting and bytes that are not UTF-8.
"""

import json
import uuid
from urllib.parse import quote

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from hypothesis import example, given, settings
from hypothesis import strategies as st

from contactcentre.models import Membership, Role
from crm.models import Contact
from routing import engine
from routing.models import BreakReason, Call, QueueProfile, VoiceQueue, WebchatQueue
from routing.telephony import signature
from tests import factories
from tests.two_factor_support import log_in_verified
from tests.webchat_support import agent_socket, customer_socket, say_hello
from webchat import floods
from webchat.models import Chat, Classification, Message, ResponseTemplate
from webchat.tokens import customer_token_for, customer_token_valid

API = "/api/webchat/v1"

# docs/chat-api.md, "Errors": the codes each status may carry.
CHAT_API_ERRORS = {
    400: {"invalid"},
    401: {"unauthorized", "token_expired"},
    403: {"origin_not_allowed"},
    404: {"unknown_queue", "not_found"},
    405: {"method_not_allowed"},
    409: {"queue_full", "no_agents", "chat_ended", "busy"},
    413: {"too_long"},
    429: {"rate_limited"},
}
# docs/telephony.md
TELEPHONY_ERRORS = {
    400: {"invalid"},
    401: {"bad_signature"},
    404: {"unknown_call", "unknown_queue", "unknown_agent"},
    413: {"too_long"},
}
SOCKET_ERRORS = {"invalid", "too_long", "rate_limited", "chat_ended", "busy"}
# The product's own client ids, in the spellings a client might try (webchat/text.py).
reserved_client_ids = st.builds(
    lambda prefix, case, rest: case(prefix) + rest,
    st.sampled_from(["system-", "open-"]),
    st.sampled_from([str, str.upper, str.title]),
    st.text(alphabet=st.characters(codec="ascii", categories=("L", "N", "Pd")), max_size=40),
)

NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x" * 5000,
    "é" * 300,
    "<script>alert(1)</script>",
    "'; DROP TABLE webchat_chat; --",
    "../../etc/passwd",
]
nasty_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=30),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=30),  # surrogates and NUL included
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | nasty_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(nasty_text, children, max_size=3),
    max_leaves=6,
)
raw_bodies = st.one_of(
    st.binary(max_size=50),
    st.sampled_from([b"", b"{", b"[" * 5000, b'{"a": 1}' * 3, b"\xff\xfe", b"null", b"[]", b'"text"']),
)


def documented(response, errors: dict[int, set[str]], successes: set[int]) -> str:
    """The code of a documented refusal, "" for a documented success; fails on anything else."""
    assert response.status_code < 500, response.content[:500]
    if response.status_code in successes:
        return ""
    assert response.status_code in errors, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] in errors[response.status_code], body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body["error"]["code"]


@pytest.fixture
def quiet_client() -> Client:
    """A client that answers a server error with its 500, as a browser would see it."""
    return Client(raise_request_exception=False)


@pytest.fixture
def queues(db, settings):
    settings.WEBCHAT_RATE_PER_IP = 10_000
    settings.WEBCHAT_RATE_PER_CHAT = 10_000
    company = factories.CompanyFactory()
    return {
        "open": factories.WebchatQueueFactory(company=company, auto_allocate=False),
        "disabled": factories.WebchatQueueFactory(company=company, enabled=False),
        "guarded": factories.WebchatQueueFactory(
            company=company, allowed_origins="https://shop.example", allow_wait_without_agents=False
        ),
    }


def opening_bodies(queues: dict) -> st.SearchStrategy:
    tokens = st.sampled_from([queue.token for queue in queues.values()]) | json_values
    fields = {"queue_token": tokens, "name": json_values, "message": json_values, "client_id": json_values}
    return st.fixed_dictionaries({}, optional={**fields, "visitor_id": json_values}) | json_values


# ---------------------------------------------------------------------------------------------------------
# The chat API


@given(data=st.data())
def test_opening_a_chat_with_any_body_opens_it_or_answers_a_documented_error(quiet_client, queues, data):
    body = data.draw(opening_bodies(queues) | raw_bodies)
    raw = body if isinstance(body, bytes) else json.dumps(body)
    origin = data.draw(st.sampled_from([None, "https://shop.example", "https://evil.example"]))
    chats, messages = Chat.objects.count(), Message.objects.count()

    response = quiet_client.post(
        f"{API}/chats", raw, content_type="application/json", headers={"Origin": origin} if origin else {}
    )

    code = documented(response, CHAT_API_ERRORS, {201})
    if code == "":
        chat = Chat.objects.get(pk=response.json()["chat_id"])
        assert customer_token_valid(token=response.json()["customer_token"], chat_id=chat.pk)
        assert Message.objects.count() - messages == chat.messages.count() <= 1
    elif code in ("queue_full", "no_agents"):
        # Refused, and logged for the company's reports as a refused chat: closed, with no message.
        refused = Chat.objects.order_by("-created_at").first()
        assert (refused.state, refused.outcome, refused.messages.count()) == ("closed", "refused", 0)
    else:
        assert (Chat.objects.count(), Message.objects.count()) == (chats, messages)


@pytest.fixture
def waiting(queues):
    chat = engine.chat_open(queue_token=queues["open"].token, first_message="Hello", client_id="c-0").chat
    return chat, customer_token_for(chat_id=chat.pk)


@given(data=st.data())
@example(data=None)
def test_reading_and_sending_with_any_request_answers_as_documented(quiet_client, waiting, data):
    chat, token = waiting
    if data is None:  # the plain case, always tried first
        after, body, auth, method = "0", {"client_id": "c-1", "text": "Hi"}, f"Bearer {token}", "post"
    else:
        after = data.draw(st.text(max_size=12) | st.integers().map(str))
        body = data.draw(
            st.fixed_dictionaries({}, optional={"client_id": json_values, "text": json_values}) | json_values
        )
        auth = data.draw(
            st.sampled_from([f"Bearer {token}", "", "Bearer ", f"bearer {token}x", "Basic abc"])
            | nasty_text.map(str)
        )
        method = data.draw(st.sampled_from(["get", "post", "put", "delete"]))
    before = list(chat.messages.values_list("seq", "client_id", "text"))
    headers = {"Authorization": auth} if _header_safe(auth) else {}

    if method == "get":
        response = quiet_client.get(f"{API}/chats/{chat.pk}/messages", {"after_seq": after}, headers=headers)
    else:
        response = getattr(quiet_client, method)(
            f"{API}/chats/{chat.pk}/messages",
            json.dumps(body),
            content_type="application/json",
            headers=headers,
        )

    code = documented(response, CHAT_API_ERRORS, {200, 201})
    after_rows = list(chat.messages.values_list("seq", "client_id", "text"))
    if response.status_code == 201:
        assert after_rows[:-1] == before and after_rows[-1][0] == len(before) + 1
    else:
        assert after_rows == before, code


@given(client_id=reserved_client_ids, text=nasty_text | st.just("Hi"))
def test_a_client_id_of_the_products_own_is_always_refused_as_invalid(quiet_client, waiting, client_id, text):
    chat, token = waiting
    before = list(chat.messages.values_list("seq", "client_id"))

    response = quiet_client.post(
        f"{API}/chats/{chat.pk}/messages",
        json.dumps({"client_id": client_id, "text": text}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert documented(response, CHAT_API_ERRORS, set()) in ("invalid", "too_long")
    assert list(chat.messages.values_list("seq", "client_id")) == before


def _header_safe(value: str) -> bool:
    """Only what can travel in an HTTP header (latin-1, no line breaks) is sent as one."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return not any(c in value for c in "\r\n\x00")


@given(
    chat_id=nasty_text.filter(lambda text: text and "/" not in text), auth=st.sampled_from(["", "Bearer x"])
)
def test_any_chat_address_is_not_found_or_unauthorized(quiet_client, queues, chat_id, auth):
    segment = quote(chat_id.encode("utf-8", "surrogatepass"), safe="")
    for path in (f"{API}/chats/{segment}/messages", f"{API}/chats/{segment}/end"):
        try:
            response = quiet_client.post(
                path, "{}", content_type="application/json", headers={"Authorization": auth}
            )
        except ValueError:
            continue  # not a URL a client could send (the test client refuses it too)
        assert documented(response, CHAT_API_ERRORS, set()) in ("not_found", "unauthorized", "invalid")


# ---------------------------------------------------------------------------------------------------------
# The sockets


@pytest.fixture
def socket_db(transactional_db, settings):
    settings.WEBCHAT_RATE_PER_CHAT = 10_000


frames = st.one_of(
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["message", "typing", "hello", "end", "heartbeat", "bogus"]) | json_values},
        optional={
            "client_id": json_values,
            "text": json_values,
            "typing": json_values,
            "chat_id": json_values,
            "after_seq": json_values,
            "customer_token": json_values,
        },
    ).map(json.dumps),
    st.text(min_size=1, max_size=40),
)


@settings(max_examples=25)
@given(sent=st.lists(frames, min_size=1, max_size=6))
async def test_the_customer_socket_answers_every_frame_and_stays_open(socket_db, sent):
    queue = await database_sync_to_async(factories.WebchatQueueFactory)(auto_allocate=False)
    chat = (await database_sync_to_async(engine.chat_open)(queue_token=queue.token)).chat
    ws = await customer_socket(chat.pk)
    await say_hello(ws, customer_token_for(chat_id=chat.pk))
    acked = set()
    for frame in sent:
        await ws.send_to(text_data=frame)
        parsed = _json_or_none(frame)
        if (
            isinstance(parsed, dict)
            and parsed.get("type") == "typing"
            and isinstance(parsed.get("typing"), bool)
        ):
            continue  # typing is passed on or throttled, never answered
        answer = await _answer(ws)
        assert answer["type"] in ("ack", "error", "state"), answer
        if answer["type"] == "error":
            assert answer["code"] in SOCKET_ERRORS, answer
        if answer["type"] == "ack":
            acked.add(answer["client_id"])
    stored = await database_sync_to_async(
        lambda: set(Message.objects.filter(chat=chat).values_list("client_id", flat=True))
    )()
    assert stored - {f"system-{chat.pk}-{n}" for n in range(1, 20)} == acked
    await ws.disconnect()


async def _answer(ws) -> dict:
    """The next answer to the client's own frame (a message frame echoing its own send is skipped)."""
    while True:
        frame = await ws.receive_json_from(timeout=10)
        if frame["type"] != "message":
            return frame


def _json_or_none(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


@settings(max_examples=10)
@given(
    sent=st.lists(
        frames
        | reserved_client_ids.map(lambda cid: json.dumps({"type": "message", "client_id": cid, "text": "x"})),
        min_size=1,
        max_size=80,
    )
)
async def test_any_stream_of_frames_gets_documented_answers_and_at_worst_the_documented_close(
    socket_db, sent
):
    queue = await database_sync_to_async(factories.WebchatQueueFactory)(auto_allocate=False)
    chat = (await database_sync_to_async(engine.chat_open)(queue_token=queue.token)).chat
    ws = await customer_socket(chat.pk)
    await say_hello(ws, customer_token_for(chat_id=chat.pk))

    for frame in sent:
        await ws.send_to(text_data=frame)
    errors = 0
    while not await ws.receive_nothing(timeout=0.3):
        output = await ws.receive_output()
        if output["type"] == "websocket.close":
            assert output["code"] == floods.CLOSE_TOO_MANY_REFUSALS, output
            break
        answer = json.loads(output["text"])
        assert answer["type"] in ("ack", "error", "state", "message"), answer
        if answer["type"] == "error":
            assert answer["code"] in SOCKET_ERRORS, answer
            errors += 1
    assert errors <= floods.REFUSALS_ANSWERED
    stored = await database_sync_to_async(
        lambda: list(
            Message.objects.filter(chat=chat).exclude(sender="system").values_list("client_id", flat=True)
        )
    )()
    assert not [client_id for client_id in stored if client_id.lower().startswith(("system-", "open-"))]
    await ws.disconnect()


@settings(max_examples=25)
@given(sent=st.lists(frames, min_size=1, max_size=6))
async def test_the_agent_socket_answers_every_frame_and_stays_open(socket_db, sent):
    agent = await database_sync_to_async(factories.MembershipFactory)()
    ws = await agent_socket(agent)
    for frame in sent:
        await ws.send_to(text_data=frame)
        parsed = _json_or_none(frame)
        if (
            isinstance(parsed, dict)
            and parsed.get("type") in ("heartbeat", "typing")
            and (
                parsed["type"] == "heartbeat"
                or (isinstance(parsed.get("chat_id"), str) and isinstance(parsed.get("typing"), bool))
            )
        ):
            continue
        answer = await ws.receive_json_from(timeout=10)
        assert answer["type"] == "error" and answer["code"] in SOCKET_ERRORS | {"not_found", "not_yours"}, (
            answer
        )
    assert await ws.receive_nothing(timeout=0.1)
    assert await database_sync_to_async(Message.objects.count)() == 0
    await ws.disconnect()


# ---------------------------------------------------------------------------------------------------------
# The telephony API


@pytest.fixture
def telephony(db):
    company = factories.CompanyFactory(slug="acme")
    queue = factories.VoiceQueueFactory(company=company, slug="switchboard", wrapup_seconds=0)
    agent = factories.MembershipFactory(company=company, can_voice=True, user__username="alice")
    agent.voice_queues.add(queue)
    return company


events = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["call.arrived", "call.answered", "call.ended"]) | json_values,
        "company": st.sampled_from(["acme", *NASTY]) | json_values,
        "call_id": st.sampled_from(["c-1", "c-2", *NASTY]) | json_values,
    },
    optional={
        "queue": st.sampled_from(["switchboard", *NASTY]) | json_values,
        "agent": st.sampled_from(["alice", *NASTY]) | json_values,
        "from": json_values,
    },
)


@settings(max_examples=150)
@given(
    event=st.one_of(events, json_values | raw_bodies),
    signed=st.booleans(),
    header=st.sampled_from(["", "sha256=é", "x"]),
)
def test_any_telephony_event_is_acted_on_once_or_refused_as_documented(
    quiet_client, telephony, event, signed, header
):
    raw = event if isinstance(event, bytes) else json.dumps(event).encode()
    calls = list(Call.objects.values_list("pbx_call_id", "state"))
    response = quiet_client.post(
        "/api/telephony/v1/events",
        raw,
        content_type="application/json",
        headers={"X-Contact-Signature": signature(telephony.telephony_secret, raw) if signed else header},
    )
    code = documented(response, TELEPHONY_ERRORS, {202})
    if code:
        assert list(Call.objects.values_list("pbx_call_id", "state")) == calls
    else:
        assert response.json()["status"] == "accepted"
    # The same event again changes nothing more.
    again = list(Call.objects.values_list("pbx_call_id", "state"))
    quiet_client.post(
        "/api/telephony/v1/events",
        raw,
        content_type="application/json",
        headers={"X-Contact-Signature": signature(telephony.telephony_secret, raw) if signed else header},
    )
    assert list(Call.objects.values_list("pbx_call_id", "state")) == again


# ---------------------------------------------------------------------------------------------------------
# The admin's forms


@pytest.fixture
def admin_client(db):
    company = factories.CompanyFactory()
    administrator = factories.MembershipFactory(company=company, role=Role.ADMINISTRATOR, user__is_staff=True)
    client = log_in_verified(Client(raise_request_exception=False), administrator.user)
    client.company = company
    return client


form_values = st.one_of(
    st.sampled_from(NASTY),
    nasty_text,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        [
            "",
            "on",
            "0",
            "1",
            "-1",
            "1e9",
            "#12345g",
            "https://ok.example",
            "javascript:alert(1)",
            "{agent_name}",
            "{nope}",
        ]
    ),
)


def form(fields: list[str]) -> st.SearchStrategy:
    """Any subset of a form's fields with any values a browser could post (text that is valid UTF-8)."""
    postable = form_values.filter(lambda value: not any("\ud800" <= c <= "\udfff" for c in value))
    return st.fixed_dictionaries({}, optional=dict.fromkeys(fields, postable))


ADMIN_FORMS = {
    "routing/webchatqueue": [
        "name",
        "allowed_origins",
        "widget_title",
        "widget_colour",
        "welcome_message",
        "max_queue_length",
        "wrapup_seconds",
        "wrapup_extension_seconds",
        "wrapup_extensions",
        "max_chats_per_agent",
        "reply_alert_seconds",
        "enabled",
        "auto_allocate",
    ],
    "routing/voicequeue": ["name", "slug", "ring_timeout_seconds", "wrapup_seconds"],
    "routing/queueprofile": ["name", "all_queues"],
    "routing/breakreason": ["name", "interruptible"],
    "webchat/responsetemplate": ["title", "text"],
    "webchat/classification": ["code", "label"],
    "crm/contact": ["name", "organisation", "email", "phone", "notes"],
    "contactcentre/membership": [
        "username",
        "password",
        "first_name",
        "email",
        "role",
        "display_name",
        "extension",
    ],
}


@pytest.mark.parametrize("model", sorted(ADMIN_FORMS))
@settings(max_examples=25)
@given(data=st.data())
def test_an_admin_form_with_any_values_saves_them_or_shows_what_to_correct(admin_client, model, data):
    values = data.draw(form(ADMIN_FORMS[model]))
    counts = _counts()

    response = admin_client.post(f"/admin/{model}/add/", values)

    assert response.status_code in (200, 302), response.status_code
    changed = {name for name, n in _counts().items() if n != counts[name]}
    if response.status_code == 200:
        assert "errornote" in response.content.decode() or "errorlist" in response.content.decode()
        assert not changed, f"a refused form still wrote {changed}"
    else:
        assert changed, "a saved form stored nothing"


def _counts() -> dict[str, int]:
    models = [WebchatQueue, VoiceQueue, QueueProfile, BreakReason, ResponseTemplate, Classification, Contact]
    return {model.__name__: model.objects.count() for model in [*models, Membership, get_user_model()]}


# ---------------------------------------------------------------------------------------------------------
# The inbox's forms


@pytest.fixture
def inbox(db, settings):
    company = factories.CompanyFactory()
    agent = factories.MembershipFactory(company=company)
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=False)
    chat = engine.chat_open(queue_token=queue.token, customer_name="Grace").chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    engine.chat_activate(agent=agent, chat_id=chat.pk)
    client = Client(raise_request_exception=False)
    client.force_login(agent.user)
    return client, chat


INBOX_FORMS = {
    "details/": ["notes", "classification", "classification_text"],
    "messages/": ["text", "client_id"],
    "transfer/": ["queue"],
    "contact/": ["contact"],
    "contact/new/": ["name", "email", "phone", "organisation"],
    "abusive/": ["abusive"],
    "complete/": ["notes", "classification"],
}


@pytest.mark.parametrize("action", sorted(INBOX_FORMS))
@settings(max_examples=40)
@given(data=st.data())
def test_an_inbox_form_with_any_values_is_done_or_refused_never_a_500(inbox, action, data):
    client, chat = inbox
    values = data.draw(form(INBOX_FORMS[action]))
    before = Chat.objects.filter(pk=chat.pk).values().get()

    response = client.post(f"/inbox/{chat.pk}/{action}", values, headers={"HX-Request": "true"})

    assert response.status_code < 500, (action, values, response.status_code)
    if response.status_code >= 400:
        assert Chat.objects.filter(pk=chat.pk).values().get() == before


@given(query=nasty_text)
def test_searching_contacts_with_any_text_is_never_a_500(inbox, query):
    client, chat = inbox
    query = "".join(c for c in query if not "\ud800" <= c <= "\udfff")
    assert client.get("/contacts/", {"q": query}).status_code == 200
    assert client.get(f"/inbox/{chat.pk}/contact/find/", {"q": query}).status_code == 200


def test_a_template_asked_for_by_a_malformed_id_is_not_found(inbox):
    client, chat = inbox
    assert client.get(f"/inbox/{chat.pk}/template/", {"template": "abc"}).status_code == 404


def test_presence_with_a_malformed_break_reason_is_refused(inbox):
    client, _ = inbox
    assert client.post("/inbox/presence/", {"presence": f"break:{uuid.uuid4()}"}).status_code == 400
