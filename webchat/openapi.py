"""The chat API's REST calls as an OpenAPI 3.1 document (PROTOCOL.md section 1).

Served at `GET /api/webchat/v1/openapi.json` and kept in docs/openapi.json (`python manage.py openapi
--write`; a test keeps the file equal to this module). The message and the state are not written here: they
are the WebSocket frames' schemas from webchat.protocol without their `type` (`protocol.body_schema`), the
same fields the API's bodies are built from, so the REST and socket contracts cannot drift apart. The
document depends on no setting: limits an operator may change are given with their defaults in words.
"""

import json
from functools import cache

from webchat import protocol

BASE_PATH = "/api/webchat/v1"

_MESSAGE = protocol.body_schema((protocol.CUSTOMER, protocol.TO_CLIENT, "message"))
_STATE = protocol.body_schema((protocol.CUSTOMER, protocol.TO_CLIENT, "state"))
_SEND = protocol.body_schema((protocol.CUSTOMER, protocol.TO_SERVER, "message"))
# The API ignores fields it does not know in a request body, as the sockets do in a frame.
del _SEND["additionalProperties"]

_CLIENT_ID = _SEND["properties"]["client_id"]


def _messages_answer() -> dict:
    """The state, as the `state` frame has it, with the messages after `after_seq`."""
    schema = {**_STATE, "properties": {**_STATE["properties"]}}
    schema["description"] = "The chat's state as the customer sees it, and the messages after after_seq."
    schema["properties"]["messages"] = {
        "type": "array",
        "description": "Oldest first.",
        "items": {"$ref": "#/components/schemas/Message"},
    }
    schema["required"] = [*schema["required"], "messages"]
    return schema


_OPEN = {
    "type": "object",
    "properties": {
        "queue_token": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "description": "The queue to chat with (its token, from the queue's snippet).",
        },
        "name": {
            "type": ["string", "null"],
            "description": "The customer's name as the agent sees it: at most 80 characters; invisible "
            "formatting and control characters are removed.",
        },
        "message": {
            "type": ["string", "null"],
            "description": "The customer's first message (at most WEBCHAT_MAX_MESSAGE_CHARS, 4000 by "
            "default).",
        },
        "client_id": {
            **_CLIENT_ID,
            "description": "Your id for the first message; the server picks one without it.",
        },
        "visitor_id": {
            "type": ["string", "null"],
            "maxLength": 100,
            "description": "An opaque id your app keeps for this customer across chats.",
        },
    },
    "required": ["queue_token"],
}

_OPENED = {
    "type": "object",
    "properties": {
        "chat_id": {"type": "string", "format": "uuid"},
        "customer_token": {
            "type": "string",
            "minLength": 1,
            "description": "The customer's secret for this chat: send it as the bearer token.",
        },
        "state": {"enum": ["queued", "connected"]},
        "websocket": {
            "type": "string",
            "pattern": "^/ws/webchat/[0-9a-f-]{36}/$",
            "description": "The chat's WebSocket, on the same host.",
        },
    },
    "required": ["chat_id", "customer_token", "state", "websocket"],
    "additionalProperties": False,
}

_STATUS_WORDS = {
    400: "Malformed request",
    401: "No valid customer token for this chat",
    403: "The web site (Origin) may not use this queue",
    404: "Not found",
    409: "Refused in the chat's or queue's present state",
    413: "Too long",
    429: "Rate limited: retry after Retry-After seconds",
    503: "The database was briefly out of reach: retry after Retry-After seconds",
}

_INTEGER_HEADER = {"schema": {"type": "string", "pattern": "^[0-9]+$"}}
_RATE_HEADERS = {
    "RateLimit-Limit": {"description": "Requests the window allows.", **_INTEGER_HEADER},
    "RateLimit-Remaining": {"description": "Requests left in the window after this one.", **_INTEGER_HEADER},
    "RateLimit-Reset": {"description": "Whole seconds until the window ends.", **_INTEGER_HEADER},
}
_RETRY_AFTER = {"description": "Whole seconds to wait before trying again.", **_INTEGER_HEADER}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _error(status: int, codes: list[str], *, rate_limited: bool = False) -> dict:
    """A refusal's answer: `{"error": {"code", "message"}}` with the codes this call may give."""
    response: dict = {
        "description": f"{_STATUS_WORDS[status]}: {', '.join(codes)}.",
        "content": _json(
            {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {
                            "code": {"enum": codes, "description": "For your program."},
                            "message": {"type": "string", "description": "A sentence to show as it is."},
                        },
                        "required": ["code", "message"],
                        "additionalProperties": False,
                    }
                },
                "required": ["error"],
                "additionalProperties": False,
            }
        ),
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {**_RETRY_AFTER, "required": True},
            **{name: {**header, "required": True} for name, header in _RATE_HEADERS.items()},
        }
    elif status == 503:
        response["headers"] = {"Retry-After": {**_RETRY_AFTER, "required": True}}
    elif rate_limited:
        response["headers"] = dict(_RATE_HEADERS)
    return response


def _ok(description: str, schema: dict, *, rate_limited: bool = False) -> dict:
    response = {"description": description, "content": _json(schema)}
    if rate_limited:
        response["headers"] = dict(_RATE_HEADERS)
    return response


def _errors(table: dict[int, list[str]], *, rate_limited: bool = False) -> dict:
    return {str(status): _error(status, codes, rate_limited=rate_limited) for status, codes in table.items()}


_CHAT_ERRORS = {
    400: ["invalid"],
    401: ["unauthorized", "token_expired"],
    403: ["origin_not_allowed"],
    404: ["not_found"],
    503: ["unavailable"],
}

_CHAT_ID = {
    "name": "chat_id",
    "in": "path",
    "required": True,
    "description": "The chat's id, from opening it.",
    "schema": {"type": "string", "format": "uuid"},
}

_BEARER = [{"customerToken": []}]


def _paths() -> dict:
    return {
        "/chats": {
            "post": {
                "operationId": "openChat",
                "summary": "Open a chat",
                "description": "Open a chat in a queue, with an optional first message. Counts against the "
                "per-address limit of chats opened (30 a clock minute by default); a refused open does not.",
                "requestBody": {
                    "required": True,
                    "content": _json({"$ref": "#/components/schemas/OpenChat"}),
                },
                "responses": {
                    "201": _ok(
                        "The chat is open.", {"$ref": "#/components/schemas/ChatOpened"}, rate_limited=True
                    ),
                    **_errors(
                        {
                            400: ["invalid"],
                            403: ["origin_not_allowed"],
                            404: ["unknown_queue"],
                            409: ["queue_full", "no_agents", "busy"],
                            413: ["too_long"],
                            429: ["rate_limited"],
                            503: ["unavailable"],
                        },
                        rate_limited=True,
                    ),
                },
            }
        },
        "/chats/{chat_id}/messages": {
            "parameters": [_CHAT_ID],
            "get": {
                "operationId": "readMessages",
                "summary": "Read the messages after a number, and the chat's state",
                "security": _BEARER,
                "parameters": [
                    {
                        "name": "after_seq",
                        "in": "query",
                        "required": False,
                        "description": "The highest seq the client has (0 or absent: every message).",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "default": 0},
                    }
                ],
                "responses": {
                    "200": _ok("The state and the messages.", {"$ref": "#/components/schemas/Messages"}),
                    **_errors(_CHAT_ERRORS),
                },
            },
            "post": {
                "operationId": "sendMessage",
                "summary": "Send a message (idempotent by client_id)",
                "description": "Counts against the chat's message limit (20 in 10 seconds by default, REST "
                "and WebSocket together).",
                "security": _BEARER,
                "requestBody": {
                    "required": True,
                    "content": _json({"$ref": "#/components/schemas/SendMessage"}),
                },
                "responses": {
                    "201": _ok(
                        "The message is stored.", {"$ref": "#/components/schemas/Message"}, rate_limited=True
                    ),
                    "200": _ok(
                        "A message with this client_id and text was already stored: it, unchanged.",
                        {"$ref": "#/components/schemas/Message"},
                        rate_limited=True,
                    ),
                    **_errors(
                        {
                            **_CHAT_ERRORS,
                            409: ["chat_ended", "client_id_reused", "busy"],
                            413: ["too_long"],
                            429: ["rate_limited"],
                        },
                        rate_limited=True,
                    ),
                },
            },
        },
        "/chats/{chat_id}/end": {
            "parameters": [_CHAT_ID],
            "post": {
                "operationId": "endChat",
                "summary": "The customer ends the chat",
                "description": "Ending a chat that has already ended answers the same.",
                "security": _BEARER,
                "responses": {
                    "200": _ok("The chat has ended.", {"$ref": "#/components/schemas/State"}),
                    **_errors({**_CHAT_ERRORS, 409: ["busy"]}),
                },
            },
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapiDocument",
                "summary": "This document",
                "security": [],
                "responses": {"200": _ok("The OpenAPI document.", {"type": "object"})},
            }
        },
    }


@cache
def document() -> dict:
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Chat API",
            "version": "1",
            "description": "Open a chat with a company's agents, send and read its messages and end it. "
            "The conversation as it happens comes on the chat's WebSocket (`/ws/webchat/{chat_id}/`), whose "
            "frames have JSON Schemas in docs/frames/. See docs/chat-api.md. Every refusal is "
            '`{"error": {"code", "message"}}`; new optional fields may appear within version 1.',
        },
        "servers": [{"url": BASE_PATH}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "customerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The customer_token from opening the chat, for that chat only.",
                }
            },
            "schemas": {
                "OpenChat": _OPEN,
                "ChatOpened": _OPENED,
                "SendMessage": _SEND,
                "Message": _MESSAGE,
                "State": _STATE,
                "Messages": _messages_answer(),
            },
        },
    }


@cache
def document_text() -> str:
    """The document as published: docs/openapi.json and the served answer, byte for byte."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"
