"""Signing in and out of the contact centre, and the guard every agent page stands behind."""

from collections.abc import Callable
from functools import wraps

from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from contactcentre.models import Membership
from routing import engine


def _membership(user) -> Membership | None:
    return (
        Membership.objects.select_related("company", "queue_profile", "user", "break_reason")
        .filter(user=user)
        .first()
    )


def agent_required(view: Callable) -> Callable:
    """Login and a Membership required; the membership is `request.agent`, the tenant of every query."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            # A partial fetched after the session ended must take the whole page to the login, not
            # swap the login form into a corner of the inbox.
            if request.htmx:
                return HttpResponseClientRedirect(resolve_url("login"))
            return redirect_to_login(request.get_full_path())
        request.agent = _membership(request.user)
        if request.agent is None:
            raise PermissionDenied("Your login is not part of a contact centre.")
        return view(request, *args, **kwargs)

    return wrapper


class LoginView(auth_views.LoginView):
    """Django's login; an agent who signs in becomes Available and is offered waiting chats."""

    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        agent = _membership(self.request.user)
        if agent is not None:
            engine.agent_login(agent=agent)
        return response


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Log out: the agent's chats go back to their queues first, while we still know who they are."""
    if request.user.is_authenticated:
        agent = _membership(request.user)
        if agent is not None:
            engine.agent_logout(agent=agent)
    auth.logout(request)
    return redirect("login")
