"""The supervisor's wallboard turns a queue to the warning colour, with its words, the moment its live
service level falls below the warning threshold."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contactcentre.models import Role
from routing import engine
from tests import factories
from tests.browser.inbox_pages import sign_in
from tests.reports.live_support import chat
from tests.two_factor_support import give_authenticator

pytestmark = pytest.mark.browser

WARNING_BACKGROUND = "rgb(253, 232, 232)"  # --alert-soft
WARNING_TEXT = "rgb(192, 38, 45)"  # --alert


def test_the_wallboard_turns_to_the_warning_colour_live(new_page, transactional_db, run_in_thread):
    company = factories.CompanyFactory()
    # Every abandon counts (no short-abandon threshold): customers who leave at once pull the level down.
    queue = factories.WebchatQueueFactory(
        company=company, name="Sales", auto_allocate=False, short_abandon_seconds=0
    )
    now = timezone.now()
    for _ in range(3):  # answered within target a minute ago: 100 %
        chat(queue, now - dt.timedelta(minutes=1), answered=now - dt.timedelta(seconds=50))
    supervisor = factories.MembershipFactory(company=company, role=Role.SUPERVISOR, display_name="Sam")
    give_authenticator(supervisor.user)
    board = sign_in(new_page(), supervisor)
    board.get_by_role("link", name="Wallboard").click()
    expect(board.locator("body")).to_have_attribute("data-connection", "live")
    sales = board.locator(f'tr[data-queue="chat-{queue.pk}"]')
    level = sales.locator('[data-figure="service-level"] .sl__value')
    expect(level).to_have_text("100 %")
    expect(sales).not_to_contain_text("Below warning")
    expect(board.get_by_role("status").filter(has_text="below warning")).to_have_count(0)

    # Two customers give up: 3 / (3 + 2) = 60 %, below the 70 % warning.
    for name in ("Ada", "Bob"):
        opened = run_in_thread(engine.chat_open, queue_token=queue.token, customer_name=name)
        run_in_thread(engine.chat_end_by_customer, chat_id=opened.chat.pk)

    expect(level).to_have_text("60 %")
    expect(sales).to_contain_text("Below warning")
    expect(sales).to_have_css("background-color", WARNING_BACKGROUND)
    expect(level).to_have_css("color", WARNING_TEXT)
    expect(sales.locator('[aria-label="Service level 60 %, below the 70 % warning"]')).to_have_count(1)
    expect(board.locator(".board__alert")).to_have_text("▲ Service level below warning: Sales (chat)")
