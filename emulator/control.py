"""Control port of the AVS test server: newline-delimited JSON over plain TCP.

Each request line is a JSON object with "cmd"; each reply is one line,
{"ok": true, ...} or {"ok": false, "error": "..."}. Requests on one TCP
connection are answered in order; several control clients may be connected at
once. The commands are listed in COMMANDS at the bottom and in README.md.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import sys
import time
import traceback
from typing import Any, Awaitable, Callable

import interfaces
import lwa
import shapes
from events import StreamGone, directive_parts


class CommandError(Exception):
    """A bad request or one that cannot be done now; becomes {"ok": false}."""


def client_handler(server) -> Callable:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    reply: dict[str, Any] = {"ok": False, "error": "request line too long"}
                    writer.write(json.dumps(reply).encode() + b"\n")
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                reply = await run_command(server, line)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            traceback.print_exc(file=sys.stderr)
        finally:
            writer.close()
    return handle


async def run_command(server, line: bytes) -> dict:
    try:
        req = json.loads(line)
        if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
            raise CommandError('request must be a JSON object with a "cmd" string')
        fn = COMMANDS.get(req["cmd"])
        if fn is None:
            raise CommandError(f"unknown cmd {req['cmd']!r}; known: {', '.join(sorted(COMMANDS))}")
        result = await fn(server, req)
        return {"ok": True, **result}
    except (CommandError, StreamGone) as e:
        return {"ok": False, "error": str(e)}
    except (ValueError, TypeError, KeyError) as e:
        return {"ok": False, "error": f"bad request: {type(e).__name__}: {e}"}
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        return {"ok": False, "error": f"server error: {type(e).__name__}: {e}"}


def _check_keys(req: dict, allowed: set[str]) -> None:
    extra = set(req) - allowed - {"cmd"}
    if extra:
        raise CommandError(f"unknown field(s) for {req['cmd']}: {', '.join(sorted(extra))}")


def _conn(server, req: dict):
    """The live connection named by req["conn"], or the newest live one."""
    cid = req.get("conn")
    if cid is not None:
        c = server.live.get(int(cid))
        if c is None:
            raise CommandError(f"no live connection {cid}")
        return c
    ready = [c for c in server.live.values() if c.h2 is not None]
    if not ready:
        raise CommandError("no live HTTP/2 connection")
    return max(ready, key=lambda c: c.id)


# --------------------------------------------------------------------------- commands


async def cmd_log(server, req):
    return {"requests": server.requests, "lwa_requests": server.lwa.requests}


async def cmd_connections(server, req):
    return {"connections": server.conn_records}


async def cmd_reset(server, req):
    server.reset()
    return {}


async def cmd_ping(server, req):
    return {"t": time.monotonic()}


async def cmd_push_directive(server, req):
    _check_keys(req, {"directives", "attachments", "attachments_first", "chunk_size", "conn",
                      "trailing_delimiter"})
    conn, st = server.find_downchannel(None if req.get("conn") is None else int(req["conn"]))
    if st is None:
        raise CommandError("no open downchannel" + (f" on connection {req['conn']}" if req.get("conn") else ""))
    parts = directive_parts(req.get("directives") or [], req.get("attachments") or [],
                            bool(req.get("attachments_first")))
    if not parts:
        raise CommandError("nothing to push: give directives and/or attachments")
    n = await conn.push(st, parts, int(req.get("chunk_size") or 0), bool(req.get("trailing_delimiter", True)))
    return {"conn": conn.id, "stream": st.sid, "bytes": n}


async def cmd_close_downchannel(server, req):
    conn, st = server.find_downchannel(None if req.get("conn") is None else int(req["conn"]))
    if st is None:
        raise CommandError("no open downchannel")
    await conn.close_downchannel(st)
    return {"conn": conn.id, "stream": st.sid}


async def cmd_goaway(server, req):
    _check_keys(req, {"conn", "last_stream_id"})
    conn = _conn(server, req)
    if conn.h2 is None:
        raise CommandError(f"connection {conn.id} has no HTTP/2 session yet")
    want = req.get("last_stream_id")
    if want is not None and (isinstance(want, bool) or not isinstance(want, int) or not 0 <= want < 2**31):
        raise CommandError("last_stream_id must be null or an integer 0..2^31-1")
    refused = [st.sid for st in conn.streams.values() if want is not None and st.sid > want and not st.closed]
    last = conn.goaway(want)
    return {"conn": conn.id, "last_stream_id": last, "refused": sorted(refused)}


SCRIPT_DEFAULTS: dict[str, Any] = {
    "name": "*", "count": 1, "status": 204, "exception": None, "directives": [], "attachments": [],
    "attachments_first": False, "chunk_size": 0, "delay_headers_ms": 0, "hold_open_ms": 0,
    "respond_before_end": False, "reset": None,
}


async def cmd_script_event(server, req):
    _check_keys(req, set(SCRIPT_DEFAULTS))
    s = {k: req.get(k, v) if req.get(k) is not None else v for k, v in SCRIPT_DEFAULTS.items()}
    s["exception"] = req.get("exception")
    s["reset"] = req.get("reset")
    if "status" not in req and (s["directives"] or s["attachments"]):
        s["status"] = 200  # directives imply a 200 multipart answer
    s["status"], s["count"] = int(s["status"]), int(s["count"])
    if s["status"] == 204 and (s["directives"] or s["attachments"]):
        raise CommandError("a 204 answer cannot carry directives; use status 200")
    if not 100 <= s["status"] <= 599:
        raise CommandError("status must be 100..599")
    if s["count"] < 1:
        raise CommandError("count must be >= 1")
    if s["exception"] is not None and not isinstance(s["exception"], dict):
        raise CommandError('exception must be {"code": ..., "description": ...}')
    directive_parts(s["directives"], s["attachments"], False)  # validate now, not at answer time
    server.scripts.append(s)
    return {"queued": s["count"], "pending_scripts": len(server.scripts)}


async def cmd_withhold_ping_acks(server, req):
    server.withhold_ping_acks = bool(req.get("on", True))
    return {"on": server.withhold_ping_acks}


async def cmd_refuse_connections(server, req):
    seconds = float(req.get("seconds", 0))
    server.refuse_until = time.monotonic() + seconds if seconds > 0 else 0.0
    return {"until": server.refuse_until}


async def cmd_set_token(server, req):
    tok = req.get("token")
    server.token = None if tok is None else str(tok)
    return {"token": server.token}


async def cmd_set_max_concurrent_streams(server, req):
    n = int(req["n"])
    if n < 0:
        raise CommandError("n must be >= 0")
    server.max_streams = n
    for c in list(server.live.values()):
        c.update_max_streams(n)
    return {"n": n, "connections_updated": len(server.live)}


async def cmd_kill_connections(server, req):
    conns = list(server.live.values())
    for c in conns:
        c.abort("killed (kill_connections)")
    return {"killed": [c.id for c in conns]}


def _int_or_none(req: dict, key: str, minimum: int = 0) -> int | None:
    v = req[key]
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise CommandError(f"{key} must be null or an integer >= {minimum}")
    return v


def _recognize_config_view(server) -> dict:
    c = dict(server.recognize)
    mp3 = c.pop("speak_mp3")
    data = mp3 if mp3 is not None else server.speak_mp3
    c.update(speak_mp3_override=mp3 is not None, speak_mp3_bytes=len(data),
             speak_mp3_sha256=hashlib.sha256(data).hexdigest())
    if c.get("play") is not None:
        play = dict(c["play"])
        att = play.pop("mp3")
        play.update(mp3_bytes=len(att), mp3_sha256=hashlib.sha256(att).hexdigest())
        c["play"] = play
    return c


def _answer_spec(req: dict, key: str, parse: Callable[[dict], dict], allowed: set[str]) -> dict | None:
    """recognize_config play / set_alert: null, or the options of audio_play / set_alert plus once."""
    v = req[key]
    if v is None:
        return None
    if not isinstance(v, dict):
        raise CommandError(f"{key} must be null or an object")
    extra = set(v) - allowed - {"once"}
    if extra:
        raise CommandError(f"unknown field(s) in {key}: {', '.join(sorted(extra))}")
    if not isinstance(v.get("once", False), bool):
        raise CommandError(f"{key}.once must be true or false")
    try:
        spec = parse(v)
    except ValueError as e:
        raise CommandError(f"{key}: {e}")
    spec["once"] = v.get("once", False)
    return spec


async def cmd_recognize_config(server, req):
    """Change how SpeechRecognizer.Recognize is answered (events.RecognizeHandler).
    Only the given fields change; all persist until reset."""
    _check_keys(req, {"stop_capture_after_bytes", "speak_mp3_b64", "attachment_first", "chunk_size",
                      "expect_speech", "stale_directive", "fail_status", "hang",
                      "drop_connection_after_bytes", "split_delimiters", "play", "set_alert"})
    new = dict(server.recognize)
    if "play" in req:
        new["play"] = _answer_spec(req, "play", lambda v: interfaces.play_spec(v, server.speak_mp3),
                                   interfaces.PLAY_OPTIONS)
    if "set_alert" in req:
        new["set_alert"] = _answer_spec(req, "set_alert", interfaces.alert_spec, interfaces.ALERT_OPTIONS)
    if "stop_capture_after_bytes" in req:
        v = _int_or_none(req, "stop_capture_after_bytes")
        if v is None:
            raise CommandError("stop_capture_after_bytes must be an integer >= 0")
        new["stop_capture_after_bytes"] = v
    if "chunk_size" in req:
        new["chunk_size"] = _int_or_none(req, "chunk_size") or 0
    if "drop_connection_after_bytes" in req:
        new["drop_connection_after_bytes"] = _int_or_none(req, "drop_connection_after_bytes")
    if "fail_status" in req:
        v = _int_or_none(req, "fail_status")
        if v is not None and not 300 <= v <= 599:
            raise CommandError("fail_status must be null or 300..599")
        new["fail_status"] = v
    for key in ("attachment_first", "stale_directive", "hang", "split_delimiters"):
        if key in req:
            if not isinstance(req[key], bool):
                raise CommandError(f"{key} must be true or false")
            new[key] = req[key]
    if "speak_mp3_b64" in req:
        v = req["speak_mp3_b64"]
        if v is None:
            new["speak_mp3"] = None
        else:
            try:
                new["speak_mp3"] = base64.b64decode(str(v), validate=True)
            except (binascii.Error, ValueError) as e:
                raise CommandError(f"speak_mp3_b64 is not base64: {e}")
    if "expect_speech" in req:
        v = req["expect_speech"]
        if v is not None:
            if not isinstance(v, dict):
                raise CommandError('expect_speech must be null or {"timeoutInMilliseconds": N, '
                                   '"initiator"?: {...}, "once"?: bool}')
            if "once" in v and not isinstance(v["once"], bool):
                raise CommandError("expect_speech.once must be true or false")
            v = dict(v)
        new["expect_speech"] = v
    server.recognize = new
    return {"config": _recognize_config_view(server)}


async def cmd_audio(server, req):
    _check_keys(req, {"index"})
    n = len(server.recognize_audio)
    i = req.get("index", -1)
    if isinstance(i, bool) or not isinstance(i, int):
        raise CommandError("index must be an integer (0 = first Recognize since reset, -1 = last)")
    if not -n <= i < n:
        raise CommandError(f"no Recognize with index {i}: {n} in the log")
    a = server.recognize_audio[i]
    rec, buf = a["rec"], bytes(a["buf"])
    return {"index": i % n, "count": n, "conn": rec["conn"], "stream": rec["stream"],
            "bytes": rec["audio_bytes"], "stored_bytes": len(buf), "truncated": a["truncated"],
            "complete": rec["t_audio_end"] is not None, "sha256": hashlib.sha256(buf).hexdigest(),
            "audio_b64": base64.b64encode(buf).decode()}


async def cmd_hold_answers(server, req):
    """Holds (on) or releases (off) the answers to events named `name`: their response headers
    wait in EventRequest.send_headers until the hold is lifted."""
    _check_keys(req, {"name", "on"})
    name = req.get("name", "*")
    if not isinstance(name, str) or not name:
        raise CommandError("name must be a non-empty string (Name, Namespace.Name or *)")
    on = req.get("on", True)
    if not isinstance(on, bool):
        raise CommandError("on must be true or false")
    if on and name not in server.answer_holds:
        server.answer_holds.append(name)
    elif not on:
        server.answer_holds[:] = [h for h in server.answer_holds if h != name]
        server.release_answers()
    return {"holds": list(server.answer_holds)}


RESET_WHEN = ("now", "stop_capture", "end_stream")


def _error_code(v: Any) -> int:
    from h2.errors import ErrorCodes
    if isinstance(v, str):
        try:
            return int(ErrorCodes[v.upper()])
        except KeyError:
            raise CommandError(f"unknown HTTP/2 error code {v!r}")
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**32:
        raise CommandError("code must be an HTTP/2 error code name or an integer")
    return v


def _open_request(server, rec: dict):
    """The live Conn and Stream of a request record, if the stream is still open."""
    conn = server.live.get(rec["conn"])
    st = conn.streams.get(rec["stream"]) if conn is not None and not conn.closed else None
    return (conn, st) if st is not None and not st.closed else (None, None)


def _reset_request(server, rec: dict, code: int, why: str) -> bool:
    conn, st = _open_request(server, rec)
    if st is None:
        return False
    conn.reset_stream(st, code, why)
    conn.flush()
    return True


async def cmd_reset_stream(server, req):
    """RST_STREAM from the server on an open request stream: the newest open one matching
    `name` (event name, "*" any event) or `path`, `now`, or armed for a moment of that request:
    `stop_capture` (right after StopCapture went out) or `end_stream` (the client's END_STREAM,
    before the handler's answer is written)."""
    _check_keys(req, {"name", "path", "code", "when", "conn"})
    code = _error_code(req.get("code", 2))  # INTERNAL_ERROR
    when = req.get("when", "now")
    if when not in RESET_WHEN:
        raise CommandError(f"when must be one of {', '.join(RESET_WHEN)}")
    name, path, conn = req.get("name", "*"), req.get("path"), req.get("conn")
    if path is not None:
        name = req.get("name")

    def matches(rec: dict) -> bool:
        return ((path is None or rec["path"].split("?", 1)[0] == path) and _event_matches(rec, name)
                and (conn is None or rec["conn"] == int(conn)))

    if when != "now":
        server.stream_triggers.append({"matches": matches, "when": when, "code": code,
                                       "t_armed": time.monotonic()})
        return {"armed": when, "code": code}
    for rec in reversed(server.requests):
        if matches(rec) and _open_request(server, rec)[1] is not None:
            _reset_request(server, rec, code, f"reset_stream {code}")
            return {"conn": rec["conn"], "stream": rec["stream"], "code": code}
    raise CommandError("no open request stream matches")


def fire_stream_triggers(server) -> None:
    """Called on every Server.notify(): resets the streams whose armed moment has come."""
    for trig in list(server.stream_triggers):
        key = "t_stop_capture" if trig["when"] == "stop_capture" else "t_end"
        for rec in server.requests:
            if (rec.get(key) is not None and rec[key] >= trig["t_armed"] and trig["matches"](rec)
                    and _open_request(server, rec)[1] is not None):
                server.stream_triggers.remove(trig)  # one shot, and before resetting (re-entrant)
                _reset_request(server, rec, trig["code"], f"reset_stream {trig['code']} at {trig['when']}")
                break


def _event_matches(rec: dict, name: str | None, token: str | None = None) -> bool:
    ev = rec.get("event")
    if token is not None:
        meta = rec.get("metadata")
        ev_json = meta.get("event") if isinstance(meta, dict) else None
        if ev is None or not isinstance(ev_json, dict) or token not in _payload_tokens(ev_json.get("payload")):
            return False
    if name is None:
        return True
    return ev is not None and name in ("*", ev["name"], f"{ev['namespace']}.{ev['name']}")


async def cmd_wait_for(server, req):
    _check_keys(req, {"what", "count", "timeout_ms", "path", "name", "token", "done", "refused", "closed",
                      "error"})
    what = req.get("what")
    count = int(req.get("count", 1))
    timeout = float(req.get("timeout_ms", 5000)) / 1000
    path, name, token = req.get("path"), req.get("name"), _opt_str(req, "token")
    done, refused, closed = req.get("done"), req.get("refused"), req.get("closed")
    error = req.get("error")

    if what == "requests":
        def matched() -> int:
            return sum(1 for r in server.requests
                       if (path is None or r["path"].split("?", 1)[0] == path)
                       and _event_matches(r, name, token)
                       and (done is None or (r["t_closed"] is not None) == bool(done)))
    elif what == "connections":
        def matched() -> int:
            return sum(1 for c in server.conn_records
                       if (refused is None or c["refused"] == bool(refused))
                       and (closed is None or (c["t_closed"] is not None) == bool(closed)))
    elif what == "lwa_requests":
        # answered (or dropped) LWA requests, by path and OAuth error code ("" = a 200)
        def matched() -> int:
            return sum(1 for r in server.lwa.requests
                       if (r["t_response"] is not None)
                       and (path is None or r["path"] == path)
                       and (error is None or (r["error"] or "") == error))
    else:
        raise CommandError('what must be "requests", "connections" or "lwa_requests"')

    deadline = time.monotonic() + timeout
    while True:
        changed = server._changed  # take it before checking so no wake-up is lost
        n = matched()
        left = deadline - time.monotonic()
        if n >= count or left <= 0:
            return {"matched": n, "timed_out": n < count}
        try:
            await asyncio.wait_for(changed.wait(), left)
        except asyncio.TimeoutError:
            pass


def _opt_str(req: dict, key: str) -> str | None:
    v = req.get(key)
    if v is not None and (not isinstance(v, str) or not v):
        raise CommandError(f"{key} must be a non-empty string")
    return v


def _downchannel(server, req: dict):
    conn, st = server.find_downchannel(None if req.get("conn") is None else int(req["conn"]))
    if st is None:
        raise CommandError("no open downchannel" + (f" on connection {req['conn']}" if req.get("conn") else ""))
    return conn, st


async def cmd_push_interface_directive(server, req):
    """Builds a directive of one of the client's interfaces (interfaces.py: fresh messageId,
    v3 header and endpoint as the service sends them, default example payload) and pushes it
    on the downchannel. Replies with the directive sent."""
    _check_keys(req, {"interface", "name", "payload", "correlation_token", "endpoint_id", "conn",
                      "dialog_request_id"})
    interface, name = req.get("interface"), req.get("name")
    for key, v in (("interface", interface), ("name", name)):
        if not isinstance(v, str) or not v:
            raise CommandError(f"{key} must be a non-empty string (directives with default payloads: "
                               f"{interfaces.known_directives()})")
    payload = req.get("payload")
    if payload is not None and not isinstance(payload, dict):
        raise CommandError("payload must be a JSON object (or absent for the default)")
    token, endpoint_id = _opt_str(req, "correlation_token"), _opt_str(req, "endpoint_id")
    dialog = _opt_str(req, "dialog_request_id")
    if not interfaces.is_v3(interface) and (token is not None or endpoint_id is not None):
        raise CommandError(f"correlation_token and endpoint_id apply to v3 (Alexa, Alexa.*) directives, "
                           f"not {interface}")
    if interfaces.is_v3(interface) and dialog is not None:
        raise CommandError("dialog_request_id applies to AVS (v1) directives")
    conn, st = _downchannel(server, req)
    try:
        d = interfaces.build(interfaces.DirectiveContext(server, conn, st), interface, name, payload,
                             token, endpoint_id, dialog)
    except KeyError as e:
        raise CommandError(e.args[0])
    n = await interfaces.push(server, conn, st, d, "push_interface_directive")
    return {"directive": d, "conn": conn.id, "stream": st.sid, "bytes": n}


def _chunk_size(req: dict) -> int:
    v = req.get("chunk_size", 0) or 0
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise CommandError("chunk_size must be an integer >= 0")
    return v


async def cmd_set_alert(server, req):
    """Alerts.SetAlert on the downchannel, its scheduledTime `in_seconds` from now (written with
    `utc_offset`) or `scheduled_time` verbatim (interfaces.alert_spec / build_set_alert)."""
    _check_keys(req, interfaces.ALERT_OPTIONS | {"conn", "dialog_request_id"})
    try:
        spec = interfaces.alert_spec(req)
    except ValueError as e:
        raise CommandError(str(e))
    dialog = _opt_str(req, "dialog_request_id")
    conn, st = _downchannel(server, req)
    payload, unix_ms = interfaces.build_set_alert(spec, server)
    d = interfaces.build(interfaces.DirectiveContext(server, conn, st), "Alerts", "SetAlert", payload,
                         dialog_request_id=dialog)
    t = time.monotonic()
    n = await interfaces.push(server, conn, st, d, "set_alert")
    return {"directive": d, "token": payload["token"], "scheduled_time": payload["scheduledTime"],
            "scheduled_unix_ms": unix_ms,
            "in_seconds": None if unix_ms is None else (unix_ms / 1000 - time.time()),
            "t": t, "conn": conn.id, "stream": st.sid, "bytes": n}


async def cmd_audio_play(server, req):
    """AudioPlayer.Play on the downchannel: a cid: stream with its MP3 attachment in the same
    push (after the directive, or before it with attachment_first), or a URL stream
    (interfaces.play_spec / build_play)."""
    _check_keys(req, interfaces.PLAY_OPTIONS | {"conn", "dialog_request_id", "chunk_size"})
    try:
        spec = interfaces.play_spec(req, server.speak_mp3)
    except ValueError as e:
        raise CommandError(str(e))
    dialog = _opt_str(req, "dialog_request_id")
    chunk = _chunk_size(req)
    conn, st = _downchannel(server, req)
    payload, part, content_id = interfaces.build_play(spec)
    d = interfaces.build(interfaces.DirectiveContext(server, conn, st), "AudioPlayer", "Play", payload,
                         dialog_request_id=dialog)
    t = time.monotonic()
    n = await interfaces.push(server, conn, st, d, "audio_play", part, bool(spec.get("attachment_first")), chunk)
    data = part[1] if part is not None else None
    return {"directive": d, "token": payload["audioItem"]["stream"]["token"], "content_id": content_id,
            "attachment_bytes": None if data is None else len(data),
            "attachment_sha256": None if data is None else hashlib.sha256(data).hexdigest(),
            "attachment_first": bool(spec.get("attachment_first")) if part is not None else None,
            "t": t, "conn": conn.id, "stream": st.sid, "bytes": n}


def _payload_tokens(payload: Any) -> list[str]:
    """The tokens an event payload names: `token`, each of `tokens` (DeleteAlerts*)."""
    if not isinstance(payload, dict):
        return []
    out = [payload["token"]] if isinstance(payload.get("token"), str) else []
    if isinstance(payload.get("tokens"), list):
        out += [t for t in payload["tokens"] if isinstance(t, str)]
    return out


async def cmd_events(server, req):
    """The events received since reset, in the order their metadata arrived, with what timing
    checks need: [{namespace, name, payload, t, ...}]."""
    _check_keys(req, {"namespace", "name", "token", "conn", "invalid"})
    ns, name, token = _opt_str(req, "namespace"), _opt_str(req, "name"), _opt_str(req, "token")
    inv = req.get("invalid", False)
    if inv is not None and not isinstance(inv, bool):
        raise CommandError("invalid must be true, false or null (both)")
    conn = req.get("conn")
    out = []
    for r in server.requests:
        ev = r["event"]
        if ev is None or r["t_metadata"] is None:
            continue
        if ns is not None and ev["namespace"] != ns:
            continue
        if name is not None and name not in (ev["name"], f"{ev['namespace']}.{ev['name']}"):
            continue
        if conn is not None and r["conn"] != conn:
            continue
        if inv is not None and (r["invalid"] is not None) != inv:
            continue
        meta = r["metadata"]
        payload = meta["event"].get("payload") if isinstance(meta.get("event"), dict) else None
        if token is not None and token not in _payload_tokens(payload):
            continue
        offset = payload.get("offsetInMilliseconds") if isinstance(payload, dict) else None
        out.append({"namespace": ev["namespace"], "name": ev["name"], "messageId": ev["messageId"],
                    "dialogRequestId": ev["dialogRequestId"], "payload": payload,
                    "offset_ms": offset if shapes.is_int(offset) else None,
                    "context": meta.get("context"), "t": r["t_metadata"], "t_unix": r["t_metadata_unix"],
                    "t_headers": r["t_headers"], "t_end": r["t_end"], "status": r["status"],
                    "invalid": r["invalid"], "conn": r["conn"], "stream": r["stream"]})
    out.sort(key=lambda e: e["t"])
    return {"events": out, "t": time.monotonic(), "t_unix": time.time()}


async def cmd_capabilities(server, req):
    _check_keys(req, set())
    c = server.capabilities
    return {"capabilities": c["payload"] if c else None, "header": c["header"] if c else None,
            "conn": c["conn"] if c else None, "stream": c["stream"] if c else None,
            "t": c["t"] if c else None, "reports": server.capability_reports}


async def cmd_demo_interfaces(server, req):
    """Arms the demo (like --demo-interfaces: after the next SynchronizeState answered 2xx) or,
    with now: true, runs it at once on the newest (or the given) connection's downchannel."""
    _check_keys(req, {"on", "now", "conn", "delay_ms", "interval_ms"})
    now_, on = req.get("now", False), req.get("on")
    if not isinstance(now_, bool) or (on is not None and not isinstance(on, bool)):
        raise CommandError("now and on must be true or false")
    timing = {}
    for key, default in (("delay_ms", None), ("interval_ms", None)):
        v = req.get(key, default)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 60000:
                raise CommandError(f"{key} must be a number of milliseconds 0..60000")
            timing[key] = v / 1000
    if "interval_ms" in timing:
        server.demo_interval_s = timing["interval_ms"]
    if not now_:
        server.demo_armed = True if on is None else on
        if "delay_ms" in timing:
            server.demo_delay_s = timing["delay_ms"]
        return {"armed": server.demo_armed, "delay_ms": server.demo_delay_s * 1000,
                "interval_ms": server.demo_interval_s * 1000}
    if on is not None:
        server.demo_armed = on
    conn, st = _downchannel(server, req)
    conn.spawn(interfaces.run_demo(server, conn, timing.get("delay_ms", 0.0), server.demo_interval_s), "demo")
    return {"armed": server.demo_armed, "conn": conn.id, "stream": st.sid,
            "directives": [f"{i}.{n}" for i, n in interfaces.DEMO_SEQUENCE]}


# --------------------------------------------------------------------------- Login with Amazon


def _lwa_client_id(server, req: dict, key: str = "client_id") -> str:
    cid = req.get(key, lwa.DEFAULT_CLIENT)
    if not isinstance(cid, str) or cid not in server.lwa.clients:
        raise CommandError(f"{key} must be a known LWA client id (known: {', '.join(server.lwa.clients)})")
    return cid


def _seconds(req: dict, key: str) -> int:
    v = req[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise CommandError(f"{key} must be an integer number of seconds >= 0")
    return v


def _count(req: dict) -> int:
    n = req.get("count", 1)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise CommandError("count must be an integer >= 1")
    return n


async def cmd_lwa_config(server, req):
    """LWA timings, refresh-token rotation and clients; only the given fields change. reset
    restores the timings and rotation (added clients stay)."""
    _check_keys(req, {"access_expires_in", "code_expires_in", "interval", "rotation", "clients", "avs_rejects_issued"})
    L = server.lwa
    new = dict(L.config)
    for key in ("access_expires_in", "code_expires_in", "interval"):
        if key in req:
            new[key] = _seconds(req, key)
    if "avs_rejects_issued" in req:
        if not isinstance(req["avs_rejects_issued"], bool):
            raise CommandError("avs_rejects_issued must be true or false")
        new["avs_rejects_issued"] = req["avs_rejects_issued"]
    if "rotation" in req:
        if req["rotation"] not in lwa.ROTATIONS:
            raise CommandError(f"rotation must be one of {', '.join(lwa.ROTATIONS)}")
        new["rotation"] = req["rotation"]
    clients = req.get("clients") or []
    if not isinstance(clients, list):
        raise CommandError('clients must be a list of {"id": ..., "secret": ... | null}')
    for c in clients:
        if (not isinstance(c, dict) or set(c) - {"id", "secret"} or not isinstance(c.get("id"), str)
                or not c["id"] or not (c.get("secret") is None or isinstance(c["secret"], str))):
            raise CommandError('clients must be a list of {"id": ..., "secret": ... | null}')
    L.config = new
    for c in clients:
        L.add_client(c["id"], c.get("secret"))
    return {"config": dict(L.config), "clients": [{"id": k, "secret": v} for k, v in L.clients.items()]}


async def cmd_lwa_approve(server, req):
    """The user enters the code on the website: the pair's next poll gets tokens."""
    _check_keys(req, {"user_code"})
    uc = req.get("user_code")
    if uc is not None and not isinstance(uc, str):
        raise CommandError("user_code must be a string")
    p = server.lwa.approve(uc)
    if p is None:
        raise CommandError("no pending code pair" + (f" with user_code {uc}" if uc else ""))
    return {"user_code": p["user_code"], "productID": p["productID"],
            "deviceSerialNumber": p["deviceSerialNumber"], "client_id": p["client_id"]}


async def cmd_lwa_authorization_code(server, req):
    """What the companion app / website hands the device after sign-in (PKCE, RFC 7636)."""
    _check_keys(req, {"code_challenge", "code_challenge_method", "client_id", "redirect_uri", "expires_in"})
    ch = req.get("code_challenge")
    if not isinstance(ch, str) or not ch:
        raise CommandError("code_challenge must be a non-empty string")
    if req.get("code_challenge_method") != "S256":
        raise CommandError("code_challenge_method must be S256")
    cid = _lwa_client_id(server, req)
    uri = req.get("redirect_uri")
    if not isinstance(uri, str) or not uri:
        raise CommandError("redirect_uri must be a non-empty string")
    exp = _seconds(req, "expires_in") if "expires_in" in req else lwa.AUTH_CODE_EXPIRES_IN
    return {"code": server.lwa.issue_code(cid, uri, ch, exp), "expires_in": exp}


async def cmd_lwa_fail(server, req):
    """The next `count` requests to `path` ("*" = any) get a scripted answer instead of the real one."""
    _check_keys(req, {"path", "count", "status", "error", "error_description", "drop", "delay_ms", "process"})
    path = req.get("path", lwa.TOKEN_PATH)
    if not isinstance(path, str) or not (path == "*" or path.startswith("/")):
        raise CommandError('path must be "*" or start with /')
    f = {"path": path, "count": _count(req)}
    if req.get("status") is not None:
        st = req["status"]
        if isinstance(st, bool) or not isinstance(st, int) or not 400 <= st <= 599:
            raise CommandError("status must be 400..599")
        f["status"] = st
    for key in ("error", "error_description"):
        if req.get(key) is not None:
            if not isinstance(req[key], str) or not req[key]:
                raise CommandError(f"{key} must be a non-empty string")
            f[key] = req[key]
    for key in ("drop", "process"):
        if key in req:
            if not isinstance(req[key], bool):
                raise CommandError(f"{key} must be true or false")
            f[key] = req[key]
    if req.get("delay_ms") is not None:
        d = req["delay_ms"]
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 <= d <= 600000:
            raise CommandError("delay_ms must be a number 0..600000")
        f["delay_ms"] = d
    if not any(k in f for k in ("status", "error", "drop", "delay_ms")):
        raise CommandError("give status, error, drop or delay_ms")
    if f.get("drop") and ("status" in f or "error" in f):
        raise CommandError("drop excludes status and error")
    server.lwa.faults.append(f)
    return {"queued": f["count"], "faults": [dict(x) for x in server.lwa.faults]}


async def cmd_lwa_slow_down(server, req):
    _check_keys(req, {"count"})
    server.lwa.slow_down_pending += _count(req)
    return {"slow_down_pending": server.lwa.slow_down_pending}


def _opt_token(req: dict) -> str | None:
    tok = req.get("token")
    if tok is not None and (not isinstance(tok, str) or not tok):
        raise CommandError("token must be a non-empty string")
    return tok


async def cmd_lwa_expire_access(server, req):
    _check_keys(req, {"token"})
    tok = _opt_token(req)
    if tok is not None and tok not in server.lwa.access:
        raise CommandError("no such access token issued")
    return {"expired": server.lwa.expire_access(tok)}


async def cmd_lwa_revoke_refresh(server, req):
    _check_keys(req, {"token"})
    tok = _opt_token(req)
    if tok is not None and tok not in server.lwa.refresh:
        raise CommandError("no such refresh token issued")
    return {"revoked": server.lwa.revoke_refresh(tok)}


async def cmd_lwa_expire_code_pairs(server, req):
    _check_keys(req, set())
    return {"expired": server.lwa.expire_pairs()}


async def cmd_lwa_issue_refresh(server, req):
    _check_keys(req, {"client_id"})
    return {"refresh_token": server.lwa.issue_refresh(_lwa_client_id(server, req)),
            "client_id": req.get("client_id", lwa.DEFAULT_CLIENT)}


async def cmd_lwa_state(server, req):
    _check_keys(req, set())
    return {"lwa_port": server.lwa.port, **server.lwa.state()}


COMMANDS: dict[str, Callable[[Any, dict], Awaitable[dict]]] = {
    "log": cmd_log,
    "connections": cmd_connections,
    "reset": cmd_reset,
    "ping": cmd_ping,
    "push_directive": cmd_push_directive,
    "close_downchannel": cmd_close_downchannel,
    "goaway": cmd_goaway,
    "script_event": cmd_script_event,
    "withhold_ping_acks": cmd_withhold_ping_acks,
    "refuse_connections": cmd_refuse_connections,
    "set_token": cmd_set_token,
    "set_max_concurrent_streams": cmd_set_max_concurrent_streams,
    "kill_connections": cmd_kill_connections,
    "wait_for": cmd_wait_for,
    "recognize_config": cmd_recognize_config,
    "audio": cmd_audio,
    "hold_answers": cmd_hold_answers,
    "reset_stream": cmd_reset_stream,
    "push_interface_directive": cmd_push_interface_directive,
    "set_alert": cmd_set_alert,
    "audio_play": cmd_audio_play,
    "events": cmd_events,
    "capabilities": cmd_capabilities,
    "demo_interfaces": cmd_demo_interfaces,
    "lwa_config": cmd_lwa_config,
    "lwa_approve": cmd_lwa_approve,
    "lwa_authorization_code": cmd_lwa_authorization_code,
    "lwa_fail": cmd_lwa_fail,
    "lwa_slow_down": cmd_lwa_slow_down,
    "lwa_expire_access": cmd_lwa_expire_access,
    "lwa_revoke_refresh": cmd_lwa_revoke_refresh,
    "lwa_expire_code_pairs": cmd_lwa_expire_code_pairs,
    "lwa_issue_refresh": cmd_lwa_issue_refresh,
    "lwa_state": cmd_lwa_state,
}
