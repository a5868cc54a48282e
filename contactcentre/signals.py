"""Configuration changes that reach live work, wherever they are made (the admin, a command, the shell).

- A user deactivated or given a new password: logged out through the engine (their chats return to their
  queues) and every open socket of theirs closed.
- A user signing out (the inbox's Log out, the admin's, any `auth.logout`): logged out through the engine,
  and the sockets opened with that session closed.
- An agent's Webchat Queues profile, role or webchat capability changed, a profile's queues changed, a
  queue added, edited, enabled, disabled or deleted: the open sockets concerned re-read which queue groups
  they belong to and tell their page to re-fetch its parts.

Everything is sent after the change commits (contactcentre.agent_sessions), so nobody acts on a change that
was rolled back. Connected in ContactCentreConfig.ready().
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from contactcentre import agent_sessions
from contactcentre.models import Membership, Presence
from routing.models import QueueProfile, WebchatQueue

User = get_user_model()

USER_FIELDS = {"is_active", "password"}
MEMBERSHIP_FIELDS = {"queue_profile", "role", "can_webchat", "company"}
QUEUE_FIELDS_SHOWN = {"enabled", "name", "agents_view_queue_status", "company"}


def _touches(update_fields, fields: set[str]) -> bool:
    return update_fields is None or bool(fields & set(update_fields))


def _log_out_after_commit(agent_id: int, reason: str) -> None:
    from routing import engine

    def log_out() -> None:
        presence = Membership.objects.filter(pk=agent_id).values_list("presence", flat=True).first()
        if presence is not None and presence != Presence.UNAVAILABLE:
            engine.agent_logout(agent=agent_id, reason=reason)

    transaction.on_commit(log_out)


@receiver(pre_save, sender=User, dispatch_uid="user_before_save")
def _remember_user(sender, instance, update_fields=None, **kwargs) -> None:
    instance._signed_in_as = None
    if instance.pk and _touches(update_fields, USER_FIELDS):
        instance._signed_in_as = sender.objects.filter(pk=instance.pk).values("is_active", "password").first()


@receiver(post_save, sender=User, dispatch_uid="user_after_save")
def _user_saved(sender, instance, created, **kwargs) -> None:
    before = getattr(instance, "_signed_in_as", None)
    instance._signed_in_as = None
    if created or before is None:
        return
    if before["is_active"] and not instance.is_active:
        reason = "deactivated"
    elif before["password"] != instance.password and instance._password is not None:
        # Set with set_password(), as every form and command that changes a password does. A hash that
        # changed without it is Django upgrading the hash on sign-in (the same password): not a change. It
        # still ends the user's other sessions, which their sockets' own re-checks find.
        reason = "password changed"
    else:
        return
    agent_id = Membership.objects.filter(user_id=instance.pk).values_list("pk", flat=True).first()
    if agent_id is None:
        return
    _log_out_after_commit(agent_id, reason)
    agent_sessions.end_sockets(agent_id=agent_id, reason=reason)


@receiver(user_logged_out, dispatch_uid="user_signed_out")
def _signed_out(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    agent_id = Membership.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()
    if agent_id is None:
        return
    _log_out_after_commit(agent_id, "signed out")
    session = getattr(request, "session", None)
    agent_sessions.end_sockets(session_key=session.session_key if session else None, reason="signed out")


@receiver(pre_save, sender=Membership, dispatch_uid="membership_before_save")
def _remember_membership(sender, instance, update_fields=None, **kwargs) -> None:
    instance._heard_as = None
    if instance.pk and _touches(update_fields, MEMBERSHIP_FIELDS):
        instance._heard_as = (
            sender.objects.filter(pk=instance.pk)
            .values("queue_profile_id", "role", "can_webchat", "company_id")
            .first()
        )


@receiver(post_save, sender=Membership, dispatch_uid="membership_after_save")
def _membership_saved(sender, instance, created, **kwargs) -> None:
    before = getattr(instance, "_heard_as", None)
    instance._heard_as = None
    if created or before is None:
        return
    now = {
        "queue_profile_id": instance.queue_profile_id,
        "role": instance.role,
        "can_webchat": instance.can_webchat,
        "company_id": instance.company_id,
    }
    if now != before:
        agent_sessions.refresh_sockets(agent_ids=[instance.pk])


@receiver(post_delete, sender=Membership, dispatch_uid="membership_deleted")
def _membership_deleted(sender, instance, **kwargs) -> None:
    agent_sessions.end_sockets(agent_id=instance.pk, reason="no longer a member")


@receiver(post_save, sender=QueueProfile, dispatch_uid="profile_saved")
def _profile_saved(sender, instance, created, **kwargs) -> None:
    if not created:
        agent_sessions.refresh_sockets(company_ids=[instance.company_id])


@receiver(m2m_changed, sender=QueueProfile.queues.through, dispatch_uid="profile_queues_changed")
def _profile_queues_changed(sender, instance, action, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        agent_sessions.refresh_sockets(company_ids=[instance.company_id])


@receiver(post_save, sender=WebchatQueue, dispatch_uid="queue_saved")
def _queue_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    if created or _touches(update_fields, QUEUE_FIELDS_SHOWN):
        agent_sessions.refresh_sockets(company_ids=[instance.company_id])


@receiver(post_delete, sender=WebchatQueue, dispatch_uid="queue_deleted")
def _queue_deleted(sender, instance, **kwargs) -> None:
    agent_sessions.refresh_sockets(company_ids=[instance.company_id])
