"""Admin for contacts, and a read-only view of their interactions (each written when a chat or call ends)."""

import json

from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from contactcentre.admin_scoping import CompanyScopedAdmin, CompanyScopedMixin, ReadOnlyAdminMixin
from crm import services
from crm.models import Contact, Interaction


class InteractionInline(ReadOnlyAdminMixin, CompanyScopedMixin, admin.TabularInline):
    model = Interaction
    fk_name = "contact"
    fields = ["closed_at", "channel", "queue_name", "agent_name", "classification_display", "outcome"]
    readonly_fields = ["classification_display"]
    show_change_link = True
    extra = 0


@admin.register(Contact)
class ContactAdmin(CompanyScopedAdmin):
    list_display = ["name", "organisation", "email", "phone", "created_at"]
    search_fields = ["name", "organisation", "email", "phone"]
    fields = ["company", "name", "organisation", "email", "phone", "notes"]
    inlines = [InteractionInline]
    actions = ["export_contacts", "erase_contacts"]

    @admin.action(description="Export the selected contacts' data (JSON)", permissions=["view"])
    def export_contacts(self, request: HttpRequest, queryset: QuerySet[Contact]) -> HttpResponse:
        exported = [
            services.contact_export(company_id=contact.company_id, contact_id=contact.pk, actor=request.user)
            for contact in queryset
        ]
        response = HttpResponse(
            json.dumps({"contacts": exported}, cls=DjangoJSONEncoder, indent=2),
            content_type="application/json",
        )
        filename = f"contacts-{timezone.now():%Y%m%d-%H%M%S}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @admin.action(description="Erase the selected contacts and their transcripts", permissions=["change"])
    def erase_contacts(self, request: HttpRequest, queryset: QuerySet[Contact]) -> TemplateResponse | None:
        if request.POST.get("post") != "yes":
            return TemplateResponse(
                request,
                "admin/crm/contact/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Erase contacts?",
                    "opts": self.model._meta,
                    "contacts": queryset,
                },
            )
        erased = 0
        for contact in queryset:
            try:
                services.contact_erase(
                    company_id=contact.company_id, contact_id=contact.pk, actor=request.user
                )
            except ValidationError as refusal:
                self.message_user(request, " ".join(refusal.messages), messages.ERROR)
            else:
                erased += 1
        if erased:
            self.message_user(
                request, f"Erased {erased} contact{'s' if erased != 1 else ''}.", messages.SUCCESS
            )
        return None


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyAdminMixin, CompanyScopedAdmin):
    list_display = [
        "closed_at",
        "channel",
        "queue_name",
        "customer_name",
        "contact",
        "agent_name",
        "classification_display",
        "outcome",
    ]
    list_filter = [
        "channel",
        "outcome",
        "abusive",
        ("webchat_queue", RelatedOnlyFieldListFilter),
        ("voice_queue", RelatedOnlyFieldListFilter),
        ("agent", RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["contact", "classification"]
    search_fields = [
        "customer_name",
        "contact__name",
        "caller_number",
        "agent_name",
        "notes",
        "classification_text",
    ]
    date_hierarchy = "closed_at"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "company",
                    "channel",
                    "queue_name",
                    "arrival_webchat_queue",
                    "arrival_voice_queue",
                    "transfers",
                    "chat",
                    "contact",
                    "customer_name",
                    "caller_number",
                    "agent_name",
                    "outcome",
                ]
            },
        ),
        (
            "Times",
            {
                "fields": [
                    "opened_at",
                    "answered_at",
                    "wait_seconds",
                    "ended_at",
                    "closed_at",
                    "handle_seconds",
                    "wrapup_seconds",
                ]
            },
        ),
        (
            "Classification and notes",
            {"fields": ["classification", "classification_text", "notes", "abusive", "anonymised_at"]},
        ),
    ]

    @admin.display(description="classification")
    def classification_display(self, interaction: Interaction) -> str:
        return interaction.classification_display
