from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp import images
from webapp.accounts import rules, services
from webapp.accounts.forms import (
    FaceToFaceForm,
    IdCardForm,
    LoginForm,
    RealnameForm,
    RegisterForm,
    ResetPasswordForm,
)
from webapp.db import get_session
from webapp.errors import DomainError
from webapp.extensions import csrf, limiter
from webapp.lazytext import _l
from webapp.notify import rules as sms_rules
from webapp.notify import services as notices
from webapp.proofing import flow as proofing
from webapp.registry.rules import InvalidIdNumber, mask_phone
from webapp.roles import ROLE_POLICE, ROLE_REVIEWER, ROLE_TRAFFIC
from webapp.timeutil import format_deadline, format_local
from webapp.web import auth, edge, i18n
from webapp.web.auth import officer_required
from webapp.web.forms import DecisionForm, EmptyForm
from webapp.web.i18n import current_locale
from webapp.web.review import decision
from webapp.web.urls import next_target

bp = Blueprint("accounts", __name__, url_prefix="/account")
_now = edge.now


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(rules.REGISTER_RATE_LIMIT, methods=["POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            user = services.register(session, phone=form.phone.data, password=form.password.data,
                                     name=form.name.data, id_number=form.id_number.data, now=_now(),
                                     locale=current_locale())
        except InvalidIdNumber as exc:
            form.id_number.errors.append(str(exc))
        except ValueError as exc:  # phone format
            form.phone.errors.append(str(exc))
        except DomainError as exc:
            field = {"weak_password": form.password}.get(exc.code)
            (field.errors if field else form.form_errors).append(exc.user_message)
        else:
            edge.commit()
            auth.start_session(user)
            flash(_l("注册成功。完成实人核验后可使用全部功能。"), "success")
            return redirect(next_target(url_for("shell.home")))
    status = 400 if form.is_submitted() else 200
    return render_template("accounts/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(rules.LOGIN_RATE_LIMIT, methods=["POST"])
def login():
    form = LoginForm()
    refusal = None
    if form.validate_on_submit():
        done, refusal = auth.sign_in(
            lambda: services.authenticate(get_session(), account=form.account.data, password=form.password.data,
                                          now=_now(), policy=rules.ThrottlePolicy.from_config(current_app.config),
                                          locale=current_locale()),
            fresh_session=False, message=lambda _user: _l("登录成功。"), default_target=url_for("shell.home"))
        if done:
            return done
        form.form_errors.append(refusal.user_message)
    return auth.refused_page(render_template("accounts/login.html", form=form, next=request.args.get("next", "")),
                             refusal, form.is_submitted())


@bp.post("/logout")
def logout():
    return auth.sign_out(url_for("shell.home"), services.end_sessions)


@bp.post("/language")
@csrf.exempt  # works on every page, cached (offline) and public ones included, without starting a session
def set_language():
    """The language switch on every page: this browser keeps the language (a cookie); a signed-in holder's
    account keeps it too, for the SMS and messages sent to them later. Then back to the page it was pressed on.

    No CSRF token: it changes a cookie and, for a signed-in holder, the language of later messages; a cross-site
    post carries no session cookie (SameSite=Lax), so it can change at most the cookie."""
    resp = redirect(next_target(url_for("shell.home")), code=303)
    locale = i18n.locale_of_tag(request.form.get("lang"))
    if locale is None:
        return resp
    if current_user.is_authenticated and not current_user.is_officer:
        services.remember_locale(get_session(), current_user, locale)
        edge.commit()
    return i18n.remember(resp, locale)


@bp.get("/")
@auth.citizen_required
def profile():
    user = auth.current_citizen()
    session = get_session()
    review = services.pending_review(session, user.id) if user.level == rules.LEVEL_REALNAME else None
    return render_template("accounts/profile.html", logout_form=EmptyForm(), review=review,
                           review_due=format_deadline(review.due_at) if review else None,
                           unread=notices.unread_count(session, user.citizen_id))


@bp.get("/verify")
@edge.writes_on_get("the 实人认证 link of 我的 starts the signed-in citizen's challenge (single-use, 60 s)")
@auth.citizen_required
def verify():
    if current_user.level == rules.LEVEL_REALPERSON:
        flash(_l("您的账号已完成实人认证。"), "info")
        return redirect(url_for("accounts.profile"))
    if current_user.citizen.portrait_encoding is None:
        flash(proofing.NO_PORTRAIT_MESSAGE, "warning")
        return redirect(url_for("accounts.profile"))
    response = proofing.begin(
        citizen=current_user.citizen, purpose=services.REALPERSON_PURPOSE, user_id=current_user.id,
        next_url=lambda public_id: url_for("accounts.verify_done", c=public_id),
        # When the face check keeps failing: 实名认证 by SMS (and from there the ID-card review or 面签).
        fallback_url=url_for("accounts.realname") if current_user.level == rules.LEVEL_UNVERIFIED
        else url_for("accounts.id_card"))
    edge.commit()
    return response


@bp.get("/verify/done")
@edge.writes_on_get("the camera page's next step after a pass (a GET redirect) consumes the single-use pass")
@auth.citizen_required
def verify_done():
    session = get_session()
    try:
        services.complete_realperson(session, current_user, request.args.get("c", ""), _now())
    except DomainError as exc:
        session.rollback()
        flash(exc.user_message, "danger")
        return redirect(url_for("accounts.profile"))
    edge.commit()
    flash(_l("实人认证成功，您现在可以使用全部功能。"), "success")
    return redirect(url_for("accounts.profile"))


# --- 实名认证 by SMS: a limited account (SPEC 5.1) --------------------------------------------------------------
def _code_minutes() -> int:
    return int(edge.notifier().code_policy.ttl.total_seconds() // 60)


def _code_sent(send, on_sent: str):
    """Run ``send`` (which asks notify for a code), commit and flash where it went; or the refusal to show."""
    session = get_session()
    try:
        send()
    except DomainError as exc:  # TooSoon, QuotaExceeded, SmsFailed, a refusal
        session.rollback()
        return exc.user_message
    edge.commit()
    flash(on_sent, "success")
    return None


@bp.route("/realname", methods=["GET", "POST"])
@auth.citizen_required
@limiter.limit(lambda: current_app.config["SUISHEN_SMS_RATE_LIMIT"], methods=["POST"])
def realname():
    """实名认证: the SMS code goes to the phone on file (预留手机号), which must be the account's phone."""
    user = auth.current_citizen()
    form = RealnameForm()
    refusal = rules.realname_refusal(user.level, user.phone, user.citizen.phone)
    if user.level != rules.LEVEL_UNVERIFIED:
        flash(refusal, "info")
        return redirect(url_for("accounts.profile"))
    if form.validate_on_submit() and not refusal:
        session = get_session()
        if form.send.data:
            error = _code_sent(lambda: services.send_realname_code(session, user, _now(), edge.notifier()),
                               _l("验证码已发送至 %(phone)s，%(minutes)s 分钟内有效。", phone=mask_phone(user.phone),
                                  minutes=_code_minutes()))
            if error:
                form.code.errors.append(error)
            else:
                return redirect(url_for("accounts.realname"))
        else:
            try:
                services.confirm_realname(session, user, form.code.data, _now(), edge.notifier())
            except DomainError as exc:
                edge.commit()  # a wrong code still counts against the code's tries
                form.code.errors.append(exc.user_message)
            else:
                edge.commit()
                flash(_l("实名认证成功。账号功能受限，完成实人认证后可使用全部功能。"), "success")
                return redirect(url_for("accounts.profile"))
    status = 400 if form.is_submitted() else 200
    wait = 0 if refusal else edge.notifier().cooldown_left(get_session(), phone=user.phone,
                                                           purpose=sms_rules.PURPOSE_REALNAME, now=_now())
    return render_template("accounts/realname.html", form=form, refusal=refusal, wait=wait,
                           phone=mask_phone(user.citizen.phone or "")), status


@bp.route("/password", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SUISHEN_SMS_RATE_LIMIT"], methods=["POST"])
def reset_password():
    """忘记密码 / 设置密码 (a 面签 account's first password): phone + SMS code + new password."""
    form = ResetPasswordForm()
    wait = 0
    if form.validate_on_submit():
        session = get_session()
        if form.send.data:
            error = None
            try:
                error = _code_sent(lambda: services.send_reset_code(session, form.phone.data, _now(), edge.notifier()),
                                   _l("如该手机号已注册，验证码已发送，%(minutes)s 分钟内有效。",
                                      minutes=_code_minutes()))
            except ValueError as exc:
                session.rollback()
                error = str(exc)
            if error:
                form.phone.errors.append(error)
            else:
                wait = edge.notifier().code_policy.resend_cooldown.total_seconds()
        elif not form.code.data or not form.password.data:
            form.form_errors.append(_l("请填写短信验证码和新密码。"))
        else:
            try:
                services.reset_password(session, phone=form.phone.data, code=form.code.data,
                                        password=form.password.data, now=_now(), notifier=edge.notifier())
            except ValueError as exc:
                form.phone.errors.append(str(exc))
            except DomainError as exc:
                edge.commit()  # a wrong code still counts against its tries
                (form.password if exc.code == "weak_password" else form.code).errors.append(exc.user_message)
            else:
                edge.commit()
                flash(_l("密码已设置，请使用新密码登录。"), "success")
                return redirect(url_for("accounts.login"))
    status = 400 if form.is_submitted() and (form.errors or form.form_errors) else 200
    return render_template("accounts/reset_password.html", form=form, wait=int(wait)), status


@bp.route("/id-card", methods=["GET", "POST"])
@auth.citizen_required
@limiter.limit("10 per hour", methods=["POST"])
def id_card():
    """实人认证 by manual review: both sides of the ID card, decided by a reviewer within 1 working day."""
    user = auth.current_citizen()
    session = get_session()
    refusal = rules.id_card_refusal(user.level)
    review = services.pending_review(session, user.id)
    form = IdCardForm()
    status = 400 if form.is_submitted() else 200
    if form.validate_on_submit() and not refusal:
        front, back = form.front.data, form.back.data
        try:
            for upload in (front, back):
                if not images.upload_type_ok(upload):
                    raise DomainError(images.BAD_TYPE_MESSAGE, code="bad_type")
            services.submit_id_card(session, user, front=front.read(rules.ID_CARD_MAX_BYTES + 1),
                                    back=back.read(rules.ID_CARD_MAX_BYTES + 1), now=_now())
        except DomainError as exc:
            status = form.refused(session, exc)
        else:
            edge.commit()
            flash(_l("身份证照片已提交，审核结果将通过短信和消息通知您。"), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/id_card.html", form=form, refusal=refusal, review=review), status


# --- Officer desk: manual identity reviews (审核员) and 面签 (公安交管窗口) ---------------------------------------
desk = Blueprint("account_desk", __name__, url_prefix="/officer/accounts")


@desk.get("/reviews")
@officer_required(ROLE_REVIEWER)
def reviews():
    return _reviews_page(DecisionForm())


def _reviews_page(form: DecisionForm, status: int = 200):
    now = _now()
    tolerance = current_app.config["SUISHEN_FACE_TOLERANCE"]
    rows = [{"review": r, "front": images.jpeg_data_uri(r.front), "back": images.jpeg_data_uri(r.back),
             "portrait": images.jpeg_data_uri(r.user.citizen.portrait),
             "submitted": format_local(r.submitted_at), "due": format_deadline(r.due_at),
             "late": now >= r.due_at,
             "hint": None if r.face_distance is None else (
                 _l("人像面照片与人口库照片相似") if r.face_distance <= tolerance
                 else _l("人像面照片与人口库照片差异较大，请仔细核对"))}
            for r in services.identity_review_queue(get_session())]
    return render_template("accounts/reviews.html", rows=rows, form=form), status


@desk.post("/reviews/<public_id>")
@officer_required(ROLE_REVIEWER)
def decide(public_id: str):
    return decision(
        lambda session, approve, reason: services.decide_identity_review(
            session, public_id, approve=approve, reason=reason, reviewer=current_user, now=_now(),
            notifier=edge.notifier()),
        _reviews_page, done=(_l("已审核通过，账号已实人认证。"), _l("已退回，申请人将收到不通过原因。")),
        back="account_desk.reviews")


@desk.route("/face-to-face", methods=["GET", "POST"])
# 面签 is done at the 公安交管 window (and the station police window).
@officer_required(ROLE_TRAFFIC, ROLE_POLICE)
def face_to_face():
    """面签: the officer registers (or raises to 实人认证) the account of the person at the window."""
    form = FaceToFaceForm()
    status = 400 if form.is_submitted() else 200
    if form.validate_on_submit():
        session = get_session()
        try:
            user, created = services.face_to_face(session, officer=current_user, id_number=form.id_number.data,
                                                  name=form.name.data, phone=form.phone.data, now=_now(),
                                                  notifier=edge.notifier())
        except InvalidIdNumber as exc:
            session.rollback()
            form.id_number.errors.append(str(exc))
        except ValueError as exc:
            session.rollback()
            form.phone.errors.append(str(exc))
        except DomainError as exc:
            status = form.refused(session, exc)
        else:
            edge.commit()
            done = (_l("面签完成：%(name)s（%(phone)s）的账号已实人认证。已发送短信提示其设置登录密码。", name=user.citizen.name,
                       phone=mask_phone(user.phone)) if created else
                    _l("面签完成：%(name)s（%(phone)s）的账号已实人认证。", name=user.citizen.name,
                       phone=mask_phone(user.phone)))
            flash(done, "success")
            return redirect(url_for("account_desk.face_to_face"))
    return render_template("accounts/face_to_face.html", form=form), status
