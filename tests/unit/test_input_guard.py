"""Which characters the input guard refuses (webapp/web/input_guard.py), without a request."""
from __future__ import annotations

import pytest

from webapp.web.input_guard import hostile_line, hostile_text


@pytest.mark.parametrize(("value", "line", "text"), [
    ("张三 13900000001", False, False),
    ("扣留决定书\r\n第 1 号\t附页", True, False),   # a textarea's line breaks and a tab: only a value may carry them
    ("a\x00b", True, True),
    ("\x1b[31m", True, True),
    ("\x7f", True, True),
    ("\x0b\x0c", True, True),
    ("x\ud800", False, True),                     # a lone surrogate (only JSON can carry one)
    ("\U0010ffff\u202e\ufeff", False, False),     # odd but storable: not the guard's business
    ("%00", False, False),                        # the text "%00", not a NUL
])
def test_guard_refuses_control_characters_and_surrogates_but_not_line_breaks_in_values(value, line, text):
    assert (hostile_line(value), hostile_text(value)) == (line, text)
