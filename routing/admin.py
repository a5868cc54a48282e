"""Admin for queues, Webchat Queues profiles and break reasons, and a read-only view of calls."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import escape, format_html
from django.views.decorators.http import require_POST

from contactcentre.admin_scoping import CompanyScopedAdmin, CompanyScopedForm, ReadOnlyAdminMixin
from routing import engine
from routing.models import (
    SERVICE_LEVEL_FIELDS,
    AgentStatusInterval,
    BreakReason,
    Call,
    QueueProfile,
    VoiceQueue,
    WebchatQueue,
    new_queue_token,
)
from webchat.snippet import widget_snippet


def queue_regenerate_token(*, queue: WebchatQueue) -> None:
    """Give the queue a new token: the snippet with the old one stops opening chats."""
    queue.token = new_queue_token()
    queue.save(update_fields=["token"])


class SnippetWidget(forms.Widget):
    """Shows the snippet as text, with buttons to copy it and to regenerate the queue's token."""

    class Media:
        css = {"all": ["admin-extra/queue-snippet.css"]}
        js = ["admin-extra/queue-snippet.js"]

    def render(self, name, value, attrs=None, renderer=None) -> str:
        element_id = (attrs or {}).get("id", f"id_{name}")
        return format_html(
            '<div class="queue-snippet">'
            '<pre id="{}" class="queue-snippet-code">{}</pre>'
            '<button type="button" class="button" data-copy-snippet="{}">Copy</button> '
            '<span class="queue-snippet-copied" hidden>Copied</span> '
            '<button type="submit" class="button" form="regenerate-token-form" data-confirm="{}">'
            "Regenerate token</button>"
            "</div>",
            element_id,
            # Shown as text to copy, never run: escaped even though the snippet is marked safe HTML.
            escape(value),
            element_id,
            "Regenerate the token? Web pages with the current snippet stop opening chats until they carry "
            "the new one. Unsaved changes on this page are discarded.",
        )


class WebchatQueueForm(CompanyScopedForm):
    snippet = forms.CharField(
        required=False,
        disabled=True,
        widget=SnippetWidget,
        help_text="Put it on every page of your web site that offers webchat, before the closing body tag.",
    )

    # Set by the admin on each request's form class: the snippet names the host the admin is served from.
    site_origin = ""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["snippet"].initial = widget_snippet(
                origin=self.site_origin, queue_token=self.instance.token
            )


@admin.register(WebchatQueue)
class WebchatQueueAdmin(CompanyScopedAdmin):
    form = WebchatQueueForm
    list_display = [
        "name",
        "enabled",
        "auto_allocate",
        "wrapup_enabled",
        "max_queue_length",
        "max_chats_per_agent",
    ]
    list_filter = ["enabled", "auto_allocate"]
    search_fields = ["name"]
    actions = ["regenerate_tokens"]
    fieldsets = [
        (None, {"fields": ["company", "name", "enabled", "fallback_queue", "auto_allocate"]}),
        ("Snippet", {"fields": ["snippet"]}),
        ("Web site", {"fields": ["allowed_origins", "widget_title", "widget_colour", "welcome_message"]}),
        (
            "Advanced",
            {
                "fields": [
                    "max_queue_length",
                    "wrapup_enabled",
                    "wrapup_seconds",
                    "wrapup_extension_seconds",
                    "wrapup_extensions",
                    "allow_wait_without_agents",
                    "agents_view_queue_status",
                    "max_chats_per_agent",
                    "reply_alert_seconds",
                ]
            },
        ),
        ("Service level", {"fields": SERVICE_LEVEL_FIELDS}),
    ]

    def save_model(self, request: HttpRequest, obj: WebchatQueue, form, change: bool) -> None:
        """Disabling goes through the engine, which hands the queue's waiting chats on (in this request's
        transaction: the settings and the chats change together or not at all)."""
        disabling = change and "enabled" in form.changed_data and not obj.enabled
        super().save_model(request, obj, form, change)
        if disabling:
            result = engine.queue_disable(queue_id=obj.pk)
            if result.moved or result.ended:
                self.message_user(
                    request,
                    f"“{obj}” is disabled: {len(result.moved)} waiting chat(s) moved to "
                    f"“{obj.fallback_queue}”, {len(result.ended)} ended with a message to the customer."
                    if result.moved
                    else f"“{obj}” is disabled: {len(result.ended)} waiting chat(s) ended with a message "
                    "to the customer.",
                    messages.WARNING,
                )

    def get_fieldsets(self, request: HttpRequest, obj: WebchatQueue | None = None):
        fieldsets = super().get_fieldsets(request, obj)
        # A queue has its token, and so its snippet, once it is saved.
        return fieldsets if obj else [fieldset for fieldset in fieldsets if fieldset[0] != "Snippet"]

    def get_form(self, request: HttpRequest, obj: WebchatQueue | None = None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.site_origin = request.build_absolute_uri("/").rstrip("/")
        return form

    def get_urls(self) -> list:
        regenerate = self.admin_site.admin_view(require_POST(self.regenerate_token_view))
        return [
            path(
                "<path:object_id>/regenerate-token/", regenerate, name="routing_webchatqueue_regenerate_token"
            ),
            *super().get_urls(),
        ]

    def regenerate_token_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        queue = self.get_object(request, unquote(object_id))
        if queue is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, queue):
            raise PermissionDenied
        queue_regenerate_token(queue=queue)
        self.log_change(request, queue, "Regenerated the token.")
        self.message_user(request, f"“{queue}” has a new token: put its new snippet on your web site.")
        return HttpResponseRedirect(reverse("admin:routing_webchatqueue_change", args=[queue.pk]))

    @admin.action(description="Regenerate the token of the selected queues", permissions=["change"])
    def regenerate_tokens(self, request: HttpRequest, queryset: QuerySet[WebchatQueue]) -> None:
        for queue in queryset:
            queue_regenerate_token(queue=queue)
            self.log_change(request, queue, "Regenerated the token.")
        names = ", ".join(f"“{queue}”" for queue in queryset)
        self.message_user(
            request, f"New tokens for {names}: put their new snippets on your web site.", messages.SUCCESS
        )


@admin.register(QueueProfile)
class QueueProfileAdmin(CompanyScopedAdmin):
    list_display = ["name", "all_queues", "queue_names"]
    list_filter = ["all_queues"]
    search_fields = ["name"]
    fields = ["company", "name", "all_queues", "queues"]
    filter_horizontal = ["queues"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[QueueProfile]:
        return super().get_queryset(request).prefetch_related("queues")

    @admin.display(description="queues")
    def queue_names(self, profile: QueueProfile) -> str:
        if profile.all_queues:
            return "All"
        return ", ".join(queue.name for queue in profile.queues.all())


@admin.register(VoiceQueue)
class VoiceQueueAdmin(CompanyScopedAdmin):
    list_display = ["name", "slug", "ring_timeout_seconds", "wrapup_seconds"]
    search_fields = ["name", "slug"]
    fieldsets = [
        (None, {"fields": ["company", "name", "slug", "ring_timeout_seconds", "wrapup_seconds"]}),
        ("Service level", {"fields": SERVICE_LEVEL_FIELDS}),
    ]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(BreakReason)
class BreakReasonAdmin(CompanyScopedAdmin):
    list_display = ["name", "interruptible"]
    list_filter = ["interruptible"]
    search_fields = ["name"]
    fields = ["company", "name", "interruptible"]


@admin.register(Call)
class CallAdmin(ReadOnlyAdminMixin, CompanyScopedAdmin):
    list_display = ["arrived_at", "caller_number", "queue", "state", "agent", "outcome"]
    list_filter = ["state", ("queue", RelatedOnlyFieldListFilter), ("agent", RelatedOnlyFieldListFilter)]
    list_select_related = ["queue", "agent__user"]
    search_fields = ["caller_number", "pbx_call_id", "notes"]
    date_hierarchy = "arrived_at"


@admin.register(AgentStatusInterval)
class AgentStatusIntervalAdmin(ReadOnlyAdminMixin, CompanyScopedAdmin):
    """The agents' status history, as the engine recorded it (read only)."""

    list_display = ["agent", "status", "break_reason", "started_at", "ended_at"]
    list_filter = ["status", ("agent", RelatedOnlyFieldListFilter)]
    list_select_related = ["agent__user", "break_reason"]
    date_hierarchy = "started_at"
