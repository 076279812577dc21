"""Languages (SPEC §1): Simplified Chinese, the default and the SPEC's own wording, and English, with Flask-Babel.

A request's language is the one chosen with the switch on every page (a cookie, kept a year), else the best of
``Accept-Language``, else zh-CN. Templates mark text with ``_()`` / ``{% trans %}``; Python code that must not
import Flask marks it with :func:`webapp.lazytext._l`, which this module makes translate through Flask-Babel.
The scripts get the translations of their own strings in the page (``#i18n-messages``, read by static/js/i18n.js).

The catalogue is webapp/translations/en/LC_MESSAGES/messages.po (``make messages`` extracts and updates it);
the ``.mo`` the app reads is compiled from it by the build (``make install``), never committed.
"""
from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path

from babel.messages.extract import extract
from flask import Blueprint, Flask, current_app, has_request_context, redirect, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_babel import Babel, force_locale, get_locale, gettext
from flask_login import current_user

from webapp import lazytext
from webapp.lazytext import DEFAULT_LOCALE
from webapp.accounts import services as accounts
from webapp.accounts.rules import is_safe_next
from webapp.db import get_session
from webapp.extensions import csrf

#: locale → (the tag of the cookie, ``lang`` and ``Accept-Language``, the language's own name for the switch)
LANGUAGES = {"zh_CN": ("zh-CN", "中文"), "en": ("en", "English")}
_BY_TAG = {tag: locale for locale, (tag, _name) in LANGUAGES.items()}
COOKIE = "lang"
COOKIE_AGE = timedelta(days=365)
TRANSLATIONS = Path(__file__).with_name("translations")
SCRIPTS = Path(__file__).resolve().parent.parent / "static" / "js"

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str | None:
    """The switch's cookie, else the browser's ``Accept-Language``, else zh-CN (outside a request: zh-CN)."""
    if not has_request_context():
        return None
    chosen = _BY_TAG.get(request.cookies.get(COOKIE, ""))
    if chosen:
        return chosen
    # Werkzeug falls back to the primary tag: zh-TW, zh-HK and zh pick zh-CN; en-GB and en-US pick English.
    best = request.accept_languages.best_match(list(_BY_TAG), default=LANGUAGES[DEFAULT_LOCALE][0])
    return _BY_TAG[best]


def current_locale() -> str:
    """This request's locale: ``"zh_CN"`` or ``"en"``."""
    locale = get_locale()  # Babel spells zh_CN "zh_Hans_CN"
    return "en" if locale is not None and locale.language == "en" else DEFAULT_LOCALE


def _translate(msgid: str, locale: str | None) -> str:
    if locale is None:
        return gettext(msgid)
    with force_locale(locale):
        return gettext(msgid)


@functools.cache
def script_messages() -> tuple[str, ...]:
    """Every message the scripts mark with ``_("…")`` (read once per process, as pybabel extracts them)."""
    found: list[str] = []
    for path in sorted(SCRIPTS.glob("*.js")):
        with path.open("rb") as fileobj:
            found += [message for _line, message, _comments, _context
                      in extract("javascript", fileobj, keywords={"_": None})]
    return tuple(dict.fromkeys(found))


def _script_translations() -> dict[str, str]:
    if current_locale() == DEFAULT_LOCALE:
        return {}
    return {msgid: gettext(msgid) for msgid in script_messages()}


@bp.post("/language")
def set_language():
    """The switch on every page: remember the language in a cookie (and on the signed-in citizen's account, for
    the SMS and messages sent to them later), then back to the page it was pressed on."""
    target = request.form.get("next")
    resp = redirect(target if is_safe_next(target) else url_for("shell.home"), code=303)
    locale = _BY_TAG.get(request.form.get("lang", ""))
    if locale is not None:
        resp.set_cookie(COOKIE, LANGUAGES[locale][0], max_age=int(COOKIE_AGE.total_seconds()), samesite="Lax",
                        httponly=True, secure=current_app.config["SESSION_COOKIE_SECURE"])
        if current_user.is_authenticated and not current_user.is_officer:
            session = get_session()
            accounts.remember_locale(session, current_user, locale)
            session.commit()
    return resp


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON (jsonify, ``tojson``) with every lazy text as its translation; by itself it would write the
    Chinese characters of the ``str``."""

    def dumps(self, obj, **kwargs) -> str:
        return super().dumps(lazytext.translated(obj), **kwargs)


def init_app(app: Flask) -> None:
    app.json = JSONProvider(app)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True  # {% trans %} blocks join their lines as pybabel does
    lazytext.install(_translate)
    if not any(TRANSLATIONS.glob("*/LC_MESSAGES/messages.mo")):
        app.logger.warning("no compiled translations in %s: every page is in Chinese (run `make install`)",
                           TRANSLATIONS)

    # Choosing a language changes nothing but a cookie and the language of later SMS: no token, so the switch
    # works on every page, cached ones (offline) and public ones included, without starting a session. A
    # cross-site post carries no session cookie (SameSite=Lax), so it can set at most the cookie.
    csrf.exempt(set_language)
    app.register_blueprint(bp)

    @app.context_processor
    def language_globals() -> dict:
        locale = current_locale()
        return {
            "lang_tag": LANGUAGES[locale][0],
            "other_languages": [(tag, name) for code, (tag, name) in LANGUAGES.items() if code != locale],
            "script_translations": _script_translations(),
        }
