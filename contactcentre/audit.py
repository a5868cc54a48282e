"""The audit log: who signed in or failed to, and what administrators changed, per company.

django-auditlog records the changes to the models registered below (in the admin, with the administrator
as the actor and the client's address, through AuditMiddleware); the sign-in signals and the
data-protection services write their entries through `record`. Every entry names its company
(contactcentre.models.AuditEntry), and the admin shows a company's administrators their own entries only.
"""

from functools import cache

from auditlog.middleware import AuditlogMiddleware
from auditlog.registry import auditlog
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import models
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import reverse

from contactcentre.models import AuditEntry, Company, Membership
from runtime.client_address import request_client_address

Action = AuditEntry.Action


def hidden(value: str) -> str:
    """How a secret's old and new values appear in the log: that it changed, never what it is."""
    return "(hidden)"


def register_audited_models() -> None:
    """The models whose changes are kept: what company administrators set up in the admin.

    Agents (a login and its membership) are recorded by their admin instead (contactcentre/admin.py): the
    engine saves a membership on every status change and allocation, and a signal on that model would cost
    each of them a query for a change that is never administrative.
    """
    from routing.models import BreakReason, QueueProfile, VoiceQueue, WebchatQueue
    from webchat.models import Classification, ResponseTemplate

    auditlog.register(
        Company,
        exclude_fields=["created_at"],
        mask_fields=["telephony_secret"],
        mask_callable="contactcentre.audit.hidden",
    )
    auditlog.register(WebchatQueue)
    auditlog.register(VoiceQueue)
    auditlog.register(QueueProfile, m2m_fields={"queues"})
    auditlog.register(BreakReason)
    auditlog.register(ResponseTemplate, m2m_fields={"queues"})
    auditlog.register(Classification, m2m_fields={"queues"})


def client_address(request: HttpRequest | None) -> str | None:
    """The client's address as the rate limits see it (TRUSTED_PROXY_COUNT), or None if it is none."""
    return request_client_address(request) if request is not None else None


@cache
def _admin_prefix() -> str:
    return reverse("admin:index")


class AuditMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware for the admin's requests: the changes they make are recorded with the
    administrator and the client's address. Other requests change nothing that is audited this way, and
    are left out of its per-request bookkeeping."""

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str | None:
        # auditlog's own reading believes the first X-Forwarded-For entry, which the client may forge.
        return client_address(request)

    def __call__(self, request: HttpRequest):
        if not request.path.startswith(_admin_prefix()):
            return self.get_response(request)
        return super().__call__(request)


def record(
    action: int,
    *,
    obj: models.Model,
    company_id: int | None,
    actor=None,
    request: HttpRequest | None = None,
    changes: dict | None = None,
    username: str = "",
    additional_data: dict | None = None,
) -> AuditEntry:
    """Add one entry to the log. In an admin request the actor and address default to the request's."""
    fields = {
        "action": action,
        "company_id": company_id,
        "changes": changes or {},
        "username": username or getattr(actor, "username", ""),
        "additional_data": additional_data,
    }
    if actor is not None:
        fields["actor"] = actor
        fields["actor_email"] = actor.email or None
    if request is not None:
        fields["remote_addr"] = client_address(request)
    if obj.pk is None:
        fields["object_pk"] = ""  # a login that does not exist
    return AuditEntry.objects.log_create(obj, force_log=True, **fields)


def _membership_of(user) -> Membership | None:
    return Membership.objects.filter(user_id=user.pk).first() if user is not None and user.pk else None


@receiver(user_logged_in, dispatch_uid="audit-login")
def _record_login(sender, request: HttpRequest | None, user, **kwargs) -> None:
    _record_session_event(Action.LOGIN, request, user)


@receiver(user_logged_out, dispatch_uid="audit-logout")
def _record_logout(sender, request: HttpRequest | None, user, **kwargs) -> None:
    if user is not None:
        _record_session_event(Action.LOGOUT, request, user)


def _record_session_event(action: str, request: HttpRequest | None, user) -> None:
    membership = _membership_of(user)
    record(
        action,
        obj=user,
        company_id=membership.company_id if membership else None,
        actor=user,
        request=request,
    )


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def _record_failed_login(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    User = get_user_model()
    typed = str(credentials.get(User.USERNAME_FIELD, "")).replace("\x00", "")[:150]
    # The entry belongs to the company of the login that was tried, so that its administrators see
    # attempts on their people; a name that is nobody's only the operator sees.
    user = User.objects.filter(**{User.USERNAME_FIELD: typed}).first() if typed else None
    membership = _membership_of(user)
    record(
        Action.LOGIN_FAILED,
        obj=user or User(username=typed),
        company_id=membership.company_id if membership else None,
        request=request,
        username=typed,
    )
