"""Take the README's screenshots from a running demo: docs/screenshots/inbox.png and widget.png.

Start the product with its demo data first (`make run`), then, with the same environment:

    .venv/bin/python scripts/screenshots.py [--base-url http://127.0.0.1:8000]

In headless Chromium, the demo's agent alice works in the real inbox while Grace writes from the real
widget on the demo page and other customers arrive through the public chat API. Run it on a fresh demo:
it adds chats and a contact each time.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path
from urllib.request import Request, urlopen

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def demo() -> dict:
    output = subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)


def customer(base_url: str, queue_token: str, name: str, message: str) -> dict:
    """A customer opens a chat through the public chat API, as a handset app does."""
    body = json.dumps({"queue_token": queue_token, "name": name, "message": message}).encode()
    headers = {"Content-Type": "application/json"}
    request = Request(f"{base_url}/api/webchat/v1/chats", body, headers, method="POST")
    with urlopen(request) as response:
        return json.loads(response.read())


def activate(chat) -> None:
    chat.get_by_role("button", name="Activate").click()
    expect(chat.get_by_role("button", name="End chat")).to_be_visible()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    base_url = parser.parse_args().base_url.rstrip("/")
    data = demo()
    queues = {queue["name"]: queue["token"] for queue in data["queues"]}
    agent = next(user for user in data["users"] if user["username"] == "alice")
    OUT.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        inbox = browser.new_page(viewport={"width": 1440, "height": 860})
        inbox.goto(f"{base_url}/accounts/login/")
        inbox.get_by_label("Username").fill(agent["username"])
        inbox.get_by_label("Password").fill(agent["password"])
        inbox.get_by_role("button", name="Sign in").click()
        expect(inbox.locator("body")).to_have_attribute("data-connection", "live")
        chat = inbox.locator("#chat")

        # An earlier chat, so that the customer has a history beside the new one.
        customer(base_url, queues["Sales"], "Grace Hopper", "Where is my order 1200?")
        inbox.locator("#inbox-list").get_by_text("Grace Hopper").click()
        activate(chat)
        chat.get_by_role("button", name="Assign contact").click()
        chat.get_by_label("Name").fill("Grace Hopper")
        chat.get_by_label("Email").fill("grace@example.com")
        chat.get_by_role("button", name="Create and assign").click()
        expect(chat.locator(".crm")).to_contain_text("grace@example.com")
        chat.get_by_label("Message to Grace Hopper").fill("It was delivered this morning, Grace.")
        chat.get_by_label("Message to Grace Hopper").press("Enter")
        chat.get_by_role("button", name="End chat").click()
        inbox.get_by_role("dialog", name="End the chat with Grace Hopper?").get_by_role(
            "button", name="End chat"
        ).click()
        expect(chat.get_by_role("button", name="Complete wrap-up")).to_be_visible()
        chat.get_by_label("Notes").fill("Order 1200 delivered late; postage refunded.")
        chat.get_by_label("Classification", exact=True).select_option(label="Complaint")
        chat.get_by_role("button", name="Complete wrap-up").click()
        expect(chat).to_contain_text("This chat is closed")

        # Today: Grace writes from the web site's widget; others wait or arrive meanwhile.
        site = browser.new_page(viewport={"width": 1100, "height": 760})
        site.goto(f"{base_url}/demo/")
        site.get_by_role("button", name="Chat with us").click()
        widget = site.frame_locator("iframe")
        widget.get_by_label("Your name").fill("Grace Hopper")
        widget.get_by_label("Message").fill("Hi, my order 1234 hasn't arrived yet.")
        widget.get_by_role("button", name="Send").click()
        customer(base_url, queues["Sales"], "Linus", "Can I change the delivery address on my order?")
        customer(base_url, queues["Support"], "Ada", "The app logs me out every few minutes.")
        customer(base_url, queues["Support"], "Margaret", "How do I reset my password?")

        inbox.locator("#inbox-list").get_by_text("Grace Hopper").click()
        activate(chat)
        chat.get_by_role("button", name="Assign contact").click()
        chat.get_by_label("Find a contact").fill("hopper")
        chat.get_by_role("button", name="Assign", exact=True).click()
        expect(chat.locator(".history")).to_contain_text("postage refunded")
        chat.get_by_label("Response templates").select_option(label="One moment")
        message_box = chat.get_by_label("Message to Grace Hopper")
        expect(message_box).to_have_value(
            "Thank you, Grace Hopper. One moment while I look into that for you."
        )
        message_box.press("Enter")
        expect(widget.get_by_text("One moment while I look into that")).to_be_visible()
        widget.get_by_label("Message").fill("Thank you! It was due on Tuesday.")
        widget.get_by_role("button", name="Send").click()
        expect(chat.get_by_text("It was due on Tuesday.")).to_be_visible()
        widget.get_by_label("Message").press_sequentially("The tracking number is")
        expect(chat.get_by_text("Grace Hopper is typing...")).to_be_visible()
        inbox.get_by_role("button", name="Support").click()
        expect(inbox.get_by_role("button", name="Take")).to_have_count(2)
        inbox.mouse.move(0, 0)
        inbox.screenshot(path=OUT / "inbox.png")
        site.screenshot(path=OUT / "widget.png")
        browser.close()
    print(f"Screenshots in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
