from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp import tokens

# The QR's signed token is tested in tests/unit/test_signing.py; this is the window and the barcode's numeric code.

SECRET = "unit-test-secret"
T0 = datetime(2026, 11, 20, 2, 0, 0, tzinfo=timezone.utc)  # on a window boundary


def test_countdown_reaches_zero_at_the_window_boundary():
    assert tokens.seconds_left(T0) == 60
    assert tokens.seconds_left(T0 + timedelta(seconds=59.5)) == pytest.approx(0.5)


# --- The numeric code of the licence barcode ---------------------------------------------------------------
def numeric(db_id=42, at=T0, kind="driving_licence", secret=SECRET):
    return tokens.issue_numeric(secret, kind, db_id, at)


def test_numeric_code_is_22_digits_that_code128_set_c_packs_when_issued():
    import barcode

    code = numeric()
    assert len(code) == 22 and code.isdigit()
    assert code[0] == "2" and code[1:11] == "0000000042"
    assert code[11:14] == f"{tokens.window_of(T0) % 1000:03d}"
    # Start C + 11 digit pairs + checksum (11 modules each) + stop (13): 156 modules, ~4× fewer than the token's.
    assert len(barcode.Code128(code).build()[0]) == 156


@given(st.integers(1, 10**10 - 1), st.integers(0, 10**6))
def test_the_barcode_width_the_show_page_is_rendered_with_is_every_code_s_width(db_id, minutes):
    """The 正页 sizes its barcode from codes.barcode_modules() before the first code arrives (no layout shift)."""
    from webapp import codes

    code = numeric(db_id=db_id, at=T0 + timedelta(minutes=minutes))
    assert codes.barcode_svg(code)[1] == codes.barcode_modules() == 156 + 2 * codes.BARCODE_QUIET


def test_numeric_code_verifies_with_its_kind_and_id_when_fresh():
    claims = tokens.check_numeric(SECRET, numeric(db_id=987654321), T0 + timedelta(seconds=59))
    assert claims == tokens.TokenClaims(kind="driving_licence", db_id=987654321,
                                        window=tokens.window_of(T0))


def test_numeric_code_of_kind_1_is_refused_like_an_unknown_kind_even_with_a_good_mac():
    """Only the e-licence has a barcode; kind 1 (once the travel ID's digit) is not a code the app shows."""
    window = tokens.window_of(T0)
    forged = f"1{42:010d}{window % 1000:03d}{tokens._numeric_mac(SECRET, '1', 42, window)}"
    unknown = f"9{42:010d}{window % 1000:03d}{tokens._numeric_mac(SECRET, '9', 42, window)}"
    for code in (forged, unknown):
        with pytest.raises(tokens.TokenError) as err:
            tokens.check_numeric(SECRET, code, T0)
        assert err.value.code == "malformed" and err.value.claims is None
    with pytest.raises(ValueError):
        numeric(kind="travel_id")


def test_numeric_code_is_accepted_as_typed_with_spaces_or_in_the_public_url():
    code = numeric()
    assert tokens.check_numeric(SECRET, tokens.group_digits(code), T0).db_id == 42
    assert tokens.check_numeric(SECRET, f" {code[:11]}-{code[11:]} ", T0).db_id == 42
    assert tokens.check_numeric(SECRET, f"https://suishen.example.cn/v/{code}", T0).db_id == 42
    assert tokens.group_digits(code).count(" ") == 5


@pytest.mark.parametrize("age, ok", [(59, True), (60, True), (119, True), (120, False), (30_000, False)])
def test_numeric_code_is_stale_after_its_window_plus_one_grace_window(age, ok):
    code = numeric()
    if ok:
        assert tokens.check_numeric(SECRET, code, T0 + timedelta(seconds=age)).db_id == 42
    else:
        with pytest.raises(tokens.TokenError) as err:
            tokens.check_numeric(SECRET, code, T0 + timedelta(seconds=age))
        assert err.value.code == "stale"
        # The signature was good: the claims say which credential was shown, to log it on the holder's record.
        assert err.value.claims.db_id == 42


def test_numeric_code_across_the_window_counter_wrap_keeps_its_full_window():
    # Windows ...999 and ...000: the 3 window digits wrap, the reconstructed window must not.
    wrap = datetime.fromtimestamp((tokens.window_of(T0) // 1000 + 1) * 1000 * 60, timezone.utc)
    code = numeric(at=wrap - timedelta(seconds=1))
    assert code[11:14] == "999"
    assert tokens.check_numeric(SECRET, code, wrap + timedelta(seconds=30)).window == tokens.window_of(wrap) - 1
    with pytest.raises(tokens.TokenError, match="stale"):
        tokens.check_numeric(SECRET, code, wrap + timedelta(seconds=61))


def test_numeric_code_from_the_future_is_refused_when_more_than_one_window_ahead():
    tokens.check_numeric(SECRET, numeric(at=T0 + timedelta(seconds=60)), T0)  # one window of clock skew
    with pytest.raises(tokens.TokenError, match="future"):
        tokens.check_numeric(SECRET, numeric(at=T0 + timedelta(minutes=5)), T0)


def test_numeric_code_older_than_half_the_window_cycle_is_refused_as_bad_signature():
    # 600 windows back reads as 400 ahead: the HMAC over that window cannot match.
    with pytest.raises(tokens.TokenError, match="bad_signature"):
        tokens.check_numeric(SECRET, numeric(), T0 + timedelta(minutes=600))


@pytest.mark.parametrize("position", range(22))
def test_numeric_code_with_any_digit_changed_is_refused_when_tampered(position):
    code = numeric()
    digit = str((int(code[position]) + 1) % 10)
    forged = code[:position] + digit + code[position + 1:]
    with pytest.raises(tokens.TokenError) as err:
        tokens.check_numeric(SECRET, forged, T0)
    # The kind digit 3 (unknown) is malformed; a window digit may land in the future or far past; everything
    # else — the id above all — fails the HMAC.
    if position == 0:
        assert err.value.code == "malformed"
    else:
        assert err.value.code in ({"bad_signature", "future", "stale"} if 11 <= position < 14 else {"bad_signature"})


def test_numeric_code_of_another_secret_or_another_id_is_refused_as_bad_signature():
    for forged in (numeric(secret="another-secret"), numeric(db_id=43)[:-8] + numeric()[-8:]):
        with pytest.raises(tokens.TokenError) as err:
            tokens.check_numeric(SECRET, forged, T0)
        assert err.value.code == "bad_signature"


@pytest.mark.parametrize("text", ["2" * 21, "2" * 23, "9" + "0" * 21, "2" + "0" * 10 + "123" + "12345678",
                                  "2000 0000 004x", "22"])
def test_numeric_looking_text_that_is_not_a_code_is_malformed(text):
    with pytest.raises(tokens.TokenError, match="malformed"):
        tokens.check_numeric(SECRET, text, T0)


def test_numeric_id_that_does_not_fit_is_not_issued():
    with pytest.raises(ValueError):
        numeric(db_id=10 ** 10)
    with pytest.raises(ValueError):
        numeric(db_id=0)


@settings(max_examples=300, deadline=None)
@given(db_id=st.integers(1, 10 ** 10 - 1), kind=st.sampled_from(["driving_licence"]),
       offset=st.integers(0, 10 ** 9), age=st.integers(0, 119))
def test_numeric_code_round_trips_for_any_id_and_instant_within_the_grace(db_id, kind, offset, age):
    at = T0 + timedelta(seconds=offset)
    code = tokens.issue_numeric(SECRET, kind, db_id, at)
    issued_window = tokens.window_of(at)
    # Any instant from the start of the issuing window to the end of the grace window.
    checked = datetime.fromtimestamp(issued_window * 60 + age, timezone.utc)
    claims = tokens.check_numeric(SECRET, code, checked)
    assert (claims.kind, claims.db_id, claims.window) == (kind, db_id, issued_window)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 -", max_size=40))
def test_any_digit_text_is_refused_cleanly_when_it_is_not_a_code(text):
    with pytest.raises(tokens.TokenError) as err:
        tokens.check_numeric(SECRET, text, T0)
    assert err.value.code in {"malformed", "bad_signature", "stale", "future"}
