"""SMS code rules and the account-variant rules (SPEC 5.1, 8), with explicit instants (no clock, no I/O)."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.accounts import rules as account_rules
from webapp.notify import rules

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
POLICY = rules.CodePolicy()


def test_first_code_is_always_allowed():
    assert rules.send_refusal(POLICY, T0, []) is None


@pytest.mark.parametrize("after, refused", [(0, True), (59, True), (60, False), (61, False)])
def test_resend_waits_for_the_cool_down(after, refused):
    refusal = rules.send_refusal(POLICY, T0 + timedelta(seconds=after), [T0])
    assert (refusal is not None) == refused
    if refused:
        assert refusal.code == "too_soon"
        assert refusal.retry_after == timedelta(seconds=60 - after)
        assert f"{60 - after} 秒" in refusal.message


def test_at_most_five_codes_an_hour_then_the_oldest_must_age_out():
    sent = [T0 + timedelta(minutes=m) for m in (0, 2, 4, 6, 8)]
    refusal = rules.send_refusal(POLICY, T0 + timedelta(minutes=10), sent)
    assert refusal.code == "quota_exceeded" and refusal.retry_after == timedelta(minutes=50)
    assert rules.send_refusal(POLICY, T0 + timedelta(minutes=60), sent) is None


def test_at_most_ten_codes_a_day():
    sent = [T0 + timedelta(hours=2 * h) for h in range(10)]
    now = T0 + timedelta(hours=20)
    refusal = rules.send_refusal(POLICY, now, sent)
    assert refusal.code == "quota_exceeded" and "明天" in refusal.message
    assert refusal.retry_after == timedelta(hours=4)
    assert rules.send_refusal(POLICY, T0 + timedelta(hours=24), sent) is None


@given(st.lists(st.integers(min_value=0, max_value=2 * 24 * 3600), max_size=30), st.integers(0, 2 * 24 * 3600))
def test_a_refusal_always_names_a_positive_wait_and_never_allows_more_than_the_caps(offsets, now_offset):
    now = T0 + timedelta(seconds=now_offset)
    sent = [T0 + timedelta(seconds=o) for o in offsets if o <= now_offset]
    refusal = rules.send_refusal(POLICY, now, sent)
    hour = sum(1 for t in sent if now - t < timedelta(hours=1))
    day = sum(1 for t in sent if now - t < timedelta(days=1))
    recent = any(now - t < POLICY.resend_cooldown for t in sent)
    assert (refusal is None) == (not recent and hour < POLICY.max_per_hour and day < POLICY.max_per_day)
    if refusal is not None:
        assert refusal.retry_after > timedelta(0)
        later = rules.send_refusal(POLICY, now + refusal.retry_after, sent)
        # Waiting as told always lifts that refusal (another cap may still apply).
        assert later is None or (later.code, later.retry_after) != (refusal.code, refusal.retry_after)
        if refusal.code == "too_soon":
            assert later is None or later.code != "too_soon"


def test_the_stored_digest_depends_on_secret_phone_purpose_and_code():
    s, t = rules.code_key("s"), rules.code_key("t")
    base = rules.code_digest(s, "13800000000", "realname", "123456")
    assert base == rules.code_digest(s, "13800000000", "realname", "123456")
    assert len({base, rules.code_digest(t, "13800000000", "realname", "123456"),
                rules.code_digest(s, "13800000001", "realname", "123456"),
                rules.code_digest(s, "13800000000", "reset_password", "123456"),
                rules.code_digest(s, "13800000000", "realname", "123457")}) == 5
    assert "123456" not in base


def test_the_code_key_is_derived_for_its_purpose_never_the_raw_secret():
    """HKDF-Expand (RFC 5869, one block) of the app secret with the label b"suishen sms-code v1"."""
    key = rules.code_key("test-secret-key")
    expected = hmac.new(b"test-secret-key", b"suishen sms-code v1\x01", hashlib.sha256).digest()
    assert key == expected and key != b"test-secret-key"
    assert rules.derive_key("test-secret-key", b"something else v1") != key
    raw = hmac.new(b"test-secret-key", b"realname:13800000000:123456", hashlib.sha256).hexdigest()
    assert rules.code_digest(key, "13800000000", "realname", "123456") != raw
    with pytest.raises(TypeError):  # the raw secret is refused, not silently used as a key
        rules.code_digest("test-secret-key", "13800000000", "realname", "123456")


def test_a_phone_without_an_account_is_told_so_without_a_code():
    text = rules.no_account_text(rules.PURPOSE_RESET)
    assert "未注册" in text and "设置登录密码" in text and not any(ch.isdigit() for ch in text)


def test_code_text_names_the_purpose_and_lifetime_and_warns():
    text = rules.code_text("012345", rules.PURPOSE_REALNAME, timedelta(minutes=5))
    assert "012345" in text and "实名认证" in text and "5 分钟" in text and "请勿泄露" in text


@pytest.mark.parametrize("code, ok", [("123456", True), ("12345", False), ("1234567", False), ("12a456", False),
                                      ("", False), ("１２３４５６", False)])
def test_codes_are_six_ascii_digits(code, ok):
    assert rules.well_formed(code) is ok


def test_realname_needs_an_unverified_account_whose_phone_is_the_phone_on_file():
    assert account_rules.realname_refusal("unverified", "13800000000", "13800000000") is None
    assert "不一致" in account_rules.realname_refusal("unverified", "13900000000", "13800000000")
    assert "未登记" in account_rules.realname_refusal("unverified", "13900000000", "")
    assert account_rules.realname_refusal("realname", "13800000000", "13800000000") is not None
    assert account_rules.realname_refusal("realperson", "13800000000", "13800000000") is not None


def test_id_card_review_is_for_realname_accounts_only():
    assert account_rules.id_card_refusal("realname") is None
    assert "实名认证" in account_rules.id_card_refusal("unverified")
    assert "已完成" in account_rules.id_card_refusal("realperson")
