"""WS-Discovery: the pure probe/answer handling, and a real probe of PyPI ipycam inside a
loopback-only namespace (never on the machine's network)."""

from __future__ import annotations

import json

import pytest

from nvr.errors import UserError
from nvr.onvif.discovery import (
    build_probe,
    discover,
    interface_ipv4,
    parse_probe_matches,
    scope_value,
)
from tests.onvif.conftest import RunInNetns, StartIpycam
from tests.support.netns import Netns

SPEC_MATCH = b"""<?xml version="1.0"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
 xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">
 <s:Header><a:RelatesTo>urn:uuid:1</a:RelatesTo></s:Header>
 <s:Body><d:ProbeMatches><d:ProbeMatch>
  <a:EndpointReference><a:Address>urn:uuid:cam-1</a:Address></a:EndpointReference>
  <d:Types>dn:NetworkVideoTransmitter</d:Types>
  <d:Scopes>onvif://www.onvif.org/name/Front%20Door onvif://www.onvif.org/hardware/DB1
   onvif://www.onvif.org/type/video_encoder</d:Scopes>
  <d:XAddrs>http://192.0.2.10/onvif/device_service http://[2001:db8::1]/onvif/device_service</d:XAddrs>
 </d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"""


def test_probe_asks_for_video_transmitters_with_our_message_id() -> None:
    probe = build_probe("urn:uuid:abc").decode()
    assert "<a:MessageID>urn:uuid:abc</a:MessageID>" in probe
    assert "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe<" in probe
    assert "dn:NetworkVideoTransmitter" in probe


def test_spec_probe_match_is_parsed_with_name_and_hardware() -> None:
    [device] = parse_probe_matches(SPEC_MATCH)
    assert device.address == "urn:uuid:cam-1"
    assert device.xaddrs[0] == "http://192.0.2.10/onvif/device_service"
    assert len(device.xaddrs) == 2
    assert device.name == "Front Door"
    assert device.hardware == "DB1"


@pytest.mark.parametrize(
    "datagram",
    [
        b"not xml",
        b"<x/>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        SPEC_MATCH.replace(b"<!--", b"")
        .replace(b"http://192.0.2.10/onvif/device_service", b"")
        .replace(b"http://[2001:db8::1]/onvif/device_service", b""),
    ],
)
def test_junk_and_dtds_and_matches_without_xaddrs_are_ignored(datagram: bytes) -> None:
    assert parse_probe_matches(datagram) == []


def test_scope_value_decodes_and_ignores_other_kinds() -> None:
    scopes = ("onvif://www.onvif.org/name/A%2FB", "onvif://www.onvif.org/location/x")
    assert scope_value(scopes, "name") == "A/B"
    assert scope_value(scopes, "hardware") is None


@pytest.mark.parametrize("name", ["nosuch-if0", "", "a/b", "x" * 20])
def test_unknown_interface_is_a_user_error_and_nothing_is_sent(name: str) -> None:
    with pytest.raises(UserError, match="interface"):
        interface_ipv4(name)


async def test_discover_refuses_an_unknown_interface() -> None:
    with pytest.raises(UserError, match="no network interface named 'nosuch-if0'"):
        await discover("nosuch-if0", 0.2)


@pytest.mark.netns
def test_discovery_finds_ipycam_inside_the_namespace(
    netns: Netns, ipycam_factory: StartIpycam, run_in_netns: RunInNetns
) -> None:
    port = ipycam_factory(netns)
    code, out, err = run_in_netns(netns, "discover", "lo", "2")
    assert code == 0, err
    devices = json.loads(out)
    assert [d["name"] for d in devices] == ["PorchTestCam"]
    assert devices[0]["xaddrs"] == [f"http://127.0.0.1:{port}/onvif/device_service"]
    assert "onvif://www.onvif.org/Profile/Streaming" in devices[0]["scopes"]


@pytest.mark.netns
def test_discover_command_lists_ipycam_and_says_how_to_add_it(
    netns: Netns, ipycam_factory: StartIpycam, run_in_netns: RunInNetns
) -> None:
    port = ipycam_factory(netns)
    code, out, err = run_in_netns(netns, "cli", "--interface", "lo", "--timeout", "1.5")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"http://127.0.0.1:{port}/onvif/device_service  name=PorchTestCam"
    assert lines[1].startswith("1 camera(s). Add one with: nvr cameras add --onvif")


@pytest.mark.netns
def test_discover_command_with_no_camera_and_with_a_bad_interface(
    netns: Netns, run_in_netns: RunInNetns
) -> None:
    code, out, _ = run_in_netns(netns, "cli", "--interface", "lo", "--timeout", "0.5")
    assert (code, out) == (0, "No ONVIF camera answered on lo within 0.5 s.\n")
    code, out, err = run_in_netns(netns, "cli", "--interface", "eth9")
    assert code == 1
    assert err.splitlines()[0] == "nvr: error: no network interface named 'eth9'"
    assert err.splitlines()[1].startswith("nvr: hint: list them with `ip -brief address`")
