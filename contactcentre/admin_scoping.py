"""Company scoping for the admin, written once and used by every model admin of the product.

A company administrator (a staff user whose membership has the administrator role) sees and changes only
their own company's objects, and every choice offered to them in a form is their company's. They need no
Django permissions: their role is the permission. Only a superuser sees every company.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest

from contactcentre.models import Company, Role


def administered_company(user) -> Company | None:
    """The company whose administrator this user is, or None."""
    if not (user.is_authenticated and user.is_staff):
        return None
    membership = getattr(user, "membership", None)
    if membership is None or membership.role != Role.ADMINISTRATOR:
        return None
    return membership.company


def scope_to_company(queryset: models.QuerySet, company: Company) -> models.QuerySet:
    """The company's own rows of a queryset of any model that belongs to a company."""
    if queryset.model is Company:
        return queryset.filter(pk=company.pk)
    try:
        queryset.model._meta.get_field("company")
    except FieldDoesNotExist:
        # A model that does not say which company it belongs to is offered to nobody but superusers.
        return queryset.none()
    return queryset.filter(company=company)


def company_id_of(obj: models.Model, lookup: str) -> int | None:
    """Follow a lookup such as "company" or "chat__company" from an object to its company's id."""
    *path, last = lookup.split("__")
    for name in path:
        obj = getattr(obj, name)
    return obj.pk if last == "pk" else getattr(obj, f"{last}_id")


class CompanyScopedForm(forms.ModelForm):
    """Refuses a choice from another company than the object's, which only a superuser could make."""

    def clean(self) -> dict:
        cleaned_data = super().clean()
        company = cleaned_data.get("company") or getattr(self.instance, "company", None)
        if not isinstance(company, Company):
            return cleaned_data
        for name, value in list(cleaned_data.items()):
            chosen = value if isinstance(value, models.QuerySet) else [value]
            for item in chosen:
                if isinstance(item, models.Model) and getattr(item, "company_id", company.pk) != company.pk:
                    self.add_error(name, f"“{item}” belongs to another company than {company}.")
                    break
        return cleaned_data


class CompanyScopedMixin:
    """For ModelAdmin and InlineModelAdmin classes of models that belong to a company.

    `company_lookup` leads from the model to its company: "company" for a model with its own company
    field, e.g. "chat__company" for one that belongs to a company through another model.
    """

    company_lookup = "company"
    form = CompanyScopedForm

    def has_own_company_field(self) -> bool:
        return self.company_lookup == "company"

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        company = administered_company(request.user)
        if company is None:
            return queryset.none()
        return queryset.filter(**{self.company_lookup: company.pk})

    def _administers(self, request: HttpRequest, obj: models.Model | None) -> bool:
        company = administered_company(request.user)
        if company is None or obj is None:
            return company is not None
        # An inline is asked about its parent object, and every parent here has its own company field.
        lookup = self.company_lookup if isinstance(obj, self.model) else "company"
        return company_id_of(obj, lookup) == company.pk

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or administered_company(request.user) is not None

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        if request.user.is_superuser:
            return super().has_view_permission(request, obj)
        return self._administers(request, obj)

    def has_add_permission(self, request: HttpRequest, *parent) -> bool:
        # An inline is asked with the parent object, a model admin without it.
        if request.user.is_superuser:
            return super().has_add_permission(request, *parent)
        return administered_company(request.user) is not None

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        if request.user.is_superuser:
            return super().has_change_permission(request, obj)
        return self._administers(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        if request.user.is_superuser:
            return super().has_delete_permission(request, obj)
        return self._administers(request, obj)

    def get_list_display(self, request: HttpRequest):
        list_display = super().get_list_display(request)
        if request.user.is_superuser and self.has_own_company_field():
            return [*list_display, "company"]
        return list_display

    def get_list_filter(self, request: HttpRequest):
        list_filter = super().get_list_filter(request)
        if request.user.is_superuser and self.has_own_company_field():
            return ["company", *list_filter]
        return list_filter

    def get_fieldsets(self, request: HttpRequest, obj: models.Model | None = None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        return [
            (name, {**options, "fields": [field for field in options["fields"] if field != "company"]})
            for name, options in fieldsets
        ]

    def get_form(self, request: HttpRequest, obj: models.Model | None = None, change: bool = False, **kwargs):
        # The company field stays in a company administrator's form, unseen and fixed to their company,
        # so that the model's validation (names unique within the company) still sees it.
        if not request.user.is_superuser and self.has_own_company_field():
            if "fields" not in kwargs:
                kwargs["fields"] = flatten_fieldsets(self.get_fieldsets(request, obj))
            if kwargs["fields"] is not None:
                kwargs["fields"] = [*kwargs["fields"], "company"]
        return super().get_form(request, obj, change, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)
        if not request.user.is_superuser:
            initial.pop("company", None)
        return initial

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        company = None if request.user.is_superuser else administered_company(request.user)
        if company is not None and db_field.name == "company" and db_field.related_model is Company:
            return forms.ModelChoiceField(
                queryset=Company.objects.filter(pk=company.pk), initial=company, disabled=True
            )
        return self._scoped(super().formfield_for_foreignkey(db_field, request, **kwargs), request)

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        return self._scoped(super().formfield_for_manytomany(db_field, request, **kwargs), request)

    def _scoped(self, formfield: forms.Field | None, request: HttpRequest) -> forms.Field | None:
        if formfield is None or request.user.is_superuser:
            return formfield
        company = administered_company(request.user)
        formfield.queryset = (
            formfield.queryset.none() if company is None else scope_to_company(formfield.queryset, company)
        )
        return formfield


class CompanyScopedAdmin(CompanyScopedMixin, admin.ModelAdmin):
    pass


class ReadOnlyAdminMixin:
    """For records that the engine writes: administrators look, search and filter, but never edit."""

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False
