"""Rules of the electronic temporary travel ID (电子临时乘车身份证明), SPEC §4. No I/O.

"Monthly" means the natural calendar month in China Standard Time (Asia/Shanghai): the quota of the
month turns at 00:00 Beijing time on the 1st, whatever the server's own zone.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from webapp.lazytext import _l
from webapp.registry.rules import age_on
from webapp.signing.rules import TICKET_CODES, TokenTimes
from webapp.timeutil import LOCAL_TZ, local_date, to_local

MONTHLY_QUOTA = 3                        # successful applications per ID number per natural month
VALIDITY = timedelta(hours=24)           # from issue
REVERIFY_AFTER = timedelta(minutes=30)   # on the QR page, then 实人核验 again (not counted)
RECORDS_PERIOD_MONTHS = 1                # 申请记录 shows the last month
PAPER_ROUTE = _l("请前往车站的公安制证窗口办理纸质临时乘车身份证明。")

STATUS_VALID = "valid"
STATUS_REVOKED = "revoked"
STATUS_LABELS = {"valid": _l("有效"), "expired": _l("已过期"), "revoked": _l("已作废")}


def month_key(instant: datetime) -> str:
    """The quota month of an instant, e.g. "2026-11" (Asia/Shanghai calendar)."""
    return to_local(instant).strftime("%Y-%m")


def expires_at(issued_at: datetime) -> datetime:
    return issued_at + VALIDITY


def state(status: str, expires: datetime, now: datetime) -> str:
    """valid / expired / revoked. Valid up to but not including the expiry instant."""
    if status == STATUS_REVOKED:
        return STATUS_REVOKED
    return "valid" if now < expires else "expired"


def needs_reverify(granted_at: datetime | None, now: datetime) -> bool:
    """True when the QR page was opened without a grant or the grant is 30 minutes old."""
    return granted_at is None or now - granted_at >= REVERIFY_AFTER


REVERIFY_AFTER_30_MINUTES = _l("距上次实人核验已超过 30 分钟，为保障安全，请重新进行实人核验后出示（不占用申请次数）。")
REVERIFY_IN_NEW_BROWSER = (_l("本浏览器还没有核验过您的身份（如换了手机或浏览器、退出了登录、清除了浏览数据），"
                           "请先进行实人核验再查看（不占用申请次数）。"))


def reverify_reason(granted_at: datetime | None, now: datetime) -> str | None:
    """Why the QR page asks for 实人核验 again, in words for the person (None: it does not, the grant holds)."""
    if granted_at is None:
        return REVERIFY_IN_NEW_BROWSER
    return REVERIFY_AFTER_30_MINUTES if needs_reverify(granted_at, now) else None


def records_since(now: datetime) -> datetime:
    """Start of the 申请记录 period: the same local day and time one calendar month earlier."""
    local = to_local(now)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    day = min(local.day, _days_in_month(year, month))
    return local.replace(year=year, month=month, day=day)


def _days_in_month(year: int, month: int) -> int:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


# --- Children and tickets (shown to staff when they verify a passenger) ---------------------------------
FREE_UNDER = 6     # under 6 and not taking a seat: free, one per paying adult
CHILD_UNDER = 14   # 6 to under 14: child ticket (50 % of fare and supplements)

TICKET_FREE = "free"
TICKET_CHILD = "child"
TICKET_FULL = "full"
TICKET_LABELS = {
    TICKET_FREE: _l("免费乘车儿童（不满 6 周岁，不单独占用席位；每名成年旅客可免费携带一名）"),
    TICKET_CHILD: _l("儿童优惠票（6 周岁至不满 14 周岁，票价及附加票价的 50%）"),
    TICKET_FULL: _l("全价票（14 周岁及以上）"),
}


@dataclass(frozen=True)
class TicketCategory:
    code: str
    age: int

    @property
    def label(self) -> str:
        return TICKET_LABELS[self.code]


def ticket_category(birth: date, travel_date: date) -> TicketCategory:
    """Age on the travel date decides: under 6 free (no seat), 6 to under 14 child ticket, else full fare."""
    age = age_on(birth, travel_date)
    if age < FREE_UNDER:
        return TicketCategory(TICKET_FREE, age)
    if age < CHILD_UNDER:
        return TicketCategory(TICKET_CHILD, age)
    return TicketCategory(TICKET_FULL, age)


def free_children_allowed(paying_adults: int, children_under_six: int) -> tuple[int, int]:
    """Split under-6 children into (free, needing a child ticket): one free child per paying adult."""
    free = min(children_under_six, max(paying_adults, 0))
    return free, children_under_six - free


def in_service_area(city: str | None, country_code: str | None, cities: frozenset[str]) -> bool:
    """Nationwide (empty set) means anywhere in mainland China; otherwise the located city must be listed."""
    if country_code != "CN":
        return False
    return not cities or (city is not None and city in cities)


def ticket_over(birth: date, times: TokenTimes) -> tuple[tuple[str, ...], datetime | None]:
    """The ticket category by age on the travel date for every local date a signed token lives in (two at most):
    one category, or the two and the midnight between them when a birthday changes it (what its claim says)."""
    first = local_date(datetime.fromtimestamp(times.nbf, UTC))
    last = local_date(datetime.fromtimestamp(times.exp, UTC))
    before = ticket_category(birth, first).code
    after = ticket_category(birth, last).code
    if before == after:
        return (before,), None
    return (before, after), datetime.combine(last, time(0), LOCAL_TZ).astimezone(UTC)


# The signed token carries the ticket category as a code of its own (webapp.signing.rules).
assert set(TICKET_CODES) == {TICKET_FREE, TICKET_CHILD, TICKET_FULL}
