from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from webapp.accounts import rules, services
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
        session = get_session()
        try:
            user = services.authenticate(session, account=form.account.data, password=form.password.data,
                                         now=_now())
        except services.BadCredentials as exc:
            session.commit()  # keep the audit record of the failed attempt
            form.form_errors.append(exc.user_message)
        else:
            session.commit()
            login_user(user)
            flash("登录成功。", "success")
            return redirect(_next_target())
    status = 400 if form.is_submitted() else 200
    return render_template("accounts/login.html", form=form, next=request.args.get("next", "")), status


@bp.post("/logout")
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        logout_user()
        flash("已退出登录。", "info")
    return redirect(url_for("shell.home"))


@bp.get("/")
@login_required
def profile():
    return render_template("accounts/profile.html", logout_form=EmptyForm())
