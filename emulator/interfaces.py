"""Directives of the client's interfaces, built like the service builds them, pushed on the
downchannel (control command push_interface_directive), and the demo sequence
(--demo-interfaces, control command demo_interfaces) that pushes one of each after a client
synchronized. Alerts.SetAlert (a time in_seconds from now) and AudioPlayer.Play (a cid: stream
with its attachment part, or a URL) have builders of their own (alert_spec/build_set_alert,
play_spec/build_play), used by the control commands set_alert and audio_play and by the
Recognize answer (recognize_config set_alert / play).

AVS (v1) directives: {"directive": {"header": {namespace, name, messageId}, "payload": {...}}}
(cloud-initiated, so no dialogRequestId). v3 directives (namespace "Alexa" or "Alexa.*"),
exactly as in ../shared/seeds/004_alexa-speaker-interface.txt:
{"directive": {"header": {namespace, name, messageId, correlationToken, payloadVersion: "3"},
               "endpoint": {"scope": {"type": "BearerToken", "token"}, "endpointId", "cookie": {}},
               "payload": {...}}}
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import datetime
import json
import os
import re
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable

import multipart as mp
from events import StreamGone

if TYPE_CHECKING:
    from connection import Conn, Stream

DEFAULT_ENDPOINT_ID = "avs-emulator-endpoint"
DEFAULT_ALERT_IN_S = 5.0
# Bluetooth directives name this device unless a ScanDevicesUpdated reported another.
DEFAULT_BT_DEVICE_ID = "2d1b29d4-54f3-4bc8-8d1c-f16a0dbbfa2c"


def _token() -> str:
    return f"amzn1.as-ct.v1.Domain:Application:Knowledge#ACRI#{uuid.uuid4()}"


def alert_token() -> str:
    return f"amzn1.as-ct.v1.Domain:Application:NotificationsV4#DNID#{uuid.uuid4()}"


def audio_token() -> str:
    return f"amzn1.as-ct.v1.Domain:Application:Music#ACRI#{uuid.uuid4()}"


def audio_item_id() -> str:
    return f"amzn1.as-ai.v1.{uuid.uuid4()}"


def audio_content_id() -> str:
    """Like the service's attachment ids (a client must take the Content-ID verbatim)."""
    return f"AudioPlayer_{uuid.uuid4()}:1.0#0"


# --------------------------------------------------------------------------- Alerts times

_OFFSET = re.compile(r"^(?:Z|([+-])(\d{2})(:?)(\d{2}))$")


def offset_minutes(offset: str) -> int:
    """Minutes east of UTC of an ISO-8601 offset: Z, +HHMM or +HH:MM (ValueError otherwise)."""
    m = _OFFSET.match(offset) if isinstance(offset, str) else None
    if not m or (m.group(1) and (int(m.group(2)) > 23 or int(m.group(4)) > 59)):
        raise ValueError(f"utc_offset must be Z, +HHMM or +HH:MM (hours 00..23), got {offset!r}")
    if not m.group(1):
        return 0
    return (-1 if m.group(1) == "-" else 1) * (int(m.group(2)) * 60 + int(m.group(4)))


def iso8601_at(unix_ms: int, offset: str = "+0000") -> str:
    """unix_ms as AVS writes alert times, local time at `offset` followed by it:
    2017-08-01T11:30:00+0000 (with .mmm when the milliseconds are not 0)."""
    local = datetime.datetime.fromtimestamp(unix_ms / 1000, datetime.timezone.utc) + \
        datetime.timedelta(minutes=offset_minutes(offset))
    ms = unix_ms % 1000
    return local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms:03d}" if ms else "") + offset


# --------------------------------------------------------------------------- SetAlert and Play

ALERT_OPTIONS = {"token", "type", "in_seconds", "scheduled_time", "utc_offset", "whole_seconds", "assets",
                 "asset_play_order", "background_alert_asset", "loop_count", "loop_pause_ms"}
# option -> payload member, in the spec's order (copied verbatim when given).
_ALERT_MEMBERS = (("assets", "assets"), ("asset_play_order", "assetPlayOrder"),
                  ("background_alert_asset", "backgroundAlertAsset"), ("loop_count", "loopCount"),
                  ("loop_pause_ms", "loopPauseInMilliSeconds"))


def alert_spec(req: dict) -> dict:
    """Checks the SetAlert options of a control request (set_alert, recognize_config set_alert)
    and returns them; the time is computed when the directive is built. ValueError if wrong."""
    spec = {k: req[k] for k in ALERT_OPTIONS if k in req}
    if "in_seconds" in spec and "scheduled_time" in spec:
        raise ValueError("give in_seconds or scheduled_time, not both")
    n = spec.get("in_seconds")
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, float)) or abs(n) > 10**9):
        raise ValueError("in_seconds must be a number of seconds (negative: in the past)")
    if spec.get("scheduled_time") is not None and not isinstance(spec["scheduled_time"], str):
        raise ValueError("scheduled_time must be a string (sent verbatim)")
    offset_minutes(spec.get("utc_offset", "+0000"))
    if not isinstance(spec.get("whole_seconds", False), bool):
        raise ValueError("whole_seconds must be true or false")
    for k in ("token", "type"):
        if k in spec and not isinstance(spec[k], str):
            raise ValueError(f"{k} must be a string")
    return spec


def build_set_alert(spec: dict, server=None) -> tuple[dict, int | None]:
    """The SetAlert payload for `spec` (alert_spec) and its time in Unix ms (None when
    scheduled_time was given verbatim). Default: a fresh token, TIMER, 5 s from now."""
    if spec.get("scheduled_time") is not None:
        when, unix_ms = spec["scheduled_time"], None
    else:
        unix_ms = int(round((time.time() + float(spec.get("in_seconds", DEFAULT_ALERT_IN_S))) * 1000))
        if spec.get("whole_seconds"):
            unix_ms = -(-unix_ms // 1000) * 1000  # the next whole second, as AVS writes them
        when = iso8601_at(unix_ms, spec.get("utc_offset", "+0000"))
    payload: dict[str, Any] = {"token": spec.get("token") or alert_token(), "type": spec.get("type", "TIMER"),
                               "scheduledTime": when}
    for opt, member in _ALERT_MEMBERS:
        if opt in spec:
            payload[member] = copy.deepcopy(spec[opt])
    if server is not None:
        server.pushed_alert_tokens.append(payload["token"])
    return payload, unix_ms


PLAY_OPTIONS = {"url", "attachment", "content_id", "mp3_b64", "mp3_file", "attachment_first", "play_behavior",
                "token", "audio_item_id", "offset_ms", "stream_format", "expiry_time",
                "progress_report_delay_ms", "progress_report_interval_ms", "expected_previous_token"}


def play_spec(req: dict, default_mp3: bytes) -> dict:
    """Checks the Play options of a control request (audio_play, recognize_config play) and
    returns them with the attachment bytes read (`mp3`). ValueError if wrong."""
    spec = {k: req[k] for k in PLAY_OPTIONS if k in req}
    url = spec.get("url")
    if url is not None and not isinstance(url, str):
        raise ValueError("url must be a string (sent verbatim) or null (an attachment, cid:)")
    cid_url = url is None or url[:4].lower() == "cid:"
    for k in ("attachment", "attachment_first"):
        if not isinstance(spec.get(k, False), bool):
            raise ValueError(f"{k} must be true or false")
    spec["attachment"] = spec.get("attachment", cid_url)
    if spec.get("content_id") is not None and (not isinstance(spec["content_id"], str) or not spec["content_id"]):
        raise ValueError("content_id must be a non-empty string")
    if "mp3_b64" in spec and "mp3_file" in spec:
        raise ValueError("give mp3_b64 or mp3_file, not both")
    if spec.get("mp3_b64") is not None:
        try:
            spec["mp3"] = base64.b64decode(str(spec.pop("mp3_b64")), validate=True)
        except (binascii.Error, ValueError) as e:
            raise ValueError(f"mp3_b64 is not base64: {e}")
    elif spec.get("mp3_file") is not None:
        try:
            with open(str(spec.pop("mp3_file")), "rb") as f:
                spec["mp3"] = f.read()
        except OSError as e:
            raise ValueError(f"mp3_file: {e}")
    else:
        spec.pop("mp3_b64", None)
        spec.pop("mp3_file", None)
        spec["mp3"] = default_mp3
    for k in ("play_behavior", "token", "audio_item_id"):
        if k in spec and not isinstance(spec[k], str):
            raise ValueError(f"{k} must be a string")
    return spec


def build_play(spec: dict) -> tuple[dict, mp.Part | None, str | None]:
    """The Play payload for `spec` (play_spec), the attachment part (or None) and its content id.
    Members in the spec's order; null options are left out."""
    url = spec.get("url")
    content_id = None
    if url is None:
        content_id = spec.get("content_id") or audio_content_id()
        url = f"cid:{content_id}"
    elif url[:4].lower() == "cid:":
        content_id = spec.get("content_id") or url[4:]
    elif spec["attachment"]:
        content_id = spec.get("content_id") or audio_content_id()
    stream: dict[str, Any] = {"url": url}
    fmt = spec.get("stream_format", "AUDIO_MPEG" if url[:4].lower() == "cid:" else None)
    if fmt is not None:
        stream["streamFormat"] = fmt
    stream["offsetInMilliseconds"] = spec.get("offset_ms", 0)
    if spec.get("expiry_time") is not None:
        stream["expiryTime"] = spec["expiry_time"]
    report = {}
    if spec.get("progress_report_delay_ms") is not None:
        report["progressReportDelayInMilliseconds"] = spec["progress_report_delay_ms"]
    if spec.get("progress_report_interval_ms") is not None:
        report["progressReportIntervalInMilliseconds"] = spec["progress_report_interval_ms"]
    if report:
        stream["progressReport"] = report
    stream["token"] = spec.get("token") or audio_token()
    if spec.get("expected_previous_token") is not None:
        stream["expectedPreviousToken"] = spec["expected_previous_token"]
    payload = {"playBehavior": spec.get("play_behavior", "REPLACE_ALL"),
               "audioItem": {"audioItemId": spec.get("audio_item_id") or audio_item_id(), "stream": stream}}
    part = mp.binary_part(content_id, spec["mp3"]) if spec["attachment"] and content_id else None
    return payload, part, (content_id if part is not None else None)


# (interface, name) -> default payload (a function: some hold fresh tokens or this server's URL).
DEFAULT_PAYLOADS: dict[tuple[str, str], Callable[["DirectiveContext"], dict]] = {
    ("Speaker", "SetVolume"): lambda c: {"volume": 50},
    ("Speaker", "AdjustVolume"): lambda c: {"volume": -20},
    ("Speaker", "SetMute"): lambda c: {"mute": True},
    ("Alexa.Speaker", "SetVolume"): lambda c: {"volume": 50},
    ("Alexa.Speaker", "AdjustVolume"): lambda c: {"volume": -20, "volumeDefault": False},
    ("Alexa.Speaker", "SetMute"): lambda c: {"mute": True},
    ("Alexa", "ReportState"): lambda c: {},
    ("System", "ResetUserInactivity"): lambda c: {},
    ("System", "SetEndpoint"): lambda c: {"endpoint": c.server_url},
    ("Notifications", "SetIndicator"): lambda c: {
        "persistVisualIndicator": True, "playAudioIndicator": False,
        "asset": {"assetId": "x", "url": "https://example.com/a.mp3"}},
    ("Notifications", "ClearIndicator"): lambda c: {},
    ("TemplateRuntime", "RenderTemplate"): lambda c: {
        "token": _token(), "type": "BodyTemplate1",
        "title": {"mainTitle": "Who is Usain Bolt?"},
        "textField": "Usain St Leo Bolt is a Jamaican sprinter."},
    ("TemplateRuntime", "RenderPlayerInfo"): lambda c: {
        "audioItemId": f"amzn1.as-ai.v1.{uuid.uuid4()}", "content": {"title": "Example Song"}},
    # Alerts 1.3: a TIMER 5 s from now; deletes name the alerts this server set since reset.
    ("Alerts", "SetAlert"): lambda c: build_set_alert({}, c.server)[0],
    ("Alerts", "DeleteAlert"): lambda c: {"token": (c.server.pushed_alert_tokens or [alert_token()])[-1]},
    ("Alerts", "DeleteAlerts"): lambda c: {"tokens": list(dict.fromkeys(c.server.pushed_alert_tokens))},
    ("Alerts", "SetVolume"): lambda c: {"volume": 50},
    ("Alerts", "AdjustVolume"): lambda c: {"volume": -10},
    # AudioPlayer 1.0: a URL stream (audio_play sends cid: streams with their attachment).
    ("AudioPlayer", "Play"): lambda c: build_play({"url": "https://example.com/audio/song.mp3",
                                                   "attachment": False, "mp3": b""})[0],
    ("AudioPlayer", "Stop"): lambda c: {},
    ("AudioPlayer", "ClearQueue"): lambda c: {"clearBehavior": "CLEAR_ALL"},
    # Bluetooth 1.0 (crates/avs-core/src/interfaces/bluetooth.rs).
    ("Bluetooth", "ScanDevices"): lambda c: {},
    ("Bluetooth", "EnterDiscoverableMode"): lambda c: {"durationInSeconds": 180},
    ("Bluetooth", "ExitDiscoverableMode"): lambda c: {},
    ("Bluetooth", "PairDevice"): lambda c: {"device": {"uniqueDeviceId": c.bt_device_id()}},
    ("Bluetooth", "UnpairDevice"): lambda c: {"device": {"uniqueDeviceId": c.bt_device_id()}},
    ("Bluetooth", "ConnectByDeviceId"): lambda c: {"device": {"uniqueDeviceId": c.bt_device_id()}},
    ("Bluetooth", "ConnectByProfile"): lambda c: {"profile": {"name": "A2DP-SOURCE", "version": "1.3"}},
    ("Bluetooth", "DisconnectDevice"): lambda c: {"device": {"uniqueDeviceId": c.bt_device_id()}},
    ("Bluetooth", "Play"): lambda c: {},
    ("Bluetooth", "Stop"): lambda c: {},
    ("Bluetooth", "Next"): lambda c: {},
    ("Bluetooth", "Previous"): lambda c: {},
}

# The demo: one of each, in this order. SetEndpoint comes last: the client reconnects then.
DEMO_SEQUENCE: list[tuple[str, str]] = [
    ("Speaker", "SetVolume"), ("Speaker", "AdjustVolume"), ("Speaker", "SetMute"),
    ("Alexa.Speaker", "SetVolume"), ("Alexa.Speaker", "AdjustVolume"), ("Alexa.Speaker", "SetMute"),
    ("Alexa", "ReportState"),
    ("System", "ResetUserInactivity"),
    ("Notifications", "SetIndicator"), ("Notifications", "ClearIndicator"),
    ("TemplateRuntime", "RenderTemplate"), ("TemplateRuntime", "RenderPlayerInfo"),
    ("System", "SetEndpoint"),
]
DEMO_DELAY_S = 0.5      # after the SynchronizeState answer
DEMO_INTERVAL_S = 0.3   # between two pushes


def is_v3(interface: str) -> bool:
    return interface == "Alexa" or interface.startswith("Alexa.")


def known_directives() -> str:
    return ", ".join(f"{i}.{n}" for i, n in DEFAULT_PAYLOADS)


def _host(authority: str | None) -> str:
    """The host part of an :authority (`h`, `h:port`, `[v6]`, `[v6]:port`)."""
    a = (authority or "").strip()
    if a.startswith("["):
        return a[:a.index("]") + 1] if "]" in a else "localhost"
    host = a.rsplit(":", 1)[0] if a.count(":") == 1 else a
    return host or "localhost"


def _local_port(server, conn: "Conn") -> int:
    sock = conn.raw.get_extra_info("sockname") if conn.raw is not None else None
    return sock[1] if sock else server.port


class DirectiveContext:
    """What a directive's defaults depend on: the connection it goes to."""

    def __init__(self, server, conn: "Conn", st: "Stream"):
        self.server = server
        headers = st.rec.get("headers") or {}
        # This server's URL as the client addressed it: the host of its downchannel's
        # :authority and the port it is connected to.
        self.server_url = f"https://{_host(headers.get(':authority'))}:{_local_port(server, conn)}"
        auth = headers.get("authorization", "")
        scheme, _, tok = auth.strip().partition(" ")
        # The bearer token the client authenticated with stands in for the OAuth2 scope token.
        self.scope_token = tok.strip() if scheme.lower() == "bearer" and tok.strip() else (server.token or "token")
        caps = server.capabilities
        eps = caps["payload"]["endpoints"] if caps else []
        # The client's own endpoint as it published it (AddOrUpdateReport), if it did.
        self.endpoint_id = eps[0]["endpointId"] if eps else DEFAULT_ENDPOINT_ID

    def bt_device_id(self) -> str:
        """The first device of the newest valid Bluetooth.ScanDevicesUpdated, else the default."""
        for r in reversed(self.server.requests):
            ev = r["event"]
            if ev and (ev["namespace"], ev["name"]) == ("Bluetooth", "ScanDevicesUpdated") and not r["invalid"]:
                found = r["metadata"]["event"]["payload"]["discoveredDevices"]
                if found:
                    return found[0]["uniqueDeviceId"]
        return DEFAULT_BT_DEVICE_ID


def new_correlation_token() -> str:
    """Opaque like the service's (base64 with + / =, so a client must copy it verbatim)."""
    return base64.b64encode(os.urandom(47)).decode()


def build(ctx: DirectiveContext, interface: str, name: str, payload: dict | None = None,
          correlation_token: str | None = None, endpoint_id: str | None = None,
          dialog_request_id: str | None = None) -> dict:
    """The directive JSON; payload None = the default example payload (unknown directives
    need one). dialog_request_id: v1 only (a directive answering a dialog turn)."""
    if payload is None:
        make = DEFAULT_PAYLOADS.get((interface, name))
        if make is None:
            raise KeyError(f"no default payload for {interface}.{name}; give a payload "
                           f"(directives with defaults: {known_directives()})")
        payload = make(ctx)
    header: dict[str, Any] = {"namespace": interface, "name": name, "messageId": str(uuid.uuid4())}
    if not is_v3(interface):
        if dialog_request_id is not None:
            header["dialogRequestId"] = dialog_request_id
        return {"directive": {"header": header, "payload": copy.deepcopy(payload)}}
    header["correlationToken"] = correlation_token if correlation_token is not None else new_correlation_token()
    header["payloadVersion"] = "3"
    return {"directive": {
        "header": header,
        "endpoint": {"scope": {"type": "BearerToken", "token": ctx.scope_token},
                     "endpointId": endpoint_id if endpoint_id is not None else ctx.endpoint_id,
                     "cookie": {}},
        "payload": copy.deepcopy(payload)}}


async def push(server, conn: "Conn", st: "Stream", d: dict, why: str, attachment: mp.Part | None = None,
               attachment_first: bool = False, chunk_size: int = 0) -> int:
    """Writes the directive (and its attachment part, after it or before it) on the downchannel
    in one push, notes it in the downchannel's record (directives_sent) and logs it."""
    parts = [mp.json_part(json.dumps(d).encode())]
    if attachment is not None:
        parts = [attachment] + parts if attachment_first else parts + [attachment]
    n = await conn.push(st, parts, chunk_size, True)
    h = d["directive"]["header"]
    st.rec["directives_sent"].append({
        "namespace": h["namespace"], "name": h["name"], "messageId": h["messageId"],
        "dialogRequestId": h.get("dialogRequestId"), "payload": d["directive"]["payload"],
        "t": time.monotonic()})
    conn.log(f"stream {st.sid}: {why}: pushed {h['namespace']}.{h['name']} "
             f"{json.dumps(d['directive']['payload'])}"
             + (f" + attachment ({len(attachment[1])} bytes, {'before' if attachment_first else 'after'})"
                if attachment is not None else ""))
    server.notify()
    return n


async def run_demo(server, conn: "Conn", delay_s: float = DEMO_DELAY_S,
                   interval_s: float = DEMO_INTERVAL_S) -> None:
    """One directive of each kind on conn's newest downchannel, interval_s apart."""
    conn.log(f"demo: {len(DEMO_SEQUENCE)} directives in {delay_s:g} s, {interval_s:g} s apart")
    await asyncio.sleep(delay_s)
    for i, (interface, name) in enumerate(DEMO_SEQUENCE):
        if i:
            await asyncio.sleep(interval_s)
        if conn.closed or not conn.downchannels:
            conn.log(f"demo: stopped before {interface}.{name}: no open downchannel")
            return
        st = conn.downchannels[-1]
        try:
            await push(server, conn, st, build(DirectiveContext(server, conn, st), interface, name),
                       f"demo {i + 1}/{len(DEMO_SEQUENCE)}")
        except StreamGone:
            conn.log(f"demo: stopped at {interface}.{name}: the downchannel closed")
            return
    conn.log("demo: done")
