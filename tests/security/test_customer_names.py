"""Customers' names are stored without the invisible characters that change how text is displayed (bidi
overrides, embeddings and isolates, zero-width characters, the byte-order mark, every Unicode format
character), whichever way the chat is opened, so an agent never sees a name that reads as another."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing import engine
from tests import factories
from tests.webchat_support import open_chat
from webchat.models import Chat

SPOOFERS = [
    "\u202a",  # left-to-right embedding
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200b",  # zero-width space
    "\u200c",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u2060",  # word joiner
    "\u2061",
    "\u2062",
    "\u2063",
    "\u2064",
    "\ufeff",  # byte-order mark
    "\u061c",  # Arabic letter mark
    "\u00ad",  # soft hyphen
    "\U000e0001",  # language tag
]


@pytest.fixture
def queue(db, settings):
    settings.WEBCHAT_RATE_PER_IP = 10_000
    return factories.WebchatQueueFactory(auto_allocate=False, max_queue_length=10_000)


def test_every_listed_spoofing_character_is_a_format_character():
    assert {unicodedata.category(char) for char in SPOOFERS} == {"Cf"}


def test_a_name_reversed_by_an_override_is_stored_as_typed_through_the_api(client, queue):
    response = open_chat(client, queue_token=queue.token, name="Grace \u202eecarG\u202c Hopper")

    assert response.status_code == 201
    assert Chat.objects.get(pk=response.json()["chat_id"]).customer_name == "Grace ecarG Hopper"


@pytest.mark.parametrize("char", SPOOFERS)
def test_each_spoofing_character_is_stripped_from_the_name(client, queue, char):
    response = open_chat(client, queue_token=queue.token, name=f"{char}Gr{char}ace{char}")

    assert Chat.objects.get(pk=response.json()["chat_id"]).customer_name == "Grace"


def test_the_engine_strips_them_too_whatever_path_opens_the_chat(queue):
    chat = engine.chat_open(queue_token=queue.token, customer_name="\u2067Admin\u2069\u200b").chat

    assert Chat.objects.get(pk=chat.pk).customer_name == "Admin"


def test_a_name_of_nothing_but_invisible_characters_is_no_name(client, queue):
    response = open_chat(client, queue_token=queue.token, name="\u200b\u202e\ufeff")

    chat = Chat.objects.get(pk=response.json()["chat_id"])
    assert (chat.customer_name, chat.display_name) == ("", "Customer")


def test_visible_text_in_any_script_is_kept(client, queue):
    for name in ("Zoë O'Brien", "محمد", "李小龙", "Ολυμπία", "Ана-Мария"):
        response = open_chat(client, queue_token=queue.token, name=name)

        assert Chat.objects.get(pk=response.json()["chat_id"]).customer_name == name


@given(name=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_no_stored_name_holds_a_format_or_control_character(client, queue, name):
    response = open_chat(client, queue_token=queue.token, name=name)

    assert response.status_code in (201, 400)
    if response.status_code == 201:
        stored = Chat.objects.get(pk=response.json()["chat_id"]).customer_name
        assert not [char for char in stored if unicodedata.category(char) in ("Cf", "Cc")]
