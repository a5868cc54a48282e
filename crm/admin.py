"""Admin for contacts, and a read-only view of their interactions (each written when a chat or call ends)."""

from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter

from contactcentre.admin_scoping import CompanyScopedAdmin, CompanyScopedMixin, ReadOnlyAdminMixin
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
                    "ended_at",
                    "closed_at",
                    "handle_seconds",
                    "wrapup_seconds",
                ]
            },
        ),
        (
            "Classification and notes",
            {"fields": ["classification", "classification_text", "notes", "abusive"]},
        ),
    ]

    @admin.display(description="classification")
    def classification_display(self, interaction: Interaction) -> str:
        return interaction.classification_display
