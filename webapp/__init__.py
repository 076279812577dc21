"""Suishen (随身证): electronic travel ID and driving licence on a phone."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from webapp.clock import Clock


def create_app(
    config: dict[str, Any] | None = None,
    *,
    clock: Clock | None = None,
    session_factory: sessionmaker[Session] | None = None,
    sms_gateway=None,
    face_engine=None,
    instance_path: str | None = None,
) -> Flask:
    """``instance_path``: the instance folder (default: instance/ next to webapp/), where SQLite, the queue file,
    secret_key and vapid.env live. ``face_engine``: what decides 实人核验 in the face workers
    (proofing.services.run_face_engine); a test of something else (queue states) passes a stand-in, named as such.

    The composition root: the one place that imports every domain (inside this function, so importing a small
    module such as ``webapp.tokens`` stays cheap) and wires them together."""
    from webapp import config as config_module
    from webapp import db, workdays
    from webapp.clock import SystemClock
    from webapp.extensions import csrf, limiter, login_manager

    app = Flask("webapp", template_folder="../templates", static_folder="../static",
                instance_relative_config=True, instance_path=instance_path)
    app.config.update(config_module.DEFAULTS)
    app.config.update(config_module.from_environment(app.instance_path))
    if config:
        app.config.update(config)
    if app.config["SUISHEN_ENV"] != config_module.PRODUCTION and not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = "development-only-not-secret"
    config_module.check(app.config)
    if app.config["SUISHEN_PROXY_COUNT"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["SUISHEN_PROXY_COUNT"],
                                x_proto=app.config["SUISHEN_PROXY_COUNT"])

    app.extensions["clock"] = clock or SystemClock()
    # An unreadable holiday schedule stops the start: wrong review deadlines would be silent.
    workdays.configure(app.config["SUISHEN_WORKDAY_SCHEDULE"] or None)
    if app.config["DATABASE_URL"].startswith("sqlite:///") and session_factory is None:
        os.makedirs(app.instance_path, exist_ok=True)
    db.init_app(app, session_factory)
    from webapp.verification import scan
    scan.init_app(app)
    from webapp import queue
    from webapp.accounts import services as accounts
    from webapp.notify import tasks as notify_tasks
    from webapp.notify.notifier import Notifier
    queue.init_app(app)
    from webapp.proofing import services as proofing
    app.extensions["face_engine"] = face_engine or proofing.run_face_engine
    # What services say to people goes through this one object; it sends after the commit, on the task queue.
    app.extensions["notifier"] = Notifier.from_config(app.config, sms_gateway=sms_gateway,
                                                      accounts_of=accounts.user_ids_of, enqueue=notify_tasks.enqueue,
                                                      locale_of=accounts.locale_of)

    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)

    from webapp import assets, signing, web
    from webapp.registry.rules import mask_id_number, mask_name, mask_phone
    web.init_app(app)
    assets.init_app(app)
    signing.init_app(app)
    app.jinja_env.filters.update(mask_id=mask_id_number, mask_name=mask_name, mask_phone=mask_phone)

    from webapp.accounts.models import User
    from webapp.officer.services import load_officer
    from webapp.web.auth import register_loader
    register_loader("u", lambda pk: db.get_session().get(User, pk))
    register_loader("o", lambda pk: load_officer(db.get_session(), pk))

    from webapp.accounts.views import bp as accounts_bp
    from webapp.accounts.views import desk as account_desk_bp
    from webapp.cli import db_cli, registry_cli, workdays_cli
    from webapp.demo.views import bp as demo_bp
    from webapp.driving_licence.views import bp as licence_bp
    from webapp.notify.cli import push_cli, sms_cli
    from webapp.notify.views import bp as notify_bp
    from webapp.officer.cli import apikey_cli, officer_cli
    from webapp.officer.views import bp as officer_bp
    from webapp.proofing.views import bp as proofing_bp
    from webapp.queue_cli import queue_cli
    from webapp.shell.views import bp as shell_bp
    from webapp.signing.cli import keys_cli
    from webapp.signing.views import bp as signing_bp
    from webapp.travel_id.views import bp as travel_bp
    from webapp.verification.api import bp as api_bp
    from webapp.verification.views import bp as verification_bp

    for blueprint in (shell_bp, accounts_bp, demo_bp, travel_bp, proofing_bp, officer_bp, api_bp,
                      verification_bp, licence_bp, account_desk_bp, notify_bp, signing_bp):
        app.register_blueprint(blueprint)
    for group in (sms_cli, push_cli, officer_cli, apikey_cli, db_cli, workdays_cli, registry_cli, queue_cli,
                  keys_cli):
        app.cli.add_command(group)
    return app
