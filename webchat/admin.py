"""Admin for response templates and classifications, and a read-only view of chats and their messages."""

import re

from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from contactcentre.admin_scoping import (
    CompanyScopedAdmin,
    CompanyScopedForm,
    CompanyScopedMixin,
    ReadOnlyAdminMixin,
)
from webchat.models import Chat, Classification, Message, ResponseTemplate

TEMPLATE_PLACEHOLDERS = ("customer_name", "agent_name", "queue_name", "company_name")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


class ResponseTemplateForm(CompanyScopedForm):
    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        # A mistyped placeholder would otherwise reach customers as it was typed.
        unknown = sorted(set(PLACEHOLDER.findall(text)) - set(TEMPLATE_PLACEHOLDERS))
        if unknown:
            known = ", ".join(f"{{{name}}}" for name in TEMPLATE_PLACEHOLDERS)
            raise ValidationError(
                "Unknown placeholder %(unknown)s. The placeholders are %(known)s.",
                params={"unknown": ", ".join(f"{{{name}}}" for name in unknown), "known": known},
            )
        return text


class QueueNamesMixin:
    @admin.display(description="queues")
    def queue_names(self, obj: ResponseTemplate | Classification) -> str:
        return ", ".join(queue.name for queue in obj.queues.all()) or "Every queue"


@admin.register(ResponseTemplate)
class ResponseTemplateAdmin(QueueNamesMixin, CompanyScopedAdmin):
    form = ResponseTemplateForm
    list_display = ["title", "text", "queue_names"]
    list_filter = [("queues", RelatedOnlyFieldListFilter)]
    search_fields = ["title", "text"]
    fields = ["company", "title", "text", "queues"]
    filter_horizontal = ["queues"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ResponseTemplate]:
        return super().get_queryset(request).prefetch_related("queues")


@admin.register(Classification)
class ClassificationAdmin(QueueNamesMixin, CompanyScopedAdmin):
    list_display = ["code", "label", "queue_names"]
    list_filter = [("queues", RelatedOnlyFieldListFilter)]
    search_fields = ["code", "label"]
    fields = ["company", "code", "label", "queues"]
    filter_horizontal = ["queues"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Classification]:
        return super().get_queryset(request).prefetch_related("queues")


class MessageInline(ReadOnlyAdminMixin, CompanyScopedMixin, admin.TabularInline):
    model = Message
    company_lookup = "chat__company"
    fields = ["seq", "sender", "agent_name", "text", "sent_at"]
    extra = 0


@admin.register(Chat)
class ChatAdmin(ReadOnlyAdminMixin, CompanyScopedAdmin):
    list_display = ["created_at", "customer_name", "queue", "state", "agent", "outcome", "classification"]
    list_filter = [
        "state",
        "outcome",
        "abusive",
        ("queue", RelatedOnlyFieldListFilter),
        ("agent", RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["queue", "agent__user", "classification"]
    search_fields = ["customer_name", "visitor_id", "notes", "classification_text"]
    date_hierarchy = "created_at"
    inlines = [MessageInline]
    fieldsets = [
        ("Customer", {"fields": ["id", "customer_name", "visitor_id", "contact"]}),
        ("Routing", {"fields": ["company", "queue", "state", "outcome", "agent", "unseen", "park_reason"]}),
        (
            "Times",
            {
                "fields": [
                    "created_at",
                    "queued_at",
                    "allocated_at",
                    "answered_at",
                    "handle_seconds",
                    "ended_at",
                    "ended_by",
                    "closed_at",
                ]
            },
        ),
        (
            "Wrap-up",
            {
                "fields": [
                    "wrapup_started_at",
                    "wrapup_deadline",
                    "wrapup_remaining_seconds",
                    "wrapup_extensions_used",
                ]
            },
        ),
        (
            "Classification and notes",
            {"fields": ["classification", "classification_text", "notes", "abusive"]},
        ),
        ("Customer waiting", {"fields": ["customer_waiting_since", "reply_overdue"]}),
    ]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, CompanyScopedAdmin):
    company_lookup = "chat__company"
    list_display = ["sent_at", "chat", "seq", "sender", "agent_name", "text"]
    list_filter = ["sender", ("chat__queue", RelatedOnlyFieldListFilter)]
    list_select_related = ["chat__queue"]
    search_fields = ["text", "agent_name", "chat__customer_name"]
    date_hierarchy = "sent_at"
    fields = ["chat", "seq", "sender", "agent_name", "text", "sent_at", "client_id"]
