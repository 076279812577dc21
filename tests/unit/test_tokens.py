from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp import tokens

SECRET = "unit-test-secret"
T0 = datetime(2026, 11, 20, 2, 0, 0, tzinfo=timezone.utc)  # on a window boundary


def test_token_verifies_in_its_window_when_fresh():
    token = tokens.issue(SECRET, "travel_id", "abcdefgh123", T0)
    claims = tokens.check(SECRET, token, T0 + timedelta(seconds=59))
    assert claims.kind == "travel_id" and claims.credential_id == "abcdefgh123"
    assert len(token) < 60


@pytest.mark.parametrize("age, ok", [(59, True), (60, True), (119, True), (120, False), (121, False)])
def test_token_is_stale_after_its_window_plus_one_grace_window(age, ok):
    token = tokens.issue(SECRET, "travel_id", "abcdefgh123", T0)
    if ok:
        tokens.check(SECRET, token, T0 + timedelta(seconds=age))
    else:
        with pytest.raises(tokens.TokenError) as err:
            tokens.check(SECRET, token, T0 + timedelta(seconds=age))
        assert err.value.code == "stale"


def test_token_from_the_future_is_refused_when_more_than_one_window_ahead():
    token = tokens.issue(SECRET, "driving_licence", "abcdefgh123", T0 + timedelta(minutes=5))
    with pytest.raises(tokens.TokenError, match="future"):
        tokens.check(SECRET, token, T0)


def test_tampered_or_foreign_token_is_refused_as_bad_signature():
    token = tokens.issue(SECRET, "travel_id", "abcdefgh123", T0)
    kind, cid, window, sig = token.split(".")
    for forged in [f"{kind}.abcdefgh124.{window}.{sig}", f"L.{cid}.{window}.{sig}",
                   tokens.issue("another-secret", "travel_id", "abcdefgh123", T0)]:
        with pytest.raises(tokens.TokenError) as err:
            tokens.check(SECRET, forged, T0)
        assert err.value.code == "bad_signature"


def test_full_url_from_a_phone_camera_is_accepted_when_scanned():
    token = tokens.issue(SECRET, "travel_id", "abcdefgh123", T0)
    assert tokens.check(SECRET, f"https://suishen.example.cn/v/{token}?x=1", T0).credential_id == "abcdefgh123"


def test_countdown_reaches_zero_at_the_window_boundary():
    assert tokens.seconds_left(T0) == 60
    assert tokens.seconds_left(T0 + timedelta(seconds=59.5)) == pytest.approx(0.5)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_refused_cleanly_when_it_is_not_a_token(text):
    with pytest.raises(tokens.TokenError) as err:
        tokens.check(SECRET, text, T0)
    assert err.value.code in {"malformed", "bad_signature"}


@pytest.mark.parametrize("grace, age, ok", [(0, 59, True), (0, 60, False), (2, 179, True), (2, 180, False)])
def test_grace_is_a_setting_when_a_deployment_changes_it(grace, age, ok):
    token = tokens.issue(SECRET, "travel_id", "abcdefgh123", T0)
    if ok:
        tokens.check(SECRET, token, T0 + timedelta(seconds=age), grace)
    else:
        with pytest.raises(tokens.TokenError, match="stale"):
            tokens.check(SECRET, token, T0 + timedelta(seconds=age), grace)
