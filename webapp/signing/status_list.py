"""The signed status list (IETF Token Status List, CWT form): which credentials are withdrawn or blocked, as of
its ``iat``. 2 bits per credential at the index its tokens name (``signing.rules.status_index``), zlib-compressed,
signed like the tokens (ES256, kid in the protected header, ``typ`` application/statuslist+cwt).
"""
from __future__ import annotations

import zlib
from datetime import datetime

import cbor2

from webapp.signing import rules
from webapp.signing.credential_token import COSE_CONTEXT
from webapp.signing.keys import SigningKey


def issue(key: SigningKey, states: dict[int, int], now: datetime, *, uri: str) -> bytes:
    """The status list token of ``states`` ({index: state}; unlisted indexes are valid), issued now."""
    claims = {rules.SUB: uri, rules.IAT: int(now.timestamp()), rules.TTL: int(rules.STATUS_LIST_TTL.total_seconds()),
              rules.STATUS_LIST: {"bits": rules.STATUS_BITS, "lst": zlib.compress(rules.pack_states(states), 9)}}
    return COSE_CONTEXT.encode_and_sign(cbor2.dumps(claims), key.private_cose(),
                                 protected={rules.COSE_ALG: rules.ES256, rules.COSE_KID: key.kid_bytes,
                                            rules.COSE_TYP: rules.STATUS_LIST_TYPE},
                                 unprotected={})
