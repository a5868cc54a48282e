"""What an agent meets in a day at the inbox: the status following the server, a call banner whose buttons
can be seen, actions offered only when they can work, End chat confirmed, an explicit transfer choice, a
top bar on one row at 1024 px, and nothing the agent chose lost when two parts of the workspace change at
once."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from routing import engine
from tests import factories
from tests.browser.inbox_pages import sign_in
from webchat.models import Chat

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def company(transactional_db):
    return factories.CompanyFactory(name="Acme")


@pytest.fixture
def support(company):
    return factories.WebchatQueueFactory(company=company, name="Support", auto_allocate=False)


@pytest.fixture
def alice(company):
    return factories.MembershipFactory(company=company, display_name="Alice")


def held_chat(run_in_thread, queue, agent, *, active: bool):
    opened = run_in_thread(
        engine.chat_open, queue_token=queue.token, customer_name="Grace", first_message="Hi"
    )
    chat = opened.chat
    run_in_thread(engine.chat_take, agent=agent, chat_id=chat.pk)
    if active:
        run_in_thread(engine.chat_activate, agent=agent, chat_id=chat.pk)
    return chat


def quiet(page) -> None:
    """Wait until no part of the page is being fetched or swapped (the catch-up after the socket opened)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def open_chat(page, chat):
    page.goto(f"/inbox/{chat.pk}/")
    expect(page.locator("body")).to_have_attribute("data-connection", "live")
    quiet(page)
    return page.locator("#chat")


def post_from_page(page, url: str, data: dict | None = None) -> tuple[int, str]:
    """POST as the page's htmx would (its session, its CSRF token); the status and the body."""
    return page.evaluate(
        """async ([url, data]) => {
            const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
            const body = new URLSearchParams(data);
            const headers = {"X-CSRFToken": token, "HX-Request": "true"};
            const response = await fetch(url, {method: "POST", body, headers});
            return [response.status, await response.text()];
        }""",
        [url, data or {}],
    )


def answered(page, held: list) -> None:
    """Let Playwright deliver events until the held route's handler has the server's answer."""
    while not held:
        page.wait_for_timeout(20)


# ---------------------------------------------------------------------------------------------------------
# The status pill follows the server


def test_the_status_turns_to_wrap_up_as_soon_as_the_customer_ends_the_active_chat(
    new_page, support, alice, run_in_thread
):
    chat = held_chat(run_in_thread, support, alice, active=True)
    inbox = sign_in(new_page(), alice)
    workspace = open_chat(inbox, chat)
    status = inbox.locator("#status")
    expect(status).to_contain_text("Handling a chat")

    run_in_thread(engine.chat_end_by_customer, chat_id=chat.pk)

    expect(workspace).to_have_attribute("data-state", "wrapup")
    expect(status.locator(".status__label")).to_have_text("Wrap-up")
    expect(status).to_contain_text("left")


# ---------------------------------------------------------------------------------------------------------
# The incoming call's buttons stand out from the banner


CONTRAST = """(element) => {
    const parse = (colour) => {
        const [r, g, b, a = 1] = colour.match(/[\\d.]+/g).map(Number);
        return {r, g, b, a};
    };
    const banner = getComputedStyle(element.closest(".call__banner"));
    const style = getComputedStyle(element);
    return {
        banner: parse(banner.backgroundColor),
        background: parse(style.backgroundColor),
        color: parse(style.color),
        border: parse(style.borderTopColor),
        borderWidth: parseFloat(style.borderTopWidth),
        outline: parse(style.outlineColor),
        outlineStyle: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth),
        focusVisible: element.matches(":focus-visible"),
    };
}"""


def _luminance(colour: dict) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour["r"]) + 0.7152 * channel(colour["g"]) + 0.0722 * channel(colour["b"])


def contrast(one: dict, other: dict) -> float:
    lighter, darker = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_incoming_calls_answer_and_hang_up_stand_out_from_the_banner_with_a_visible_focus(
    new_page, company, run_in_thread
):
    switchboard = factories.VoiceQueueFactory(company=company, slug="switchboard")
    agent = factories.MembershipFactory(company=company, can_voice=True, display_name="Alice")
    agent.voice_queues.add(switchboard)
    inbox = sign_in(new_page(), agent)
    run_in_thread(
        engine.call_arrived,
        company_id=company.pk,
        pbx_call_id="call-1",
        queue_slug="switchboard",
        caller_number="+441234567890",
    )
    banner = inbox.locator("#call")
    expect(banner).to_contain_text("Incoming call")

    for name in ("Answer", "Hang up"):
        button = banner.get_by_role("button", name=name)
        colours = button.evaluate(CONTRAST)
        background = colours["background"] if colours["background"]["a"] > 0 else colours["banner"]
        assert contrast(colours["color"], background) >= 4.5, (name, colours)
        # The button's edge: its own background, or its border, against the banner.
        edge = max(
            contrast(background, colours["banner"]),
            contrast(colours["border"], colours["banner"]) if colours["borderWidth"] >= 1 else 1,
        )
        assert edge >= 3, (name, colours)

        button.focus()
        inbox.keyboard.press("Shift+Tab")
        inbox.keyboard.press("Tab")
        expect(button).to_be_focused()
        focused = button.evaluate(CONTRAST)
        assert focused["focusVisible"], name
        assert focused["outlineStyle"] != "none" and focused["outlineWidth"] >= 2, (name, focused)
        assert contrast(focused["outline"], focused["banner"]) >= 3, (name, focused)


# ---------------------------------------------------------------------------------------------------------
# A chat whose customer has left


def test_put_back_and_transfer_are_not_offered_once_the_customer_has_left(
    new_page, company, support, alice, run_in_thread
):
    factories.WebchatQueueFactory(company=company, name="Billing", auto_allocate=False)
    chat = held_chat(run_in_thread, support, alice, active=False)
    inbox = sign_in(new_page(), alice)
    workspace = open_chat(inbox, chat)
    actions = workspace.get_by_role("group", name="Chat actions")
    expect(actions.get_by_role("button", name="Put back")).to_be_visible()

    run_in_thread(engine.chat_end_by_customer, chat_id=chat.pk)

    expect(workspace).to_contain_text("The customer has left the chat")
    expect(actions.get_by_role("button", name="Activate")).to_be_visible()
    expect(actions.get_by_role("button", name="Put back")).to_have_count(0)
    expect(actions.get_by_role("button", name="Transfer")).to_have_count(0)
    expect(actions.get_by_label("Transfer to queue")).to_have_count(0)

    # Asked anyway (a page left open from before): a clear refusal, never an error page.
    for action, data in (("put-back", {}), ("transfer", {"queue": str(support.pk + 1)})):
        status, body = post_from_page(inbox, f"/inbox/{chat.pk}/{action}/", data)
        assert status == 409, (action, status)
        assert "The customer has left" in body
    chat.refresh_from_db()
    assert chat.state == "inbox" and chat.agent_id == alice.pk


# ---------------------------------------------------------------------------------------------------------
# End chat asks first


def test_end_chat_asks_for_confirmation_by_button_and_by_shortcut(new_page, support, alice, run_in_thread):
    chat = held_chat(run_in_thread, support, alice, active=True)
    inbox = sign_in(new_page(), alice)
    workspace = open_chat(inbox, chat)
    confirm = inbox.get_by_role("dialog", name="End the chat with Grace?")

    workspace.get_by_role("button", name="End chat").click()
    expect(confirm).to_be_visible()
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(workspace).to_have_attribute("data-state", "active")

    inbox.locator("#chat-title").click()
    inbox.keyboard.press("e")
    expect(confirm).to_be_visible()
    inbox.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    expect(workspace).to_have_attribute("data-state", "active")
    assert Chat.objects.get(pk=chat.pk).state == "active"

    inbox.locator("#chat-title").click()
    inbox.keyboard.press("e")
    confirm.get_by_role("button", name="End chat").click()
    expect(workspace).to_have_attribute("data-state", "wrapup")
    expect(workspace.get_by_role("button", name="Complete wrap-up")).to_be_visible()


# ---------------------------------------------------------------------------------------------------------
# Transfer needs a queue chosen


def test_transfer_waits_for_an_explicit_choice_of_queue(new_page, company, support, alice, run_in_thread):
    billing = factories.WebchatQueueFactory(company=company, name="Billing", auto_allocate=False)
    factories.WebchatQueueFactory(company=company, name="Sales", auto_allocate=False)
    chat = held_chat(run_in_thread, support, alice, active=True)
    inbox = sign_in(new_page(), alice)
    workspace = open_chat(inbox, chat)
    choice = workspace.get_by_label("Transfer to queue")
    transfer = workspace.get_by_role("button", name="Transfer")

    expect(choice).to_have_value("")
    expect(transfer).to_be_disabled()
    status, body = post_from_page(inbox, f"/inbox/{chat.pk}/transfer/", {"queue": ""})
    assert status == 400 and "Choose a queue to transfer to." in body
    assert Chat.objects.get(pk=chat.pk).queue_id == support.pk

    choice.select_option(label="Billing")
    expect(transfer).to_be_enabled()
    transfer.click()
    expect(inbox.locator("#chat")).to_contain_text("Choose a chat from your inbox")
    moved = Chat.objects.get(pk=chat.pk)
    assert (moved.queue_id, moved.state) == (billing.pk, "queued")


# ---------------------------------------------------------------------------------------------------------
# The top bar on one row


@pytest.mark.parametrize("width", [1024, 1440])
def test_the_top_bar_fits_on_one_row(new_page, company, support, run_in_thread, width):
    """An agent's top bar, handling a chat with a break reason to choose, on a laptop and a desktop."""
    agent = factories.MembershipFactory(company=company, display_name="Alice Johnson")
    factories.BreakReasonFactory(company=company, name="Training session")
    held_chat(run_in_thread, support, agent, active=True)
    inbox = sign_in(new_page(viewport={"width": width, "height": 800}), agent)
    expect(inbox.locator("#status")).to_contain_text("Handling a chat")
    SCREENSHOTS.mkdir(exist_ok=True)
    inbox.screenshot(path=str(SCREENSHOTS / f"inbox-top-bar-{width}.png"))

    geometry = inbox.locator("header.topbar").evaluate(
        """header => ({
            height: header.getBoundingClientRect().height,
            overflow: header.scrollWidth - header.clientWidth,
            children: [...header.children].filter((child) => child.getClientRects().length).map((child) => {
                const box = child.getBoundingClientRect();
                const name = child.className || child.tagName;
                return {name, top: box.top, bottom: box.bottom, right: box.right};
            }),
        })"""
    )
    first = geometry["children"][0]
    for child in geometry["children"]:
        # Every item shares the row of the first: it starts above the first one's bottom, and vice versa.
        assert child["top"] < first["bottom"] and first["top"] < child["bottom"], (width, child, geometry)
        assert child["right"] <= width, (width, child)
    assert geometry["overflow"] <= 0, geometry
    assert geometry["height"] < 64, geometry


# ---------------------------------------------------------------------------------------------------------
# Create and assign, and a classification, at once


def test_a_classification_given_while_create_and_assign_is_on_its_way_is_kept_and_saved(
    new_page, company, support, alice, run_in_thread
):
    factories.ClassificationFactory(company=company, label="Late delivery")
    chat = held_chat(run_in_thread, support, alice, active=True)
    inbox = sign_in(new_page(), alice)
    workspace = open_chat(inbox, chat)
    workspace.get_by_role("button", name="Assign contact").click()
    create = workspace.locator("form.new-contact")
    create.get_by_label("Name").fill("Grace Hopper")

    # The contact is created and assigned by the server at once; its answer reaches the page only after
    # the agent has written a classification, so the workspace it carries predates that.
    held = []
    inbox.route(re.compile(r"/contact/new/$"), lambda route: held.append((route, route.fetch())))
    create.get_by_role("button", name="Create and assign").click()
    inbox.wait_for_function("() => document.querySelector('.htmx-request') !== null")
    own_words = workspace.get_by_label("Or describe it")
    own_words.fill("Parcel lost in transit")
    answered(inbox, held)
    route, response = held[0]
    route.fulfill(response=response)
    inbox.unroute(re.compile(r"/contact/new/$"))

    expect(workspace.locator(".crm")).to_contain_text("Grace Hopper")
    expect(own_words).to_have_value("Parcel lost in transit")
    inbox.locator("#chat-title").click()
    quiet(inbox)
    inbox.reload()
    expect(inbox.locator("#chat").get_by_label("Or describe it")).to_have_value("Parcel lost in transit")
    saved = Chat.objects.select_related("contact").get(pk=chat.pk)
    assert (saved.classification_text, saved.contact.name) == ("Parcel lost in transit", "Grace Hopper")


def test_a_classification_chosen_right_after_create_and_assign_is_saved_and_shown(
    new_page, company, support, alice, run_in_thread
):
    factories.ClassificationFactory(company=company, label="Late delivery")
    chat = held_chat(run_in_thread, support, alice, active=True)
    inbox = sign_in(new_page(), alice)
    workspace = open_chat(inbox, chat)
    workspace.get_by_role("button", name="Assign contact").click()
    create = workspace.locator("form.new-contact")
    create.get_by_label("Name").fill("Ada Lovelace")

    held = []
    inbox.route(re.compile(r"/contact/new/$"), lambda route: held.append((route, route.fetch())))
    create.get_by_role("button", name="Create and assign").click()
    answered(inbox, held)
    # The choice is saved at once, while the contact's answer is still held back (the redraw that answer
    # brings replaces the list, so the page cannot tell a reload later whether the save is still on its way).
    with inbox.expect_response(re.compile(r"/details/$")) as saved:
        workspace.get_by_label("Classification", exact=True).select_option(label="Late delivery")
    assert saved.value.ok
    route, response = held[0]
    route.fulfill(response=response)
    inbox.unroute(re.compile(r"/contact/new/$"))

    expect(workspace.locator(".crm")).to_contain_text("Ada Lovelace")
    expect(workspace.get_by_label("Classification", exact=True)).to_have_value(re.compile(r"^\d+$"))
    quiet(inbox)
    inbox.reload()
    chosen = inbox.locator("#chat").get_by_label("Classification", exact=True)
    expect(chosen).to_have_value(re.compile(r"^\d+$"))
    assert Chat.objects.get(pk=chat.pk).classification.label == "Late delivery"
