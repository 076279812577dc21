"""What an offline-verifiable credential token carries, when it is good, and how the status list packs states
(SPEC §6 "Offline verification", docs/offline.md). No I/O.

The token is a CWT (RFC 8392) signed as COSE_Sign1 with ES256, the key id in the protected header. Its claims:

=========  ======  ==========================================================================================
claim      key     value
=========  ======  ==========================================================================================
iss        1       BASE_URL
exp        4       the end of the 60 s window it was made in, plus the grace windows
nbf        5       the start of that window
iat        6       the instant it was made
cti        7       8 random bytes (a token's own id; an offline upload is logged once per scan id, not per cti)
status     65535   {"status_list": {"idx": 2 × row id + kind bit, "uri": BASE_URL + "/status-list"}} (the IETF
                   Token Status List's reference; the index also names the credential to the online API)
credential -65537  [kind, masked name, validity end, details] (one private claim: 5 bytes of key, not 5 per field)
=========  ======  ==========================================================================================

``kind``: 1 travel ID, 2 e-licence. Validity end: a travel ID's instant (epoch seconds); a licence's last day as
days since 1970-01-01 (null = 长期). Details: for a travel ID the ticket category (0 免费乘车儿童, 1 儿童优惠票,
2 全价票) over the token's life — one code, or ``[before, midnight, after]`` when a birthday at midnight changes it
(never the birth date); for a licence ``[class, status at generation]``. Nothing else: SPEC §6 lets the public
see type, validity and masked name; category and class are what an offline officer must see, nothing identifies
the holder beyond a masked name.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from webapp import tokens

WINDOW = tokens.WINDOW                # the QR's 60 s window (the Code128's numeric code keeps its own, online)
GRACE_WINDOWS = tokens.GRACE_WINDOWS
# One window of skew between the issuer's and the verifier's clocks: a token whose window starts more than this
# after the verifier's now is "future" (the HMAC tokens had the same rule).
CLOCK_SKEW = timedelta(seconds=60)

# CWT claim keys (RFC 8392 §4) and the Token Status List's (draft-ietf-oauth-status-list, CWT form).
ISS, SUB, EXP, NBF, IAT, CTI = 1, 2, 4, 5, 6, 7
STATUS = 65535          # in a credential token: where its state is listed
STATUS_LIST = 65533     # in the status list token: {"bits": 2, "lst": zlib(packed states)}
TTL = 65534             # in the status list token: seconds a verifier may keep it before fetching again
CREDENTIAL = -65537     # private use (< -65536)
COSE_ALG, COSE_KID, COSE_TYP = 1, 4, 16
ES256 = -7
STATUS_LIST_TYPE = "application/statuslist+cwt"
CTI_BYTES = 8

TRAVEL_ID = "travel_id"
DRIVING_LICENCE = "driving_licence"
KIND_CODES = {TRAVEL_ID: 1, DRIVING_LICENCE: 2}
KINDS = {code: kind for kind, code in KIND_CODES.items()}
# The travel ID's ticket categories (travel_id.rules.TICKET_*) on the wire; travel_id.rules checks they match.
TICKET_CODES = {"free": 0, "child": 1, "full": 2}
TICKETS = {code: name for name, code in TICKET_CODES.items()}
EPOCH_DAY = date(1970, 1, 1)

# Status list entries: 2 bits per credential (the draft's registered values).
STATUS_BITS = 2
STATE_VALID = 0       # or unknown to the list: a credential is valid unless listed
STATE_INVALID = 1     # withdrawn travel ID, invalidated (renewed, re-applied) e-licence: for good
STATE_SUSPENDED = 2   # the licence record is not 正常 (扣留, 暂扣, 吊销 …): the online check names the status
STATUS_LIST_TTL = timedelta(seconds=60)   # verifiers fetch it again after this when they can


def status_index(kind: str, db_id: int) -> int:
    """The credential's place in the status list: both kinds share one list, the low bit says which."""
    return 2 * db_id + KIND_CODES[kind] - 1


def credential_of_index(idx: int) -> tuple[str, int]:
    """(kind, row id) of a status index (:func:`status_index` backwards)."""
    return KINDS[idx % 2 + 1], idx // 2


@dataclass(frozen=True)
class TokenTimes:
    iat: int
    nbf: int
    exp: int


def token_times(now: datetime, grace_windows: int = GRACE_WINDOWS) -> TokenTimes:
    """iat now; nbf the start of the current 60 s window; exp after that window and ``grace_windows`` more."""
    size = int(WINDOW.total_seconds())
    start = math.floor(now.timestamp()) // size * size
    return TokenTimes(iat=int(now.timestamp()), nbf=start, exp=start + size * (1 + grace_windows))


def max_token_life(grace_windows: int) -> timedelta:
    """The longest a token stays acceptable after it is made (a retired key stays published this long)."""
    return WINDOW * (1 + grace_windows) + CLOCK_SKEW


def time_refusal(nbf: int, exp: int, now: datetime) -> str | None:
    """None when ``now`` is inside the token's life; else ``stale`` (a screenshot: exp passed) or ``future``."""
    at = now.timestamp()
    if at < nbf - CLOCK_SKEW.total_seconds():
        return "future"
    if at >= exp:
        return "stale"
    return None


# --- The private claim -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CredentialFacts:
    """What a token says about its credential, and all it says."""

    kind: str
    db_id: int
    name_masked: str
    valid_until: datetime | date | None          # a travel ID's instant; a licence's last day (None = 长期)
    ticket: tuple[str, ...] | None = None        # travel ID: (category,) or (before, after) across midnight
    ticket_changes_at: datetime | None = None    # the midnight between ``before`` and ``after``
    licence_class: str | None = None
    licence_status: str | None = None

    @property
    def status_index(self) -> int:
        return status_index(self.kind, self.db_id)


def credential_claim(facts: CredentialFacts) -> list[Any]:
    """The private claim's value (see the module docstring)."""
    if facts.kind == TRAVEL_ID:
        until = int(facts.valid_until.timestamp())  # type: ignore[union-attr]
        if facts.ticket_changes_at is None:
            details: Any = TICKET_CODES[facts.ticket[0]]  # type: ignore[index]
        else:
            before, after = facts.ticket  # type: ignore[misc]
            details = [TICKET_CODES[before], int(facts.ticket_changes_at.timestamp()), TICKET_CODES[after]]
    else:
        until = None if facts.valid_until is None else (facts.valid_until - EPOCH_DAY).days  # type: ignore[operator]
        details = [facts.licence_class, facts.licence_status]
    return [KIND_CODES[facts.kind], facts.name_masked, until, details]


def facts_from_claims(claims: dict) -> CredentialFacts:
    """The facts of a verified token's claims.

    :raises ValueError: the claims do not have the shape :func:`credential_claim` makes
    """
    try:
        idx = claims[STATUS]["status_list"]["idx"]
        code, name, until, details = claims[CREDENTIAL]
        kind = KINDS[code]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("not a credential token") from exc
    if not isinstance(idx, int) or idx < 0 or credential_of_index(idx)[0] != kind or not isinstance(name, str):
        raise ValueError("not a credential token")
    db_id = credential_of_index(idx)[1]
    if kind == TRAVEL_ID:
        if isinstance(details, int):
            ticket, changes = (TICKETS[details],), None
        else:
            before, midnight, after = details
            ticket, changes = (TICKETS[before], TICKETS[after]), datetime.fromtimestamp(midnight, UTC)
        return CredentialFacts(kind, db_id, name, datetime.fromtimestamp(until, UTC), ticket=ticket,
                               ticket_changes_at=changes)
    licence_class, licence_status = details
    valid_until = None if until is None else EPOCH_DAY + timedelta(days=until)
    return CredentialFacts(kind, db_id, name, valid_until, licence_class=licence_class,
                           licence_status=licence_status)


# --- The status list ---------------------------------------------------------------------------------------------

def pack_states(states: dict[int, int], bits: int = STATUS_BITS) -> bytes:
    """The Token Status List's byte array: entry ``i`` in the ``bits`` bits of byte ``i * bits // 8`` counted from
    the least significant end. Its length covers the highest index listed (at least one byte)."""
    per_byte = 8 // bits
    size = (max(states, default=0) // per_byte) + 1
    packed = bytearray(size)
    for idx, state in states.items():
        if not 0 <= state < 2 ** bits:
            raise ValueError(f"state {state} does not fit in {bits} bits")
        packed[idx // per_byte] |= state << (idx % per_byte * bits)
    return bytes(packed)


def state_at(packed: bytes, idx: int, bits: int = STATUS_BITS) -> int:
    """The state of entry ``idx``; an index beyond the list is valid (nothing is listed for it yet)."""
    per_byte = 8 // bits
    if idx // per_byte >= len(packed):
        return STATE_VALID
    return (packed[idx // per_byte] >> (idx % per_byte * bits)) & (2 ** bits - 1)
