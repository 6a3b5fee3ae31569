"""Directives of the client's interfaces, built like the service builds them, pushed on the
downchannel (control command push_interface_directive), and the demo sequence
(--demo-interfaces, control command demo_interfaces) that pushes one of each after a client
synchronized.

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
import copy
import json
import os
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable

import multipart as mp
from events import StreamGone

if TYPE_CHECKING:
    from connection import Conn, Stream

DEFAULT_ENDPOINT_ID = "avs-emulator-endpoint"


def _token() -> str:
    return f"amzn1.as-ct.v1.Domain:Application:Knowledge#ACRI#{uuid.uuid4()}"


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


def new_correlation_token() -> str:
    """Opaque like the service's (base64 with + / =, so a client must copy it verbatim)."""
    return base64.b64encode(os.urandom(47)).decode()


def build(ctx: DirectiveContext, interface: str, name: str, payload: dict | None = None,
          correlation_token: str | None = None, endpoint_id: str | None = None) -> dict:
    """The directive JSON; payload None = the default example payload (unknown directives
    need one)."""
    if payload is None:
        make = DEFAULT_PAYLOADS.get((interface, name))
        if make is None:
            raise KeyError(f"no default payload for {interface}.{name}; give a payload "
                           f"(directives with defaults: {known_directives()})")
        payload = make(ctx)
    header: dict[str, Any] = {"namespace": interface, "name": name, "messageId": str(uuid.uuid4())}
    if not is_v3(interface):
        return {"directive": {"header": header, "payload": copy.deepcopy(payload)}}
    header["correlationToken"] = correlation_token if correlation_token is not None else new_correlation_token()
    header["payloadVersion"] = "3"
    return {"directive": {
        "header": header,
        "endpoint": {"scope": {"type": "BearerToken", "token": ctx.scope_token},
                     "endpointId": endpoint_id if endpoint_id is not None else ctx.endpoint_id,
                     "cookie": {}},
        "payload": copy.deepcopy(payload)}}


async def push(server, conn: "Conn", st: "Stream", d: dict, why: str) -> int:
    """Writes the directive on the downchannel, notes it in the downchannel's record
    (directives_sent) and logs it."""
    n = await conn.push(st, [mp.json_part(json.dumps(d).encode())], 0, True)
    h = d["directive"]["header"]
    st.rec["directives_sent"].append({
        "namespace": h["namespace"], "name": h["name"], "messageId": h["messageId"],
        "dialogRequestId": h.get("dialogRequestId"), "payload": d["directive"]["payload"],
        "t": time.monotonic()})
    conn.log(f"stream {st.sid}: {why}: pushed {h['namespace']}.{h['name']} "
             f"{json.dumps(d['directive']['payload'])}")
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
