"""Applying for, issuing and viewing travel IDs. Services add and flush; views commit."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp import geo
from webapp.audit import services as audit
from webapp.errors import DomainError, NotFound, QuotaExceeded
from webapp.lazytext import _l, joined
from webapp.proofing import services as proofing
from webapp.registry import services as registry
from webapp.registry.models import Citizen
from webapp.travel_id import rules
from webapp.travel_id.models import TravelCertificate

#: The 实人核验 purposes: applying for a certificate, and viewing one again after 30 minutes (重新核验).
PURPOSE_APPLY = "travel_id_apply"
PURPOSE_VIEW = "travel_id_view"


class LocationRequired(DomainError):
    code = "location_required"


class OutsideServiceArea(DomainError):
    code = "outside_service_area"


def used_this_month(session: Session, citizen_id: int, now: datetime) -> int:
    return session.scalar(
        select(func.count()).select_from(TravelCertificate).where(
            TravelCertificate.citizen_id == citizen_id, TravelCertificate.month_key == rules.month_key(now))
    ) or 0


def _quota_refusal() -> QuotaExceeded:
    return QuotaExceeded(_l("本月申请次数已达上限（每人每自然月 %(quota)s 次）。%(paper)s", quota=rules.MONTHLY_QUOTA,
                            paper=rules.PAPER_ROUTE))


def locate(lat, lon, service_cities: frozenset[str]) -> geo.Place:
    """Where the applicant is, and whether the service is offered there.

    :raises LocationRequired: no usable coordinates
    :raises OutsideServiceArea: the located city is not in the service area
    """
    try:
        la, lo = geo.parse_coordinates(lat, lon)
    except geo.BadCoordinates:
        raise LocationRequired(_l("申请需要开启定位权限。请在浏览器或系统设置中允许本网站使用位置信息，然后点击“重新定位”。")) from None
    place = geo.locate(la, lo)
    service_cities = frozenset(map(geo.short_name, service_cities))  # 广州市 in the setting means 广州 too
    if not place.in_china:
        raise OutsideServiceArea(_l("您当前所在地%(place)s。%(paper)s", place=place.label, paper=rules.PAPER_ROUTE))
    if not rules.in_service_area(place.city, place.country_code, service_cities):
        # City names stay Chinese in every language (place names).
        where = joined(sorted(service_cities)) if service_cities else _l("中国境内（不含港澳台地区）")
        raise OutsideServiceArea(_l("您当前所在地（%(place)s）暂未开通此服务，目前仅在%(where)s提供。%(paper)s",
                                    place=place.label, where=where, paper=rules.PAPER_ROUTE))
    return place


def check_applicant(session: Session, *, name: str, id_number: str, now: datetime) -> Citizen:
    """Everything that can be refused before 实人核验, in the order a person should hear it.

    :raises InvalidIdNumber: not a valid resident ID number (checked first)
    :raises IdentityMismatch: name and number are not a registry citizen
    :raises QuotaExceeded: this month's applications are used up (paper route)
    """
    citizen = registry.check_identity(session, id_number, name, now)
    if used_this_month(session, citizen.id, now) >= rules.MONTHLY_QUOTA:
        raise _quota_refusal()
    return citizen


def issue(session: Session, *, citizen: Citizen, lat: float, lon: float, city: str, now: datetime,
          user_id: int | None, challenge_public_id: str | None) -> TravelCertificate:
    """Issue a certificate, taking the next free quota slot of the citizen's month.

    Two applications racing for the same slot: the unique (citizen, month, slot) constraint lets one win;
    the other's savepoint rolls back and it tries the next slot, until the quota is used up. So exactly the
    remaining quota succeeds however many arrive at once (on PostgreSQL the loser waits on the unique index
    until the winner commits; SQLite serialises writers with BEGIN IMMEDIATE).

    :raises QuotaExceeded: no slot left this month
    """
    month = rules.month_key(now)
    for _attempt in range(rules.MONTHLY_QUOTA + 1):
        slot = used_this_month(session, citizen.id, now) + 1
        if slot > rules.MONTHLY_QUOTA:
            raise _quota_refusal()
        cert = TravelCertificate(
            public_id=secrets.token_urlsafe(12), citizen=citizen, applicant_user_id=user_id, month_key=month,
            slot=slot, issued_at=now, expires_at=rules.expires_at(now), status=rules.STATUS_VALID,
            latitude=lat, longitude=lon, located_city=city, challenge_public_id=challenge_public_id)
        try:
            with session.begin_nested():
                session.add(cert)
                session.flush()
        except IntegrityError:
            continue
        audit.record(session, "travel_id.issue", now, actor_type="user" if user_id else "public",
                     actor_id=user_id, subject_type="travel_certificate", subject_id=cert.id,
                     citizen_id=citizen.id, slot=slot, city=city)
        return cert
    raise _quota_refusal()


def applicant_of(session: Session, challenge_public_id: str) -> int:
    """The citizen a 实人核验 challenge of this flow was started for.

    :raises NotFound: no such challenge
    """
    return proofing.get(session, challenge_public_id).citizen_id


def issue_after_proofing(session: Session, challenge_public_id: str, *, citizen_id: int, lat: float, lon: float,
                         city: str, now: datetime, user_id: int | None) -> TravelCertificate:
    """The applicant came back from 实人核验: use the pass (once) and issue the certificate (:func:`issue`).

    :raises NotProven: no usable pass of this citizen for an application
    :raises QuotaExceeded: no slot left this month
    """
    proofing.consume(session, challenge_public_id, purpose=PURPOSE_APPLY, citizen_id=citizen_id, now=now)
    return issue(session, citizen=session.get(Citizen, citizen_id), lat=lat, lon=lon, city=city, now=now,
                 user_id=user_id, challenge_public_id=challenge_public_id)


def grant_view(session: Session, public_id: str, challenge_public_id: str, now: datetime) -> TravelCertificate:
    """重新核验 passed: use the pass (once) to view the certificate again.

    :raises NotFound: no such certificate
    :raises NotProven: no usable pass of the certificate's citizen for viewing it
    """
    cert = get(session, public_id)
    proofing.consume(session, challenge_public_id, purpose=PURPOSE_VIEW, citizen_id=cert.citizen_id, now=now)
    return cert


def get(session: Session, public_id: str) -> TravelCertificate:
    cert = session.scalar(select(TravelCertificate).where(TravelCertificate.public_id == public_id))
    if cert is None:
        raise NotFound(_l("未找到该临时乘车身份证明。"))
    return cert


def records(session: Session, citizen_id: int, now: datetime) -> list[TravelCertificate]:
    """申请记录: the citizen's certificates issued in the last month, newest first."""
    since = rules.records_since(now)
    return list(session.scalars(
        select(TravelCertificate).where(TravelCertificate.citizen_id == citizen_id,
                                        TravelCertificate.issued_at >= since)
        .order_by(TravelCertificate.issued_at.desc())))


def withdrawn_ids(session: Session, now: datetime) -> list[int]:
    """Row ids of certificates withdrawn (revoked) and not yet past their validity: what the signed status list
    names (an expired one needs no entry: its tokens carry the validity end)."""
    return list(session.scalars(select(TravelCertificate.id).where(
        TravelCertificate.status == rules.STATUS_REVOKED, TravelCertificate.expires_at > now)))
