"""The supervisors' wallboard in a real browser follows the centre live."""

import pytest
from playwright.sync_api import expect

from contactcentre.models import Role
from routing import engine
from tests import factories
from tests.browser.inbox_pages import sign_in
from tests.two_factor_support import give_authenticator

pytestmark = pytest.mark.browser


def test_the_wallboard_follows_waiting_chats_and_agents_live(new_page, transactional_db, run_in_thread):
    company = factories.CompanyFactory()
    queue = factories.WebchatQueueFactory(company=company, name="Sales", auto_allocate=False)
    agent = factories.MembershipFactory(company=company, display_name="Alice")
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR, display_name="Sam")
    give_authenticator(supervisor.user)
    board = sign_in(new_page(), supervisor)
    board.get_by_role("link", name="Wallboard").click()
    expect(board.locator("body")).to_have_attribute("data-connection", "live")
    sales = board.get_by_role("row", name="Sales")
    alice = board.get_by_role("row", name="Alice")
    expect(sales.get_by_role("cell").first).to_have_text("0")

    opened = run_in_thread(engine.chat_open, queue_token=queue.token, customer_name="Ada")
    expect(sales.get_by_role("cell").first).to_have_text("1")

    run_in_thread(engine.chat_take, agent=agent, chat_id=opened.chat.pk)
    run_in_thread(engine.chat_activate, agent=agent, chat_id=opened.chat.pk)
    expect(sales.get_by_role("cell").first).to_have_text("0")
    expect(alice).to_contain_text("Handling a chat")
