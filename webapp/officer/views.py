"""Officer pages: sign-in (separate from citizens), home, the scan page, the paper certificate."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.accounts.auth import refused_page, sign_in, sign_out
from webapp.accounts.rules import ThrottlePolicy
from webapp.accounts.forms import EmptyForm
from webapp.db import get_session
from webapp.errors import DomainError, Forbidden, ServiceUnavailable
from webapp.extensions import limiter
from webapp.officer import rules, services
from webapp.officer.forms import DecisionForm, OfficerLoginForm, PaperForm
from webapp.registry.rules import InvalidIdNumber
from webapp.timeutil import format_local
from webapp.verification import rules as verification_rules
from webapp.lazytext import _l


bp = Blueprint("officer", __name__, url_prefix="/officer")

# Who may open which officer page. Every officer endpoint except the sign-in page must be listed here: the
# HTTP tests walk this table for every role, a citizen and an anonymous visitor, and fail on an unlisted route.
ACCESS: dict[str, tuple[str, ...]] = {
    "officer.home": rules.ALL_ROLES,
    "officer.logout": rules.ALL_ROLES,
    "officer.scan": rules.SCAN_ROLES,
    "officer.paper": rules.PAPER_ROLES,
    "officer.paper_print": rules.PAPER_ROLES,
    # Officer pages of other domains are listed here too, so one table (and one test) covers every role.
    "driving_licence.seize": (rules.ROLE_TRAFFIC,),
    "driving_licence.review_queue": (rules.ROLE_REVIEWER,),
    "driving_licence.decide": (rules.ROLE_REVIEWER,),
    "account_desk.reviews": (rules.ROLE_REVIEWER,),
    "account_desk.decide": (rules.ROLE_REVIEWER,),
    # 面签 is done at the 公安交管 window (and the station police window).
    "account_desk.face_to_face": (rules.ROLE_TRAFFIC, rules.ROLE_POLICE),
    "notify.outbox": (rules.ROLE_ADMIN,),
}
PUBLIC_ENDPOINTS = ("officer.login",)


def _now():
    return current_app.extensions["clock"].now()


def current_officer():
    """The signed-in officer, or None (a citizen session is not an officer)."""
    if current_user.is_authenticated and getattr(current_user, "is_officer", False):
        return current_user
    return None


def officer_required(endpoint: str):
    """Allow only officers whose role ACCESS lists for ``endpoint``: anonymous → the officer sign-in page,
    citizens and other roles → 403."""
    roles = ACCESS[endpoint]

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            authenticated = current_user.is_authenticated
            if g.get("principal_unavailable"):
                raise ServiceUnavailable(_l("系统暂时无法连接数据库，请稍后再试。"))
            if not authenticated:
                flash(_l("请使用工作人员账号登录。"), "info")
                return redirect(url_for("officer.login", next=request.full_path.rstrip("?")))
            officer = current_officer()
            if officer is None or officer.role not in roles:
                raise Forbidden(_l("您的账号无权访问此页面。"))
            return view(*args, **kwargs)

        wrapped.officer_roles = roles
        return wrapped

    return decorator


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(rules.LOGIN_RATE_LIMIT, methods=["POST"])
def login():
    form = OfficerLoginForm()
    refusal = None
    if form.validate_on_submit():
        # fresh_session: a citizen's grants (e.g. viewing a travel ID) must not survive into an officer's session.
        done, refusal = sign_in(
            lambda: services.authenticate(get_session(), username=form.username.data, password=form.password.data,
                                          now=_now(), policy=ThrottlePolicy.from_config(current_app.config)),
            fresh_session=True, message=lambda officer: _l("已登录（%(role)s）。", role=officer.role_label),
            default_target=url_for("officer.home"))
        if done:
            return done
        form.form_errors.append(refusal.user_message)
    return refused_page(render_template("officer/login.html", form=form), refusal, form.is_submitted())


@bp.post("/logout")
@officer_required("officer.logout")
def logout():
    return sign_out(url_for("officer.login"))


@bp.get("/")
@officer_required("officer.home")
def home():
    # The entries come from the ACCESS table, so the home page never offers a page the role cannot open.
    entries = [entry for entry in HOME_ENTRIES if current_user.role in ACCESS[entry[0]]]
    return render_template("officer/home.html", officer=current_user, logout_form=EmptyForm(), entries=entries)


HOME_ENTRIES = (
    ("officer.scan", _l("扫码核验"), _l("核验电子临时乘车身份证明、电子驾驶证")),
    ("officer.paper", _l("纸质临时乘车身份证明"), _l("登记在公安制证窗口开具的纸质证明并打印")),
    ("driving_licence.seize", _l("扣留驾驶证"), _l("登记扣留，持证人的电子驾驶证立即显示扣留状态")),
    ("account_desk.face_to_face", _l("面签注册"), _l("为到窗口办理的申请人注册账号并完成实人认证")),
    ("driving_licence.review_queue", _l("电子驾驶证审核"), _l("审核使用相册或拍照照片的申领，1 个工作日内办结")),
    ("account_desk.reviews", _l("身份证照片审核"), _l("审核上传身份证照片申请实人认证的账号，1 个工作日内办结")),
    ("notify.outbox", _l("短信发件箱"), _l("查看系统发出的短信（内置短信网关）")),
)


def _contexts_for(role: str) -> list[tuple[str, list[tuple[str, str]]]]:
    kinds = verification_rules.DETAIL_KINDS.get(role, frozenset())
    return [(verification_rules.CREDENTIAL_LABELS[kind], list(contexts.items()))
            for kind, contexts in verification_rules.CONTEXTS.items() if kind in kinds]


@bp.get("/scan")
@officer_required("officer.scan")
def scan():
    return render_template("officer/scan.html", officer=current_user, groups=_contexts_for(current_user.role),
                           api_url=url_for("api.verify"))


@bp.route("/paper", methods=["GET", "POST"])
@officer_required("officer.paper")
def paper():
    form = PaperForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            record = services.record_paper(session, officer=current_user, name=form.name.data,
                                           id_number=form.id_number.data, station=form.issuing_station.data,
                                           now=_now())
        except InvalidIdNumber as exc:
            form.id_number.errors.append(str(exc))
        except DomainError as exc:
            field = {"bad_name": form.name, "identity_mismatch": form.name,
                     "bad_station": form.issuing_station}.get(exc.code)
            (field.errors if field else form.form_errors).append(exc.user_message)
        else:
            session.commit()
            flash(_l("已登记纸质临时乘车身份证明。"), "success")
            return redirect(url_for("officer.paper_print", serial=record.serial))
    status = 400 if form.is_submitted() else 200
    return render_template("officer/paper.html", form=form), status


@bp.get("/paper/<serial>")
@officer_required("officer.paper_print")
def paper_print(serial: str):
    record = services.get_paper(get_session(), serial)
    return render_template("officer/paper_print.html", paper=record,
                           # the date as the certificate writes it in each language
                           issued=format_local(record.issued_at, str(_l("%Y年%m月%d日 %H:%M"))))


def decision(decide, page, *, done: tuple[str, str], back: str):
    """A reviewer's POST (licence photo or ID-card review): ``decide(session, approve, reason)`` runs the service.
    A refusal (no reason, too long, already decided, unknown) answers ``page(form, status)`` with its 4xx and the
    message; a decision commits and goes back to the queue with ``done`` = (approved, rejected) message."""
    form = DecisionForm()
    if not form.validate_on_submit():
        flash(form.reason.errors[0] if form.reason.errors else _l("请求无效，请刷新后重试。"), "danger")
        return page(DecisionForm(), 400)
    session = get_session()
    approve = bool(form.approve.data)
    try:
        decide(session, approve, form.reason.data)
    except DomainError as exc:
        session.rollback()
        flash(exc.user_message, "danger")
        return page(DecisionForm(), exc.status)
    session.commit()
    flash(done[0] if approve else done[1], "success")
    return redirect(url_for(back))
