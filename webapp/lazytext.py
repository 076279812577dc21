"""Text for people, written where Flask is not imported (rules, services, models, forms).

``_l("驾驶证自 %(date)s 起有效", date=…)`` marks a message for pybabel (keyword ``_l``) and returns a lazy text: it is
translated each time it is turned into a string, in the language of the request that shows it (a page, a flash, a
JSON ``message``), or in the language :func:`render` names (an SMS in its recipient's language). The translator is
installed by the web layer (:mod:`webapp.i18n`, Flask-Babel); without one (a script, a unit test) the text is the
Chinese source, which is also the zh-CN wording of the SPEC.

A lazy text behaves like the string it becomes (``==``, ``in``, ``+``, ``%``, f-strings, Jinja, Flask's JSON); it
is not a ``str``, so code that stores it (a database column) calls :func:`render` first.
"""
from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from babel.support import LazyProxy
from markupsafe import Markup, escape

#: ``(msgid, locale or None for the current request's) -> translation``
Translator = Callable[[str, "str | None"], str]


def _untranslated(msgid: str, locale: str | None) -> str:
    return msgid


_translator: Translator = _untranslated
_locale: ContextVar[str | None] = ContextVar("suishen_text_locale", default=None)


class LazyText(LazyProxy):
    """A message translated on every use (babel's LazyProxy without its cache), shown escaped by Jinja."""

    __slots__ = ()

    def __html__(self) -> Markup:
        return escape(self.value)

    def __hash__(self) -> int:
        return hash(self._args)

    def __repr__(self) -> str:
        return f"_l({self._args[0]!r})"

    def __copy__(self) -> LazyText:
        return self

    def __deepcopy__(self, memo: Any) -> LazyText:
        return self

    @property
    def msgid(self) -> str:
        return self._args[0]


def _render(msgid: str, params: dict[str, Any]) -> str:
    text = _translator(msgid, _locale.get())
    return text % params if params else text


def _l(msgid: str, **params: Any) -> LazyText:
    """A message for people, translated when shown; ``params`` fill ``%(name)s`` (lazy texts among them are
    translated in the same language)."""
    return LazyText(_render, msgid, params, enable_cache=False)


def render(text: Any, locale: str | None = None) -> str:
    """``text`` (a lazy text or a plain string) as a plain string in ``locale`` (``"zh_CN"``, ``"en"``; None: the
    current request's language)."""
    token = _locale.set(locale)
    try:
        return str(text)
    finally:
        _locale.reset(token)


def install(translator: Translator) -> None:
    """Set how lazy texts are translated (the web layer does, once per process)."""
    global _translator
    _translator = translator
