"""Who sees what, reason messages, contexts, officer and API-key rules (no database)."""
from __future__ import annotations

import pytest

from webapp import roles
from webapp.officer import rules as officer_rules
from webapp.verification import rules


@pytest.mark.parametrize(("viewer", "role", "kind", "fields"), [
    ("public", None, "travel_id", rules.PUBLIC_FIELDS),
    ("public", None, "driving_licence", rules.PUBLIC_FIELDS),
    ("apikey", None, "travel_id", rules.IDENTITY_FIELDS),
    ("officer", "railway", "travel_id", rules.PHOTO_ID_FIELDS | {rules.TICKET_CATEGORY}),
    ("officer", "railway", "driving_licence", rules.PUBLIC_FIELDS),
    ("officer", "traffic", "driving_licence", rules.PHOTO_ID_FIELDS | {rules.LICENCE_RECORD}),
    ("officer", "traffic", "travel_id", rules.IDENTITY_FIELDS),
    ("officer", "police", "travel_id", rules.PHOTO_ID_FIELDS | {rules.TICKET_CATEGORY}),
    ("officer", "police", "driving_licence", rules.PHOTO_ID_FIELDS),
    ("officer", "reviewer", "travel_id", frozenset()),
    ("officer", "admin", "driving_licence", frozenset()),
    ("officer", "railway", None, frozenset()),
])
def test_visible_fields_give_each_viewer_only_what_its_role_needs(viewer, role, kind, fields):
    assert rules.visible_fields(viewer, role, kind) == fields


def test_nobody_but_a_licence_checker_sees_the_driving_record_and_the_public_never_sees_a_full_name():
    for viewer, kinds in rules.VIEWER_FIELDS.items():
        for kind, fields in kinds.items():
            assert (rules.LICENCE_RECORD in fields) == (viewer == roles.ROLE_TRAFFIC and
                                                        kind == rules.DRIVING_LICENCE)
            assert rules.NAME_MASKED in fields or rules.NAME in fields
    assert rules.NAME not in rules.PUBLIC_FIELDS and rules.PORTRAIT not in rules.IDENTITY_FIELDS


@pytest.mark.parametrize(("actor", "role", "label"), [
    ("officer", "railway", "铁路工作人员"),
    ("officer", "police", "车站公安"),
    ("officer", "traffic", "交警"),
    ("officer", None, "工作人员"),
    ("apikey", None, "第三方/闸机"),
    ("public", None, "公众扫码"),
])
def test_verifier_label_names_the_role_never_the_person_when_shown_to_the_holder(actor, role, label):
    assert rules.verifier_label(actor, role) == label


def test_every_reason_has_a_chinese_message_and_stale_tells_to_refresh():
    assert set(rules.REASONS) == {"stale", "bad_signature", "malformed", "future", "not_found", "expired",
                                  "revoked", "licence_status"}
    assert "二维码已过期" in rules.reason_message("stale")
    assert "刷新" in rules.reason_message("stale")
    assert rules.reason_message(None) is None


def test_licence_status_message_names_the_status_when_known():
    assert rules.reason_message("licence_status", "暂扣") == "驾驶证状态：暂扣，不能使用。"
    assert rules.reason_message("licence_status") == rules.REASON_MESSAGES["licence_status"]


@pytest.mark.parametrize(("code", "ok"), [
    (None, True), ("ticketing", True), ("realname", True), ("entry", True), ("exit", True), ("onboard", True),
    ("roadside", True), ("violation", True), ("accident", True), ("售票", False), ("", False), ("gate", False),
])
def test_is_context_accepts_only_the_published_codes(code, ok):
    assert rules.is_context(code) is ok


def test_context_labels_are_the_real_services_labels():
    assert list(rules.CONTEXTS["travel_id"].values()) == ["售票/退票/改签", "实名制核验", "进站检票", "出站检票",
                                                          "车上验票"]
    assert list(rules.CONTEXTS["driving_licence"].values()) == ["路面查验", "违法处理", "事故处理"]


@pytest.mark.parametrize(("password", "ok"), [
    ("short1abc", False),        # 9 characters
    ("longenough", False),       # no digit
    ("1234567890", False),       # no letter
    ("abcdefghi1", True),        # exactly 10
])
def test_officer_password_needs_ten_characters_with_letters_and_digits(password, ok):
    assert (officer_rules.officer_password_problem(password) is None) is ok


@pytest.mark.parametrize(("username", "ok"), [
    ("rail01", True), ("zhang.san", True), ("ab", False), ("1abc", False), ("Zhang", False), ("a" * 33, False),
])
def test_username_rule(username, ok):
    assert (officer_rules.username_problem(username) is None) is ok


def test_api_key_hash_is_sha256_hex_and_display_prefix_is_short():
    raw = "ssk_" + "A" * 43
    assert officer_rules.hash_api_key(raw) == officer_rules.hash_api_key(raw)
    assert len(officer_rules.hash_api_key(raw)) == 64
    assert officer_rules.display_prefix(raw) == "ssk_AAAAAAAA"
    assert officer_rules.looks_like_api_key(raw)
    assert not officer_rules.looks_like_api_key("Bearer")
