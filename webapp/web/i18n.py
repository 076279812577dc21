"""Languages (SPEC §1): Simplified Chinese, the default and the SPEC's own wording, and English, with Flask-Babel.

A request's language is the one chosen with the switch on every page (a cookie, kept a year), else the best of
``Accept-Language``, else zh-CN. Templates mark text with ``_()`` / ``{% trans %}``; Python code that must not
import Flask marks it with :func:`webapp.lazytext._l`, which this module makes translate through Flask-Babel.
The scripts get the translations of their own strings in the page (``#i18n-messages``, read by static/js/i18n.js).

The switch's route is ``accounts.set_language`` (it also keeps the language on the signed-in holder's account).
The catalogue is webapp/translations/en/LC_MESSAGES/messages.po (``make messages`` extracts and updates it);
the ``.mo`` the app reads is compiled from it by the build (``make install``), never committed.
"""
from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path

from babel.messages.extract import extract
from flask import Flask, Response, current_app, has_request_context, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import Babel, force_locale, get_locale, gettext

from webapp import lazytext
from webapp.lazytext import DEFAULT_LOCALE

#: locale → (the tag of the cookie, ``lang`` and ``Accept-Language``, the language's own name for the switch)
LANGUAGES = {"zh_CN": ("zh-CN", "中文"), "en": ("en", "English")}
_BY_TAG = {tag: locale for locale, (tag, _name) in LANGUAGES.items()}
COOKIE = "lang"
COOKIE_AGE = timedelta(days=365)
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
SCRIPTS = Path(__file__).resolve().parent.parent.parent / "static" / "js"

babel = Babel()


def select_locale() -> str | None:
    """The switch's cookie, else the browser's ``Accept-Language``, else zh-CN (outside a request: zh-CN)."""
    if not has_request_context():
        return None
    chosen = locale_of_tag(request.cookies.get(COOKIE))
    if chosen:
        return chosen
    # The first language the browser prefers that this app speaks, by its primary tag: zh-TW, zh-HK and zh mean
    # Chinese (a reader of Traditional Chinese is better served by Simplified than by English), en-GB and en-US
    # English. (Werkzeug's best_match would let "zh-TW,en;q=0.5" pick English: it tries exact matches first.)
    for value, quality in request.accept_languages:  # most preferred first
        primary = value.split("-")[0].lower()
        if quality > 0 and primary in ("zh", "en"):
            return DEFAULT_LOCALE if primary == "zh" else "en"
    return None


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


def locale_of_tag(tag: str | None) -> str | None:
    """``"en"`` → ``"en"``, ``"zh-CN"`` → ``"zh_CN"``; None for a language this app does not speak."""
    return _BY_TAG.get(tag or "")


def remember(resp: Response, locale: str) -> Response:
    """Keep the chosen language in this browser (the switch's cookie, a year)."""
    resp.set_cookie(COOKIE, LANGUAGES[locale][0], max_age=int(COOKIE_AGE.total_seconds()), samesite="Lax",
                    httponly=True, secure=current_app.config["SESSION_COOKIE_SECURE"])
    return resp


def _script_translations() -> dict[str, str]:
    """The scripts' messages in this request's language: made once per language (the catalogue does not change
    while the app runs), not on every page."""
    locale = current_locale()
    if locale == DEFAULT_LOCALE:
        return {}
    made = current_app.extensions.setdefault("script_translations", {})
    if locale not in made:
        made[locale] = {msgid: gettext(msgid) for msgid in script_messages()}
    return made[locale]


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON (jsonify, ``tojson``) with every lazy text as its translation; by itself it would write the
    Chinese characters of the ``str``. Non-ASCII text keeps Flask's ``\\uXXXX`` escapes on purpose: twice the
    bytes of UTF-8 for Chinese, but no string (say a lone surrogate that reached a message) can make an answer
    unencodable, i.e. a 500."""

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

    @app.after_request
    def vary_by_language(resp: Response) -> Response:
        # A page or message depends on the switch's cookie and on Accept-Language: a cache (the browser's, a proxy)
        # must not hand one language's copy to a reader of the other.
        if request.endpoint != "static":
            resp.vary.add("Accept-Language")
            resp.vary.add("Cookie")
        return resp

    @app.context_processor
    def language_globals() -> dict:
        locale = current_locale()
        return {
            "lang_tag": LANGUAGES[locale][0],
            "other_languages": [(tag, name) for code, (tag, name) in LANGUAGES.items() if code != locale],
            "script_translations": _script_translations(),
        }
