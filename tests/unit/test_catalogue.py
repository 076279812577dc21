"""The English catalogue is complete: every string marked for translation in the templates, the Python code (``_l``)
and the scripts (``_("…")``) has an English translation in webapp/translations/en/LC_MESSAGES/messages.po, with the
same placeholders and the same markup; and no Chinese text in a template or a script is left unmarked.

Extraction is pybabel's own, from babel.cfg with the keywords of ``make messages``: what this test sees is what the
catalogue gets. When it fails on a new string: `make messages`, then translate the new entries in the .po.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "webapp" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "_l": None}  # `-k _l`
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
PLACEHOLDER = re.compile(r"%\(\w+\)s|%%")
TAG = re.compile(r"</?([a-z]+)[^>]*>")


def _extracted() -> dict[tuple[str, str | None], set[str]]:
    """{(msgid, context): files} as pybabel extracts them."""
    with (ROOT / "babel.cfg").open() as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj)
    found: dict[tuple[str, str | None], set[str]] = {}
    for filename, _lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        for msgid in (message if isinstance(message, tuple) else (message,)):
            if msgid:
                found.setdefault((msgid, context), set()).add(filename)
    return found


@pytest.fixture(scope="module")
def extracted() -> dict[tuple[str, str | None], set[str]]:
    return _extracted()


@pytest.fixture(scope="module")
def catalogue() -> Catalog:
    with PO.open("rb") as fileobj:
        return read_po(fileobj)


def test_every_marked_string_has_an_english_translation_when_extracted(extracted, catalogue):
    assert len(extracted) > 500, "extraction found too little: is babel.cfg right?"
    def translated(key):
        message = catalogue.get(*key)
        return message is not None and message.string and not message.fuzzy

    missing = sorted(f"{msgid!r} ({', '.join(sorted(files))})" for (msgid, context), files in extracted.items()
                     if not translated((msgid, context)))
    assert not missing, (f"{len(missing)} marked strings have no English in {PO.relative_to(ROOT)} "
                         "(run `make messages`, then translate them):\n" + "\n".join(missing[:40]))


def test_english_keeps_the_placeholders_and_markup_of_each_string(catalogue):
    wrong = []
    for message in catalogue:
        if not message.id or not message.string:
            continue
        if sorted(PLACEHOLDER.findall(message.id)) != sorted(PLACEHOLDER.findall(message.string)):
            wrong.append(f"placeholders differ: {message.id!r} → {message.string!r}")
        if TAG.findall(message.id) != TAG.findall(message.string):
            wrong.append(f"markup differs: {message.id!r} → {message.string!r}")
    assert not wrong, "\n".join(wrong)


def test_english_has_no_chinese_except_the_app_name(catalogue):
    """Names and place names are data, never in the catalogue; the app's name 随身证 is the one Chinese word kept."""
    chinese = [f"{m.id!r} → {m.string!r}" for m in catalogue
               if m.id and HAN.search(m.string.replace("随身证", ""))]
    assert not chinese, "\n".join(chinese)


def test_catalogue_has_no_string_nothing_marks_when_extracted(extracted, catalogue):
    stale = sorted(m.id for m in catalogue if m.id and (m.id, m.context) not in extracted)
    assert not stale, f"in the .po but marked nowhere (run `make messages`): {stale[:20]}"


# --- Nothing Chinese left unmarked ----------------------------------------------------------------------
# Templates: Chinese is only inside _('…') or {% trans %}…{% endtrans %}; comments and the app's name aside.
_MARKED_IN_TEMPLATE = re.compile(r"\{%-? trans\b.*?\{%-? endtrans -?%\}|_\('(?:[^'\\]|\\.)*'"
                                 r"|pgettext\('(?:[^'\\]|\\.)*', '(?:[^'\\]|\\.)*'|\{#.*?#\}", re.DOTALL)
_SCRIPT_COMMENT = re.compile(r"^\s*//[^\n]*$|/\*.*?\*/", re.MULTILINE | re.DOTALL)
_MARKED_IN_SCRIPT = re.compile(r'_\("(?:[^"\\]|\\.)*"')
# The registry's licence statuses are data a script compares with what the API answers (scan.js): the keys of
# its table of labels, and the one it tests for.
_SCRIPT_DATA = re.compile(r'"(?:正常|扣留|扣押|暂扣|吊销|撤销|注销|逾期未换证|逾期未体检|逾期未审验|公告停止使用)":'
                          r'|record_status !== "正常"')


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT) for p in (ROOT / "templates").rglob("*.html")),
                         ids=str)
def test_template_has_no_unmarked_chinese(path):
    text = _MARKED_IN_TEMPLATE.sub("", (ROOT / path).read_text(encoding="utf-8")).replace("随身证", "")
    lines = [line.strip() for line in text.splitlines() if HAN.search(line)]
    assert not lines, f"unmarked Chinese in {path} (wrap it in _() or {{% trans %}}): {lines}"


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT) for p in (ROOT / "static" / "js").glob("*.js")),
                         ids=str)
def test_script_has_no_unmarked_chinese(path):
    text = _SCRIPT_COMMENT.sub("", (ROOT / path).read_text(encoding="utf-8"))
    text = _SCRIPT_DATA.sub("", _MARKED_IN_SCRIPT.sub("", text))
    lines = [line.strip() for line in text.splitlines() if HAN.search(line)]
    assert not lines, f"unmarked Chinese in {path} (wrap it in _(), static/js/i18n.js): {lines}"
    source = (ROOT / path).read_text(encoding="utf-8")
    if _MARKED_IN_SCRIPT.search(_SCRIPT_COMMENT.sub("", source)) and path.name != "i18n.js":
        assert 'import { _ } from "./i18n.js";' in source, f"{path} calls _() without importing it"


# Python: a string with Chinese in it is text for people, to mark with _l(), unless it is data or for operators.
_NOT_FOR_PAGES = {  # the command line and its reports (Chinese only), place and registry data, operator warnings
    "webapp/cli.py", "webapp/queue_cli.py", "webapp/officer/cli.py", "webapp/notify/cli.py", "webapp/geo.py",
    "webapp/registry/services.py", "webapp/demo/data.py", "webapp/workdays.py", "webapp/proofing/tasks.py",
    "webapp/signing/cli.py", "webapp/signing/keys.py",
}
_DATA_NAMES = {  # module constants whose Chinese is data: registry values, place names, the app's name
    "LICENCE_STATUS_NORMAL", "LICENCE_STATUSES", "PILOT_CITIES", "CITIES_2021_09", "_MUNICIPALITIES", "SEIZED",
    "SMS_SIGNATURE",
    "LANGUAGES",
}
_DATA_VALUES = {APP := "随身证", "演示地址", "广东省广州市公安局交通警察支队", "正常"}  # the demo record's defaults
_NOT_TEXT_CALLS = {"_l", "joined", "compile", "split", "removesuffix", "removeprefix", "startswith", "endswith",
                   "writes_on_get", "debug", "info", "warning", "error", "exception", "echo"}


def _unmarked_chinese(path: Path) -> list[str]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str) and HAN.search(node.value)):
            continue
        if node.value in _DATA_VALUES or node.value.replace(APP, "").strip("【】") == "":
            continue
        allowed, child, parent = False, node, parents.get(node)
        while parent is not None and not allowed:
            # A docstring (a string standing alone), a key (a table keyed by Chinese data), a comparison with data.
            if (isinstance(parent, ast.Expr | ast.Compare)
                    or (isinstance(parent, ast.Dict) and child in parent.keys)):
                allowed = True
            elif isinstance(parent, ast.Call):
                name = getattr(parent.func, "id", None) or getattr(parent.func, "attr", None)
                allowed = name in _NOT_TEXT_CALLS
            elif isinstance(parent, ast.Assign):
                allowed = any(getattr(t, "id", None) in _DATA_NAMES for t in parent.targets)
            child, parent = parent, parents.get(parent)
        if not allowed:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
    return found


def test_python_text_for_people_is_marked():
    files = sorted(p for p in (ROOT / "webapp").rglob("*.py") if str(p.relative_to(ROOT)) not in _NOT_FOR_PAGES)
    unmarked = [line for path in files for line in _unmarked_chinese(path)]
    assert not unmarked, ("Chinese text not marked for translation (wrap it in _l() from webapp.lazytext, or, if it "
                          "is data, name it in tests/unit/test_catalogue.py):\n" + "\n".join(unmarked))
