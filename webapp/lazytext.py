"""Text for people, written where Flask is not imported (rules, services, models, forms).

``_l("驾驶证自 %(date)s 起有效", date=…)`` marks a message for pybabel (keyword ``_l``) and returns a lazy text: it is
translated each time it is shown, in the language of the request that shows it (a page, a flash, a JSON
``message``), or in the language :func:`render` names (an SMS in its recipient's language). The translator is
installed by the web layer (:mod:`webapp.web.i18n`, Flask-Babel); without one (a script, a unit test) the text is the
Chinese source, which is also the zh-CN wording of the SPEC.

A lazy text *is* a ``str``: its characters are the Chinese source text, so code that compares, searches, joins or
stores it (a test, a regular expression, a database column) sees the zh-CN wording and never fails on a type.
What shows it to people asks for the translation: ``str()``, f-strings, ``%``, ``format()``, Jinja and markupsafe
(``__html__``), Flask's session (flashes) and our JSON provider (:func:`translated`). So an English page never
gets the Chinese text by accident through those; concatenating with ``+`` or ``"".join`` keeps the Chinese (use
``_l("…%(x)s…")`` and :func:`joined` instead).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any, Self

from markupsafe import Markup, escape

#: The language of the source texts (the SPEC's wording), and of anyone who never chose another.
DEFAULT_LOCALE = "zh_CN"
#: ``(msgid, locale or None for the current request's) -> translation``
Translator = Callable[[str, "str | None"], str]


def _untranslated(msgid: str, locale: str | None) -> str:
    return msgid


_translator: Translator = _untranslated
_locale: ContextVar[str | None] = ContextVar("suishen_text_locale", default=None)


class LazyText(str):
    """A message (``msgid`` and its ``params``) whose ``str`` value is the Chinese source and whose ``str()`` is the
    translation in the current language."""

    def __new__(cls, msgid: Any, params: dict[str, Any] | None = None, separator: Any = None) -> Self:
        token = _locale.set(DEFAULT_LOCALE)
        try:
            source = _compose(msgid, params or {}, separator, DEFAULT_LOCALE)
        finally:
            _locale.reset(token)
        text = super().__new__(cls, source)
        text._msgid, text._params, text._separator = msgid, params or {}, separator
        return text

    @property
    def msgid(self) -> Any:
        return self._msgid

    def __str__(self) -> str:
        return _compose(self._msgid, self._params, self._separator, _locale.get())

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __html__(self) -> Markup:
        return escape(str(self))

    def __repr__(self) -> str:
        return f"_l({str.__str__(self)!r})"

    def __reduce__(self):
        return (LazyText, (self._msgid, self._params, self._separator))

    def __copy__(self) -> LazyText:
        return self

    def __deepcopy__(self, memo: Any) -> LazyText:
        return self


def _compose(msgid: Any, params: dict[str, Any], separator: Any, locale: str | None) -> str:
    if separator is not None:  # a joined list: msgid is the tuple of items
        return _as_str(separator, locale).join(_as_str(item, locale) for item in msgid)
    text = msgid if locale == DEFAULT_LOCALE else _translator(msgid, locale)
    if not params:
        return text
    return text % {name: _as_str(value, locale) if isinstance(value, LazyText) else value
                   for name, value in params.items()}


def _as_str(value: Any, locale: str | None) -> str:
    token = _locale.set(locale)
    try:
        return str(value)
    finally:
        _locale.reset(token)


def _l(msgid: str, **params: Any) -> LazyText:
    """A message for people, translated when shown; ``params`` fill ``%(name)s`` (lazy texts among them are
    translated in the same language)."""
    return LazyText(msgid, params)


def joined(items: Iterable[Any], separator: Any = None) -> Self:
    """``items`` (lazy texts or strings) as one list, separated as the language does (default ``、`` / ``, ``)."""
    return LazyText(tuple(items), None, _SEPARATOR if separator is None else separator)


def render(text: Any, locale: str | None = None) -> str:
    """``text`` (a lazy text or a plain string) as a plain string in ``locale`` (``"zh_CN"``, ``"en"``; None: the
    current request's language)."""
    return _as_str(text, locale) if isinstance(text, LazyText) else text


def translated(value: Any, locale: str | None = None) -> Any:
    """``value`` (a JSON-able structure) with every lazy text in it a plain string in ``locale`` (None: the
    current language)."""
    if isinstance(value, LazyText):
        return _as_str(value, locale)
    if isinstance(value, dict):
        return {key: translated(item, locale) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [translated(item, locale) for item in value]
    return value


def install(translator: Translator) -> None:
    """Set how lazy texts are translated (the web layer does, once per process)."""
    global _translator
    _translator = translator


#: The separator of an enumeration: 甲、乙、丙.
_SEPARATOR = _l("、")
