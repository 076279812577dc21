from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user

from webapp.accounts import auth, rules, services
from webapp.accounts.forms import EmptyForm, LoginForm, RegisterForm
from webapp.db import get_session
from webapp.errors import DomainError
from webapp.extensions import limiter
from webapp.registry.rules import InvalidIdNumber

bp = Blueprint("accounts", __name__, url_prefix="/account")


def _now():
    return current_app.extensions["clock"].now()


def _next_target() -> str:
    target = request.args.get("next") or request.form.get("next")
    return target if rules.is_safe_next(target) else url_for("shell.home")


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(rules.REGISTER_RATE_LIMIT, methods=["POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            user = services.register(session, phone=form.phone.data, password=form.password.data,
                                     name=form.name.data, id_number=form.id_number.data, now=_now())
        except InvalidIdNumber as exc:
            form.id_number.errors.append(str(exc))
        except ValueError as exc:  # phone format
            form.phone.errors.append(str(exc))
        except DomainError as exc:
            field = {"weak_password": form.password}.get(exc.code)
            (field.errors if field else form.form_errors).append(exc.user_message)
        else:
            session.commit()
            login_user(user)
            flash("注册成功。完成实人核验后可使用全部功能。", "success")
            return redirect(_next_target())
    status = 400 if form.is_submitted() else 200
    return render_template("accounts/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(rules.LOGIN_RATE_LIMIT, methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        done, error = auth.sign_in(
            lambda: services.authenticate(get_session(), account=form.account.data, password=form.password.data,
                                          now=_now()),
            fresh_session=False, message=lambda _user: "登录成功。", default_target=url_for("shell.home"))
        if done:
            return done
        form.form_errors.append(error)
    status = 400 if form.is_submitted() else 200
    return render_template("accounts/login.html", form=form, next=request.args.get("next", "")), status


@bp.post("/logout")
def logout():
    return auth.sign_out(url_for("shell.home"))


@bp.get("/")
@login_required
def profile():
    return render_template("accounts/profile.html", logout_form=EmptyForm())


# 实人认证 through the reusable proofing step (liveness + face match against the registry portrait).
REALPERSON_PURPOSE = "account_realperson"


@bp.get("/verify")
@login_required
def verify():
    from webapp.proofing import services as proofing, views as proofing_views

    if current_user.level == rules.LEVEL_REALPERSON:
        flash("您的账号已完成实人认证。", "info")
        return redirect(url_for("accounts.profile"))
    if current_user.citizen.portrait_encoding is None:
        flash(proofing.NO_PORTRAIT_MESSAGE, "warning")
        return redirect(url_for("accounts.profile"))
    return proofing_views.begin(
        citizen=current_user.citizen, purpose=REALPERSON_PURPOSE, user_id=current_user.id,
        next_url=lambda public_id: url_for("accounts.verify_done", c=public_id),
        fallback_url=url_for("accounts.profile"))


@bp.get("/verify/done")
@login_required
def verify_done():
    from webapp.proofing import services as proofing

    session = get_session()
    now = _now()
    try:
        proofing.consume(session, request.args.get("c", ""), purpose=REALPERSON_PURPOSE,
                         citizen_id=current_user.citizen_id, now=now)
    except DomainError as exc:
        session.rollback()
        flash(exc.user_message, "danger")
        return redirect(url_for("accounts.profile"))
    services.set_level(session, current_user, rules.LEVEL_REALPERSON, now, how="liveness")
    session.commit()
    flash("实人认证成功，您现在可以使用全部功能。", "success")
    return redirect(url_for("accounts.profile"))
