"""Admin for companies and their agents: each agent's login is created and kept with their membership."""

from auditlog.mixins import LogEntryAdminMixin
from django import forms
from django.contrib import admin
from django.contrib.admin import DateFieldListFilter, RelatedOnlyFieldListFilter
from django.contrib.auth import get_user_model, password_validation, update_session_auth_hash
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import UsernameField
from django.contrib.auth.models import Group
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactcentre import audit
from contactcentre.admin_scoping import CompanyScopedAdmin, CompanyScopedForm, ReadOnlyAdminMixin
from contactcentre.models import AuditEntry, Company, Membership, Role

User = get_user_model()

admin.site.site_header = "Contact centre administration"
admin.site.site_title = "Contact centre administration"
admin.site.index_title = "Your company's settings"


class SuperuserOnlyMixin:
    """Logins and groups span every company, so only a superuser may see them here."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser


class SuperuserUserAdmin(SuperuserOnlyMixin, UserAdmin):
    pass


class SuperuserGroupAdmin(SuperuserOnlyMixin, GroupAdmin):
    pass


admin.site.unregister(User)
admin.site.register(User, SuperuserUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, SuperuserGroupAdmin)
# Authenticators and recovery codes are nobody's to read in the admin, not even a superuser's (the keys
# would be on the page): `manage.py reset_two_factor USERNAME` takes away a lost one.
for device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(device_model):
        admin.site.unregister(device_model)


@admin.register(Company)
class CompanyAdmin(CompanyScopedAdmin):
    company_lookup = "pk"
    list_display = ["name", "slug", "default_max_chats_per_agent", "channel_priority", "created_at"]
    search_fields = ["name", "slug"]
    fieldsets = [
        (None, {"fields": ["name", "slug"]}),
        ("Webchat and calls", {"fields": ["default_max_chats_per_agent", "channel_priority"]}),
        ("Telephony", {"fields": ["telephony_url", "telephony_secret"]}),
        ("Data protection", {"fields": ["transcript_retention_days"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Company | None = None) -> list[str]:
        # The slug and the secret are what the telephony system knows the company by: only an operator
        # changes them, together with the PBX's configuration.
        return [] if request.user.is_superuser else ["slug", "telephony_secret"]

    def get_prepopulated_fields(self, request: HttpRequest, obj: Company | None = None) -> dict:
        return {"slug": ["name"]} if request.user.is_superuser else {}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Company | None = None) -> bool:
        return request.user.is_superuser

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        if isinstance(db_field, models.URLField):
            # The telephony URL must be https: an address typed without a scheme is taken as one.
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)


# What an agent does, edited on the agent's form below the login.
ROLE_AND_WORK_FIELDS = [
    "role",
    "display_name",
    "extension",
    "can_webchat",
    "can_voice",
    "queue_profile",
    "voice_queues",
    "kpi_alert_emails",
]


class AgentForm(CompanyScopedForm):
    """A membership together with the login it belongs to."""

    login_fields = ("username", "first_name", "last_name", "email", "is_active")

    username = UsernameField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="What the agent logs in with: letters, digits and @ . + - _ only.",
    )
    password = forms.CharField(
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(label="Email address", required=False)
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        initial=True,
        help_text="Untick to stop this login from signing in. Their chats and contact history are kept.",
    )

    # Set by the admin on each request's form class, so that nobody locks themselves out.
    editor = None

    class Meta:
        model = Membership
        fields = ["company", *ROLE_AND_WORK_FIELDS]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.user_id:
            for name in self.login_fields:
                self.initial[name] = getattr(self.instance.user, name)
            self.fields["password"].help_text = "Leave blank to keep the current password."
        else:
            self.fields["password"].required = True

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        # Logins differing only in case are too easily mistaken for each other.
        if User.objects.filter(username__iexact=username).exclude(pk=self.instance.user_id).exists():
            raise ValidationError("A login with that username already exists.")
        return username

    def clean(self) -> dict:
        cleaned_data = super().clean()
        if password := cleaned_data.get("password"):
            try:
                password_validation.validate_password(password, self._login())
            except ValidationError as error:
                self.add_error("password", error)
        if (
            self.editor is not None
            and self.instance.user_id == self.editor.pk
            and not self.editor.is_superuser
        ):
            if cleaned_data.get("role") != Role.ADMINISTRATOR:
                self.add_error("role", "You cannot take away your own administrator role.")
            if not cleaned_data.get("is_active"):
                self.add_error("is_active", "You cannot deactivate your own login.")
        return cleaned_data

    def _login(self) -> User:
        user = self.instance.user if self.instance.user_id else User()
        for name in self.login_fields:
            if name in self.cleaned_data:
                setattr(user, name, self.cleaned_data[name])
        return user

    def save_login(self) -> User:
        """Create or update the login. Administrators are staff: that is what lets them into the admin."""
        user = self._login()
        if self.cleaned_data["password"]:
            user.set_password(self.cleaned_data["password"])
        user.is_staff = user.is_superuser or self.cleaned_data["role"] == Role.ADMINISTRATOR
        user.save()
        return user


@admin.register(Membership)
class AgentAdmin(CompanyScopedAdmin):
    form = AgentForm
    list_display = ["username", "name", "role", "can_webchat", "can_voice", "queue_profile", "presence"]
    list_filter = [
        "role",
        "can_webchat",
        "can_voice",
        "presence",
        ("queue_profile", RelatedOnlyFieldListFilter),
    ]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email", "display_name"]
    filter_horizontal = ["voice_queues"]
    presence_fields = ["presence", "break_reason", "presence_since", "last_allocated_at", "last_seen_at"]
    readonly_fields = presence_fields
    fieldsets = [
        (
            "Login",
            {"fields": ["company", "username", "password", "first_name", "last_name", "email", "is_active"]},
        ),
        (
            "Role and work",
            {"fields": ROLE_AND_WORK_FIELDS},
        ),
        (
            "Presence",
            {
                "fields": presence_fields,
                "description": "Set by the agent and by routing; shown for reference.",
            },
        ),
    ]

    @admin.display(ordering="user__username")
    def username(self, membership: Membership) -> str:
        return membership.user.username

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        queryset = super().get_queryset(request).select_related("user", "company", "queue_profile")
        if request.user.is_superuser:
            return queryset
        # A superuser's login belongs to the operator, not to the company it is a member of.
        return queryset.exclude(user__is_superuser=True)

    def get_fieldsets(self, request: HttpRequest, obj: Membership | None = None):
        fieldsets = super().get_fieldsets(request, obj)
        return fieldsets if obj else [fieldset for fieldset in fieldsets if fieldset[0] != "Presence"]

    def get_form(self, request: HttpRequest, obj: Membership | None = None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.editor = request.user
        return form

    def save_model(self, request: HttpRequest, obj: Membership, form: AgentForm, change: bool) -> None:
        form.audit_before = agent_snapshot(obj.pk)
        obj.user = form.save_login()
        super().save_model(request, obj, form, change)
        if obj.user_id == request.user.pk and form.cleaned_data["password"]:
            # Keep the administrator who changed their own password logged in.
            update_session_auth_hash(request, obj.user)

    def save_related(self, request: HttpRequest, form: AgentForm, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        before, after = form.audit_before, agent_snapshot(form.instance.pk)
        changes = {
            name: [before.get(name, "None"), value]
            for name, value in after.items()
            if before.get(name) != value
        }
        if form.cleaned_data["password"]:
            changes["password"] = [audit.hidden(""), audit.hidden("")]
        if changes:
            audit.record(
                AuditEntry.Action.UPDATE if change else AuditEntry.Action.CREATE,
                obj=form.instance,
                company_id=form.instance.company_id,
                actor=request.user,
                request=request,
                changes=changes,
            )

    def has_delete_permission(self, request: HttpRequest, obj: Membership | None = None) -> bool:
        own = obj is not None and obj.user_id == request.user.pk
        return not own and super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        self._record_deletion(request, obj)
        # The login goes with the agent; its membership follows by cascade.
        obj.user.delete()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        leaving = queryset.exclude(user=request.user)
        for membership in leaving.select_related("user", "company"):
            self._record_deletion(request, membership)
        User.objects.filter(membership__in=leaving).delete()

    def _record_deletion(self, request: HttpRequest, membership: Membership) -> None:
        audit.record(
            AuditEntry.Action.DELETE,
            obj=membership,
            company_id=membership.company_id,
            actor=request.user,
            request=request,
            username=membership.user.username,
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        return super().changelist_view(request, {"title": "Agents", **(extra_context or {})})

    def render_change_form(
        self, request: HttpRequest, context: dict, add=False, change=False, form_url="", obj=None
    ):
        if add:
            context["title"] = "Add agent"
        elif self.has_change_permission(request, obj):
            context["title"] = "Change agent"
        else:
            context["title"] = "View agent"
        return super().render_change_form(request, context, add, change, form_url, obj)


AGENT_LOGIN_FIELDS = ("username", "first_name", "last_name", "email", "is_active")
AGENT_WORK_FIELDS = ("role", "display_name", "extension", "can_webchat", "can_voice", "queue_profile")


def agent_snapshot(membership_id: int | None) -> dict[str, str]:
    """An agent's login and work settings as stored, as text, for the audit log's before and after."""
    membership = (
        Membership.objects.select_related("user", "queue_profile").filter(pk=membership_id).first()
        if membership_id
        else None
    )
    if membership is None:
        return {}
    values = {name: str(getattr(membership.user, name)) for name in AGENT_LOGIN_FIELDS}
    values.update({name: str(getattr(membership, name)) for name in AGENT_WORK_FIELDS})
    values["voice_queues"] = ", ".join(sorted(str(queue) for queue in membership.voice_queues.all()))
    return values


# django-auditlog registers an admin of its own for the log, which shows every company's entries.
if admin.site.is_registered(AuditEntry):
    admin.site.unregister(AuditEntry)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, LogEntryAdminMixin, CompanyScopedAdmin):
    """The audit log, read-only: a company's administrators see their own company's entries."""

    list_display = ["when", "who", "action", "resource_url", "summary", "remote_addr"]
    list_filter = [
        "action",
        ("actor", RelatedOnlyFieldListFilter),
        ("timestamp", DateFieldListFilter),
    ]
    list_select_related = ["content_type", "actor", "company"]
    search_fields = ["object_repr", "username", "actor__username", "remote_addr"]
    date_hierarchy = "timestamp"
    fields = ["when", "who", "action", "resource_url", "msg", "details", "remote_addr", "company"]
    readonly_fields = fields

    @admin.display(description="when", ordering="timestamp")
    def when(self, entry: AuditEntry) -> str:
        return date_format(localtime(entry.timestamp), "DATETIME_FORMAT")

    @admin.display(description="what changed")
    def summary(self, entry: AuditEntry) -> str:
        return self.msg_short(entry) if entry.changes else self.details(entry)

    @admin.display(description="details")
    def details(self, entry: AuditEntry) -> str:
        return ", ".join(f"{name}: {value}" for name, value in (entry.additional_data or {}).items())

    @admin.display(description="who", ordering="actor__username")
    def who(self, entry: AuditEntry) -> str:
        return entry.actor.username if entry.actor else entry.username or "system"

    @admin.display(description="object")
    def resource_url(self, entry: AuditEntry) -> str:
        # Logins have no page of their own in a company's admin: their agent's page is theirs.
        if entry.content_type.model_class() is User:
            return entry.object_repr
        return super().resource_url(entry)

    def get_actions(self, request: HttpRequest) -> dict:
        return {}  # not even "delete selected"
