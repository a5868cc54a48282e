"""Signing in and out of the contact centre, and the guard every agent page stands behind."""

from collections.abc import Callable
from functools import wraps

from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from contactcentre import two_factor
from contactcentre.models import Membership
from routing import engine


def _membership(user) -> Membership | None:
    return (
        Membership.objects.select_related("company", "queue_profile", "user", "break_reason")
        .filter(user=user)
        .first()
    )


class HtmxHttpRequest(HttpRequest):
    """A request that passed django-htmx's middleware, as django-htmx's documentation types it."""

    htmx: HtmxDetails


class AgentRequest(HtmxHttpRequest):
    """A request of a signed-in member of a contact centre (`agent_required`): `agent` is their membership,
    the tenant of every query the view makes."""

    agent: Membership


def agent_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login and a Membership required; the view receives an AgentRequest whose `agent` is the
    membership."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            # A partial fetched after the session ended must take the whole page to the login, not
            # swap the login form into a corner of the inbox.
            if request.htmx:
                return HttpResponseClientRedirect(resolve_url("login"))
            return redirect_to_login(request.get_full_path())
        agent = _membership(request.user)
        if agent is None:
            raise PermissionDenied("Your login is not part of a contact centre.")
        request.agent = agent
        return view(request, *args, **kwargs)

    return wrapper


class LoginView(auth_views.LoginView):
    """Django's login; an agent who signs in becomes Available and is offered waiting chats.

    For a user with two-factor sign-in (or who must have it) the password only starts the login: the code
    step, or enrolment, completes it (contactcentre/two_factor.py).
    """

    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if two_factor.requirement(user).second_step:
            return two_factor.begin(self.request, user=user, next_url=self.get_success_url())
        response = super().form_valid(form)
        agent = _membership(self.request.user)
        if agent is not None:
            engine.agent_login(agent=agent)
        return response


def admin_login(request: HttpRequest) -> HttpResponse:
    """The administration signs in through the product's login, and so through its second step."""
    next_url = request.GET.get("next") or resolve_url("admin:index")
    return redirect_to_login(two_factor.safe_next(request, next_url))


def _refused_half_login(request: HttpRequest) -> HttpResponse:
    """Where a code step without a half-login goes: on, if already logged in; else back to the password."""
    if request.user.is_authenticated:
        return redirect(two_factor.safe_next(request, request.GET.get("next")))
    messages.error(request, "Signing in took too long, or was started elsewhere. Please sign in again.")
    return redirect("login")


def _too_many_wrong_codes(request: HttpRequest) -> HttpResponse:
    messages.error(request, "Too many wrong codes. Please sign in again.")
    return redirect("login")


@sensitive_post_parameters("code", "recovery_code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator app, or one recovery code."""
    user = two_factor.pending_user(request)
    if user is None or request.user.is_authenticated:
        return _refused_half_login(request)
    if not two_factor.requirement(user).has_device:
        return redirect("two_factor_enrol")
    context = {"username": user.get_username()}
    status = 200
    if request.method == "POST":
        field = "recovery_code" if "recovery_code" in request.POST else "code"
        try:
            device = two_factor.verify(user, code=request.POST.get(field, ""))
        except two_factor.CodeRefused as refusal:
            if two_factor.count_wrong_code(request):
                return _too_many_wrong_codes(request)
            context[f"{field}_error"] = refusal.message
            status = 400
        else:
            return redirect(two_factor.complete(request, user=user, device=device))
    return render(request, "registration/login_code.html", context, status=status)


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan (or type) its secret, then prove it with a code.

    During a half-login this is the step for a user who must have two-factor sign-in but has none; once
    logged in, it turns two-factor sign-in on, or moves it to a new app.
    """
    logged_in = request.user.is_authenticated
    user = request.user if logged_in else two_factor.pending_user(request)
    if user is None:
        return _refused_half_login(request)
    requirement = two_factor.requirement(user)
    if not logged_in and requirement.has_device:
        # A half-login never gets round its code step by setting up another app.
        return redirect("login_code")
    status = 200
    error = ""
    if request.method == "POST":
        try:
            device, codes = two_factor.confirm_enrolment(user, code=request.POST.get("code", ""))
        except two_factor.CodeRefused as refusal:
            if not logged_in and two_factor.count_wrong_code(request):
                return _too_many_wrong_codes(request)
            error, status = refusal.message, 400
        else:
            if logged_in:
                two_factor.mark_verified(request, device)
                next_url = resolve_url("two_factor")
            else:
                next_url = two_factor.complete(request, user=user, device=device)
            return render(
                request, "registration/recovery_codes.html", {"codes": codes, "next": next_url, "new": True}
            )
    device = two_factor.enrolment_device(user)
    context = {
        "logged_in": logged_in,
        "required": requirement.required,
        "replacing": requirement.has_device,
        "qr_svg": two_factor.qr_svg(device.config_url),
        "config_url": device.config_url,
        "secret": two_factor.secret_for_typing(device),
        "error": error,
    }
    return render(request, "registration/two_factor_enrol.html", context, status=status)


def _security_page(request: HttpRequest, *, status: int = 200, **errors) -> HttpResponse:
    requirement = two_factor.requirement(request.user)
    context = {
        "enabled": requirement.has_device,
        "required": requirement.required,
        "codes_left": two_factor.recovery_codes_left(request.user),
        "agent": _membership(request.user),
        **errors,
    }
    return render(request, "registration/two_factor.html", context, status=status)


@never_cache
@login_required
def two_factor_settings(request: HttpRequest) -> HttpResponse:
    """The Security page: whether two-factor sign-in is on, and what can be done about it."""
    return _security_page(request)


@sensitive_post_parameters("code")
@never_cache
@login_required
@require_POST
def two_factor_recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes, for a current code; the old ones stop working."""
    if not two_factor.requirement(request.user).has_device:
        return redirect("two_factor")
    try:
        two_factor.verify(request.user, code=request.POST.get("code", ""))
    except two_factor.CodeRefused as refusal:
        return _security_page(request, status=400, recovery_error=refusal.message)
    codes = two_factor.new_recovery_codes(request.user)
    return render(
        request, "registration/recovery_codes.html", {"codes": codes, "next": resolve_url("two_factor")}
    )


@sensitive_post_parameters("code")
@never_cache
@login_required
@require_POST
def two_factor_off(request: HttpRequest) -> HttpResponse:
    """Turn two-factor sign-in off, for a current code; only for those whose role does not require it."""
    requirement = two_factor.requirement(request.user)
    if requirement.required:
        return _security_page(
            request, status=403, off_error="Your role requires two-factor sign-in: it cannot be turned off."
        )
    if requirement.has_device:
        try:
            two_factor.verify(request.user, code=request.POST.get("code", ""))
        except two_factor.CodeRefused as refusal:
            return _security_page(request, status=400, off_error=refusal.message)
        two_factor.turn_off(request.user)
        messages.success(request, "Two-factor sign-in is off.")
    return redirect("two_factor")


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Log out: the agent's chats go back to their queues first, while we still know who they are."""
    if request.user.is_authenticated:
        agent = _membership(request.user)
        if agent is not None:
            engine.agent_logout(agent=agent)
    auth.logout(request)
    return redirect("login")
