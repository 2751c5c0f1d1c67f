"""Webhook targets: only public addresses, whatever the spelling of the host (unit tests of the check)."""

from __future__ import annotations

import ipaddress

import pytest

from services.notifications.webhooks.ssrf import TargetPolicy, UnsafeTarget, address_refusal, check_target

HTTP_ALLOWED = TargetPolicy(allow_http=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://192.168.1.20:8080/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://localhost/hook",
        "http://0x7f000001/hook",  # hexadecimal spelling of 127.0.0.1
        "http://2130706433/hook",  # decimal spelling of 127.0.0.1
        "http://127.1/hook",  # short spelling of 127.0.0.1
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
        "http://[::ffff:a9fe:a9fe]/hook",  # 169.254.169.254, mapped
        "http://100.64.0.1/hook",  # CGNAT
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
    ],
)
async def test_non_public_targets_are_refused_with_a_french_reason(url):
    with pytest.raises(UnsafeTarget, match="protection SSRF"):
        await check_target(url, HTTP_ALLOWED)


async def test_the_reason_names_the_host_and_the_address_it_resolves_to():
    with pytest.raises(UnsafeTarget) as refused:
        await check_target("http://0x7f000001/hook", HTTP_ALLOWED)
    assert "« 0x7f000001 » (127.0.0.1)" in str(refused.value)
    assert "bouclage" in str(refused.value)


async def test_https_is_required_unless_the_settings_allow_http():
    with pytest.raises(UnsafeTarget, match="https://"):
        await check_target("http://93.184.216.34/hook", TargetPolicy())
    checked = await check_target("http://93.184.216.34/hook", HTTP_ALLOWED)
    assert checked.addresses == (ipaddress.ip_address("93.184.216.34"),)
    assert (checked.scheme, checked.port) == ("http", 80)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.216.34/x",
        "https://user:pw@93.184.216.34/x",
        "https:///x",
        "https://93.184.216.34:99999/x",
        "https://name.invalid/x",
    ],
)
async def test_other_unusable_urls_are_refused(url):
    with pytest.raises(UnsafeTarget):
        await check_target(url, TargetPolicy())


async def test_a_public_address_passes_and_keeps_its_port():
    checked = await check_target("https://93.184.216.34:8443/hooks?x=1", TargetPolicy())
    assert (checked.host, checked.port, checked.scheme) == ("93.184.216.34", 8443, "https")


async def test_the_allow_private_setting_lets_a_local_receiver_through():
    checked = await check_target("http://127.0.0.1:9/hook", TargetPolicy(allow_http=True, allow_private=True))
    assert checked.addresses == (ipaddress.ip_address("127.0.0.1"),)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses_have_no_refusal(address):
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["64:ff9b::a00:1", "2002:0a00:0001::1", "::", "::ffff:0:0"])
def test_ipv6_forms_that_carry_a_private_ipv4_address_are_refused(address):
    assert address_refusal(ipaddress.ip_address(address)) is not None
