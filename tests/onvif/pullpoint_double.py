"""A PullPoint event camera on 127.0.0.1 for the ONVIF event tests (see TESTING.md).

No installable device offers ONVIF events here, so this double answers exactly the SOAP
operations the client sends, and nothing else:

- device service: GetServices, GetCapabilities, GetDeviceInformation, GetSystemDateAndTime;
- media service, only when made with ``stream_uri=``: GetProfiles (one profile) and
  GetStreamUri (that URI), so the service can resolve the camera's stream through it;
- event service: CreatePullPointSubscription;
- each subscription: PullMessages (a real long poll), Renew, Unsubscribe.

It does not hand-write response XML: every response body is rendered by zeep from the
WSDL/XSD files onvif-zeep-async ships (``onvif/wsdl/devicemgmt.wsdl``, ``events.wsdl``,
and the WS-BaseNotification / ONVIF schema they import). A request is dispatched on the
SOAP action in its Content-Type *and* checked against the body element the WSDL binding
says that action carries; anything else gets a SOAP 1.2 fault (ActionNotSupported).
An unknown or expired subscription gets a ``wsrf-rw:ResourceUnknownFault`` (SOAP 1.2
Sender fault, HTTP 400), as a camera does after a reboot.

Test controls: ``notify(topic, item, value)`` queues a notification on every live
subscription; ``reboot()`` forgets all subscriptions; ``operations`` lists what was
called, in order.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onvif
from aiohttp import web
from lxml import etree  # type: ignore[import-untyped]
from zeep import Client, Settings

WSDL_DIR = Path(onvif.__file__).parent / "wsdl"
ENV = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
TDS = "{http://www.onvif.org/ver10/device/wsdl}"
TEV = "{http://www.onvif.org/ver10/events/wsdl}"
TRT = "{http://www.onvif.org/ver10/media/wsdl}"
WSNT = "{http://docs.oasis-open.org/wsn/b-2}"
TT = "{http://www.onvif.org/ver10/schema}"
NSMAP = {
    "env": ENV,
    "wsa": WSA,
    "tns1": "http://www.onvif.org/ver10/topics",
    "tt": "http://www.onvif.org/ver10/schema",
    "wsrf-rw": "http://docs.oasis-open.org/wsrf/rw-2",
    "ter": "http://www.onvif.org/ver10/error",
}
TOPIC_DIALECT = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"
_ACTION = re.compile(r'action="([^"]+)"')
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?$")


def _duration(text: str | None, default: float) -> float:
    match = _DURATION.match((text or "").strip())
    if not match:
        return default
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def _client(wsdl: str) -> Any:
    """A zeep client on one of the WSDLs onvif-zeep-async ships (local files only)."""
    return Client(str(WSDL_DIR / wsdl), settings=Settings(strict=False))  # type: ignore[no-untyped-call]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass
class _Subscription:
    ident: int
    terminates: float  # loop time
    queue: asyncio.Queue[tuple[str, str, str, str]] = field(default_factory=asyncio.Queue)


class PullPointDouble:
    """See the module docstring. ``await start()`` returns the port; ``await close()``."""

    def __init__(
        self,
        *,
        manufacturer: str = "DoubleCam",
        model: str = "Bell-1",
        stream_uri: str | None = None,
    ) -> None:
        self._device = _client("devicemgmt.wsdl")
        self._events = _client("events.wsdl")
        self._media = _client("media.wsdl") if stream_uri is not None else None
        self.stream_uri = stream_uri
        self._actions = self._soap_actions()
        self.manufacturer, self.model = manufacturer, model
        self.operations: list[str] = []
        self.port = 0
        self._subs: dict[int, _Subscription] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    def _soap_actions(self) -> dict[str, tuple[str, str]]:
        """soapAction -> (operation, body element local name), from the WSDL bindings."""
        actions: dict[str, tuple[str, str]] = {}
        for client in (self._device, self._events, self._media):
            if client is None:
                continue
            for binding in client.wsdl.bindings.values():
                for name, op in binding._operations.items():
                    if op.soapaction and op.input.body is not None:
                        actions[op.soapaction] = (name, etree.QName(op.input.body.qname).localname)
        return actions

    # --- test controls ----------------------------------------------------------------

    def notify(self, topic: str, item: str, value: str, operation: str = "Changed") -> int:
        """Queue one notification on every live subscription; returns how many got it."""
        for sub in self._subs.values():
            sub.queue.put_nowait((topic, item, value, operation))
        return len(self._subs)

    def reboot(self) -> None:
        """Forget every subscription, as a camera does when it restarts."""
        self._subs.clear()

    @property
    def live_subscriptions(self) -> int:
        return len(self._subs)

    # --- server -------------------------------------------------------------------------

    async def start(self) -> int:
        app = web.Application()
        app.router.add_post("/onvif/device_service", self._handle)
        app.router.add_post("/onvif/events_service", self._handle)
        if self._media is not None:
            app.router.add_post("/onvif/media_service", self._handle)
        app.router.add_post("/onvif/subscription/{ident}", self._handle)
        # close() does not wait out a client's long poll (up to its 10 s PullMessages
        # timeout; the client is usually gone by then): a camera switched off ends it.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        action_match = _ACTION.search(request.headers.get("Content-Type", ""))
        action = action_match.group(1) if action_match else ""
        body_xml = await request.read()
        envelope = etree.fromstring(body_xml, etree.XMLParser(resolve_entities=False))
        body = envelope.find(f"{{{ENV}}}Body")
        payload = body[0] if body is not None and len(body) else None
        known = self._actions.get(action)
        if payload is None or known is None or etree.QName(payload).localname != known[1]:
            return self._fault("env:Sender", "ter:ActionNotSupported", f"unexpected {action}")
        operation = known[0]
        self.operations.append(operation)
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return self._fault("env:Sender", "ter:ActionNotSupported", operation)
        result: web.Response = await handler(request, payload)
        return result

    def _reply(self, client: Any, element: str, value: dict[str, Any]) -> web.Response:
        root = etree.Element(f"{{{ENV}}}Envelope", nsmap=NSMAP)
        etree.SubElement(root, f"{{{ENV}}}Header")
        body = etree.SubElement(root, f"{{{ENV}}}Body")
        zeep_element = client.get_element(element)
        zeep_element.render(body, zeep_element(**value))
        return web.Response(
            body=etree.tostring(root, xml_declaration=True, encoding="utf-8"),
            content_type="application/soap+xml",
        )

    def _fault(self, code: str, subcode: str, reason: str) -> web.Response:
        root = etree.Element(f"{{{ENV}}}Envelope", nsmap=NSMAP)
        fault = etree.SubElement(etree.SubElement(root, f"{{{ENV}}}Body"), f"{{{ENV}}}Fault")
        code_el = etree.SubElement(fault, f"{{{ENV}}}Code")
        etree.SubElement(code_el, f"{{{ENV}}}Value").text = code
        sub = etree.SubElement(code_el, f"{{{ENV}}}Subcode")
        etree.SubElement(sub, f"{{{ENV}}}Value").text = subcode
        text = etree.SubElement(etree.SubElement(fault, f"{{{ENV}}}Reason"), f"{{{ENV}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = reason
        return web.Response(
            status=400,
            body=etree.tostring(root, xml_declaration=True, encoding="utf-8"),
            content_type="application/soap+xml",
        )

    # --- device service -------------------------------------------------------------------

    async def _op_GetServices(self, request: web.Request, payload: Any) -> web.Response:
        version = {"Major": 2, "Minor": 60}
        services = [
            {
                "Namespace": TDS[1:-1],
                "XAddr": self._url("/onvif/device_service"),
                "Version": version,
            },
            {
                "Namespace": TEV[1:-1],
                "XAddr": self._url("/onvif/events_service"),
                "Version": version,
            },
        ]
        if self._media is not None:
            media = {"Namespace": TRT[1:-1], "XAddr": self._url("/onvif/media_service")}
            services.append({**media, "Version": version})
        return self._reply(self._device, f"{TDS}GetServicesResponse", {"Service": services})

    async def _op_GetCapabilities(self, request: web.Request, payload: Any) -> web.Response:
        events = {
            "XAddr": self._url("/onvif/events_service"),
            "WSSubscriptionPolicySupport": False,
            "WSPullPointSupport": True,
            "WSPausableSubscriptionManagerInterfaceSupport": False,
        }
        capabilities: dict[str, Any] = {"Events": events}
        if self._media is not None:
            streaming = {"RTPMulticast": False, "RTP_TCP": True, "RTP_RTSP_TCP": True}
            media = {"XAddr": self._url("/onvif/media_service"), "StreamingCapabilities": streaming}
            capabilities["Media"] = media
        return self._reply(
            self._device, f"{TDS}GetCapabilitiesResponse", {"Capabilities": capabilities}
        )

    async def _op_GetDeviceInformation(self, request: web.Request, payload: Any) -> web.Response:
        info = {
            "Manufacturer": self.manufacturer,
            "Model": self.model,
            "FirmwareVersion": "1.0",
            "SerialNumber": "DB-0001",
            "HardwareId": "HW-1",
        }
        return self._reply(self._device, f"{TDS}GetDeviceInformationResponse", info)

    async def _op_GetSystemDateAndTime(self, request: web.Request, payload: Any) -> web.Response:
        now = _now()
        utc = {
            "Date": {"Year": now.year, "Month": now.month, "Day": now.day},
            "Time": {"Hour": now.hour, "Minute": now.minute, "Second": now.second},
        }
        value = {"DateTimeType": "NTP", "DaylightSavings": False, "UTCDateTime": utc}
        return self._reply(
            self._device, f"{TDS}GetSystemDateAndTimeResponse", {"SystemDateAndTime": value}
        )

    # --- media service (with ``stream_uri`` only) -------------------------------------------

    async def _op_GetProfiles(self, request: web.Request, payload: Any) -> web.Response:
        assert self._media is not None
        profile = {"token": "main", "fixed": True, "Name": "MainStream"}
        return self._reply(self._media, f"{TRT}GetProfilesResponse", {"Profiles": [profile]})

    async def _op_GetStreamUri(self, request: web.Request, payload: Any) -> web.Response:
        assert self._media is not None
        uri = {
            "Uri": self.stream_uri,
            "InvalidAfterConnect": False,
            "InvalidAfterReboot": False,
            "Timeout": dt.timedelta(0),
        }
        return self._reply(self._media, f"{TRT}GetStreamUriResponse", {"MediaUri": uri})

    # --- event service ----------------------------------------------------------------------

    async def _op_CreatePullPointSubscription(
        self, request: web.Request, payload: Any
    ) -> web.Response:
        lifetime = _duration(payload.findtext(f"{TEV}InitialTerminationTime"), 60.0)
        ident = next(self._ids)
        loop = asyncio.get_running_loop()
        self._subs[ident] = _Subscription(ident, loop.time() + lifetime)
        now = _now()
        value = {
            "SubscriptionReference": {"Address": self._url(f"/onvif/subscription/{ident}")},
            "CurrentTime": now,
            "TerminationTime": now + dt.timedelta(seconds=lifetime),
        }
        return self._reply(self._events, f"{TEV}CreatePullPointSubscriptionResponse", value)

    def _live(self, request: web.Request) -> _Subscription | None:
        sub = self._subs.get(int(request.match_info.get("ident", "0")))
        if sub is not None and sub.terminates < asyncio.get_running_loop().time():
            del self._subs[sub.ident]
            return None
        return sub

    def _unknown(self) -> web.Response:
        return self._fault("env:Sender", "wsrf-rw:ResourceUnknownFault", "no such subscription")

    async def _op_PullMessages(self, request: web.Request, payload: Any) -> web.Response:
        sub = self._live(request)
        if sub is None:
            return self._unknown()
        timeout = _duration(payload.findtext(f"{TEV}Timeout"), 1.0)
        limit = int(payload.findtext(f"{TEV}MessageLimit") or 1)
        pending: list[tuple[str, str, str, str]] = []
        try:
            async with asyncio.timeout(timeout):
                pending.append(await sub.queue.get())
        except TimeoutError:
            pass
        while pending and len(pending) < limit and not sub.queue.empty():
            pending.append(sub.queue.get_nowait())
        if self._subs.get(sub.ident) is not sub:  # rebooted while we waited
            return self._unknown()
        now = _now()
        remaining = max(sub.terminates - asyncio.get_running_loop().time(), 0.0)
        value = {
            "CurrentTime": now,
            "TerminationTime": now + dt.timedelta(seconds=remaining),
            "NotificationMessage": [self._message(*p, now) for p in pending],
        }
        return self._reply(self._events, f"{TEV}PullMessagesResponse", value)

    def _message(
        self, topic: str, item: str, value: str, operation: str, now: dt.datetime
    ) -> dict[str, Any]:
        holder = etree.Element("holder", nsmap=NSMAP)
        message = self._events.get_element(f"{TT}Message")
        message.render(
            holder,
            message(
                UtcTime=now,
                PropertyOperation=operation,
                Source={"SimpleItem": [{"Name": "InputToken", "Value": "DI_1"}]},
                Data={"SimpleItem": [{"Name": item, "Value": value}]},
            ),
        )
        return {
            "Topic": {"_value_1": topic, "Dialect": TOPIC_DIALECT},
            "Message": {"_value_1": holder[0]},
        }

    async def _op_Renew(self, request: web.Request, payload: Any) -> web.Response:
        sub = self._live(request)
        if sub is None:
            return self._unknown()
        lifetime = _duration(payload.findtext(f"{WSNT}TerminationTime"), 60.0)
        sub.terminates = asyncio.get_running_loop().time() + lifetime
        now = _now()
        value = {"TerminationTime": now + dt.timedelta(seconds=lifetime), "CurrentTime": now}
        return self._reply(self._events, f"{WSNT}RenewResponse", value)

    async def _op_Unsubscribe(self, request: web.Request, payload: Any) -> web.Response:
        sub = self._live(request)
        if sub is None:
            return self._unknown()
        del self._subs[sub.ident]
        return self._reply(self._events, f"{WSNT}UnsubscribeResponse", {})
