"""The customer's widget page (the iframe the snippet opens) and a demo company page carrying the snippet."""

import re

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt

from contactcentre.management.commands.seed_demo import DEMO_COMPANY_SLUG
from routing.models import WebchatQueue
from webchat.snippet import widget_snippet

API_BASE = "/api/webchat/v1"

# Queue tokens are URL-safe; anything else (a NUL byte would upset the database) names no queue.
QUEUE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Origins are validated when an administrator saves them; this keeps anything else out of the header.
PLAIN_ORIGIN = re.compile(r"https?://[a-z0-9.\-\[\]:]+")


# Other companies' sites frame this page: X-Frame-Options cannot name them, the CSP below does.
@xframe_options_exempt
def widget(request: HttpRequest, queue_token: str) -> HttpResponse:
    queue = _enabled_queue(queue_token)
    if queue is None:
        response = render(request, "webchat/widget_unavailable.html", status=404)
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'self'; frame-ancestors *"
        return response
    config = {
        "queueToken": queue.token,
        "title": queue.widget_title,
        "colour": queue.widget_colour,
        "apiBase": API_BASE,
        "maxMessageChars": settings.WEBCHAT_MAX_MESSAGE_CHARS,
    }
    response = render(
        request,
        "webchat/widget.html",
        {"queue": queue, "config": config, "max_name_chars": settings.WEBCHAT_MAX_NAME_CHARS},
    )
    response["Content-Security-Policy"] = widget_csp(queue, host=request.get_host())
    return response


def widget_csp(queue: WebchatQueue, *, host: str) -> str:
    """The widget page's Content-Security-Policy: its own scripts and sockets only; framed by the queue's
    web sites (and the product's own pages) when the queue lists any, by any web site when it lists none."""
    listed = [origin for origin in queue.origins if PLAIN_ORIGIN.fullmatch(origin)]
    ancestors = " ".join(["'self'", *listed]) if queue.origins else "*"
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' ws://{host} wss://{host}",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {ancestors}",
        ]
    )


def demo(request: HttpRequest) -> HttpResponse:
    """A demo company's web page with the snippet: the demo company's first auto-allocating queue, or the
    queue chosen with ?queue=<token>. Served only when DEMO_PAGE is on (by default, only when DEBUG is)."""
    if not settings.DEMO_PAGE:
        raise Http404("The demo page is not served here.")
    requested = request.GET.get("queue", "")
    if requested:
        queue = _enabled_queue(requested)
    else:
        queue = (
            WebchatQueue.objects.filter(company__slug=DEMO_COMPANY_SLUG, enabled=True, auto_allocate=True)
            .order_by("name")
            .first()
        )
    snippet = None
    if queue is not None:
        snippet = widget_snippet(origin=f"{request.scheme}://{request.get_host()}", queue_token=queue.token)
    return render(request, "webchat/demo.html", {"queue": queue, "requested": requested, "snippet": snippet})


def _enabled_queue(token: str) -> WebchatQueue | None:
    if not QUEUE_TOKEN.fullmatch(token):
        return None
    return WebchatQueue.objects.select_related("company").filter(token=token, enabled=True).first()
