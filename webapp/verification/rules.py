"""What a verification answers and who sees what (SPEC §6). No I/O."""
from __future__ import annotations

from datetime import datetime, timedelta

from webapp import roles
from webapp.lazytext import _l

TRAVEL_ID = "travel_id"
DRIVING_LICENCE = "driving_licence"
CREDENTIAL_LABELS = {TRAVEL_ID: _l("电子临时乘车身份证明"), DRIVING_LICENCE: _l("电子驾驶证")}

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
    STALE: _l("二维码已过期，请让持证人刷新二维码后重新出示（截图无效）。"),
    BAD_SIGNATURE: _l("二维码签名无效，可能被篡改或伪造。"),
    MALFORMED: _l("无法识别的二维码，请扫描随身证页面上的二维码。"),
    FUTURE: _l("二维码时间异常，请让持证人刷新二维码后重试。"),
    NOT_FOUND: _l("未找到该证件，请让持证人刷新二维码后重试。"),
    EXPIRED: _l("证件已过有效期，请持证人重新申请或前往车站公安制证窗口办理纸质证明。"),
    REVOKED: _l("证件已作废。"),
    LICENCE_STATUS: _l("驾驶证状态异常，不能使用。"),
}
REASONS = tuple(REASON_MESSAGES)
# Reasons only an offline check gives (the officer scan page offline, static/js/offline_verify.js); they reach the
# server with the scans it uploads later and are shown in the holder's 核验记录.
UNKNOWN_KEY = "unknown_key"
STATUS_UNKNOWN = "status_unknown"
OFFLINE_REASON_MESSAGES = {
    UNKNOWN_KEY: _l("二维码的签名密钥不在已发布的密钥中，可能是伪造的二维码。"),
    STATUS_UNKNOWN: _l("离线核验时证件状态列表过旧，无法确认。"),
}
# An offline scan is accepted for upload this long after it was made (a device offline over a weekend), and not
# from further ahead than one window of clock skew.
OFFLINE_UPLOAD_MAX_AGE = timedelta(days=7)
OFFLINE_UPLOAD_MAX_AHEAD = timedelta(seconds=60)
OFFLINE_UPLOAD_MAX_SCANS = 20   # per request: the page sends a longer queue in several

# Where the check happens. Codes are the API's `context` values; labels are shown and logged.
CONTEXTS = {
    TRAVEL_ID: {
        "ticketing": _l("售票/退票/改签"),
        "realname": _l("实名制核验"),
        "entry": _l("进站检票"),
        "exit": _l("出站检票"),
        "onboard": _l("车上验票"),
    },
    DRIVING_LICENCE: {
        "roadside": _l("路面查验"),
        "violation": _l("违法处理"),
        "accident": _l("事故处理"),
    },
}
CONTEXT_LABELS = {code: label for contexts in CONTEXTS.values() for code, label in contexts.items()}

# Who verified: what the holder is shown in 核验记录 (never an officer's username).
VIEWER_PUBLIC = "public"
VIEWER_OFFICER = "officer"
VIEWER_APIKEY = "apikey"
VIEWER_LABELS = {VIEWER_PUBLIC: _l("公众扫码"), VIEWER_APIKEY: _l("第三方/闸机")}

# Who sees what (SPEC §6): the fields of an answer beyond the verdict (valid, reason, message, checked_at) and the
# credential type, which every viewer gets. api.to_json renders exactly these; the scan page shows what it gets.
NAME_MASKED = "name_masked"            # 张*
NAME = "name"                          # the full name
ID_NUMBER_MASKED = "id_number_masked"  # 440106********1234
STATUS = "status"                      # valid | expired | revoked | the licence's state
VALID_UNTIL = "valid_until"
PORTRAIT = "portrait"                  # the registry portrait to compare, with sex, age and the labels of the page
TICKET_CATEGORY = "ticket_category"    # travel IDs: 免费/儿童/全价 by age on the travel date
LICENCE_RECORD = "licence_record"      # licences: class, validity, authority, file number, points, record status

PUBLIC_FIELDS = frozenset({NAME_MASKED, STATUS})                     # validity, type, masked name
IDENTITY_FIELDS = frozenset({NAME, ID_NUMBER_MASKED, STATUS, VALID_UNTIL})  # identity and status
PHOTO_ID_FIELDS = IDENTITY_FIELDS | {PORTRAIT}                        # ... and the face to compare
VIEWER_FIELDS: dict[str, dict[str, frozenset[str]]] = {
    VIEWER_PUBLIC: {TRAVEL_ID: PUBLIC_FIELDS, DRIVING_LICENCE: PUBLIC_FIELDS},
    VIEWER_APIKEY: {TRAVEL_ID: IDENTITY_FIELDS, DRIVING_LICENCE: IDENTITY_FIELDS},
    # Railway staff: travel IDs in full, a licence's validity only.
    roles.ROLE_RAILWAY: {TRAVEL_ID: PHOTO_ID_FIELDS | {TICKET_CATEGORY}, DRIVING_LICENCE: PUBLIC_FIELDS},
    # Station police: both identities, no driving record.
    roles.ROLE_POLICE: {TRAVEL_ID: PHOTO_ID_FIELDS | {TICKET_CATEGORY}, DRIVING_LICENCE: PHOTO_ID_FIELDS},
    # Traffic police: licences in full; a travel ID's identity and status.
    roles.ROLE_TRAFFIC: {TRAVEL_ID: IDENTITY_FIELDS, DRIVING_LICENCE: PHOTO_ID_FIELDS | {LICENCE_RECORD}},
    # Reviewers and administrators have no scan access (roles.SCAN_ROLES): not listed, they see nothing.
}
assert set(VIEWER_FIELDS) - {VIEWER_PUBLIC, VIEWER_APIKEY} == set(roles.SCAN_ROLES)

# The kinds of credential whose check contexts a role picks from on the scan page.
DETAIL_KINDS = {
    roles.ROLE_RAILWAY: frozenset({TRAVEL_ID}),
    roles.ROLE_POLICE: frozenset({TRAVEL_ID, DRIVING_LICENCE}),
    roles.ROLE_TRAFFIC: frozenset({DRIVING_LICENCE}),
}

AUDIT_ACTION = "credential.verify"


def reason_message(reason: str | None, status_label: str | None = None) -> str | None:
    """The message of a reason for people; a licence status names the status (e.g. 驾驶证状态：暂扣)."""
    if reason is None:
        return None
    if reason == LICENCE_STATUS and status_label:
        return _l("驾驶证状态：%(status)s，不能使用。", status=status_label)
    return REASON_MESSAGES.get(reason) or OFFLINE_REASON_MESSAGES[reason]


def offline_time_refusal(scanned_at: datetime, now: datetime) -> str | None:
    """Why an uploaded offline scan's time cannot be taken (None when it can)."""
    if scanned_at > now + OFFLINE_UPLOAD_MAX_AHEAD:
        return _l("扫描时间晚于服务器当前时间，请校准设备时间。")
    if scanned_at < now - OFFLINE_UPLOAD_MAX_AGE:
        return _l("扫描时间早于 %(days)s 天前，不再接收。", days=OFFLINE_UPLOAD_MAX_AGE.days)
    return None


def is_context(code: str | None) -> bool:
    return code is None or code in CONTEXT_LABELS


def visible_fields(viewer_kind: str, role: str | None, credential_type: str | None) -> frozenset[str]:
    """What this viewer may see of a credential of this type (VIEWER_FIELDS); an officer role without scan access,
    or an unknown type, sees nothing beyond the verdict."""
    key = role if viewer_kind == VIEWER_OFFICER else viewer_kind
    return VIEWER_FIELDS.get(key or "", {}).get(credential_type or "", frozenset())


def verifier_label(actor_type: str, role: str | None) -> str:
    """Who checked, as the holder sees it: the role (铁路工作人员), 第三方/闸机 or 公众扫码."""
    if actor_type == VIEWER_OFFICER:
        return roles.ROLE_LABELS.get(role or "", _l("工作人员"))
    return VIEWER_LABELS.get(actor_type, _l("其他"))
