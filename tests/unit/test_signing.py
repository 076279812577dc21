"""The signed QR token (webapp/signing): its claims, times, keys and status list, without a database."""
from __future__ import annotations

import json
import zlib
from datetime import UTC, date, datetime, timedelta

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp import tokens
from webapp.signing import credential_token, keys, rules, status_list
from webapp.signing.keys import KeyRing
from webapp.travel_id import rules as travel_rules

T0 = datetime(2026, 11, 20, 2, 0, 0, tzinfo=UTC)  # 10:00 in Beijing, on a window boundary
BASE = "http://127.0.0.1:8000"
TRAVEL = rules.CredentialFacts(rules.TRAVEL_ID, 4242, "欧***", T0 + timedelta(hours=24), ticket=("full",))
LICENCE = rules.CredentialFacts(rules.DRIVING_LICENCE, 77, "李*", date(2031, 5, 1), licence_class="C1",
                                licence_status="正常")


@pytest.fixture
def ring(tmp_path):
    keys.init_keys(tmp_path / "keys", T0 - timedelta(days=1))
    return KeyRing(tmp_path / "keys")


def make(ring, facts=TRAVEL, at=T0, grace=1) -> str:
    times = rules.token_times(at, grace)
    return credential_token.issue(ring.signer(at), facts, times, issuer=BASE, status_uri=BASE + "/status-list")


def test_token_is_a_tagged_cose_sign1_es256_cwt_with_the_kid_protected(ring):
    raw = credential_token.b64decode(make(ring))
    message = cbor2.loads(raw)
    assert message.tag == 18
    protected, unprotected, payload, _signature = message.value
    assert cbor2.loads(protected) == {1: -7, 4: ring.signer(T0).kid_bytes} and unprotected == {}
    claims = cbor2.loads(payload)
    assert claims[1] == BASE and claims[6] == int(T0.timestamp()) and claims[5] == int(T0.timestamp())
    assert claims[4] == int(T0.timestamp()) + 120 and len(claims[7]) == 8
    assert claims[65535] == {"status_list": {"idx": 2 * 4242, "uri": BASE + "/status-list"}}
    assert claims[-65537] == [1, "欧***", int((T0 + timedelta(hours=24)).timestamp()), 2]


def test_token_carries_no_birth_date_id_number_or_full_name(ring):
    claims = cbor2.loads(cbor2.loads(credential_token.b64decode(make(ring))).value[2])
    assert set(claims) == {1, 4, 5, 6, 7, 65535, -65537}
    assert len(claims[-65537]) == 4


@pytest.mark.parametrize("facts", [TRAVEL, LICENCE, rules.CredentialFacts(
    rules.DRIVING_LICENCE, 78, "王*", None, licence_class="A1A2", licence_status="正常")])
def test_facts_come_back_as_they_went_in_when_read(ring, facts):
    read = credential_token.read(ring, f"{BASE}/v/{make(ring, facts)}", T0 + timedelta(seconds=5))
    assert read.facts == facts and read.issuer == BASE and read.kid == ring.signer(T0).kid
    assert read.claims == tokens.TokenClaims(kind=facts.kind, db_id=facts.db_id, window=tokens.window_of(T0))


@pytest.mark.parametrize("age, ok", [(0, True), (59, True), (119, True), (120, False), (3600, False)])
def test_token_is_stale_after_its_window_plus_the_grace_window(ring, age, ok):
    token = make(ring)
    if ok:
        credential_token.read(ring, token, T0 + timedelta(seconds=age))
    else:
        with pytest.raises(tokens.TokenError) as err:
            credential_token.read(ring, token, T0 + timedelta(seconds=age))
        assert err.value.code == "stale" and err.value.claims.db_id == 4242


@pytest.mark.parametrize("grace, age, ok", [(0, 59, True), (0, 60, False), (2, 179, True), (2, 180, False)])
def test_grace_windows_set_at_issue_decide_the_expiry(ring, grace, age, ok):
    token = make(ring, grace=grace)
    refusal = None
    try:
        credential_token.read(ring, token, T0 + timedelta(seconds=age))
    except tokens.TokenError as exc:
        refusal = exc.code
    assert refusal == (None if ok else "stale")


@pytest.mark.parametrize("ahead, ok", [(60, True), (119, True), (120, False), (300, False)])
def test_token_from_the_future_is_refused_beyond_one_window_of_skew(ring, ahead, ok):
    token = make(ring, at=T0 + timedelta(seconds=ahead))
    refusal = None
    try:
        credential_token.read(ring, token, T0)
    except tokens.TokenError as exc:
        refusal = exc.code
    assert refusal == (None if ok else "future")


def _tamper(token: str, position: int) -> str:
    return token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1:]


def test_any_changed_character_of_payload_or_signature_is_refused(ring):
    token = make(ring)
    for position in range(20, len(token) - 1, 7):
        with pytest.raises(tokens.TokenError) as err:
            credential_token.read(ring, _tamper(token, position), T0)
        assert err.value.code in {"bad_signature", "malformed"}, position


def test_a_token_of_another_key_is_refused_as_bad_signature(ring, tmp_path):
    keys.init_keys(tmp_path / "other", T0 - timedelta(days=1))
    foreign = make(KeyRing(tmp_path / "other"))
    with pytest.raises(tokens.TokenError, match="bad_signature"):
        credential_token.read(ring, foreign, T0)


def test_a_token_of_another_key_claiming_our_kid_is_refused_as_bad_signature(ring, tmp_path):
    other = keys.new_key(T0, T0)
    ours = ring.signer(T0)
    impostor = keys.SigningKey(kid=ours.kid, jwk=other.jwk, created=T0, not_before=T0)
    token = credential_token.issue(impostor, TRAVEL, rules.token_times(T0), issuer=BASE, status_uri=BASE)
    with pytest.raises(tokens.TokenError, match="bad_signature"):
        credential_token.read(ring, token, T0)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.binary(max_size=300).map(credential_token.b64encode))
def test_any_text_is_refused_cleanly_when_it_is_not_a_token(text):
    ring = KeyRing("/nonexistent")
    with pytest.raises(tokens.TokenError) as err:
        credential_token.read(ring, text, T0)
    assert err.value.code in {"malformed", "bad_signature"}


def test_qr_of_a_token_url_stays_a_small_version(ring):
    """Signature and claims cost QR size: the URL of a travel ID's and a licence's token at BASE is version 13
    (69 modules) at error level M, against version 5 of the old HMAC token (bench/RESULTS.md, offline_qr.py)."""
    from webapp import codes as qr

    for facts in (TRAVEL, LICENCE):
        url = f"{BASE}/v/{make(ring, facts)}"
        assert len(url) < 340 and qr.make(url).version <= 13, (len(url), qr.make(url).version)


# --- Ticket category over the token's life ------------------------------------------------------------------

def test_ticket_category_is_one_code_when_no_birthday_falls_in_the_tokens_life():
    assert travel_rules.ticket_over(date(2016, 6, 1), rules.token_times(T0)) == (("child",), None)


def test_ticket_category_changes_at_a_beijing_midnight_birthday_inside_the_tokens_life():
    # 23:59:30 Beijing on 2026-11-19; the holder turns 14 on 2026-11-20.
    at = datetime(2026, 11, 19, 15, 59, 30, tzinfo=UTC)
    ticket, midnight = travel_rules.ticket_over(date(2012, 11, 20), rules.token_times(at))
    assert ticket == ("child", "full") and midnight == datetime(2026, 11, 19, 16, 0, tzinfo=UTC)
    facts = rules.CredentialFacts(rules.TRAVEL_ID, 1, "张*", at + timedelta(hours=24), ticket=ticket,
                                  ticket_changes_at=midnight)
    assert rules.credential_claim(facts)[3] == [1, int(midnight.timestamp()), 2]
    assert rules.facts_from_claims({rules.STATUS: {"status_list": {"idx": 2}},
                                    rules.CREDENTIAL: rules.credential_claim(facts)}) == facts


# --- The status list ------------------------------------------------------------------------------------------

def test_states_pack_two_bits_per_index_from_the_least_significant_end():
    packed = rules.pack_states({0: 1, 1: 2, 5: 1, 2 * 9: 2})
    assert packed == bytes([0b00001001, 0b00000100, 0, 0, 0b00100000])
    assert [rules.state_at(packed, i) for i in range(8)] == [1, 2, 0, 0, 0, 1, 0, 0]
    assert rules.state_at(packed, 18) == 2 and rules.state_at(packed, 10_000) == rules.STATE_VALID
    assert rules.pack_states({}) == b"\x00"


def test_status_index_names_kind_and_row_of_both_credentials_in_one_list():
    assert rules.status_index(rules.TRAVEL_ID, 10) == 20 and rules.status_index(rules.DRIVING_LICENCE, 10) == 21
    assert rules.credential_of_index(21) == (rules.DRIVING_LICENCE, 10)


def test_status_list_token_is_a_signed_cwt_with_typ_iat_ttl_and_the_compressed_list(ring):
    body = status_list.issue(ring.signer(T0), {20: 1, 21: 2}, T0, uri=BASE + "/status-list")
    protected, _, _payload, _ = cbor2.loads(body).value
    assert cbor2.loads(protected) == {1: -7, 4: ring.signer(T0).kid_bytes, 16: "application/statuslist+cwt"}
    claims = credential_token.verify_signature(body, ring.signer(T0))
    assert claims[2] == BASE + "/status-list" and claims[6] == int(T0.timestamp()) and claims[65534] == 60
    lst = zlib.decompress(claims[65533]["lst"])
    assert claims[65533]["bits"] == 2 and rules.state_at(lst, 20) == 1 and rules.state_at(lst, 21) == 2


# --- Keys -------------------------------------------------------------------------------------------------------

def test_key_file_is_private_and_its_kid_is_the_jwk_thumbprint(tmp_path):
    key = keys.init_keys(tmp_path, T0)
    path = tmp_path / f"{key.kid}.json"
    assert path.stat().st_mode & 0o777 == 0o600 and len(key.kid) == 8
    assert keys.read_key(path).kid == key.kid and json.loads(path.read_text())["jwk"]["d"]
    assert keys.init_keys(tmp_path, T0) is None  # never a second first key
    assert "d" not in keys.jwks([key])["keys"][0]


def test_rotation_publishes_the_next_key_ahead_and_keeps_the_old_one_until_its_tokens_expired(tmp_path):
    first = keys.init_keys(tmp_path, T0)
    ring = KeyRing(tmp_path)
    prepublish = timedelta(hours=1)
    second = keys.rotate(tmp_path, T0 + timedelta(days=1), prepublish)
    ring.reload()
    switch = T0 + timedelta(days=1, hours=1)
    life = rules.max_token_life(1)
    assert [k.kid for k in ring.published(T0 + timedelta(days=1))] == [first.kid, second.kid]
    assert ring.signer(switch - timedelta(seconds=1)).kid == first.kid and ring.signer(switch).kid == second.kid
    assert [k.kid for k in ring.published(switch + life - timedelta(seconds=1))] == [first.kid, second.kid]
    assert [k.kid for k in ring.published(switch + life)] == [second.kid]
    # A token the old key signed just before the switch is still read until it expires.
    old = make(ring, at=switch - timedelta(seconds=1))
    credential_token.read(ring, old, switch + timedelta(seconds=59))
    # A second rotation while one is waiting is refused; --now replaces the waiting key and signs at once.
    with pytest.raises(keys.KeyAdminError):
        keys.rotate(tmp_path, T0 + timedelta(days=1, minutes=5), prepublish)
    third = keys.rotate(tmp_path, T0 + timedelta(days=1, minutes=5), prepublish, immediately=True)
    ring.reload()
    assert ring.signer(T0 + timedelta(days=1, minutes=5)).kid == third.kid
    assert second.kid not in [k.kid for k in ring.keys()]


def test_prune_deletes_only_keys_unpublished_for_longer_than_kept(tmp_path):
    first = keys.init_keys(tmp_path, T0)
    keys.rotate(tmp_path, T0 + timedelta(seconds=1), timedelta(0))
    after = T0 + timedelta(seconds=1) + rules.max_token_life(1)
    assert keys.prune(tmp_path, after + timedelta(days=29), 1, timedelta(days=30)) == []
    assert keys.prune(tmp_path, after + timedelta(days=30), 1, timedelta(days=30)) == [first.kid]


def test_a_late_offline_scan_is_read_with_a_key_no_longer_published(tmp_path):
    keys.init_keys(tmp_path, T0)
    ring = KeyRing(tmp_path)
    token = make(ring)
    keys.rotate(tmp_path, T0 + timedelta(seconds=1), timedelta(0))
    ring.reload()
    later = T0 + timedelta(hours=2)
    with pytest.raises(tokens.TokenError, match="bad_signature"):
        credential_token.read(ring, token, later)
    with pytest.raises(tokens.TokenError, match="stale"):   # the key checks out; the token is two hours old
        credential_token.read(ring, token, later, any_key_on_file=True)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.binary(max_size=300).map(credential_token.b64encode))
def test_the_offline_verifier_script_refuses_any_text_cleanly_when_it_is_not_a_token(text):
    from tests.verification_support import load_offline_verifier

    verifier = load_offline_verifier()
    result = verifier.verify(text, verifier.Trust({"keys": []}, None), T0.timestamp())
    assert result.verdict in {"invalid", "unknown"} and result.reason in {"malformed", "status_unknown"}
