"""The chat API's OpenAPI document: valid, published unchanged, and true of the product.

The product is exercised in-process (its WSGI application, real PostgreSQL and Redis) by schemathesis with
requests generated from the served document: every answer must be documented (status, body, headers) and
none may be a 500. Generation is derandomized, so a run is the same every time.
"""

import json
import uuid

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

from routing import engine
from webchat import openapi
from webchat.tokens import customer_token_for

DOCUMENT_URL = "/api/webchat/v1/openapi.json"


def test_the_document_is_valid_openapi_3_1():
    validate(json.loads(openapi.document_text()))


def test_docs_openapi_json_is_the_document_the_code_makes():
    call_command("openapi", "--check")


def test_the_product_serves_the_document_to_anyone_and_lets_caches_keep_it(client):
    response = client.get(DOCUMENT_URL, headers={"Origin": "https://www.example.com"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content.decode() == openapi.document_text()
    assert response["Access-Control-Allow-Origin"] == "https://www.example.com"
    assert "public" in response["Cache-Control"] and "max-age=3600" in response["Cache-Control"]


def test_the_message_and_the_state_are_the_frames_schemas():
    schemas = openapi.document()["components"]["schemas"]
    message = schemas["Message"]
    state = schemas["State"]

    assert set(message["properties"]) == {"seq", "client_id", "sender", "agent_name", "text", "sent_at"}
    assert message["properties"]["sender"] == {"enum": ["customer", "agent", "system"]}
    assert state["properties"]["state"] == {"enum": ["queued", "connected", "ended"]}
    assert set(schemas["Messages"]["properties"]) == {*state["properties"], "messages"}


@pytest.fixture
def in_process(db):
    """As Django's test client does, the database connection is kept between the WSGI application's
    requests: the test's transaction holds everything it made."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(manual_queue):
    """The queue token and a chat of that queue with its customer token, so that calls get past the checks of
    who may call."""
    opened = engine.chat_open(
        queue_token=manual_queue.token,
        customer_name="Grace",
        first_message="Hello",
        visitor_id="",
        client_id=str(uuid.uuid4()),
    )
    chat_id = str(opened.chat.pk)
    return {
        "queue_token": manual_queue.token,
        "chat_id": chat_id,
        "token": customer_token_for(chat_id=chat_id),
    }


# The document as the product serves it (the test above checks the served text is this one), called on the
# product's WSGI application in-process. (schemathesis.pytest.from_fixture does not run under pytest 9.2.)
schema = schemathesis.openapi.from_dict(openapi.document())
schema.app = WSGIHandler()
# The API ignores query parameters and headers it does not know (as clients must ignore fields they do not
# know): one more of those is not an invalid request.
schema.config.generation.update(allow_extra_parameters=False)


@schema.parametrize()
@settings(
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_answer_is_documented_and_none_is_a_server_error(case, credentials, in_process):
    # Calls go past the checks of who may call: the real chat and its token, the real queue token; except in
    # the part schemathesis made invalid on purpose (a malformed chat id, a body without its queue_token).
    invalid = {
        location for location, part in case.meta.components.items() if part.mode is GenerationMode.NEGATIVE
    }
    headers = {}
    if "chat_id" in (case.path_parameters or {}):
        if ParameterLocation.HEADER not in invalid:
            headers["Authorization"] = f"Bearer {credentials['token']}"
        if ParameterLocation.PATH not in invalid:
            case.path_parameters["chat_id"] = credentials["chat_id"]
    if (
        case.operation.path == "/chats"
        and isinstance(case.body, dict)
        and ParameterLocation.BODY not in invalid
    ):
        case.body["queue_token"] = credentials["queue_token"]

    case.call_and_validate(headers=headers)
