"""What a verification answers and who sees what (SPEC §6). No I/O."""
from __future__ import annotations

from webapp.officer import rules as officer_rules

TRAVEL_ID = "travel_id"
DRIVING_LICENCE = "driving_licence"
CREDENTIAL_LABELS = {TRAVEL_ID: "电子临时乘车身份证明", DRIVING_LICENCE: "电子驾驶证"}

# Reason codes (stable API values) and what the verifier is told.
STALE = "stale"
BAD_SIGNATURE = "bad_signature"
MALFORMED = "malformed"
FUTURE = "future"
NOT_FOUND = "not_found"
EXPIRED = "expired"
REVOKED = "revoked"
LICENCE_STATUS = "licence_status"  # the licence record is not 正常 (扣留, 吊销...); the label says which
REASON_MESSAGES = {
    STALE: "二维码已过期，请让持证人刷新二维码后重新出示（截图无效）。",
    BAD_SIGNATURE: "二维码签名无效，可能被篡改或伪造。",
    MALFORMED: "无法识别的二维码，请扫描随身证页面上的二维码。",
    FUTURE: "二维码时间异常，请让持证人刷新二维码后重试。",
    NOT_FOUND: "未找到该证件，请让持证人刷新二维码后重试。",
    EXPIRED: "证件已过有效期，请持证人重新申请或前往车站公安制证窗口办理纸质证明。",
    REVOKED: "证件已作废。",
    LICENCE_STATUS: "驾驶证状态异常，不能使用。",
}
REASONS = tuple(REASON_MESSAGES)

# Where the check happens. Codes are the API's `context` values; labels are shown and logged.
CONTEXTS = {
    TRAVEL_ID: {
        "ticketing": "售票/退票/改签",
        "realname": "实名制核验",
        "entry": "进站检票",
        "exit": "出站检票",
        "onboard": "车上验票",
    },
    DRIVING_LICENCE: {
        "roadside": "路面查验",
        "violation": "违法处理",
        "accident": "事故处理",
    },
}
CONTEXT_LABELS = {code: label for contexts in CONTEXTS.values() for code, label in contexts.items()}

# Who verified: what the holder is shown in 核验记录 (never an officer's username).
VIEWER_PUBLIC = "public"
VIEWER_OFFICER = "officer"
VIEWER_APIKEY = "apikey"
VIEWER_LABELS = {VIEWER_PUBLIC: "公众扫码", VIEWER_APIKEY: "第三方/闸机"}

# Views of a result, from least to most: the public sees validity, type and masked name; a key (gate, third
# party) adds the name, the masked ID number, status and validity; an officer whose role checks this kind of
# credential also sees the portrait and, for travel IDs, the ticket category.
LEVEL_PUBLIC = "public"
LEVEL_STANDARD = "standard"
LEVEL_DETAIL = "detail"
DETAIL_KINDS = {
    officer_rules.ROLE_RAILWAY: frozenset({TRAVEL_ID}),
    officer_rules.ROLE_POLICE: frozenset({TRAVEL_ID, DRIVING_LICENCE}),
    officer_rules.ROLE_TRAFFIC: frozenset({DRIVING_LICENCE}),
}

AUDIT_ACTION = "credential.verify"


def reason_message(reason: str | None, status_label: str | None = None) -> str | None:
    """The Chinese message of a reason; a licence status names the status (e.g. 驾驶证状态：暂扣)."""
    if reason is None:
        return None
    if reason == LICENCE_STATUS and status_label:
        return f"驾驶证状态：{status_label}，不能使用。"
    return REASON_MESSAGES[reason]


def is_context(code: str | None) -> bool:
    return code is None or code in CONTEXT_LABELS


def view_level(viewer_kind: str, role: str | None, credential_type: str | None) -> str:
    """How much of a result this viewer may see."""
    if viewer_kind == VIEWER_OFFICER:
        if role is not None and credential_type in DETAIL_KINDS.get(role, frozenset()):
            return LEVEL_DETAIL
        return LEVEL_STANDARD
    if viewer_kind == VIEWER_APIKEY:
        return LEVEL_STANDARD
    return LEVEL_PUBLIC


def verifier_label(actor_type: str, role: str | None) -> str:
    """Who checked, as the holder sees it: the role (铁路工作人员), 第三方/闸机 or 公众扫码."""
    if actor_type == VIEWER_OFFICER:
        return officer_rules.ROLE_LABELS.get(role or "", "工作人员")
    return VIEWER_LABELS.get(actor_type, "其他")
