"""The snippet a company puts on its web site (PROTOCOL.md section 3)."""

from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString


def widget_snippet(*, origin: str, queue_token: str) -> SafeString:
    """The <script> tag that adds the chat to a page, for a product served at `origin` (scheme://host)."""
    return format_html(
        '<script src="{}{}" data-queue-token="{}" async></script>',
        origin,
        static("webchat/widget.js"),
        queue_token,
    )
