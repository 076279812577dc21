"""Safe-next: where a page may send the browser after it (sign-in, settings, 实人核验's next and fallback links)."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import request

_UNSAFE_IN_NEXT = re.compile(r"[\x00-\x20\x7f\\]")


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths may be used as a post-login redirect (microblog's netloc guard).

    No control character, space or backslash at all: browsers drop tab/CR/LF from a URL (``/\t/evil.example``
    becomes ``//evil.example``) and read ``\\`` as ``/``, and CR/LF in a Location header is refused by Werkzeug
    (a 500). No scheme and no host: ``//host``, ``https://host``, ``javascript:``.
    """
    if not target or not target.startswith("/") or target.startswith("//") or _UNSAFE_IN_NEXT.search(target):
        return False
    parts = urlsplit(target)
    return parts.netloc == "" and parts.scheme == ""


def safe(url: str | None) -> str | None:
    """``url`` if it is a safe same-site path, else None."""
    return url if url and is_safe_next(url) else None


def next_target(default: str) -> str:
    """The request's ``next`` (query or form) if it is safe, else ``default``."""
    return safe(request.args.get("next") or request.form.get("next")) or default
