from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.accounts import rules
from webapp.web.urls import is_safe_next


@pytest.mark.parametrize("password, ok", [("abc12345", True), ("abc1234", False), ("abcdefgh", False),
                                          ("12345678", False), ("a1" * 32, True), ("a1" * 32 + "x", False)])
def test_password_policy_when_length_and_mix_vary(password, ok):
    assert (rules.password_problem(password) is None) is ok


@pytest.mark.parametrize("target, ok", [
    ("/account/", True), ("/travel-id/?a=1", True), (None, False), ("", False),
    ("https://evil.example/", False), ("//evil.example/x", False), ("/\\evil.example", False),
    ("javascript:alert(1)", False), ("account", False),
])
def test_next_is_only_accepted_when_it_is_a_local_path(target, ok):
    assert is_safe_next(target) is ok


# --- per-identifier sign-in back-off (SPEC 8) ---------------------------------------------------------------
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
POLICY = rules.ThrottlePolicy()


@pytest.mark.parametrize("failures, lock", [
    (0, 0), (1, 0), (4, 0),                       # free tries
    (5, 60), (6, 120), (7, 240), (8, 480), (9, 960), (10, 1920),
    (11, 3600), (12, 3600), (10_000, 3600),       # 3840 s and beyond are capped at one hour
])
def test_the_lock_doubles_from_the_fifth_failure_and_is_capped_at_an_hour(failures, lock):
    assert rules.lock_after(POLICY, failures) == timedelta(seconds=lock)


@given(st.integers(min_value=0, max_value=10_000))
def test_the_lock_never_shrinks_and_never_exceeds_the_cap(failures):
    assert rules.lock_after(POLICY, failures) <= rules.lock_after(POLICY, failures + 1) <= POLICY.cap


@pytest.mark.parametrize("elapsed, left", [(0, 60), (1, 59), (59, 1), (60, 0), (61, 0)])
def test_a_lock_of_sixty_seconds_ends_at_sixty_seconds_not_fifty_nine(elapsed, left):
    assert rules.lock_left(T0 + timedelta(seconds=60), T0 + timedelta(seconds=elapsed)) == timedelta(seconds=left)
    assert rules.lock_left(None, T0) == timedelta(0)


@pytest.mark.parametrize("seconds, minutes", [(1, 1), (59, 1), (60, 1), (61, 2), (3600, 60)])
def test_the_locked_message_rounds_minutes_up(seconds, minutes):
    assert rules.locked_message(timedelta(seconds=seconds)) == f"登录失败次数过多，请 {minutes} 分钟后再试。"


def test_the_throttle_key_is_a_digest_of_the_normalised_identifier_per_kind():
    key = rules.throttle_key("citizen", "11010519491231002X")
    assert rules.throttle_key("citizen", " 11010519491231002x ") == key
    assert rules.throttle_key("citizen", "13800000000") != rules.throttle_key("officer", "13800000000")
    key = rules.throttle_key("officer", "Police.One")
    assert "police" not in key.lower() and len(key) <= 80 and key == rules.throttle_key("officer", "police.one")


def test_the_policy_reads_its_settings():
    policy = rules.ThrottlePolicy.from_config({
        "SUISHEN_LOGIN_MAX_FAILURES": 3, "SUISHEN_LOGIN_BACKOFF_BASE": 30, "SUISHEN_LOGIN_BACKOFF_MAX": 600,
        "SUISHEN_LOGIN_FAILURE_MEMORY": 3600})
    assert policy == rules.ThrottlePolicy(3, timedelta(seconds=30), timedelta(minutes=10), timedelta(hours=1))
    assert rules.lock_after(policy, 2) == timedelta(0) and rules.lock_after(policy, 3) == timedelta(seconds=30)
