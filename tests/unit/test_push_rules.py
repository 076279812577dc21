"""Web Push endpoint rules (issue 12, SPEC §8): which URLs and which resolved addresses a push may go to. Pure: no
DNS, no sockets."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from webapp.notify import rules

DEFAULT = rules.PushEndpointPolicy()
ANY_HOST = rules.PushEndpointPolicy(allowed_hosts=())


@pytest.mark.parametrize("endpoint,host", [
    ("https://fcm.googleapis.com/fcm/send/abc:APA91b", "fcm.googleapis.com"),
    ("https://fcm.googleapis.com/wp/abc", "fcm.googleapis.com"),
    ("https://updates.push.services.mozilla.com/wpush/v2/gAAAAA", "updates.push.services.mozilla.com"),
    ("https://web.push.apple.com/QGxuZ", "web.push.apple.com"),
    ("https://wns2-par02p.notify.windows.com/w/?token=BQYAAA", "wns2-par02p.notify.windows.com"),
    ("https://FCM.googleapis.com./fcm/send/x", "fcm.googleapis.com"),     # case and the root dot
    ("https://fcm.googleapis.com:443/fcm/send/x", "fcm.googleapis.com"),
])
def test_the_push_services_browsers_use_are_accepted(endpoint, host):
    assert rules.push_target(endpoint, DEFAULT) == rules.PushTarget("https", host, 443)


@pytest.mark.parametrize("endpoint,reason", [
    ("http://fcm.googleapis.com/x", "scheme"),
    ("ftp://fcm.googleapis.com/x", "scheme"),
    ("https://fcm.googleapis.com:8443/x", "port"),
    ("https://fcm.googleapis.com:0/x", "port"),
    ("https://fcm.googleapis.com:99999/x", "unparsable"),
    ("https://user@fcm.googleapis.com/x", "userinfo"),
    ("https://u:p@fcm.googleapis.com/x", "userinfo"),
    ("https://fcm.googleapis.com@127.0.0.1/x", "userinfo"),
    ("https://fcm.googleapis.com/x#frag", "fragment"),
    ("https://fcm.googleapis.com/ x", "control"),
    ("https://fcm.googleapis.com/\r\nX: y", "control"),
    ("https://fcm.googleapis.com\\@127.0.0.1/x", "control"),
    ("https://a.b", "length"),
    ("https://fcm.googleapis.com/" + "x" * 1000, "length"),
    ("https://push.apple.com/x", "allow-list"),                # "*.push.apple.com" is sub-domains only
    ("https://evilfcm.googleapis.com/x", "allow-list"),
    ("https://fcm.googleapis.com.evil.example/x", "allow-list"),
    ("https://notify.windows.com.evil.example/x", "allow-list"),
    ("https://127.0.0.1/x", "allow-list"),
    ("https://[::1]/x", "allow-list"),
    ("https:///fcm/send/x", "no host"),
    ("https://localhost/x", "host syntax"),
    ("https://2130706433/x", "host syntax"),
    ("https://0x7f.0.0.1/x", "host syntax"),
    ("https://127.1/x", "host syntax"),
    ("https://0177.0.0.1/x", "host syntax"),
    ("https://a_b.example.com/x", "host syntax"),
])
def test_endpoints_the_policy_refuses_say_why(endpoint, reason):
    with pytest.raises(rules.BadPushEndpoint) as refused:
        rules.push_target(endpoint, DEFAULT)
    assert reason in refused.value.reason
    assert "推送订阅无效" in str(refused.value)


@pytest.mark.parametrize("endpoint", ["https://127.0.0.1/x", "https://10.1.2.3/x", "https://[::1]/x",
                                      "https://[::ffff:192.168.0.1]/x", "https://169.254.169.254/latest",
                                      "https://[fe80::1%25eth0]/x", "https://100.64.0.1/x", "https://0.0.0.0/x"])
def test_without_the_allow_list_ip_literals_must_be_public(endpoint):
    with pytest.raises(rules.BadPushEndpoint) as refused:
        rules.push_target(endpoint, ANY_HOST)
    assert "not public" in refused.value.reason


def test_without_the_allow_list_a_public_name_or_address_passes_the_url_check():
    assert rules.push_target("https://push.example.org/x", ANY_HOST).host == "push.example.org"
    assert rules.push_target("https://[2606:4700::1111]/x", ANY_HOST).host == "2606:4700::1111"


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",
    "100.64.0.1", "100.127.255.254", "224.0.0.1", "233.252.0.1", "239.255.255.250", "240.0.0.1",
    "255.255.255.255", "192.0.2.1", "198.18.0.1", "198.51.100.1", "203.0.113.1",
    "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "ff0e::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::1", "2002:a00:1::",
    "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::1", "2001::1", "2001:db8::1", "100::1", "not an address",
])
def test_non_public_addresses_are_refused(address):
    assert not rules.is_public_address(address)


@pytest.mark.parametrize("address", ["142.250.72.10", "17.253.1.1", "8.8.8.8", "2607:f8b0:4005:80b::200a",
                                     "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"])
def test_global_unicast_addresses_are_public(address):
    assert rules.is_public_address(address)


def test_every_resolved_address_must_be_public_and_the_first_is_the_one_connected_to():
    target = rules.PushTarget("https", "fcm.googleapis.com", 443)
    assert rules.check_push_addresses(target, ["142.250.72.10", "2607:f8b0::1"], DEFAULT) == "142.250.72.10"
    for answer in (["142.250.72.10", "127.0.0.1"], ["10.0.0.1", "142.250.72.10"], []):
        with pytest.raises(rules.BadPushEndpoint):
            rules.check_push_addresses(target, answer, DEFAULT)
    loopback_allowed = rules.PushEndpointPolicy(public_only=False)
    assert rules.check_push_addresses(target, ["127.0.0.1"], loopback_allowed) == "127.0.0.1"


def test_the_allow_list_setting_is_read_as_a_comma_list():
    assert rules.PushEndpointPolicy.from_config({}).allowed_hosts == rules.DEFAULT_PUSH_HOSTS
    assert rules.PushEndpointPolicy.from_config({"SUISHEN_PUSH_ALLOWED_HOSTS": " A.example.com. , *.b.org,"}
                                                ).allowed_hosts == ("a.example.com", "*.b.org")
    assert rules.PushEndpointPolicy.from_config({"SUISHEN_PUSH_ALLOWED_HOSTS": ""}).allowed_hosts == ()


# --- Properties -----------------------------------------------------------------------------------------------
PRIVATE_V4 = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
                                                   "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16",
                                                   "224.0.0.0/4", "240.0.0.0/4")]


@given(st.sampled_from(PRIVATE_V4), st.integers(min_value=0, max_value=2 ** 32 - 1))
def test_any_address_in_a_non_public_ipv4_range_is_refused_in_every_spelling(network, n):
    address = network[n % network.num_addresses]
    assert not rules.is_public_address(str(address))
    assert not rules.is_public_address(f"::ffff:{address}")                               # IPv4-mapped
    assert not rules.is_public_address(str(ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80))))  # 6to4
    assert not rules.is_public_address(str(ipaddress.IPv6Address(int(ipaddress.ip_address("64:ff9b::"))
                                                                 | int(address))))            # NAT64


@given(st.integers(min_value=0, max_value=2 ** 32 - 1))
def test_an_ipv4_address_and_its_mapped_ipv6_form_get_the_same_answer(n):
    address = ipaddress.IPv4Address(n)
    assert rules.is_public_address(str(address)) == rules.is_public_address(f"::ffff:{address}")


@given(st.text(max_size=300))
@example("https://[::1")
@example("https://fcm.googleapis.com:-1/x")
@example("https://\u0661\u0662\u0667.0.0.1/x")
def test_any_text_either_parses_to_an_allowed_host_or_is_refused_with_bad_push_endpoint(text):
    for endpoint in (text, "https://" + text):
        try:
            target = rules.push_target(endpoint, DEFAULT)
        except rules.BadPushEndpoint as refused:
            assert str(refused).startswith("推送订阅无效")
        else:
            assert target.scheme == "https" and target.port == 443
            assert rules.host_allowed(target.host, rules.DEFAULT_PUSH_HOSTS)
