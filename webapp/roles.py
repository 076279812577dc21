"""Staff roles: who an officer account is, which officer pages it may open (each domain names the roles of its
own routes with ``web.auth.officer_required``) and what it sees of a scanned credential
(``verification.rules.VIEWER_FIELDS``). A vocabulary, no I/O: the officer domain stores it, everyone else reads it."""
from __future__ import annotations

from webapp.lazytext import _l

ROLE_RAILWAY = "railway"    # 铁路工作人员: verify travel IDs
ROLE_POLICE = "police"      # 车站公安（公安制证窗口）: verify both, issue the paper certificate
ROLE_TRAFFIC = "traffic"    # 交警: verify e-licences
ROLE_REVIEWER = "reviewer"  # 审核员: back-office reviews
ROLE_ADMIN = "admin"        # 管理员
ROLES = (ROLE_RAILWAY, ROLE_POLICE, ROLE_TRAFFIC, ROLE_REVIEWER, ROLE_ADMIN)
ROLE_LABELS = {
    ROLE_RAILWAY: _l("铁路工作人员"),
    ROLE_POLICE: _l("车站公安"),
    ROLE_TRAFFIC: _l("交警"),
    ROLE_REVIEWER: _l("审核员"),
    ROLE_ADMIN: _l("管理员"),
}

# Who may use the scan page / verify with an officer session, and who may record paper certificates.
SCAN_ROLES = (ROLE_RAILWAY, ROLE_POLICE, ROLE_TRAFFIC)
PAPER_ROLES = (ROLE_POLICE,)
ALL_ROLES = ROLES
