import pytest

from webapp.accounts import rules


@pytest.mark.parametrize("password, ok", [("abc12345", True), ("abc1234", False), ("abcdefgh", False),
                                          ("12345678", False), ("a1" * 32, True), ("a1" * 32 + "x", False)])
def test_password_policy_when_length_and_mix_vary(password, ok):
    assert (rules.password_problem(password) is None) is ok


@pytest.mark.parametrize("target, ok", [
    ("/account/", True), ("/travel-id/?a=1", True), (None, False), ("", False),
    ("https://evil.example/", False), ("//evil.example/x", False), ("/\\evil.example", False),
    ("javascript:alert(1)", False), ("account", False),
])
def test_next_is_only_accepted_when_it_is_a_local_path(target, ok):
    assert rules.is_safe_next(target) is ok
