"""Suishen (随身证): electronic travel ID and driving licence on a phone."""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import config as config_module
from webapp import db, workdays
from webapp.clock import Clock, SystemClock
from webapp.errors import register_error_handlers
from webapp.extensions import csrf, limiter, login_manager


def create_app(
    config: dict[str, Any] | None = None,
    *,
    clock: Clock | None = None,
    session_factory: sessionmaker[Session] | None = None,
    sms_gateway=None,
    instance_path: str | None = None,
) -> Flask:
    """``instance_path``: the instance folder (default: instance/ next to webapp/), where SQLite, the queue file,
    secret_key and vapid.env live."""
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
        import os
        os.makedirs(app.instance_path, exist_ok=True)
    db.init_app(app, session_factory)
    from webapp import queue
    from webapp.notify import tasks as notify_tasks  # noqa: F401 - registers its jobs and the after-commit hook
    queue.init_app(app)

    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    register_error_handlers(app)

    from webapp.notify import services as notify
    notify.init_app(app, sms_gateway)

    from webapp import assets, i18n, web
    i18n.init_app(app)
    web.init_app(app)
    assets.init_app(app)

    from webapp.accounts import auth
    auth.init_app(app)

    from webapp.accounts.views import bp as accounts_bp
    from webapp.registry.cli import registry_cli
    from webapp.registry.views import bp as registry_bp
    from webapp.shell.views import bp as shell_bp
    from webapp.travel_id.views import bp as travel_bp
    from webapp.cli import db_cli, workdays_cli

    app.register_blueprint(shell_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(registry_bp)
    app.register_blueprint(travel_bp)
    from webapp.proofing.views import bp as proofing_bp
    app.register_blueprint(proofing_bp)
    from webapp.officer.cli import apikey_cli, officer_cli
    from webapp.officer.views import bp as officer_bp
    from webapp.verification.api import bp as api_bp
    from webapp.verification.views import bp as verification_bp
    app.register_blueprint(officer_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(verification_bp)
    from webapp.driving_licence.views import bp as licence_bp
    app.register_blueprint(licence_bp)
    from webapp.accounts.views import desk as account_desk_bp
    from webapp.notify.cli import push_cli, sms_cli
    from webapp.notify.views import bp as notify_bp
    app.register_blueprint(account_desk_bp)
    app.register_blueprint(notify_bp)
    app.cli.add_command(sms_cli)
    app.cli.add_command(push_cli)
    app.cli.add_command(officer_cli)
    app.cli.add_command(apikey_cli)
    app.cli.add_command(db_cli)
    app.cli.add_command(workdays_cli)
    app.cli.add_command(registry_cli)
    from webapp.queue_cli import queue_cli
    app.cli.add_command(queue_cli)
    return app


def get_clock() -> Clock:
    from flask import current_app
    return current_app.extensions["clock"]
