"""The inbox page: the agent's chats, the bell, the queues and their counters, the selected chat."""

from routing import engine
from tests import factories
from tests.webchat_support import customer_says
from webchat.models import ChatState


def test_the_inbox_lists_the_agents_chats_with_state_and_queue(agent_client, agent, held_chat, manual_queue):
    other = factories.ChatFactory(queue=manual_queue, customer_name="Linus")
    engine.chat_take(agent=agent, chat_id=other.pk)
    engine.chat_activate(agent=agent, chat_id=other.pk)
    content = agent_client.get("/inbox/").content.decode()
    assert '<span class="item__queue">Support</span>' in content
    assert "Grace</span>" in content
    assert '<span class="item__state">In inbox' in content
    assert '<span class="item__state">Active' in content


def test_a_closed_chat_leaves_the_inbox(agent_client, agent, wrapup_chat):
    engine.wrapup_complete(agent=agent, chat_id=wrapup_chat.pk)
    assert f'data-chat-id="{wrapup_chat.pk}"' not in agent_client.get("/inbox/list/").content.decode()


def test_an_allocated_chat_rings_the_bell_until_it_is_opened(htmx_client, agent, company):
    queue = factories.WebchatQueueFactory(company=company, auto_allocate=True)
    opened = engine.chat_open(queue_token=queue.token, customer_name="Ada", first_message="Hello")
    assert opened.chat.unseen
    assert '<span class="bell__count">1</span>' in htmx_client.get("/inbox/bell/").content.decode()
    row = htmx_client.get("/inbox/list/").content.decode()
    assert "item--new" in row
    assert '<span class="item__state">New' in row

    workspace = htmx_client.get(f"/inbox/{opened.chat.pk}/").content.decode()
    assert f'hx-post="/inbox/{opened.chat.pk}/seen/" hx-trigger="load"' in workspace
    assert htmx_client.post(f"/inbox/{opened.chat.pk}/seen/").status_code == 204

    opened.chat.refresh_from_db()
    assert not opened.chat.unseen
    assert '<span class="bell__count">0</span>' in htmx_client.get("/inbox/bell/").content.decode()
    assert "item--new" not in htmx_client.get("/inbox/list/").content.decode()


def test_the_queues_panel_counts_the_waiting_chats_of_each_visible_queue(agent_client, manual_queue):
    factories.ChatFactory.create_batch(3, queue=manual_queue)
    content = agent_client.get("/inbox/").content.decode()
    assert '<span class="queue__name">Support</span>' in content
    assert "3 waiting" in content


def test_opening_a_queue_lists_its_waiting_chats_with_take(htmx_client, manual_queue, waiting_chat):
    content = htmx_client.get(f"/inbox/queues/{manual_queue.pk}/", {"open": "1"}).content.decode()
    assert '<span class="waiting__name">Grace</span>' in content
    assert f'hx-post="/inbox/{waiting_chat.pk}/take/"' in content
    assert ">Take</button>" in content
    assert 'aria-expanded="true"' in content


def test_a_queue_that_hides_its_status_offers_only_the_next_chat(htmx_client, manual_queue, waiting_chat):
    manual_queue.agents_view_queue_status = False
    manual_queue.save()
    content = htmx_client.get(f"/inbox/queues/{manual_queue.pk}/", {"open": "1"}).content.decode()
    assert "Grace" not in content
    assert f'hx-post="/inbox/queues/{manual_queue.pk}/take/"' in content


def test_the_selected_chat_shows_its_transcript_and_customer(agent_client, held_chat):
    customer_says(held_chat, "Hi, my order is late")
    response = agent_client.get(f"/inbox/{held_chat.pk}/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" in content
    assert "Hi, my order is late" in content
    assert f'id="typing-{held_chat.pk}"' in content
    assert "Grace is typing..." in content
    assert "Activate the chat to reply." in content


def test_htmx_gets_only_the_workspace_of_the_selected_chat(htmx_client, held_chat):
    content = htmx_client.get(f"/inbox/{held_chat.pk}/").content.decode()
    assert content.lstrip().startswith('<div id="chat"')
    assert "<html" not in content


def test_a_chat_the_customer_left_says_so_and_wraps_up_when_activated(htmx_client, held_chat):
    engine.chat_end_by_customer(chat_id=held_chat.pk)
    assert "The customer has left the chat." in htmx_client.get(f"/inbox/{held_chat.pk}/").content.decode()
    htmx_client.post(f"/inbox/{held_chat.pk}/activate/")
    held_chat.refresh_from_db()
    assert held_chat.state == ChatState.WRAPUP


def test_the_page_listens_for_the_agent_socket(agent_client, settings):
    settings.AGENT_HEARTBEAT_SECONDS = 17
    content = agent_client.get("/inbox/").content.decode()
    assert 'data-agent-socket="/ws/agent/"' in content
    assert 'data-heartbeat="17"' in content
    assert "/static/inbox/inbox.js" in content
    assert 'hx-trigger="inbox-changed from:body, agent-resync from:body"' in content


def test_every_post_carries_the_csrf_token(agent_client):
    content = agent_client.get("/inbox/").content.decode()
    assert '<body hx-headers=\'{"X-CSRFToken": "' in content


def test_the_shortcuts_are_listed_in_the_help(agent_client):
    content = agent_client.get("/inbox/").content.decode()
    assert '<dialog id="help"' in content
    for key in ("<kbd>n</kbd>", "<kbd>p</kbd>", "<kbd>e</kbd>", "<kbd>?</kbd>"):
        assert key in content
