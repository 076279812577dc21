"""Electronic driving licence rules (SPEC §5): eligibility, regions, review due time, photo replacement,
invalidation, and the machine-checkable portrait format. Pure functions and named constants; no I/O.

Dates and "working days" are in Beijing time (``webapp.timeutil.LOCAL_TZ``): a licence is valid on a
Beijing calendar day, and the review deadline is the end of a Beijing working day.
"""
from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Mapping

from webapp.lazytext import LazyText, _l, joined
from webapp.registry.rules import LICENCE_CLASSES, LICENCE_STATUS_NORMAL, LICENCE_STATUSES, licence_status_label
from webapp.timeutil import to_local
from webapp.workdays import is_workday, review_due  # noqa: F401 - part of this module's rules

# --- Eligibility ----------------------------------------------------------------------------------------
# What each blocking status means for the holder and what to do (the refusal names both).
STATUS_ADVICE: Mapping[str, str] = {
    "扣留": _l("驾驶证已被公安交管部门扣留，请按处罚决定接受处理，待驾驶证返还后再申领。"),
    "扣押": _l("驾驶证已被依法扣押，请到扣押机关接受处理，待驾驶证返还后再申领。"),
    "暂扣": _l("驾驶证处于暂扣期，暂扣期满并返还驾驶证后可申领。"),
    "吊销": _l("驾驶证已被吊销，不能申领电子驾驶证。吊销期满后可重新考领驾驶证。"),
    "撤销": _l("驾驶证已被撤销，不能申领电子驾驶证。如有疑问请到车管所咨询。"),
    "注销": _l("驾驶证已注销，不能申领电子驾驶证。如需驾驶，请到车管所办理恢复驾驶资格或重新考领。"),
    "逾期未换证": _l("驾驶证已超过有效期未换证，请先到车管所或通过“业务中心 → 驾驶证有效期满换证”办理换证。"),
    "逾期未体检": _l("驾驶证逾期未提交身体条件证明，请先到体检机构体检并提交身体条件证明。"),
    "逾期未审验": _l("驾驶证逾期未审验，请先到车管所办理审验（或参加满分学习）。"),
    "公告停止使用": _l("驾驶证已被公告停止使用，请到车管所办理相关业务后再申领。"),
}
BLOCKING_STATUSES = tuple(s for s in LICENCE_STATUSES if s != LICENCE_STATUS_NORMAL)
assert set(STATUS_ADVICE) == set(BLOCKING_STATUSES), "every blocking status needs its advice"

NO_RECORD = "no_record"
BAD_STATUS = "licence_status"
NOT_YET_VALID = "not_yet_valid"
EXPIRED = "expired"
OUTSIDE_REGION = "outside_region"


@dataclass(frozen=True)
class Refusal:
    """Why no e-licence can be issued (``code`` is stable) and what to do (``message`` is shown)."""

    code: str
    message: str


@dataclass(frozen=True)
class RecordFacts:
    """The licence record fields the rules look at (a registry LicenceRecord fits)."""

    status: str
    valid_from: date
    valid_until: date | None  # None = 长期
    issuing_authority: str


def eligibility(record: RecordFacts | None, today: date, cities: frozenset[str] | None) -> Refusal | None:
    """None if an e-licence may be issued for this record today, else the refusal.

    Order: no record, status, validity, region — the status first, because a seized licence is refused
    whatever its dates.

    :param today: the Beijing date
    :param cities: enabled cities (``enabled_cities``), None = nationwide
    """
    if record is None:
        return Refusal(NO_RECORD, _l("未查询到您名下的机动车驾驶证信息。如已取得驾驶证，请到车管所核实驾驶人信息。"))
    if record.status != LICENCE_STATUS_NORMAL:
        advice = STATUS_ADVICE.get(record.status, _l("请到车管所咨询处理。"))
        return Refusal(BAD_STATUS, _l("驾驶证状态为“%(status)s”，暂不能申领电子驾驶证。%(advice)s",
                                      status=licence_status_label(record.status), advice=advice))
    if today < record.valid_from:
        return Refusal(NOT_YET_VALID, _l("驾驶证自 %(date)s 起有效，请在生效后申领。",
                                         date=record.valid_from.strftime("%Y-%m-%d")))
    if record.valid_until is not None and today > record.valid_until:
        return Refusal(EXPIRED, _l("驾驶证已于 %(date)s 超过有效期，请先办理有效期满换证，换证后再申领电子驾驶证。",
                                   date=record.valid_until.strftime("%Y-%m-%d")))
    if not in_region(record.issuing_authority, cities):
        city = licence_city(record.issuing_authority) or record.issuing_authority
        # City names stay Chinese in every language (place names).
        return Refusal(OUTSIDE_REGION, _l("您的驾驶证核发地（%(city)s）暂未开通电子驾驶证，开通后即可申领。开通城市：%(cities)s。",
                                          city=city, cities="、".join(sorted(cities or ()))))
    return None


def is_within_validity(valid_from: date, valid_until: date | None, today: date) -> bool:
    return valid_from <= today and (valid_until is None or today <= valid_until)


def usable(status: str, valid_from: date, valid_until: date | None, today: date) -> bool:
    """Whether a record may be shown as a valid licence today (status 正常 and within validity)."""
    return status == LICENCE_STATUS_NORMAL and is_within_validity(valid_from, valid_until, today)


# --- Regions --------------------------------------------------------------------------------------------
PILOT_CITIES = ("天津", "成都", "苏州")  # 2019 pilot
CITIES_2021_09 = (  # the 28 cities of September 2021 (SPEC §5.2)
    "北京", "天津", "石家庄", "长春", "大庆", "上海", "无锡", "苏州", "盐城", "泰州", "宁波", "嘉兴",
    "南昌", "济南", "青岛", "长沙", "广州", "深圳", "南宁", "重庆", "成都", "绵阳", "自贡", "南充",
    "贵阳", "昆明", "西安", "银川",
)
NATIONWIDE = "nationwide"
REGION_PRESETS: Mapping[str, tuple[str, ...] | None] = {
    NATIONWIDE: None, "pilot3": PILOT_CITIES, "cities28": CITIES_2021_09,
}
DEFAULT_REGIONS = NATIONWIDE
_MUNICIPALITIES = ("北京", "天津", "上海", "重庆")
_CITY_RE = re.compile(r"^(?:.+?(?:省|自治区))?(?P<city>[\u4e00-\u9fff]{2,8}?)(?:市|自治州|地区|盟)")


def enabled_cities(setting: str | None) -> frozenset[str] | None:
    """The cities of SUISHEN_LICENCE_REGIONS: a preset name or a comma list of city names; None = nationwide.

    :raises ValueError: an empty list
    """
    raw = (setting or DEFAULT_REGIONS).strip()
    if raw in REGION_PRESETS:
        preset = REGION_PRESETS[raw]
        return None if preset is None else frozenset(preset)
    cities = frozenset(c.strip().removesuffix("市") for c in re.split(r"[,，、]", raw) if c.strip())
    if not cities:
        raise ValueError("SUISHEN_LICENCE_REGIONS: give nationwide, pilot3, cities28 or a comma list of cities")
    return cities


def licence_city(issuing_authority: str) -> str | None:
    """The city of an issuing authority: "广东省广州市公安局交通警察支队" → "广州", "北京市公安局…" → "北京"."""
    text = (issuing_authority or "").strip()
    for city in _MUNICIPALITIES:
        if text.startswith(city):
            return city
    match = _CITY_RE.match(text)
    return match.group("city") if match else None


def in_region(issuing_authority: str, cities: frozenset[str] | None) -> bool:
    return cities is None or licence_city(issuing_authority) in cities


# --- Review due time: webapp.workdays (identity reviews use the same rule) ------------------------------


# --- Photo ----------------------------------------------------------------------------------------------
PHOTO_SYSTEM = "system"  # the registry portrait on file
PHOTO_ALBUM = "album"    # an uploaded picture
PHOTO_CAMERA = "camera"  # a shot taken with the phone camera
PHOTO_SOURCES = (PHOTO_SYSTEM, PHOTO_ALBUM, PHOTO_CAMERA)
PHOTO_SOURCE_LABELS = {PHOTO_SYSTEM: _l("系统照片"), PHOTO_ALBUM: _l("相册照片"), PHOTO_CAMERA: _l("拍摄照片")}
PHOTO_REPLACE_MONTHS = 6


def add_months(instant: datetime, months: int) -> datetime:
    """The same Beijing wall time ``months`` calendar months later (31 Mar + 6 → 30 Sep: clamped to month end)."""
    local = to_local(instant)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(timezone.utc)


def photo_replaceable_from(source: str, photo_changed_at: datetime | None, issued_at: datetime) -> datetime:
    """From when the photo may be replaced: at once after an application with the system photo (never
    replaced since); otherwise 6 calendar months after the last camera/album photo or replacement."""
    if source == PHOTO_SYSTEM and photo_changed_at is None:
        return issued_at
    return add_months(photo_changed_at or issued_at, PHOTO_REPLACE_MONTHS)


# --- Invalidation ---------------------------------------------------------------------------------------
# A renewal changes the validity, a class change (增驾/降级) the class, a transfer (转籍) the issuing authority:
# each makes the e-licence stale (SPEC §5.3), and the holder must re-apply.
SNAPSHOT_FIELDS = ("licence_class", "valid_from", "valid_until", "issuing_authority")
FIELD_LABELS = {"licence_class": _l("准驾车型"), "valid_from": _l("有效期"), "valid_until": _l("有效期"),
                "issuing_authority": _l("发证机关")}


def changed_fields(snapshot: Mapping[str, object], record: Mapping[str, object]) -> list[str]:
    """The snapshot fields whose value in the record differs from the e-licence's copy."""
    return [name for name in SNAPSHOT_FIELDS if snapshot.get(name) != record.get(name)]


def invalidation_message(fields: list[str]) -> LazyText:
    labels = dict.fromkeys(FIELD_LABELS[f] for f in fields)  # 有效期 once for both of its dates
    return _l("驾驶证%(what)s已变更，原电子驾驶证已失效，请重新申领。", what=joined(labels))


# --- Portrait format (32 × 22 mm, "1 inch small") --------------------------------------------------------
PHOTO_HEIGHT_MM = 32.0
PHOTO_WIDTH_MM = 22.0
HEAD_HEIGHT_MM = (19.0, 22.0)
HEAD_WIDTH_MM = (14.0, 16.0)
# The detector cannot see hair and ears exactly: accept 1 mm either side of the width range.
HEAD_WIDTH_TOLERANCE_MM = 1.0
# Head heights tried when cropping, preferred first: the middle of the range, then larger, then smaller.
CROP_HEAD_HEIGHTS_MM = (20.5, 21.0, 21.5, 22.0, 20.0, 19.5, 19.0)
TOP_MARGIN_MM = 2.0           # background above the head
# Head height (crown to chin) from the landmarks' brow-to-chin distance (calibrated on frontal portraits).
HEAD_PER_BROW_CHIN = 1.55
MIN_CROP_HEIGHT_PX = 378      # 32 mm at 300 dpi
STORED_SIZE_PX = (330, 480)   # (width, height) of the stored licence photo, 22:32
BACKGROUND_MIN_LUMA = 90.0    # light-to-mid plain background (a studio grey passes, a dark room does not)
BACKGROUND_MAX_STD = 30.0     # plain: little texture
MIN_COLOURFULNESS = 6.0       # mean |R-G|+|G-B| of the face; a black-and-white photo is ~0

CHECK_MESSAGES = {
    "bad_image": _l("无法识别该图片，请上传 JPEG、PNG 或 WebP 格式的照片。"),
    "too_large": _l("照片文件过大，请上传 10 MB 以内的照片。"),
    "no_face": _l("照片中未检测到人脸，请上传本人正面免冠照片。"),
    "several_faces": _l("照片中有多个人，请上传仅有本人的单人照片。"),
    "not_same_person": _l("照片与公安人口库中的本人照片不一致，请上传本人照片。"),
    "proportions": _l("头部在照片中的位置或比例不符合 32×22 mm 证件照要求（头部高 19–22 mm、宽 14–16 mm，"
                   "头顶和两侧须留出背景），请正对镜头、与镜头保持适当距离后重拍。"),
    "resolution": _l("照片分辨率过低，头部区域不足以制作证件照，请使用更清晰的照片。"),
    "background": _l("照片背景须为浅色纯色（建议白色），请在浅色墙面前重拍。"),
    "colour": _l("照片须为彩色照片，不能使用黑白照片。"),
}


def head_width_ok(width_mm: float) -> bool:
    low, high = HEAD_WIDTH_MM
    return low - HEAD_WIDTH_TOLERANCE_MM <= width_mm <= high + HEAD_WIDTH_TOLERANCE_MM


@dataclass(frozen=True)
class Crop:
    top: int
    left: int
    height: int
    width: int
    head_height_mm: float
    head_width_mm: float


def plan_crop(image_size: tuple[int, int], chin_y: float, brow_y: float, jaw_left: float, jaw_right: float
              ) -> Crop | None:
    """A 22:32 crop around the head that gives a 19–22 mm head with 2 mm of background above it, or None
    when no such crop fits inside the picture.

    :param image_size: (height, width) in pixels
    """
    height, width = image_size
    head_h = HEAD_PER_BROW_CHIN * (chin_y - brow_y)
    head_top = chin_y - head_h
    centre_x = (jaw_left + jaw_right) / 2
    for head_mm in CROP_HEAD_HEIGHTS_MM:
        crop_h = head_h * PHOTO_HEIGHT_MM / head_mm
        crop_w = crop_h * PHOTO_WIDTH_MM / PHOTO_HEIGHT_MM
        top = head_top - TOP_MARGIN_MM / PHOTO_HEIGHT_MM * crop_h
        left = centre_x - crop_w / 2
        if top >= 0 and left >= 0 and top + crop_h <= height and left + crop_w <= width:
            px_per_mm = crop_h / PHOTO_HEIGHT_MM
            return Crop(top=round(top), left=round(left), height=round(crop_h), width=round(crop_w),
                        head_height_mm=head_mm, head_width_mm=(jaw_right - jaw_left) / px_per_mm)
    return None


# 准驾车型代号规定 (GA/T 驾驶证式样, abridged): printed on the back page.
CLASS_RULES = {
    "A1": _l("大型客车，准驾 A3、B1、B2、C1、C2、C3、C4、M"),
    "A2": _l("重型牵引挂车，准驾 B1、B2、C1、C2、C3、C4、C6、M"),
    "A3": _l("城市公交车，准驾 C1、C2、C3、C4"),
    "B1": _l("中型客车，准驾 C1、C2、C3、C4、M"),
    "B2": _l("大型货车，准驾 C1、C2、C3、C4、M"),
    "C1": _l("小型汽车，准驾 C2、C3"),
    "C2": _l("小型自动挡汽车"),
    "C3": _l("低速载货汽车，准驾 C4"),
    "C4": _l("三轮汽车"),
    "C5": _l("残疾人专用小型自动挡载客汽车"),
    "C6": _l("轻型牵引挂车"),
    "D": _l("普通三轮摩托车，准驾 E、F"),
    "E": _l("普通二轮摩托车，准驾 F"),
    "F": _l("轻便摩托车"),
    "M": _l("轮式专用机械车"),
    "N": _l("无轨电车"),
    "P": _l("有轨电车"),
}
assert set(CLASS_RULES) == set(LICENCE_CLASSES)


def class_rules(licence_class: str) -> list[tuple[str, str]]:
    """The 准驾车型 rows a licence of ``licence_class`` (e.g. "A2D") prints on its back page, in the table's order."""
    return [(code, CLASS_RULES[code]) for code in CLASS_RULES if code in licence_class]
