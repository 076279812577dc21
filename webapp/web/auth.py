"""Who is signed in, and who may open which page.

Flask-Login wiring. Citizens and officers are different tables; the session id says which ("u:7", "o:2"), and
``create_app`` registers each table's loader (:func:`register_loader`), so this layer imports no domain.

Server-side revocation (SPEC 8): the session also carries the account's ``session_generation`` as it was at
sign-in. Every request that carries a login compares it with the account's; logging out, a new password and
面签 raise the account's, so every session opened before (a copied cookie included) stops working, and with it
whatever that browser session was granted (e.g. viewing a travel ID after 实人核验: SPEC 4).

The guards: every citizen page takes :func:`citizen_required`; every officer page takes
:func:`officer_required` with the roles that may open it, declared by the domain that owns the route.
:func:`access_table` reads those declarations back from the app (the officer home page's entries, the tests).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import wraps

from flask import Flask, current_app, flash, g, redirect, request, url_for
from flask import session as web_session
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.wrappers import Response

from webapp.db import get_session
from webapp.errors import DomainError, Forbidden, ServiceUnavailable
from webapp.extensions import login_manager
from webapp.lazytext import _l
from webapp.web import edge
from webapp.web.forms import EmptyForm
from webapp.web.urls import next_target

_LOADERS: dict[str, Callable[[int], object | None]] = {}
GENERATION = "_generation"  # the Flask-session key of the account's session generation at sign-in
CITIZEN_ONLY_MESSAGE = _l("工作人员账号不能办理个人业务，请退出后使用个人账号登录。")
DATABASE_DOWN_MESSAGE = _l("系统暂时无法连接数据库，请稍后再试。")


def register_loader(prefix: str, loader: Callable[[int], object | None]) -> None:
    """``loader(pk)`` returns the account of session ids ``"<prefix>:<pk>"`` (or None when gone)."""
    _LOADERS[prefix] = loader


@login_manager.user_loader
def load_principal(session_id: str):
    prefix, _, raw = session_id.partition(":")
    loader = _LOADERS.get(prefix)
    if loader is None or not raw.isdigit():
        return None
    try:
        principal = loader(int(raw))
    except (OperationalError, InterfaceError):
        # The database is down: treat the request as anonymous so error pages still render, but remember
        # it, so a protected page answers 503 instead of pretending the user is logged out.
        g.principal_unavailable = True
        return None
    if principal is None or web_session.get(GENERATION) != principal.session_generation:
        # Gone, deactivated, or signed out since this session began (logout, new password, 面签).
        g.session_revoked = True
        return None
    return principal


def start_session(principal) -> None:
    """Sign ``principal`` in to this browser session, bound to the account's current session generation."""
    login_user(principal)
    web_session[GENERATION] = principal.session_generation


def _end_revoked_session() -> None:
    """Before every request that carries a login: check it now (not only when a page asks who is signed in), and
    when it was revoked, drop the whole browser session: the travel-ID grants and proofing challenges it holds
    were given to that login and end with it."""
    if "_user_id" not in web_session or request.endpoint == "static":  # a stylesheet opens nothing
        return
    current_user._get_current_object()  # runs load_principal once for this request
    if g.get("session_revoked"):
        web_session.clear()


@login_manager.unauthorized_handler
def unauthorized():
    if g.get("principal_unavailable"):
        raise ServiceUnavailable(DATABASE_DOWN_MESSAGE)
    if request.path.startswith("/api/"):
        raise DomainError(_l("需要登录或 API 密钥。"), status=401, code="unauthorized")
    flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(url_for(login_manager.login_view, next=request.full_path.rstrip("?")))


def sign_in(authenticate: Callable[[], object], *, fresh_session: bool, message: Callable[[object], str],
            default_target: str) -> tuple[Response | None, DomainError | None]:
    """The shared end of both sign-in forms (citizens and officers), after the form validated.

    ``authenticate`` raises a DomainError for bad credentials (or a LoginLocked); its audit record of the failed
    attempt and the throttle's count are committed all the same (the one commit of this request either way).
    Returns (redirect, None) on success, (None, the refusal) otherwise: :func:`refused_page` answers it.
    """
    try:
        principal = authenticate()
    except DomainError as exc:
        edge.commit()  # keep the audit record of the failed attempt and its count
        return None, exc
    edge.commit()
    if fresh_session or web_session.get("_user_id") not in (None, principal.get_id()):
        # What another login of this browser session was granted (a travel-ID view after 实人核验) is not this
        # account's: keeping it would let a copied cookie outlive its account's logout under a second login.
        web_session.clear()
    start_session(principal)
    flash(message(principal), "success")
    return redirect(next_target(default_target)), None


def refused_page(page: str, refusal: DomainError | None, submitted: bool) -> tuple[str, int, dict]:
    """A sign-in page's answer: 200 when shown, 400 for a form or credentials refused, 429 with Retry-After when
    the identifier is locked (the same for known and unknown identifiers)."""
    retry_after = getattr(refusal, "retry_after", None)
    if refusal is not None and retry_after is not None:
        return page, refusal.status, {"Retry-After": str(max(1, math.ceil(retry_after.total_seconds())))}
    return page, 400 if submitted else 200, {}


def sign_out(target: str, end_sessions: Callable[..., None]) -> Response:
    """The shared logout of citizens and officers (a CSRF-checked POST).

    It ends every session of the account, on every device, not only this cookie (SPEC 8): ``end_sessions(session,
    principal, now, why=…)`` is the accounts service that raises the account's generation. Whatever this browser
    was granted (e.g. viewing a travel ID after 实人核验) ends with the login.
    """
    if EmptyForm().validate_on_submit():
        if current_user.is_authenticated:
            end_sessions(get_session(), current_user._get_current_object(), edge.now(), why="logout")
            edge.commit()
        logout_user()
        web_session.clear()
        flash(_l("已退出登录。"), "info")
    return redirect(target)


def current_citizen():
    """The signed-in citizen's account for a citizen page (after login_required); an officer session gets 403
    (officers have no citizen record). Behind :func:`citizen_required` it only returns it: that decorator has
    refused an officer already."""
    if getattr(current_user, "is_officer", False):
        raise Forbidden(CITIZEN_ONLY_MESSAGE)
    return current_user


def citizen_required(view):
    """``login_required`` for the citizen pages, which also refuses an officer session with a 403 page (an officer
    has no citizen record: the view would fail on it). Every citizen page takes this one decorator, so no view has
    to remember to check; tests/http/test_fuzz_routes.py opens every route with an officer session."""

    @login_required
    @wraps(view)
    def wrapped(*args, **kwargs):
        current_citizen()
        return view(*args, **kwargs)

    wrapped.citizen_only = True  # login_required's functools.wraps carries it to the registered view
    return wrapped


def current_officer():
    """The signed-in officer, or None (a citizen session is not an officer)."""
    if current_user.is_authenticated and getattr(current_user, "is_officer", False):
        return current_user
    return None


def officer_required(*roles: str):
    """Allow only officers of ``roles`` (webapp.roles): anonymous → the officer sign-in page, citizens and other
    roles → 403. The domain that owns the route names its roles here, next to the route."""
    if not roles:
        raise ValueError("officer_required needs the roles that may open the page")

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            authenticated = current_user.is_authenticated
            if g.get("principal_unavailable"):
                raise ServiceUnavailable(DATABASE_DOWN_MESSAGE)
            if not authenticated:
                flash(_l("请使用工作人员账号登录。"), "info")
                return redirect(url_for("officer.login", next=request.full_path.rstrip("?")))
            officer = current_officer()
            if officer is None or officer.role not in roles:
                raise Forbidden(_l("您的账号无权访问此页面。"))
            return view(*args, **kwargs)

        wrapped.officer_roles = tuple(roles)
        return wrapped

    return decorator


def access_table(app: Flask | None = None) -> dict[str, tuple[str, ...]]:
    """Every officer page of the app and the roles that may open it, as the routes declared them (read once: the
    routes are all registered by ``create_app``, before anyone asks)."""
    app = app or current_app
    if "access_table" not in app.extensions:
        app.extensions["access_table"] = {endpoint: view.officer_roles for endpoint, view in app.view_functions.items()
                                          if hasattr(view, "officer_roles")}
    return app.extensions["access_table"]


def may_open(endpoints: Iterable[str], role: str) -> list[str]:
    """Of ``endpoints``, those an officer of ``role`` may open (so a page never offers one the role cannot)."""
    table = access_table()
    return [endpoint for endpoint in endpoints if role in table.get(endpoint, ())]


def init_app(app: Flask) -> None:
    app.before_request(_end_revoked_session)
