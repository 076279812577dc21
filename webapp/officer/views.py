"""Officer pages: sign-in (separate from citizens), home, the paper certificate. (The scan page is verification's.)"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from webapp.accounts import services as accounts
from webapp.accounts.rules import ThrottlePolicy
from webapp.db import get_session
from webapp.errors import DomainError
from webapp.extensions import limiter
from webapp.lazytext import _l
from webapp.officer import rules, services
from webapp.officer.forms import OfficerLoginForm, PaperForm
from webapp.registry.rules import InvalidIdNumber
from webapp.roles import ALL_ROLES, PAPER_ROLES
from webapp.timeutil import format_local
from webapp.web import edge
from webapp.web.auth import may_open, officer_required, refused_page, sign_in, sign_out
from webapp.web.forms import EmptyForm

bp = Blueprint("officer", __name__, url_prefix="/officer")
_now = edge.now


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
@officer_required(*ALL_ROLES)
def logout():
    return sign_out(url_for("officer.login"), accounts.end_sessions)


@bp.get("/")
@officer_required(*ALL_ROLES)
def home():
    # The entries come from the routes' own role declarations, so the home page never offers a page the role
    # cannot open.
    allowed = set(may_open([entry[0] for entry in HOME_ENTRIES], current_user.role))
    entries = [entry for entry in HOME_ENTRIES if entry[0] in allowed]
    return render_template("officer/home.html", officer=current_user, logout_form=EmptyForm(), entries=entries)


HOME_ENTRIES = (
    ("verification.scan", _l("扫码核验"), _l("核验电子临时乘车身份证明、电子驾驶证")),
    ("officer.paper", _l("纸质临时乘车身份证明"), _l("登记在公安制证窗口开具的纸质证明并打印")),
    ("driving_licence.seize", _l("扣留驾驶证"), _l("登记扣留，持证人的电子驾驶证立即显示扣留状态")),
    ("account_desk.face_to_face", _l("面签注册"), _l("为到窗口办理的申请人注册账号并完成实人认证")),
    ("driving_licence.review_queue", _l("电子驾驶证审核"), _l("审核使用相册或拍照照片的申领，1 个工作日内办结")),
    ("account_desk.reviews", _l("身份证照片审核"), _l("审核上传身份证照片申请实人认证的账号，1 个工作日内办结")),
    ("notify.outbox", _l("短信发件箱"), _l("查看系统发出的短信（内置短信网关）")),
)


@bp.route("/paper", methods=["GET", "POST"])
@officer_required(*PAPER_ROLES)
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
            edge.commit()
            flash(_l("已登记纸质临时乘车身份证明。"), "success")
            return redirect(url_for("officer.paper_print", serial=record.serial))
    status = 400 if form.is_submitted() else 200
    return render_template("officer/paper.html", form=form), status


@bp.get("/paper/<serial>")
@officer_required(*PAPER_ROLES)
def paper_print(serial: str):
    record = services.get_paper(get_session(), serial)
    return render_template("officer/paper_print.html", paper=record,
                           # the date as the certificate writes it in each language
                           issued=format_local(record.issued_at, str(_l("%Y年%m月%d日 %H:%M"))))

