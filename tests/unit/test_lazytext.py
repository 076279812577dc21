"""Lazy texts without Flask (webapp/lazytext.py): a ``str`` whose characters are the zh-CN source, shown in the
language asked for, with its values, lists and JSON structures following."""
from __future__ import annotations

import copy
import pickle
import re

import pytest

from webapp import lazytext
from webapp.lazytext import _l, joined, render, translated

ENGLISH = {"您好，%(name)s": "Hello, %(name)s", "世界": "world", "、": ", ", "甲": "A", "；": "; "}


@pytest.fixture
def english():
    """A translator that knows a few words in English; the request's language is English unless one is named."""
    previous = lazytext._translator

    def translate(msgid, locale):
        return ENGLISH.get(msgid, msgid) if (locale or "en") == "en" else msgid

    lazytext.install(translate)
    yield
    lazytext.install(previous)


def test_lazy_text_is_the_chinese_source_when_no_translator_is_installed():
    text = _l("您好，%(name)s", name=_l("世界"))
    assert isinstance(text, str) and text == "您好，世界" and str(text) == "您好，世界"
    parts = [text, "x"]
    assert re.search("世界", text) and "-".join(parts) == "您好，世界-x"  # what code that stores or compares sees


def test_lazy_text_is_shown_in_the_current_language_and_compared_as_source(english):
    text = _l("您好，%(name)s", name=_l("世界"))
    assert str(text) == f"{text}" == "%s" % (text,) == "Hello, world"  # noqa: UP031 - what %-formatting gives
    assert text.__html__() == "Hello, world"
    assert text == "您好，世界" and hash(text) == hash("您好，世界")


def test_render_names_the_language_and_leaves_plain_strings_alone(english):
    text = _l("您好，%(name)s", name=_l("世界"))
    assert render(text, "zh_CN") == "您好，世界" and render(text, "en") == "Hello, world"
    assert render("plain", "en") == "plain"


def test_joined_uses_the_separator_of_the_language(english):
    items = joined([_l("甲"), "乙"])
    assert items == "甲、乙" and str(items) == "A, 乙"
    assert str(joined(["x", "y"], _l("；"))) == "x; y"


def test_translated_turns_every_lazy_text_of_a_structure_into_its_string(english):
    value = {"message": _l("世界"), "list": [_l("甲"), 1, None], "nested": {"k": (_l("世界"),)}}
    assert translated(value) == {"message": "world", "list": ["A", 1, None], "nested": {"k": ["world"]}}
    assert translated(value, "zh_CN")["message"] == "世界"


def test_lazy_text_survives_copy_and_pickle():
    text = _l("您好，%(name)s", name="张三")
    assert copy.deepcopy(text) is text and copy.copy(text) is text
    again = pickle.loads(pickle.dumps(text))
    assert again == text and again.msgid == "您好，%(name)s"


def test_a_percent_sign_needs_no_escaping_without_values():
    assert str(_l("票价的 50%")) == "票价的 50%"
