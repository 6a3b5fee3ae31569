#!/usr/bin/env python3
"""Self-test for the AVS test server: python3 emulator/test_server.py (exit 0 = pass).

Generates certificates in a temp dir, starts avs_server.py, and talks to it as
an HTTP/2 client (h2 + ssl, trusting the test CA, verifying host "localhost")
and through the control port.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import defaultdict
from urllib.parse import urlencode

import h2.config
import h2.connection
import h2.events
import h2.settings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import multipart as mp  # noqa: E402
import shapes  # noqa: E402

SERVER = os.path.join(HERE, "avs_server.py")
TOKEN = "test-token"
EVENTS = "/v20160207/events"
DIRECTIVES = "/v20160207/directives"


# --------------------------------------------------------------------------- helpers


class ServerProc:
    def __init__(self, certs: str, *extra: str):
        self.log_path = os.path.join(certs, f"server-{uuid.uuid4().hex[:6]}.log")
        self.p = subprocess.Popen([sys.executable, SERVER, "serve", "--certs", certs, *extra],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=open(self.log_path, "w"))
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("server did not start")
        info = json.loads(line)
        self.port, self.control_port, self.pid = info["port"], info["control_port"], info["pid"]
        self.lwa_port = info["lwa_port"]
        self.ctl = Control(self.control_port)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait(5)


class Control:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.sock.makefile("rwb")

    def raw(self, cmd: str, **kw) -> dict:
        self.f.write(json.dumps({"cmd": cmd, **kw}).encode() + b"\n")
        self.f.flush()
        return json.loads(self.f.readline())

    def __call__(self, cmd: str, **kw) -> dict:
        r = self.raw(cmd, **kw)
        assert r.get("ok") is True, f"control {cmd} failed: {r}"
        return r


class NoLimitH2(h2.connection.H2Connection):
    """Client-side h2 that can ignore the server's stream limit (to test
    refusal) and keeps working after a GOAWAY (h2 would refuse all further
    frames, so open streams could not finish)."""
    ignore_limit = False

    def _receive_goaway_frame(self, frame):
        ev = h2.events.ConnectionTerminated()
        ev.error_code = frame.error_code
        ev.last_stream_id = frame.last_stream_id
        ev.additional_data = frame.additional_data or None
        return [], [ev]

    @property
    def open_outbound_streams(self):
        if self.ignore_limit:
            return 0
        return h2.connection.H2Connection.open_outbound_streams.fget(self)


class Client:
    """A small blocking HTTP/2 client."""

    def __init__(self, port: int, ca: str, host: str = "localhost", alpn=("h2",), token: str = TOKEN):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.set_alpn_protocols(list(alpn))
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock = ctx.wrap_socket(raw, server_hostname=host)
        self.alpn = self.sock.selected_alpn_protocol()
        self.token = token
        self.h2 = NoLimitH2(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.h2.initiate_connection()
        self.streams = defaultdict(lambda: {"status": None, "headers": {}, "data": bytearray(),
                                            "frames": [], "ended": False, "reset": None})
        self.goaway = None
        self.ping_acks: list[bytes] = []
        self.closed = False
        self.flush()

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, timeout: float) -> None:
        if self.closed:
            time.sleep(min(timeout, 0.05))
            return
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return
        except (ssl.SSLError, OSError):
            data = b""
        if not data:
            self.closed = True
            return
        for ev in self.h2.receive_data(data):
            s = self.streams[ev.stream_id] if hasattr(ev, "stream_id") and ev.stream_id else None
            if isinstance(ev, h2.events.ResponseReceived):
                s["headers"] = dict(ev.headers)
                s["status"] = int(s["headers"][":status"])
            elif isinstance(ev, h2.events.DataReceived):
                s["data"] += ev.data
                s["frames"].append(len(ev.data))
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                s["ended"] = True
            elif isinstance(ev, h2.events.StreamReset):
                s["reset"] = ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = ev
            elif isinstance(ev, h2.events.PingAckReceived):
                self.ping_acks.append(ev.ping_data)
        try:
            self.flush()
        except OSError:
            self.closed = True

    def until(self, pred, timeout: float = 5.0, what: str = "condition") -> None:
        end = time.monotonic() + timeout
        while not pred():
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            self.pump(min(left, 0.2))

    def request(self, method: str, path: str, headers=(), body: bytes | None = None, end: bool = True,
                auth: bool = True) -> int:
        sid = self.h2.get_next_available_stream_id()
        hs = [(":method", method), (":scheme", "https"), (":authority", "localhost"), (":path", path)]
        if auth:
            hs.append(("authorization", f"Bearer {self.token}"))
        hs += list(headers)
        self.h2.send_headers(sid, hs, end_stream=(end and not body))
        self.flush()
        self.streams[sid]  # create entry
        if body:
            self.send(sid, body, end)
        return sid

    def send(self, sid: int, data: bytes, end: bool = False, frame: int = 16384) -> None:
        pos = 0
        while pos < len(data):
            n = min(frame, len(data) - pos, self.h2.local_flow_control_window(sid),
                    self.h2.max_outbound_frame_size)
            if n <= 0:
                self.pump(0.05)
                continue
            self.h2.send_data(sid, data[pos:pos + n], end_stream=end and pos + n == len(data))
            pos += n
            self.flush()
        if end and not data:
            self.h2.end_stream(sid)
            self.flush()

    def end(self, sid: int) -> None:
        self.h2.end_stream(sid)
        self.flush()

    def response(self, sid: int, timeout: float = 5.0) -> dict:
        s = self.streams[sid]
        self.until(lambda: s["ended"] or s["reset"] is not None, timeout, f"response on stream {sid}")
        return s

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def event_parts(ns: str, name: str, payload=None, audio: bytes | None = None, dialog: str | None = None):
    header = {"namespace": ns, "name": name, "messageId": str(uuid.uuid4())}
    if dialog:
        header["dialogRequestId"] = dialog
    meta = {"context": [], "event": {"header": header, "payload": payload or {}}}
    parts = [([("Content-Disposition", 'form-data; name="metadata"'),
               ("Content-Type", "application/json; charset=UTF-8")], json.dumps(meta).encode())]
    if audio is not None:
        parts.append(([("Content-Disposition", 'form-data; name="audio"'),
                       ("Content-Type", "application/octet-stream")], audio))
    return parts


def event_body(ns: str, name: str, boundary: str = "evt-boundary-1234", **kw) -> tuple[list, bytes]:
    return ([("content-type", f"multipart/form-data; boundary={boundary}")],
            mp.encode(boundary, event_parts(ns, name, **kw)))


def post_event(c: Client, ns: str, name: str, **kw) -> int:
    headers, body = event_body(ns, name, **kw)
    return c.request("POST", EVENTS, headers, body)


def parse_multipart(content_type: str, body: bytes) -> list[tuple[dict, bytes]]:
    _, params = mp.parse_header_value(content_type)
    parts: list = []
    p = mp.MultipartParser(params["boundary"],
                           lambda h: parts.append([{k.lower(): v for k, v in h}, bytearray()]),
                           lambda d: parts[-1][1].extend(d), lambda: None)
    p.feed(body)
    return [(h, bytes(b)) for h, b in parts]


def boundary_of(content_type: str) -> str:
    return mp.parse_header_value(content_type)[1]["boundary"]


# ---- Recognize helpers

FIXTURES = os.path.join(HERE, "fixtures")
UTTERANCE = open(os.path.join(FIXTURES, "utterance.wav"), "rb").read()[44:]  # 16 kHz L16 mono
SPEAK_MP3 = open(os.path.join(FIXTURES, "speak.mp3"), "rb").read()
TAP = {"type": "TAP"}


def recognize_payload(profile: str, initiator=TAP) -> dict:
    p = {"profile": profile, "format": "AUDIO_L16_RATE_16000_CHANNELS_1"}
    if initiator is not None:
        p["initiator"] = initiator
    return p


def start_recognize(c: Client, profile: str, dialog: str | None, initiator=TAP, payload=None,
                    context=True) -> tuple[int, str]:
    """Opens a Recognize and sends the metadata part and the audio part's
    headers, not ending the stream. Returns (stream id, boundary)."""
    boundary = f"rec-{uuid.uuid4().hex}"
    header = {"namespace": "SpeechRecognizer", "name": "Recognize", "messageId": str(uuid.uuid4())}
    if dialog is not None:
        header["dialogRequestId"] = dialog
    meta = {"event": {"header": header, "payload": payload or recognize_payload(profile, initiator)}}
    if context:
        meta = {"context": [{"header": {"namespace": "SpeechRecognizer", "name": "RecognizerState"},
                             "payload": {"wakeword": "ALEXA"}}], **meta}
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
            f"Content-Type: application/json; charset=UTF-8\r\n\r\n").encode() + json.dumps(meta).encode()
    head += (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"\r\n"
             f"Content-Type: application/octet-stream\r\n\r\n").encode()
    sid = c.request("POST", EVENTS, [("content-type", f"multipart/form-data; boundary={boundary}")],
                    head, end=False)
    return sid, boundary


def end_recognize(c: Client, sid: int, boundary: str) -> None:
    c.send(sid, f"\r\n--{boundary}--\r\n".encode(), end=True)


def response_parts(s: dict) -> list[tuple[dict, bytes, bool]]:
    """Parts of a multipart response so far: (headers, body, complete)."""
    ct = s["headers"].get("content-type", "")
    if not ct.startswith("multipart/related"):
        return []
    parts: list = []
    p = mp.MultipartParser(boundary_of(ct),
                           lambda h: parts.append([{k.lower(): v for k, v in h}, bytearray(), False]),
                           lambda d: parts[-1][1].extend(d),
                           lambda: parts[-1].__setitem__(2, True))
    p.feed(bytes(s["data"]))
    return [(h, bytes(b), done) for h, b, done in parts]


def response_directives(s: dict) -> list[tuple[dict, dict]]:
    """Complete JSON parts as (header, directive) with header = the directive header."""
    out = []
    for h, body, done in response_parts(s):
        if done and h.get("content-type", "").startswith("application/json"):
            d = json.loads(body)["directive"]
            out.append((d["header"], d))
    return out


def attachments(s: dict) -> dict[str, bytes]:
    return {h["content-id"].strip("<>"): body for h, body, done in response_parts(s)
            if done and "content-id" in h}


def stream_audio(c: Client, sid: int, pcm: bytes, speed: float = 1.0, until=None) -> int:
    """Sends pcm in 320-byte DATA frames, paced at speed x real time (10 ms of
    audio per frame), until `until()` is true. Returns the bytes sent."""
    t0 = time.monotonic()
    sent = 0
    for i in range(0, len(pcm), 320):
        if until is not None and until():
            break
        c.send(sid, pcm[i:i + 320], frame=320)
        sent += len(pcm[i:i + 320])
        due = t0 + (i // 320 + 1) * 0.010 / speed
        while True:
            left = due - time.monotonic()
            c.pump(max(left, 0.0005) if left > 0 else 0.0005)
            if left <= 0 or (until is not None and until()):
                break
    return sent


def has_directive(s: dict, name: str) -> bool:
    return any(h["name"] == name for h, _ in response_directives(s))


def rec_for_dialog(ctl, dialog: str) -> dict:
    for _ in range(200):
        recs = [x for x in ctl("log")["requests"]
                if x["event"] and x["event"].get("dialogRequestId") == dialog]
        if recs and recs[-1]["t_closed"] is not None:
            return recs[-1]
        time.sleep(0.01)
    return recs[-1]


def check_speak(s: dict, dialog: str, mp3: bytes = SPEAK_MP3) -> dict:
    assert s["status"] == 200, s["status"]
    ct = s["headers"]["content-type"]
    assert ct.startswith("multipart/related; boundary=") and 'type="application/json"' in ct, ct
    speak = [d for h, d in response_directives(s) if h["name"] == "Speak"]
    assert len(speak) == 1, response_directives(s)
    sp = speak[0]
    assert sp["header"]["namespace"] == "SpeechSynthesizer" and sp["header"]["dialogRequestId"] == dialog
    p = sp["payload"]
    assert p["format"] == "AUDIO_MPEG" and p["token"] and p["url"].startswith("cid:"), p
    cid = p["url"][4:]
    assert len(cid) > 30 and all(ch in cid for ch in ":._#"), cid
    att = attachments(s)
    assert att.get(cid) == mp3, (list(att), len(att.get(cid, b"")))
    assert bytes(s["data"]).endswith(b"--\r\n") and s["ended"]
    return sp


def open_downchannel(c: Client) -> int:
    sid = c.request("GET", DIRECTIVES)
    c.until(lambda: c.streams[sid]["status"] is not None, what="downchannel headers")
    assert c.streams[sid]["status"] == 200, c.streams[sid]
    return sid


# --------------------------------------------------------------------------- tests


def t_certs(env):
    d = env["certs"]
    for n in ("ca", "server", "wronghost", "other-ca", "expired", "ip-only", "ip-as-dns", "ip-cn"):
        for ext in ("pem", "key"):
            assert os.path.exists(os.path.join(d, f"{n}.{ext}")), f"missing {n}.{ext}"
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, SERVER, "gen-certs", d], capture_output=True, text=True)
    assert out.returncode == 0 and "nothing" in out.stderr, out.stderr
    assert time.monotonic() - t0 < 5

    def verify(ca, cert):
        return subprocess.run(["openssl", "verify", "-CAfile", os.path.join(d, ca), os.path.join(d, cert)],
                              capture_output=True, text=True)
    assert verify("ca.pem", "server.pem").returncode == 0
    assert verify("ca.pem", "wronghost.pem").returncode == 0
    assert verify("other-ca.pem", "server.pem").returncode != 0
    r = verify("ca.pem", "expired.pem")
    assert r.returncode != 0 and "expired" in (r.stdout + r.stderr)
    text = subprocess.run(["openssl", "x509", "-in", os.path.join(d, "server.pem"), "-noout", "-text"],
                          capture_output=True, text=True).stdout
    assert "DNS:127.0.0.1" not in text, "server.pem names its address as a DNS name"
    for want in ("DNS:localhost", "IP Address:127.0.0.1", "TLS Web Server Authentication",
                 "Subject Key Identifier", "Authority Key Identifier", "Version: 3"):
        assert want in text, f"server.pem lacks {want}"
    text = subprocess.run(["openssl", "x509", "-in", os.path.join(d, "ca.pem"), "-noout", "-text"],
                          capture_output=True, text=True).stdout
    assert "CA:TRUE" in text and "Certificate Sign" in text


def t_basic(env):
    srv, ctl = env["srv"], env["srv"].ctl
    c = Client(srv.port, env["ca"])
    assert c.alpn == "h2"
    dc = open_downchannel(c)
    ct = c.streams[dc]["headers"]["content-type"]
    assert ct.startswith("multipart/related; boundary=") and 'type="application/json"' in ct, ct
    sid = post_event(c, "System", "SynchronizeState")
    r = c.response(sid)
    assert r["status"] == 204 and not r["data"], r
    sid = c.request("GET", "/ping")
    assert c.response(sid)["status"] == 204
    sid = c.request("GET", "/nope")
    assert c.response(sid)["status"] == 404
    log = ctl("log")["requests"]
    ev = [x for x in log if x["event"]]
    assert len(ev) == 1 and ev[0]["event"]["name"] == "SynchronizeState" and ev[0]["status"] == 204
    assert ev[0]["metadata"]["event"]["header"]["namespace"] == "System"
    assert ev[0]["t_end"] is not None and ev[0]["t_closed"] is not None
    assert ev[0]["headers"]["authorization"] == f"Bearer {TOKEN}"
    conns = ctl("connections")["connections"]
    me = conns[-1]
    assert me["alpn"] == "h2" and me["downchannel_streams"] == [dc] and not me["refused"], me
    assert me["t_tls_done"] >= me["t_accept"]
    env["conn_id"] = ev[0]["conn"]
    env["client"] = c
    env["dc"] = dc


def t_push_directive_bytewise(env):
    c, dc, ctl = env["client"], env["dc"], env["srv"].ctl
    boundary = boundary_of(c.streams[dc]["headers"]["content-type"])
    directive = {"directive": {"header": {"namespace": "Speaker", "name": "SetVolume", "messageId": "m1"},
                               "payload": {"volume": 42}}}
    blob = bytes(range(256)) * 3
    before = len(c.streams[dc]["data"])
    nframes_before = len(c.streams[dc]["frames"])
    r = ctl("push_directive", directives=[directive],
            attachments=[{"content_id": "att:1.x_y#z", "data_b64": base64.b64encode(blob).decode()}],
            chunk_size=1)
    js = json.dumps(directive).encode()
    B = boundary.encode()
    expect = (b"\r\n--" + B + b"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" + js +
              b"\r\n--" + B + b"\r\nContent-Type: application/octet-stream\r\nContent-ID: <att:1.x_y#z>\r\n\r\n" +
              blob + b"\r\n--" + B + b"\r\n")
    assert r["bytes"] == len(expect), (r, len(expect))
    c.until(lambda: len(c.streams[dc]["data"]) - before >= len(expect), what="pushed bytes")
    got = bytes(c.streams[dc]["data"][before:])
    assert got == expect, (got[:200], expect[:200])
    frames = c.streams[dc]["frames"][nframes_before:]
    assert max(frames) == 1 and len(frames) == len(expect), "expected 1-byte DATA frames"
    # The stream stays open and a second push continues the same body.
    r = ctl("push_directive", directives=['{"not": "valid directive"'])
    c.until(lambda: bytes(c.streams[dc]["data"]).endswith(b'{"not": "valid directive"\r\n--' + B + b"\r\n"),
            what="second push")
    assert not c.streams[dc]["ended"]
    parts = parse_multipart(c.streams[dc]["headers"]["content-type"], bytes(c.streams[dc]["data"]) + b"\r\n--" + B + b"--")
    assert [p[0].get("content-id") for p in parts] == [None, "<att:1.x_y#z>", None], parts
    assert parts[1][1] == blob and json.loads(parts[0][1]) == directive


def t_scripted_500(env):
    c, ctl = env["client"], env["srv"].ctl
    ctl("script_event", name="System.SynchronizeState", status=500,
        exception={"code": "INTERNAL_SERVICE_EXCEPTION", "description": "boom"})
    sid = post_event(c, "System", "SynchronizeState")
    r = c.response(sid)
    assert r["status"] == 500 and r["headers"]["content-type"] == "application/json", r
    body = json.loads(bytes(r["data"]))
    assert body["header"]["namespace"] == "System" and body["header"]["name"] == "Exception"
    assert body["payload"] == {"code": "INTERNAL_SERVICE_EXCEPTION", "description": "boom"}
    # Script consumed: next one is a 204 again.
    assert c.response(post_event(c, "System", "SynchronizeState"))["status"] == 204
    # Default exception for a bare status.
    ctl("script_event", name="UserInactivityReport", status=429)
    r = c.response(post_event(c, "System", "UserInactivityReport", payload={"inactiveTimeInSeconds": 1}))
    assert r["status"] == 429 and json.loads(bytes(r["data"]))["payload"]["code"] == "THROTTLING_EXCEPTION"
    # A scripted RST_STREAM instead of an answer, after a delay.
    ctl("script_event", name="*", reset=2, delay_headers_ms=50)
    t0 = time.monotonic()
    r = c.response(post_event(c, "System", "SynchronizeState"))
    assert r["reset"] == 2 and r["status"] is None and time.monotonic() - t0 >= 0.04, r


def t_scripted_directives(env):
    c, ctl = env["client"], env["srv"].ctl
    speak = {"directive": {"header": {"namespace": "SpeechSynthesizer", "name": "Speak", "messageId": "s1",
                                      "dialogRequestId": "d1"},
                           "payload": {"url": "cid:mp3-1", "format": "AUDIO_MPEG", "token": "t"}}}
    mp3 = os.urandom(5000)
    ctl("script_event", name="SpeechRecognizer.Recognize", status=200, directives=[speak],
        attachments=[{"content_id": "mp3-1", "data_b64": base64.b64encode(mp3).decode()}],
        respond_before_end=True, chunk_size=7)
    boundary = "rec-bound"
    parts = event_parts("SpeechRecognizer", "Recognize", dialog="d1",
                        payload={"profile": "NEAR_FIELD", "format": "AUDIO_L16_RATE_16000_CHANNELS_1"},
                        audio=b"")
    body = mp.encode(boundary, parts)
    # Send everything up to the start of the audio data, but do not end the stream.
    head = body[:body.index(b'name="audio"')]
    head = body[:body.index(b"\r\n\r\n", len(head)) + 4]
    sid = c.request("POST", EVENTS, [("content-type", f"multipart/form-data; boundary={boundary}")],
                    head, end=False)
    s = c.streams[sid]
    c.until(lambda: s["ended"], what="early response")
    assert s["status"] == 200 and max(s["frames"]) <= 7
    got = parse_multipart(s["headers"]["content-type"], bytes(s["data"]))
    assert json.loads(got[0][1]) == speak and got[1][1] == mp3 and got[1][0]["content-id"] == "<mp3-1>"
    audio = os.urandom(320 * 50)
    for i in range(0, len(audio), 320):
        c.send(sid, audio[i:i + 320])
    c.send(sid, b"\r\n--" + boundary.encode() + b"--\r\n", end=True)
    rec = None
    for _ in range(50):
        log = ctl("log")["requests"]
        rec = [x for x in log if x["stream"] == sid and x["conn"] == log[-1]["conn"]][-1]
        if rec["t_closed"]:
            break
        time.sleep(0.02)
    assert rec["audio_bytes"] == len(audio) and rec["audio_sha256"] == hashlib.sha256(audio).hexdigest(), rec
    assert rec["event"]["dialogRequestId"] == "d1" and rec["t_response_headers"] < rec["t_end"]


def t_auth(env):
    srv, ctl = env["srv"], env["srv"].ctl
    c = Client(srv.port, env["ca"], token="wrong")
    r = c.response(post_event(c, "System", "SynchronizeState"))
    assert r["status"] == 403, r
    assert json.loads(bytes(r["data"]))["payload"]["code"] == "UNAUTHORIZED_REQUEST_EXCEPTION"
    r = c.response(c.request("GET", DIRECTIVES))
    assert r["status"] == 403
    r = c.response(c.request("POST", EVENTS, *event_body("System", "SynchronizeState"), auth=False))
    assert r["status"] == 403
    c.close()
    # set_token: the old token is now refused on an existing connection.
    main = env["client"]
    ctl("set_token", token="new-token")
    assert main.response(post_event(main, "System", "SynchronizeState"))["status"] == 403
    ctl("set_token", token=TOKEN)
    assert main.response(post_event(main, "System", "SynchronizeState"))["status"] == 204


def t_invalid_bodies(env):
    c = env["client"]
    good_meta = json.dumps({"context": [], "event": {"header": {"namespace": "System", "name": "SynchronizeState",
                                                                "messageId": "1"}, "payload": {}}}).encode()
    md = [("Content-Disposition", 'form-data; name="metadata"'), ("Content-Type", "application/json; charset=UTF-8")]
    cases = {
        "not multipart": ([("content-type", "application/json")], good_meta),
        "no boundary": ([("content-type", "multipart/form-data")], good_meta),
        "garbage": ([("content-type", "multipart/form-data; boundary=xyz")], b"this is not multipart"),
        "no close delimiter": ([("content-type", "multipart/form-data; boundary=xyz")],
                               mp.encode("xyz", [(md, good_meta)])[:-8]),
        "first part not metadata": ([("content-type", "multipart/form-data; boundary=xyz")],
                                    mp.encode("xyz", [([("Content-Disposition", 'form-data; name="audio"'),
                                                        ("Content-Type", "application/octet-stream")], b"x")])),
        "bad json": ([("content-type", "multipart/form-data; boundary=xyz")],
                     mp.encode("xyz", [(md, b"{not json")])),
        "missing messageId": ([("content-type", "multipart/form-data; boundary=xyz")],
                              mp.encode("xyz", [(md, b'{"event":{"header":{"namespace":"A","name":"B"},"payload":{}}}')])),
        "three parts": ([("content-type", "multipart/form-data; boundary=xyz")],
                        mp.encode("xyz", [(md, good_meta),
                                          ([("Content-Disposition", 'form-data; name="audio"'),
                                            ("Content-Type", "application/octet-stream")], b"a"),
                                          ([("Content-Disposition", 'form-data; name="x"')], b"b")])),
    }
    for what, (headers, body) in cases.items():
        r = c.response(c.request("POST", EVENTS, headers, body))
        assert r["status"] == 400, (what, r)
        assert r["headers"]["content-type"] == "application/json"
        js = json.loads(bytes(r["data"]))
        assert js["payload"]["code"] == "INVALID_REQUEST_EXCEPTION" and js["payload"]["description"], js
    # Lenient: charset case, extra whitespace, quoted boundary, leading CRLF, are all fine.
    lenient = mp.encode("q b", [([("content-disposition", 'form-data;name=metadata'),
                                  ("content-type", "application/json;charset=utf-8")], good_meta)])
    r = c.response(c.request("POST", EVENTS, [("content-type", 'multipart/form-data ; boundary="q b"')],
                             b"\r\n" + lenient))
    assert r["status"] == 204, r


def my_conn(env) -> dict:
    return [x for x in env["srv"].ctl("connections")["connections"] if x["id"] == env["conn_id"]][0]


def t_ping(env):
    c, ctl = env["client"], env["srv"].ctl
    before = my_conn(env)
    c.h2.ping(b"12345678")
    c.flush()
    c.until(lambda: b"12345678" in c.ping_acks, what="ping ack")
    ctl("withhold_ping_acks", on=True)
    c.h2.ping(b"abcdefgh")
    c.flush()
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        c.pump(0.1)
    assert b"abcdefgh" not in c.ping_acks, "ping was acked while withheld"
    ctl("withhold_ping_acks", on=False)
    after = my_conn(env)
    assert after["pings_received"] - before["pings_received"] == 2
    assert after["pings_acked"] - before["pings_acked"] == 1


def t_concurrency_and_hold_open(env):
    srv, ctl = env["srv"], env["srv"].ctl
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    hdr = [("content-type", "multipart/form-data; boundary=cc")]
    sids = [c.request("POST", EVENTS, hdr, b"", end=False) for _ in range(9)]  # 1 + 9 = 10 open
    c.h2.ignore_limit = True
    extra = c.request("POST", EVENTS, hdr, b"", end=False)
    c.h2.ignore_limit = False
    r = c.response(extra)
    assert r["reset"] == 7, f"expected REFUSED_STREAM, got {r}"  # 7 = REFUSED_STREAM
    body = mp.encode("cc", event_parts("System", "SynchronizeState"))
    for sid in sids:
        c.send(sid, body, end=True)
    for sid in sids:
        assert c.response(sid)["status"] == 204
    me = [x for x in ctl("connections")["connections"] if x["id"] == max(y["id"] for y in ctl("connections")["connections"])][0]
    assert me["max_concurrent_seen"] == 11 and me["concurrency_violations"] == 1, me
    log = ctl("log")["requests"]
    refused = [x for x in log if x["conn"] == me["id"] and x["stream"] == extra][0]
    assert "refused" in refused["error"]
    # hold_open_ms keeps the response stream open after the headers.
    ctl("script_event", name="*", status=204, hold_open_ms=300)
    sid = post_event(c, "System", "SynchronizeState")
    c.until(lambda: c.streams[sid]["status"] == 204, what="held response headers")
    t0 = time.monotonic()
    c.response(sid)
    assert time.monotonic() - t0 >= 0.2
    # Lowering the limit at run time sends SETTINGS.
    ctl("set_max_concurrent_streams", n=3)
    c.until(lambda: c.h2.remote_settings.max_concurrent_streams == 3, what="SETTINGS update")
    ctl("set_max_concurrent_streams", n=10)
    c.close()


def t_flow_control(env):
    c, ctl = env["client"], env["srv"].ctl
    # Upload 2 MiB of "audio": needs the server to give the window back.
    audio = os.urandom(2 * 1024 * 1024)
    headers, body = event_body("SpeechRecognizer", "Recognize", audio=audio, dialog="flow-1",
                               payload=recognize_payload("CLOSE_TALK"))
    sid = c.request("POST", EVENTS, headers, body)
    r = c.response(sid, 20)
    assert r["status"] == 200 and [d["name"] for d, _ in response_directives(r)] == ["Speak"], r["status"]
    rec = [x for x in ctl("log")["requests"] if x["stream"] == sid][-1]
    assert rec["audio_bytes"] == len(audio) and rec["audio_sha256"] == hashlib.sha256(audio).hexdigest()
    assert rec["audio_max_frame_payload"] <= 16384 and rec["audio_frames"] >= len(audio) // 16384
    # Download 600 KB: larger than the 64 KiB default window.
    blob = os.urandom(600 * 1000)
    ctl("script_event", name="SynchronizeState", status=200,
        attachments=[{"content_id": "big", "data_b64": base64.b64encode(blob).decode()}])
    r = c.response(post_event(c, "System", "SynchronizeState"), 20)
    parts = parse_multipart(r["headers"]["content-type"], bytes(r["data"]))
    assert parts[0][1] == blob


RECOGNIZE_DEFAULTS = dict(stop_capture_after_bytes=32000, speak_mp3_b64=None, attachment_first=False,
                          chunk_size=0, expect_speech=None, stale_directive=False, fail_status=None,
                          hang=False, drop_connection_after_bytes=None, split_delimiters=False,
                          set_alert=None, play=None)


def t_recognize_near_field(env):
    """NEAR_FIELD turn in real time: 200 at once, StopCapture after 1 s of
    audio, the client stops and ends the stream, then Speak + the MP3."""
    srv, ctl = env["srv"], env["srv"].ctl
    assert ctl("recognize_config")["config"] == {
        **{k: v for k, v in RECOGNIZE_DEFAULTS.items() if k != "speak_mp3_b64"},
        "speak_mp3_override": False, "speak_mp3_bytes": len(SPEAK_MP3),
        "speak_mp3_sha256": hashlib.sha256(SPEAK_MP3).hexdigest()}
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    dialog = f"dlg-{uuid.uuid4()}"
    sid, boundary = start_recognize(c, "NEAR_FIELD", dialog)
    s = c.streams[sid]
    c.until(lambda: s["status"] is not None, what="Recognize response headers")
    assert s["status"] == 200 and not s["ended"]
    t0 = time.monotonic()
    sent = stream_audio(c, sid, UTTERANCE, 1.0, until=lambda: has_directive(s, "StopCapture"))
    elapsed = time.monotonic() - t0
    assert has_directive(s, "StopCapture"), f"no StopCapture after {sent} bytes"
    assert 32000 <= sent <= 32000 + 20 * 320, sent
    assert 0.9 < elapsed < 1.6, elapsed
    (h, stop), = response_directives(s)
    assert h["namespace"] == "SpeechRecognizer" and h["dialogRequestId"] == dialog and stop["payload"] == {}
    assert not s["ended"] and not attachments(s)
    end_recognize(c, sid, boundary)
    c.response(sid)
    check_speak(s, dialog)
    assert [h["name"] for h, _ in response_directives(s)] == ["StopCapture", "Speak"]
    rec = rec_for_dialog(ctl, dialog)
    assert rec["status"] == 200 and rec["validation_error"] is None and rec["error"] is None, rec
    assert rec["t_response_headers"] < rec["t_stop_capture"] < rec["t_audio_end"] <= rec["t_end"], rec
    assert rec["audio_bytes"] == sent and rec["audio_sha256"] == hashlib.sha256(UTTERANCE[:sent]).hexdigest()
    assert 0 <= rec["audio_bytes_after_stop"] <= sent - 32000, rec
    assert rec["audio_frames"] == sent // 320 and rec["audio_max_frame"] == 320, rec
    assert rec["audio_max_frame_payload"] == 320, rec
    assert [d["name"] for d in rec["directives_sent"]] == ["StopCapture", "Speak"]
    a = ctl("audio", index=-1)
    assert base64.b64decode(a["audio_b64"]) == UTTERANCE[:sent] and a["bytes"] == sent and a["complete"]
    assert a["stream"] == sid and a["sha256"] == hashlib.sha256(UTTERANCE[:sent]).hexdigest()
    # The same through its absolute index.
    assert ctl("audio", index=a["index"])["audio_b64"] == a["audio_b64"]
    # The client plays the Speak and reports it.
    for name in ("SpeechStarted", "SpeechFinished"):
        r = c.response(post_event(c, "SpeechSynthesizer", name,
                                  payload={"token": rec["directives_sent"][1]["payload"]["token"]}))
        assert r["status"] == 204, r
    c.close()
    return f"StopCapture after {sent} bytes sent, {rec['audio_bytes_after_stop']} bytes after it"


def t_recognize_close_talk(env):
    """CLOSE_TALK: never StopCapture; the client ends the audio; Speak after END_STREAM."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("recognize_config", **RECOGNIZE_DEFAULTS)  # independent of earlier failures
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    dialog = f"dlg-{uuid.uuid4()}"
    sid, boundary = start_recognize(c, "CLOSE_TALK", dialog)
    s = c.streams[sid]
    sent = stream_audio(c, sid, UTTERANCE, 8.0)
    assert sent == len(UTTERANCE) == 105600
    c.pump(0.1)
    assert s["status"] == 200 and not response_parts(s) and not s["ended"], "CLOSE_TALK got something early"
    end_recognize(c, sid, boundary)
    c.response(sid)
    check_speak(s, dialog)
    assert [h["name"] for h, _ in response_directives(s)] == ["Speak"]
    rec = rec_for_dialog(ctl, dialog)
    assert rec["t_stop_capture"] is None and rec["audio_bytes_after_stop"] == 0
    assert rec["audio_frames"] == 330 and rec["audio_max_frame"] == 320
    a = ctl("audio")
    assert base64.b64decode(a["audio_b64"]) == UTTERANCE and a["bytes"] == 105600
    c.close()


def t_recognize_variants(env):
    """attachment_first + chunk_size, expect_speech (once), stale_directive,
    FAR_FIELD with a wake word, stop_capture_after_bytes."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("recognize_config", **RECOGNIZE_DEFAULTS)  # independent of earlier failures
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    mp3 = os.urandom(3000)
    r = ctl("recognize_config", attachment_first=True, chunk_size=7, stop_capture_after_bytes=3200,
            speak_mp3_b64=base64.b64encode(mp3).decode())
    assert r["config"]["speak_mp3_override"] and r["config"]["speak_mp3_bytes"] == 3000
    wake = {"type": "WAKEWORD", "payload": {"wakeWordIndices": {"startIndexInSamples": 8000,
                                                                "endIndexInSamples": 16000}}}
    dialog = f"dlg-{uuid.uuid4()}"
    sid, boundary = start_recognize(c, "FAR_FIELD", dialog, initiator=wake)
    s = c.streams[sid]
    sent = stream_audio(c, sid, UTTERANCE, 20.0, until=lambda: has_directive(s, "StopCapture"))
    # (StopCapture comes in 7-byte frames and this client reads one TLS record
    # per audio frame: it notices late.)
    assert 3200 <= sent < len(UTTERANCE), sent
    end_recognize(c, sid, boundary)
    c.response(sid)
    check_speak(s, dialog, mp3)
    assert max(s["frames"]) <= 7
    kinds = [("json" if h.get("content-type", "").startswith("application/json") else "mp3")
             for h, _, _ in response_parts(s)]
    assert kinds == ["json", "mp3", "json"], kinds  # StopCapture, then the MP3 before its Speak
    ctl("recognize_config", attachment_first=False, chunk_size=0, speak_mp3_b64=None,
        stop_capture_after_bytes=32000)

    # expect_speech once + stale_directive.
    initiator = {"type": "WAKEWORD", "payload": {"token": "opaque-token"}}
    ctl("recognize_config", stale_directive=True,
        expect_speech={"timeoutInMilliseconds": 8000, "initiator": initiator, "once": True})
    dialog = f"dlg-{uuid.uuid4()}"
    sid, boundary = start_recognize(c, "CLOSE_TALK", dialog)
    s = c.streams[sid]
    stream_audio(c, sid, UTTERANCE[:6400], 50.0)
    end_recognize(c, sid, boundary)
    c.response(sid)
    check_speak(s, dialog)
    ds = response_directives(s)
    assert [h["name"] for h, _ in ds] == ["SetVolume", "Speak", "ExpectSpeech"], ds
    assert ds[0][0]["dialogRequestId"] not in (None, dialog)
    assert ds[2][0]["dialogRequestId"] == dialog
    assert ds[2][1]["payload"] == {"timeoutInMilliseconds": 8000, "initiator": initiator}
    assert ctl("recognize_config", stale_directive=False)["config"]["expect_speech"] is None  # once
    # The next turn echoes the (opaque) initiator: accepted, recorded, no ExpectSpeech any more.
    dialog2 = f"dlg-{uuid.uuid4()}"
    sid, boundary = start_recognize(c, "NEAR_FIELD", dialog2, initiator=initiator)
    s = c.streams[sid]
    stream_audio(c, sid, UTTERANCE, 50.0, until=lambda: has_directive(s, "StopCapture"))
    end_recognize(c, sid, boundary)
    c.response(sid)
    check_speak(s, dialog2)
    assert [h["name"] for h, _ in response_directives(s)] == ["StopCapture", "Speak"]
    rec = rec_for_dialog(ctl, dialog2)
    assert rec["initiator_echoed"] is True and rec["validation_error"] is None, rec
    # A persistent expect_speech without an initiator; the timeout event is a 204.
    ctl("recognize_config", expect_speech={"timeoutInMilliseconds": 5000})
    for i in range(2):
        dialog = f"dlg-{uuid.uuid4()}"
        sid, boundary = start_recognize(c, "CLOSE_TALK", dialog)
        c.send(sid, UTTERANCE[:640])
        end_recognize(c, sid, boundary)
        s = c.response(sid)
        ds = response_directives(s)
        assert [h["name"] for h, _ in ds] == ["Speak", "ExpectSpeech"] and ds[1][1]["payload"] == {
            "timeoutInMilliseconds": 5000}, ds
        assert c.response(post_event(c, "SpeechRecognizer", "ExpectSpeechTimedOut"))["status"] == 204
    ctl("recognize_config", expect_speech=None)
    c.close()


def t_recognize_framing(env):
    """DATA-frame accounting with awkward framing: audio sharing frames with
    multipart bytes, 1-byte frames, audio that looks like a delimiter start."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("recognize_config", **RECOGNIZE_DEFAULTS)
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    dialog = f"dlg-{uuid.uuid4()}"
    boundary = f"rec-{uuid.uuid4().hex}"
    meta = {"context": [], "event": {"header": {"namespace": "SpeechRecognizer", "name": "Recognize",
                                                "messageId": "m", "dialogRequestId": dialog},
                                     "payload": recognize_payload("CLOSE_TALK")}}
    body = mp.encode(boundary, [([("Content-Disposition", 'form-data; name="metadata"'),
                                  ("Content-Type", "application/json; charset=UTF-8")], json.dumps(meta).encode()),
                                 ([("Content-Disposition", 'form-data; name="audio"'),
                                   ("Content-Type", "application/octet-stream")], b"@AUDIO@")])
    head, tail = body.split(b"@AUDIO@")
    tricky = b"x" * 400 + b"\r\n--" + boundary[:10].encode()  # a delimiter start inside the audio
    audio = UTTERANCE[:100] + UTTERANCE[100:150] + tricky + UTTERANCE[:320] + UTTERANCE[:200]
    frames = [head + UTTERANCE[:100]] + [UTTERANCE[100 + i:101 + i] for i in range(50)]
    frames += [tricky, UTTERANCE[:320], UTTERANCE[:200] + tail[:5]] + [tail[i:i + 1] for i in range(5, len(tail))]
    sid = c.request("POST", EVENTS, [("content-type", f"multipart/form-data; boundary={boundary}")], b"", end=False)
    for i, f in enumerate(frames):
        c.send(sid, f, end=i == len(frames) - 1, frame=len(f))
    check_speak(c.response(sid), dialog)
    rec = rec_for_dialog(ctl, dialog)
    assert rec["audio_bytes"] == len(audio) and rec["audio_sha256"] == hashlib.sha256(audio).hexdigest(), rec
    assert rec["audio_frames"] == 1 + 50 + 3, rec["audio_frames"]
    assert rec["audio_max_frame"] == len(tricky), rec
    assert rec["audio_max_frame_payload"] == len(frames[0]), rec
    assert base64.b64decode(ctl("audio")["audio_b64"]) == audio
    c.close()


def t_recognize_split_delimiters(env):
    """split_delimiters: each part and its delimiter `CRLF--B` in one write (DATA frame),
    the rest of the delimiter line only with the next write; StopCapture's line is
    finished only after the audio ended."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("recognize_config", **RECOGNIZE_DEFAULTS)
    assert ctl("recognize_config", split_delimiters=True, stop_capture_after_bytes=3200)[
        "config"]["split_delimiters"] is True
    assert ctl.raw("recognize_config", split_delimiters=1)["ok"] is False
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    dialog = f"dlg-{uuid.uuid4()}"
    sid, boundary = start_recognize(c, "NEAR_FIELD", dialog)
    s = c.streams[sid]
    sent = stream_audio(c, sid, UTTERANCE, 20.0, until=lambda: has_directive(s, "StopCapture"))
    assert 3200 <= sent < len(UTTERANCE), sent
    c.pump(0.2)  # nothing more may come while the audio is open
    b = boundary_of(s["headers"]["content-type"]).encode()
    data = bytes(s["data"])
    assert data.startswith(b"--" + b + b"\r\n") and data.endswith(b"}\r\n--" + b), data[-80:]
    assert s["frames"] == [len(data)], s["frames"]  # the part and its delimiter: one DATA frame
    end_recognize(c, sid, boundary)
    c.response(sid)
    sp = check_speak(s, dialog)
    data = bytes(s["data"])
    assert [h["name"] for h, _ in response_directives(s)] == ["StopCapture", "Speak"]
    # Every write (DATA frame here) ends right after a delimiter `CRLF--B`, and the next one
    # starts with the rest of its line: CRLF before a part, `--CRLF` for the close.
    frames = [n for n in s["frames"] if n]  # (END_STREAM may come in an empty DATA frame)
    ends = [sum(frames[:i + 1]) for i in range(len(frames))]
    delim = b"\r\n--" + b
    cuts = [i + len(delim) for i in range(len(data)) if data.startswith(delim, i)]
    assert ends == cuts + [len(data)], (ends, cuts)
    assert [data[e:e + 2] for e in cuts] == [b"\r\n", b"\r\n", b"--"], [data[e:e + 4] for e in cuts]
    assert data.endswith(delim + b"--\r\n")
    speak_json = json.dumps({"directive": sp}).encode()
    assert speak_json in data
    rec = rec_for_dialog(ctl, dialog)
    assert rec["error"] is None and rec["t_stop_capture"] < rec["t_audio_end"], rec
    assert [d["name"] for d in rec["directives_sent"]] == ["StopCapture", "Speak"]
    ctl("recognize_config", **RECOGNIZE_DEFAULTS)
    c.close()
    return f"{len(frames)} writes, each but the close ending with its delimiter"


def t_recognize_errors(env):
    """fail_status, hang, drop_connection_after_bytes, metadata validation."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("recognize_config", **RECOGNIZE_DEFAULTS)  # independent of earlier failures
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    # fail_status: answered at once with a System.Exception, while the audio is still open.
    ctl("recognize_config", fail_status=500)
    dialog = f"dlg-{uuid.uuid4()}"
    sid, boundary = start_recognize(c, "NEAR_FIELD", dialog)
    s = c.streams[sid]
    c.until(lambda: s["ended"], what="500 answer")
    assert s["status"] == 500 and s["headers"]["content-type"] == "application/json"
    js = json.loads(bytes(s["data"]))
    assert js["header"]["name"] == "Exception" and js["payload"]["code"] == "INTERNAL_SERVICE_EXCEPTION"
    end_recognize(c, sid, boundary)
    ctl("recognize_config", fail_status=None)
    # hang: headers, then nothing, whatever the client does.
    ctl("recognize_config", hang=True)
    dialog = f"dlg-{uuid.uuid4()}"
    sid, boundary = start_recognize(c, "NEAR_FIELD", dialog)
    s = c.streams[sid]
    stream_audio(c, sid, UTTERANCE[:48000], 50.0)
    end_recognize(c, sid, boundary)
    end = time.monotonic() + 0.4
    while time.monotonic() < end:
        c.pump(0.05)
    assert s["status"] == 200 and not s["data"] and not s["ended"], s
    c.h2.reset_stream(sid, 8)  # CANCEL: the client gave up
    c.flush()
    ctl("recognize_config", hang=False)
    rec = rec_for_dialog(ctl, dialog)
    assert rec["t_stop_capture"] is None and "reset by client" in rec["error"], rec
    # Validation: 400 at once, validation_error recorded.
    bad = {
        "no dialogRequestId": dict(dialog=None),
        "bad profile": dict(payload={"profile": "LOUD", "format": "AUDIO_L16_RATE_16000_CHANNELS_1",
                                     "initiator": TAP}),
        "bad format": dict(payload={"profile": "NEAR_FIELD", "format": "OPUS", "initiator": TAP}),
        "no initiator": dict(initiator=None),
        "wakeword without indices": dict(initiator={"type": "WAKEWORD", "payload": {}}),
        "wakeword float index": dict(initiator={"type": "WAKEWORD", "payload": {"wakeWordIndices": {
            "startIndexInSamples": 1.5, "endIndexInSamples": 10}}}),
        "no context": dict(context=False),
    }
    for what, kw in bad.items():
        dialog = kw.pop("dialog", f"dlg-{uuid.uuid4()}")
        sid, boundary = start_recognize(c, "NEAR_FIELD", dialog, **kw)
        s = c.streams[sid]
        c.until(lambda: s["ended"], what=f"400 for {what}")
        assert s["status"] == 400, (what, s["status"])
        assert json.loads(bytes(s["data"]))["payload"]["code"] == "INVALID_REQUEST_EXCEPTION"
        end_recognize(c, sid, boundary)
        rec = [x for x in ctl("log")["requests"] if x["stream"] == sid][-1]
        assert rec["validation_error"], (what, rec)
    # drop_connection_after_bytes: the TCP connection is torn mid-turn.
    ctl("recognize_config", drop_connection_after_bytes=16000)
    dialog = f"dlg-{uuid.uuid4()}"
    sid, boundary = start_recognize(c, "NEAR_FIELD", dialog)
    try:
        stream_audio(c, sid, UTTERANCE, 50.0, until=lambda: c.closed)
    except OSError:
        pass
    c.until(lambda: c.closed, 3, what="dropped connection")
    ctl("recognize_config", drop_connection_after_bytes=None)
    rec = rec_for_dialog(ctl, dialog)
    assert rec["audio_bytes"] == 16000 and rec["audio_frames"] == 50 and "dropped" in rec["error"], rec
    conn = [x for x in ctl("connections")["connections"] if x["id"] == rec["conn"]][0]
    assert "drop_connection_after_bytes" in conn["close_reason"], conn
    a = ctl("audio")
    assert base64.b64decode(a["audio_b64"]) == UTTERANCE[:rec["audio_bytes"]] and not a["complete"]
    # Control errors.
    assert ctl.raw("recognize_config", bogus=1)["ok"] is False
    assert ctl.raw("recognize_config", fail_status=200)["ok"] is False
    assert ctl.raw("recognize_config", speak_mp3_b64="not base64!")["ok"] is False
    assert ctl.raw("audio", index=10**6)["ok"] is False
    # reset restores the defaults and forgets the audio.
    ctl("recognize_config", stop_capture_after_bytes=1, hang=True)
    ctl("reset")
    cfg = ctl("recognize_config")["config"]
    assert cfg["stop_capture_after_bytes"] == 32000 and cfg["hang"] is False and not cfg["speak_mp3_override"]
    assert cfg["speak_mp3_sha256"] == hashlib.sha256(SPEAK_MP3).hexdigest()
    assert ctl.raw("audio", index=0)["ok"] is False
    c.close()


def t_fault_injection(env):
    """hold_answers, reset_stream (now, at StopCapture, at END_STREAM), GOAWAY with a low
    last_stream_id."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("reset")
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    cid = ctl("connections")["connections"][-1]["id"]
    # hold_answers: the held event gets no answer until released; others are answered meanwhile.
    ctl("hold_answers", name="Test.Held")
    held = post_event(c, "Test", "Held")
    other = post_event(c, "Test", "Other")
    assert c.response(other)["status"] == 204
    ctl("wait_for", what="requests", name="Held", count=1)
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        c.pump(0.05)
    assert c.streams[held]["status"] is None, c.streams[held]
    assert ctl("hold_answers", name="Test.Held", on=False)["holds"] == []
    assert c.response(held)["status"] == 204
    # reset_stream now: mid-audio, with a named code.
    ctl("recognize_config", stop_capture_after_bytes=10**6)
    sid, boundary = start_recognize(c, "NEAR_FIELD", f"dlg-{uuid.uuid4()}")
    stream_audio(c, sid, UTTERANCE[:6400], 50.0)
    ctl("wait_for", what="requests", name="Recognize", count=1)
    r = ctl("reset_stream", name="SpeechRecognizer.Recognize", code="CANCEL")
    assert r["stream"] == sid and r["code"] == 8, r
    c.until(lambda: c.streams[sid]["reset"] is not None, what="RST_STREAM mid-audio")
    assert c.streams[sid]["reset"] == 8 and c.streams[sid]["status"] == 200
    rec = [x for x in ctl("log")["requests"] if x["stream"] == sid][-1]
    assert "reset_stream 8" in rec["error"] and rec["audio_bytes"] > 0, rec
    assert ctl.raw("reset_stream", name="Nothing.Open")["ok"] is False
    # Armed for StopCapture: the StopCapture part arrives, then the reset.
    ctl("recognize_config", stop_capture_after_bytes=3200)
    ctl("reset_stream", name="Recognize", when="stop_capture")
    sid, boundary = start_recognize(c, "NEAR_FIELD", f"dlg-{uuid.uuid4()}")
    s = c.streams[sid]
    stream_audio(c, sid, UTTERANCE[:32000], 50.0, until=lambda: s["reset"] is not None)
    c.until(lambda: s["reset"] is not None, what="RST_STREAM after StopCapture")
    assert s["reset"] == 2 and [h["name"] for h, _ in response_directives(s)] == ["StopCapture"], s
    # Armed for the client's END_STREAM: StopCapture, then the reset instead of the Speak.
    ctl("reset_stream", name="Recognize", when="end_stream", code=7)
    sid, boundary = start_recognize(c, "NEAR_FIELD", f"dlg-{uuid.uuid4()}")
    s = c.streams[sid]
    stream_audio(c, sid, UTTERANCE[:32000], 50.0, until=lambda: has_directive(s, "StopCapture"))
    assert has_directive(s, "StopCapture")
    end_recognize(c, sid, boundary)
    c.until(lambda: s["reset"] is not None, what="RST_STREAM at END_STREAM")
    assert s["reset"] == 7 and [h["name"] for h, _ in response_directives(s)] == ["StopCapture"], s
    rec = [x for x in ctl("log")["requests"] if x["stream"] == sid][-1]
    assert rec["t_end"] is not None and "at end_stream" in rec["error"], rec
    # One shot: the next turn is answered normally.
    sid, boundary = start_recognize(c, "CLOSE_TALK", f"dlg-{uuid.uuid4()}")
    stream_audio(c, sid, UTTERANCE[:3200], 50.0)
    end_recognize(c, sid, boundary)
    assert has_directive(c.response(sid), "Speak")
    for bad in (dict(when="later"), dict(code="NOT_A_CODE"), dict(code=-1), dict(bogus=1)):
        assert ctl.raw("reset_stream", **bad)["ok"] is False, bad
    assert ctl.raw("hold_answers", on="yes")["ok"] is False
    assert ctl.raw("goaway", last_stream_id=-1)["ok"] is False
    # GOAWAY below an open stream: that one is refused and never answered; the one at the
    # last_stream_id finishes.
    ctl("hold_answers", name="*")
    low = post_event(c, "Test", "Low")
    high = post_event(c, "Test", "High")
    ctl("wait_for", what="requests", name="High", count=1)
    r = ctl("goaway", last_stream_id=low)
    assert r["last_stream_id"] == low and r["refused"] == [high], (r, low, high)
    c.until(lambda: c.goaway is not None and c.streams[high]["reset"] is not None, what="GOAWAY + reset")
    assert c.goaway.last_stream_id == low and c.streams[high]["reset"] == 7
    ctl("hold_answers", name="*", on=False)
    assert c.response(low)["status"] == 204
    recs = {x["stream"]: x for x in ctl("log")["requests"] if x["conn"] == cid}
    assert recs[high]["status"] is None and "not processed" in recs[high]["error"], recs[high]
    assert recs[low]["status"] == 204 and recs[low]["error"] is None, recs[low]
    c.close()
    ctl("reset")
    assert ctl("recognize_config")["config"]["stop_capture_after_bytes"] == 32000


# ---- interfaces: event shapes, capabilities, directives, demo

TIME = "2017-02-03T16:20:50.52Z"
META_HEADERS = [("Content-Disposition", 'form-data; name="metadata"'),
                ("Content-Type", "application/json; charset=UTF-8")]


def post_meta(c: Client, meta) -> int:
    """POSTs an event whose metadata part is exactly `meta` (any JSON)."""
    boundary = f"shape-{uuid.uuid4().hex}"
    return c.request("POST", EVENTS, [("content-type", f"multipart/form-data; boundary={boundary}")],
                     mp.encode(boundary, [(META_HEADERS, json.dumps(meta).encode())]))


def record(ctl, conn_id: int, sid: int) -> dict:
    for _ in range(200):
        recs = [x for x in ctl("log")["requests"] if x["conn"] == conn_id and x["stream"] == sid]
        if recs and recs[-1]["t_closed"] is not None:
            return recs[-1]
        time.sleep(0.01)
    return recs[-1]


def v1_event(ns: str, name: str, payload, context=None, dialog: str | None = None) -> dict:
    header = {"namespace": ns, "name": name, "messageId": str(uuid.uuid4())}
    if dialog is not None:
        header["dialogRequestId"] = dialog
    meta = {"event": {"header": header, "payload": payload}}
    return meta if context is None else {"context": context, **meta}


def prop(ns: str, name: str, value, uncertainty: int = 0) -> dict:
    return {"namespace": ns, "name": name, "value": value, "timeOfSample": TIME,
            "uncertaintyInMilliseconds": uncertainty}


SCOPE = {"type": "BearerToken", "token": TOKEN}


def v3_event(ns: str, name: str, payload, correlation: str | None = "ct/+==", endpoint="id",
             context=None) -> dict:
    header = {"namespace": ns, "name": name, "messageId": str(uuid.uuid4())}
    if correlation is not None:
        header["correlationToken"] = correlation
    header["payloadVersion"] = "3"
    ev = {"header": header}
    if endpoint == "id":
        ev["endpoint"] = {"endpointId": "dev-1"}
    elif endpoint == "scoped":
        ev["endpoint"] = {"scope": SCOPE, "endpointId": "dev-1"}
    ev["payload"] = payload
    meta = {"event": ev}
    if context is not None:
        meta["context"] = context
    return meta


def ctx_entry(ns: str, name: str, payload: dict) -> dict:
    return {"header": {"namespace": ns, "name": name}, "payload": payload}


FULL_CONTEXT = [
    ctx_entry("SpeechRecognizer", "RecognizerState", {"wakeword": "ALEXA"}),
    ctx_entry("SpeechSynthesizer", "SpeechState", {"token": "", "offsetInMilliseconds": 0,
                                                   "playerActivity": "FINISHED"}),
    ctx_entry("Speaker", "VolumeState", {"volume": 50, "muted": False}),
    ctx_entry("Notifications", "IndicatorState", {"isEnabled": True, "isVisualIndicatorPersisted": False}),
    ctx_entry("AudioPlayer", "PlaybackState", {"token": "", "offsetInMilliseconds": 0, "playerActivity": "IDLE"}),
    ctx_entry("Alerts", "AlertsState", {"allAlerts": [{"token": "a1", "type": "TIMER",
                                                       "scheduledTime": "2030-01-01T00:00:00+0000"}],
                                        "activeAlerts": []}),
    ctx_entry("AudioActivityTracker", "ActivityState", {"dialog": {"interface": "SpeechSynthesizer",
                                                                   "idleTimeInMilliseconds": 0}}),
]
SPEAKER_PROPS = [prop("Alexa.Speaker", "volume", 50), prop("Alexa.Speaker", "muted", False)]


def capability(interface: str, version: str, **extra) -> dict:
    return {"type": "AlexaInterface", "interface": interface, "version": version, **extra}


def discovery_payload(endpoint_id: str = "amzn1.application-oa2-client.c::prod::dsn-1") -> dict:
    return {"endpoints": [{
        "endpointId": endpoint_id, "manufacturerName": "avs", "description": "avs test device",
        "friendlyName": "Test device", "displayCategories": ["SPEAKER"],
        "registration": {"productId": "prod", "deviceSerialNumber": "dsn-1"},
        "capabilities": [
            capability("Alexa", "3"),
            capability("Alexa.Speaker", "3", properties={"supported": [{"name": "volume"}, {"name": "muted"}],
                                                        "retrievable": True, "proactivelyReported": True}),
            capability("Speaker", "1.0"), capability("System", "1.0"), capability("SpeechRecognizer", "2.0"),
            capability("SpeechSynthesizer", "1.0"), capability("Notifications", "1.0"),
            capability("TemplateRuntime", "1.1"),
            capability("Settings", "1.0", configurations={"supportedLocales": ["en-US", "de-DE"]}),
        ]}], "scope": SCOPE}


def valid_events() -> dict[str, dict]:
    return {
        "SynchronizeState, full context": v1_event("System", "SynchronizeState", {}, FULL_CONTEXT),
        "Speaker.VolumeChanged": v1_event("Speaker", "VolumeChanged", {"volume": 0, "muted": False}, FULL_CONTEXT),
        "Speaker.MuteChanged": v1_event("Speaker", "MuteChanged", {"volume": 100, "muted": True}),
        "UserInactivityReport": v1_event("System", "UserInactivityReport", {"inactiveTimeInSeconds": 3600}),
        "SoftwareInfo": v1_event("System", "SoftwareInfo", {"firmwareVersion": "2147483647"}),
        "ExceptionEncountered": v1_event("System", "ExceptionEncountered", {
            "unparsedDirective": '{"directive": 1', "error": {"type": "UNEXPECTED_INFORMATION_RECEIVED",
                                                              "message": "not JSON"}}, FULL_CONTEXT[:3]),
        "SettingsUpdated": v1_event("Settings", "SettingsUpdated", {"settings": [{"key": "locale", "value": "de-DE"}]}),
        "SpeechStarted": v1_event("SpeechSynthesizer", "SpeechStarted", {"token": "tok"}),
        "SpeechFinished": v1_event("SpeechSynthesizer", "SpeechFinished", {"token": "tok"}, FULL_CONTEXT),
        "ExpectSpeechTimedOut": v1_event("SpeechRecognizer", "ExpectSpeechTimedOut", {}),
        "host event, any payload": v1_event("Test", "Ping", {"n": [1, {"x": None}], "s": "é"}, [], dialog="d-1"),
        "host event, no context": v1_event("Test", "Ping", {}),
        "Alexa.Response": v3_event("Alexa", "Response", {}, context={"properties": SPEAKER_PROPS + [
            prop("Alexa.PowerController", "powerState", "ON", 500)]}),
        "Alexa.Response, nothing changed": v3_event("Alexa", "Response", {}, context={"properties": []}),
        "Alexa.ErrorResponse": v3_event("Alexa", "ErrorResponse", {"type": "ENDPOINT_BUSY", "message": "busy"}),
        "Alexa.ErrorResponse, validRange": v3_event("Alexa", "ErrorResponse", {
            "type": "VALUE_OUT_OF_RANGE", "message": "0..100", "validRange": {"minimumValue": 0, "maximumValue": 100}}),
        "Alexa.StateReport": v3_event("Alexa", "StateReport", {}, endpoint="scoped",
                                      context={"properties": SPEAKER_PROPS}),
        "Alexa.ChangeReport": v3_event("Alexa", "ChangeReport", {"change": {
            "cause": {"type": "VOICE_INTERACTION"}, "properties": [prop("Alexa.Speaker", "volume", 40)]}},
            correlation=None, endpoint="scoped", context={"properties": [prop("Alexa.Speaker", "muted", False)]}),
        "Alexa.ChangeReport, no context": v3_event("Alexa", "ChangeReport", {"change": {
            "cause": {"type": "PHYSICAL_INTERACTION"}, "properties": SPEAKER_PROPS}},
            correlation=None, endpoint="scoped"),
        "AddOrUpdateReport": v3_event("Alexa.Discovery", "AddOrUpdateReport", discovery_payload(),
                                      correlation=None, endpoint=None),
        "unknown v3 event": v3_event("Alexa.Foo", "Bar", {"anything": [1]}, correlation=None, endpoint=None),
    }


def _without(d: dict, *path: str) -> dict:
    d = json.loads(json.dumps(d))
    cur = d
    for k in path[:-1]:
        cur = cur[k]
    del cur[path[-1]]
    return d


def _with(d: dict, value, *path) -> dict:
    d = json.loads(json.dumps(d))
    cur = d
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return d


def invalid_events() -> dict[str, tuple[dict, str]]:
    """name -> (metadata, a substring the 400's description must hold)."""
    ok = valid_events()
    vc = ok["Speaker.VolumeChanged"]
    resp = ok["Alexa.Response"]
    disc = ok["AddOrUpdateReport"]
    vs = ctx_entry("Speaker", "VolumeState", {"volume": 50, "muted": False})
    return {
        "missing key": (_without(vc, "event", "payload", "muted"), "event.payload lacks 'muted'"),
        "extra key": (_with(vc, 1, "event", "payload", "extra"), "unexpected key(s) 'extra'"),
        "wrong type": (_with(vc, "no", "event", "payload", "muted"), "event.payload.muted must be true or false"),
        "bool as integer": (_with(vc, True, "event", "payload", "volume"), "event.payload.volume must be an integer"),
        "out of range": (_with(vc, 101, "event", "payload", "volume"), "in 0..100, got 101"),
        "negative inactivity": (v1_event("System", "UserInactivityReport", {"inactiveTimeInSeconds": -1}), ">= 0"),
        "firmwareVersion 0": (v1_event("System", "SoftwareInfo", {"firmwareVersion": "0"}), "positive integer"),
        "firmwareVersion number": (v1_event("System", "SoftwareInfo", {"firmwareVersion": 7}), "must be a string"),
        "exception type": (_with(ok["ExceptionEncountered"], "OOPS", "event", "payload", "error", "type"),
                           "UNEXPECTED_INFORMATION_RECEIVED|UNSUPPORTED_OPERATION|INTERNAL_ERROR"),
        "exception without context": (_without(ok["ExceptionEncountered"], "context"), "lacks 'context'"),
        "unknown locale": (v1_event("Settings", "SettingsUpdated", {"settings": [{"key": "locale", "value": "xx-XX"}]}),
                           "event.payload.settings[0].value"),
        "empty settings": (v1_event("Settings", "SettingsUpdated", {"settings": []}), "at least 1"),
        "SpeechStarted without token": (v1_event("SpeechSynthesizer", "SpeechStarted", {}), "lacks 'token'"),
        "SynchronizeState without context": (v1_event("System", "SynchronizeState", {}), "lacks 'context'"),
        "v1 context as an object": (_with(vc, {"properties": []}, "context"), "context must be a JSON array"),
        "duplicate context entry": (_with(vc, [vs, FULL_CONTEXT[0], vs], "context"),
                                    "context[2] repeats Speaker.VolumeState"),
        "context entry extra key": (_with(vc, [{**vs, "x": 1}], "context"), "context[0] has unexpected key(s) 'x'"),
        "VolumeState out of range": (_with(vc, [ctx_entry("Speaker", "VolumeState", {"volume": -1, "muted": False})],
                                           "context"), "context[0].payload.volume"),
        "SpeechState activity": (_with(vc, [ctx_entry("SpeechSynthesizer", "SpeechState", {
            "token": "", "offsetInMilliseconds": 0, "playerActivity": "IDLE"})], "context"),
            "PLAYING|FINISHED|INTERRUPTED"),
        "IndicatorState type": (_with(vc, [ctx_entry("Notifications", "IndicatorState", {
            "isEnabled": 1, "isVisualIndicatorPersisted": False})], "context"), "isEnabled must be true or false"),
        "v1 header extra key": (_with(ok["SpeechStarted"], "3", "event", "header", "payloadVersion"), "payloadVersion"),
        "unknown top-level key": (_with(ok["host event, any payload"], {}, "extra"), "unexpected key(s) 'extra'"),
        "host payload not an object": (_with(ok["host event, no context"], [1], "event", "payload"),
                                       "event.payload must be a JSON object"),
        "empty dialogRequestId": (v1_event("Test", "Ping", {}, dialog=""), "dialogRequestId must be a non-empty"),
        "v3 without correlationToken for Response": (_without(resp, "event", "header", "correlationToken"),
                                                     "lacks 'correlationToken'"),
        "v3 wrong payloadVersion": (_with(resp, "2", "event", "header", "payloadVersion"), "must be '3'"),
        "v3 context as an array": (_with(resp, [], "context"), "context must be an object"),
        "v3 Response without context": (_without(resp, "context"), "lacks 'context'"),
        "v3 Response payload not empty": (_with(resp, {"x": 1}, "event", "payload"), "unexpected key(s) 'x'"),
        "v3 Response endpoint with scope": (_with(resp, {"scope": SCOPE, "endpointId": "e"}, "event", "endpoint"),
                                            "event.endpoint has unexpected key(s) 'scope'"),
        "v3 volume out of range": (_with(resp, [prop("Alexa.Speaker", "volume", 101)], "context", "properties"),
                                   "context.properties[0].value must be an integer in 0..100"),
        "v3 muted as string": (_with(resp, [prop("Alexa.Speaker", "muted", "false")], "context", "properties"),
                               "context.properties[0].value must be true or false"),
        "v3 unknown Speaker property": (_with(resp, [prop("Alexa.Speaker", "loudness", 1)], "context", "properties"),
                                        "has no property 'loudness'"),
        "v3 timeOfSample without Z": (_with(resp, [{**prop("Alexa.Speaker", "muted", True),
                                                    "timeOfSample": "2017-02-03T16:20:50.52"}], "context", "properties"),
                                      "ISO-8601"),
        "v3 impossible date": (_with(resp, [{**prop("Alexa.Speaker", "muted", True),
                                             "timeOfSample": "2017-02-30T16:20:50Z"}], "context", "properties"), "ISO-8601"),
        "v3 uncertainty negative": (_with(resp, [prop("Alexa.Speaker", "muted", True, -5)], "context", "properties"),
                                    "uncertaintyInMilliseconds"),
        "v3 duplicate property": (_with(resp, SPEAKER_PROPS + SPEAKER_PROPS[:1], "context", "properties"),
                                  "repeats Alexa.Speaker.volume"),
        "ErrorResponse type": (_with(ok["Alexa.ErrorResponse"], "BROKEN", "event", "payload", "type"),
                               "event.payload.type must be one of"),
        "ErrorResponse with context": (_with(ok["Alexa.ErrorResponse"], {"properties": []}, "context"),
                                       "does not carry"),
        "ErrorResponse validRange type": (_with(ok["Alexa.ErrorResponse, validRange"], "0", "event", "payload",
                                                "validRange", "minimumValue"), "must be a number"),
        "ErrorResponse validRange on other type": (_with(ok["Alexa.ErrorResponse, validRange"], "INVALID_VALUE",
                                                         "event", "payload", "type"), "VALUE_OUT_OF_RANGE only"),
        "StateReport without scope": (_with(ok["Alexa.StateReport"], {"endpointId": "e"}, "event", "endpoint"),
                                      "event.endpoint lacks 'scope'"),
        "StateReport scope type": (_with(ok["Alexa.StateReport"], {"type": "Bearer", "token": "t"}, "event",
                                         "endpoint", "scope"), "event.endpoint.scope.type"),
        "ChangeReport with correlationToken": (_with(ok["Alexa.ChangeReport"], "ct", "event", "header",
                                                     "correlationToken"), "has 'correlationToken'"),
        "ChangeReport cause": (_with(ok["Alexa.ChangeReport"], {"type": "MAGIC"}, "event", "payload", "change",
                                     "cause"), "event.payload.change.cause.type"),
        "ChangeReport no properties": (_with(ok["Alexa.ChangeReport"], [], "event", "payload", "change",
                                             "properties"), "at least 1"),
        "ChangeReport property in both": (_with(ok["Alexa.ChangeReport"], {"properties": [
            prop("Alexa.Speaker", "volume", 40)]}, "context"), "both in event.payload.change.properties"),
        "Discovery without scope": (_without(disc, "event", "payload", "scope"), "event.payload lacks 'scope'"),
        "Discovery empty endpoints": (_with(disc, [], "event", "payload", "endpoints"), "at least 1"),
        "Discovery capability type": (_with(disc, "Interface", "event", "payload", "endpoints", 0, "capabilities", 0,
                                            "type"), "capabilities[0].type must be 'AlexaInterface'"),
        "Discovery version number": (_with(disc, 3, "event", "payload", "endpoints", 0, "capabilities", 0,
                                           "version"), "capabilities[0].version must be a string"),
        "Discovery duplicate interface": (_with(disc, [capability("Alexa", "3"), capability("Alexa", "3")], "event",
                                                "payload", "endpoints", 0, "capabilities"), "repeats interface Alexa"),
        "Discovery unknown Speaker property": (_with(disc, [{"name": "bass"}], "event", "payload", "endpoints", 0,
                                                     "capabilities", 1, "properties", "supported"),
                                               "has no property 'bass'"),
        "Discovery without registration": (_without(disc, "event", "payload", "endpoints", 0, "registration"),
                                           "lacks 'registration'"),
        "Discovery with correlationToken": (_with(disc, "ct", "event", "header", "correlationToken"),
                                            "has 'correlationToken'"),
        "Discovery empty displayCategories": (_with(disc, [], "event", "payload", "endpoints", 0,
                                                    "displayCategories"), "at least 1"),
    }


def t_event_shapes(env):
    """Every event shape the client sends is accepted; each kind of invalid one is answered 400
    INVALID_REQUEST_EXCEPTION naming the problem, and recorded in `invalid`."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("reset")
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    cid = ctl("connections")["connections"][-1]["id"]
    for what, meta in valid_events().items():
        r = c.response(post_meta(c, meta))
        assert r["status"] == 204, (what, r["status"], bytes(r["data"])[:300])
    recs = [x for x in ctl("log")["requests"] if x["event"] is not None]
    assert len(recs) == len(valid_events()) and all(x["invalid"] is None for x in recs), \
        [x["invalid"] for x in recs if x["invalid"]]
    assert all(x["invalid"] is None for x in ctl("log")["requests"])
    for what, (meta, want) in invalid_events().items():
        sid = post_meta(c, meta)
        r = c.response(sid)
        assert r["status"] == 400 and r["headers"]["content-type"] == "application/json", (what, r)
        body = json.loads(bytes(r["data"]))
        assert body["header"]["namespace"] == "System" and body["header"]["name"] == "Exception", body
        desc = body["payload"]["description"]
        assert body["payload"]["code"] == "INVALID_REQUEST_EXCEPTION" and want in desc, (what, desc)
        h = meta["event"]["header"]
        assert desc.startswith(f"invalid event: {h['namespace']}.{h['name']}: "), (what, desc)
        rec = record(ctl, cid, sid)
        assert rec["invalid"] == desc and rec["status"] == 400, (what, rec["invalid"], desc)
        assert rec["event"]["name"] == h["name"] and rec["event"]["messageId"] == h["messageId"], rec["event"]
    # An envelope that never names its event: invalid with no event in the record.
    sid = post_meta(c, {"event": {"header": {"namespace": "Test", "name": "X"}, "payload": {}}})
    assert c.response(sid)["status"] == 400
    rec = record(ctl, cid, sid)
    assert rec["event"] is None and "lacks 'messageId'" in rec["invalid"], rec
    # A framing problem is an invalid request too.
    r = c.response(c.request("POST", EVENTS, [("content-type", "application/json")], b"{}"))
    assert r["status"] == 400
    assert ctl("log")["requests"][-1]["invalid"].startswith("content-type must be multipart/form-data")
    # A Recognize with a bad context entry: 400 at once, while the audio would stream on.
    dialog = f"dlg-{uuid.uuid4()}"
    boundary = f"rec-{uuid.uuid4().hex}"
    meta = v1_event("SpeechRecognizer", "Recognize", recognize_payload("NEAR_FIELD"),
                    [ctx_entry("SpeechSynthesizer", "SpeechState", {"token": "t", "offsetInMilliseconds": -1,
                                                                    "playerActivity": "PLAYING"})], dialog)
    head = mp.encode(boundary, [(META_HEADERS, json.dumps(meta).encode())])[:-len(f"--{boundary}--\r\n")]
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="audio"\r\n'
             'Content-Type: application/octet-stream\r\n\r\n').encode()
    sid = c.request("POST", EVENTS, [("content-type", f"multipart/form-data; boundary={boundary}")], head, end=False)
    s = c.streams[sid]
    c.until(lambda: s["ended"], what="400 before the audio ended")
    assert s["status"] == 400 and "context[0].payload.offsetInMilliseconds" in json.loads(bytes(s["data"]))[
        "payload"]["description"]
    end_recognize(c, sid, boundary)
    rec = record(ctl, cid, sid)
    assert rec["invalid"] and rec["validation_error"] is None and rec["event"]["dialogRequestId"] == dialog, rec
    # An invalid event is answered 400 whatever is scripted, and the script is left for the next one.
    ctl("script_event", name="Speaker.VolumeChanged", status=500)
    assert c.response(post_meta(c, invalid_events()["out of range"][0]))["status"] == 400
    assert c.response(post_meta(c, valid_events()["Speaker.VolumeChanged"]))["status"] == 500
    c.close()
    ctl("reset")
    return f"{len(valid_events())} valid shapes, {len(invalid_events())} invalid ones"


def t_capabilities(env):
    """The latest accepted AddOrUpdateReport is the capabilities document."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("reset")
    assert ctl("capabilities") == {"ok": True, "capabilities": None, "header": None, "conn": None,
                                   "stream": None, "t": None, "reports": 0}
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    first = v3_event("Alexa.Discovery", "AddOrUpdateReport", discovery_payload(), correlation=None, endpoint=None)
    first["event"]["header"]["eventCorrelationToken"] = "ect-1"  # AVS's optional header member
    sid = post_meta(c, first)
    r = c.response(sid)
    assert r["status"] == 204 and not r["data"], r
    cap = ctl("capabilities")
    assert cap["capabilities"] == first["event"]["payload"] and cap["header"] == first["event"]["header"], cap
    assert cap["reports"] == 1 and cap["stream"] == sid and cap["t"] is not None
    # An invalid one is not stored.
    bad = invalid_events()["Discovery without scope"][0]
    assert c.response(post_meta(c, bad))["status"] == 400
    assert ctl("capabilities")["capabilities"] == first["event"]["payload"]
    # A newer one replaces it, and push_interface_directive addresses its endpoint.
    second = v3_event("Alexa.Discovery", "AddOrUpdateReport", discovery_payload("dev-2"), correlation=None,
                      endpoint=None)
    assert c.response(post_meta(c, second))["status"] == 204
    cap = ctl("capabilities")
    assert cap["capabilities"]["endpoints"][0]["endpointId"] == "dev-2" and cap["reports"] == 2, cap
    d = ctl("push_interface_directive", interface="Alexa.Speaker", name="SetMute")["directive"]
    assert d["directive"]["endpoint"]["endpointId"] == "dev-2", d
    assert ctl.raw("capabilities", bogus=1)["ok"] is False
    ctl("reset")
    assert ctl("capabilities")["capabilities"] is None
    c.close()


def expected_directives(port: int) -> dict[tuple[str, str], dict]:
    """The default payloads push_interface_directive must use."""
    return {
        ("Speaker", "SetVolume"): {"volume": 50},
        ("Speaker", "AdjustVolume"): {"volume": -20},
        ("Speaker", "SetMute"): {"mute": True},
        ("Alexa.Speaker", "SetVolume"): {"volume": 50},
        ("Alexa.Speaker", "AdjustVolume"): {"volume": -20, "volumeDefault": False},
        ("Alexa.Speaker", "SetMute"): {"mute": True},
        ("Alexa", "ReportState"): {},
        ("System", "ResetUserInactivity"): {},
        ("System", "SetEndpoint"): {"endpoint": f"https://localhost:{port}"},
        ("Notifications", "SetIndicator"): {"persistVisualIndicator": True, "playAudioIndicator": False,
                                            "asset": {"assetId": "x", "url": "https://example.com/a.mp3"}},
        ("Notifications", "ClearIndicator"): {},
        ("TemplateRuntime", "RenderTemplate"): None,  # fresh token: checked apart
        ("TemplateRuntime", "RenderPlayerInfo"): None,  # fresh audioItemId: checked apart
    }


def expected_directive(interface: str, name: str, message_id: str, payload: dict, correlation: str | None = None,
                       endpoint_id: str | None = None) -> dict:
    """The exact JSON, key order included (v3: as in the Alexa.Speaker spec's examples)."""
    if correlation is None:
        return {"directive": {"header": {"namespace": interface, "name": name, "messageId": message_id},
                              "payload": payload}}
    return {"directive": {
        "header": {"namespace": interface, "name": name, "messageId": message_id,
                   "correlationToken": correlation, "payloadVersion": "3"},
        "endpoint": {"scope": {"type": "BearerToken", "token": TOKEN}, "endpointId": endpoint_id, "cookie": {}},
        "payload": payload}}


def downchannel_directives(c: Client, dc: int) -> list[bytes]:
    return [body for _, body in parse_multipart(c.streams[dc]["headers"]["content-type"],
                                                bytes(c.streams[dc]["data"]) + b"--") if body]


def t_interface_directives(env):
    """push_interface_directive: the exact directive JSON for each interface, on the downchannel."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("reset")
    c = Client(srv.port, env["ca"])
    dc = open_downchannel(c)
    cid = ctl("connections")["connections"][-1]["id"]
    ids, tokens = set(), set()
    for i, ((interface, name), payload) in enumerate(expected_directives(srv.port).items()):
        before = len(c.streams[dc]["data"])
        r = ctl("push_interface_directive", interface=interface, name=name)
        assert r["conn"] == cid and r["stream"] == dc, r
        d = r["directive"]
        h = d["directive"]["header"]
        assert str(uuid.UUID(h["messageId"])) == h["messageId"] and h["messageId"] not in ids, h
        ids.add(h["messageId"])
        v3 = interface.startswith("Alexa")
        if v3:
            assert isinstance(h["correlationToken"], str) and len(h["correlationToken"]) >= 16, h
            assert h["correlationToken"] not in tokens
            tokens.add(h["correlationToken"])
        if payload is None:
            payload = d["directive"]["payload"]
            if name == "RenderTemplate":
                assert set(payload) == {"token", "type", "title", "textField"} and payload["token"], payload
                assert payload["type"] == "BodyTemplate1" and list(payload["title"]) == ["mainTitle"], payload
                assert payload["title"]["mainTitle"] and payload["textField"], payload
            else:
                assert set(payload) == {"audioItemId", "content"} and payload["audioItemId"], payload
                assert list(payload["content"]) == ["title"] and payload["content"]["title"], payload
        want = expected_directive(interface, name, h["messageId"], payload,
                                  h.get("correlationToken"), "avs-emulator-endpoint" if v3 else None)
        assert json.dumps(d) == json.dumps(want), (d, want)
        # On the wire: exactly that JSON, as the newest part of the downchannel.
        c.until(lambda: len(downchannel_directives(c, dc)) == i + 1, what=f"{interface}.{name} on the downchannel")
        assert downchannel_directives(c, dc)[-1] == json.dumps(want).encode()
        c.until(lambda: len(c.streams[dc]["data"]) - before >= r["bytes"], what="the whole push")
        assert len(c.streams[dc]["data"]) - before == r["bytes"]
    rec = [x for x in ctl("log")["requests"] if x["conn"] == cid and x["stream"] == dc][0]
    assert [(d["namespace"], d["name"]) for d in rec["directives_sent"]] == list(expected_directives(srv.port)), \
        rec["directives_sent"]
    # Given payload, correlation token and endpoint id; a directive without defaults needs a payload.
    r = ctl("push_interface_directive", interface="Alexa.Speaker", name="SetVolume", payload={"volume": 101},
            correlation_token="ct/+==", endpoint_id="ep-9")
    h = r["directive"]["directive"]["header"]
    assert json.dumps(r["directive"]) == json.dumps(expected_directive(
        "Alexa.Speaker", "SetVolume", h["messageId"], {"volume": 101}, "ct/+==", "ep-9")), r
    r = ctl("push_interface_directive", interface="Speaker", name="Louder", payload={"by": 1})
    assert r["directive"]["directive"]["payload"] == {"by": 1} and "correlationToken" not in r["directive"]["directive"]["header"]
    for bad in (dict(interface="Speaker", name="Louder"), dict(interface="Speaker"), dict(name="SetVolume"),
                dict(interface="Speaker", name="SetVolume", payload=[1]),
                dict(interface="Speaker", name="SetVolume", correlation_token="x"),
                dict(interface="Alexa.Speaker", name="SetVolume", endpoint_id=""),
                dict(interface="Speaker", name="SetVolume", bogus=1),
                dict(interface="Speaker", name="SetVolume", conn=10**6)):
        assert ctl.raw("push_interface_directive", **bad)["ok"] is False, bad
    ctl("close_downchannel", conn=cid)
    r = ctl.raw("push_interface_directive", interface="Speaker", name="SetVolume", conn=cid)
    assert r["ok"] is False and "no open downchannel" in r["error"], r
    c.close()


# --------------------------------------------------------------------------- Alerts, AudioPlayer,
# PlaybackController, Bluetooth (issue 11)

BT_ID = "2d1b29d4-54f3-4bc8-8d1c-f16a0dbbfa2c"
BT_PHONE = {"uniqueDeviceId": BT_ID, "friendlyName": "Pixel 3"}
BT_PAIRED = {**BT_PHONE, "supportedProfiles": [{"name": "A2DP-SOURCE", "version": "1.3"},
                                               {"name": "AVRCP", "version": "1.6"}]}
BT_STATE = ctx_entry("Bluetooth", "BluetoothState", {"alexaDevice": {"friendlyName": "avs-speaker"},
                                                     "pairedDevices": [BT_PAIRED],
                                                     "activeDevice": {**BT_PAIRED, "streaming": "ACTIVE"}})
PLAYING = ctx_entry("AudioPlayer", "PlaybackState", {"token": "tok-1", "offsetInMilliseconds": 42000,
                                                     "playerActivity": "PLAYING"})
# The context as the client sends it with these events (the avs-core writers' shapes).
MEDIA_CONTEXT = [e for e in FULL_CONTEXT if e["header"]["namespace"] != "AudioPlayer"] + [PLAYING, BT_STATE]
ALERTS_STATE = ctx_entry("Alerts", "AlertsState", {
    "allAlerts": [{"token": "a-1", "type": "REMINDER", "scheduledTime": "2018-04-03T16:00:00.000Z"},
                  {"token": "a-2", "type": "TIMER", "scheduledTime": "2017-08-01T11:30:00.123Z"}],
    "activeAlerts": [{"token": "a-2", "type": "TIMER", "scheduledTime": "2017-08-01T11:30:00.123Z"}]})


def media_valid_events() -> dict[str, dict]:
    ev = {}
    for n in ("SetAlertSucceeded", "SetAlertFailed", "DeleteAlertSucceeded", "DeleteAlertFailed", "AlertStarted",
              "AlertStopped", "AlertEnteredForeground", "AlertEnteredBackground"):
        ev[f"Alerts.{n}"] = v1_event("Alerts", n, {"token": "amzn1.as-ct.v1.x#1"})
    ev["Alerts.AlertStarted with context"] = v1_event("Alerts", "AlertStarted", {"token": "a-2"},
                                                      MEDIA_CONTEXT[:1] + [ALERTS_STATE])
    ev["Alerts.DeleteAlertsSucceeded"] = v1_event("Alerts", "DeleteAlertsSucceeded", {"tokens": ["t-1", "t-2"]})
    ev["Alerts.DeleteAlertsFailed, none"] = v1_event("Alerts", "DeleteAlertsFailed", {"tokens": []})
    ev["Alerts.VolumeChanged"] = v1_event("Alerts", "VolumeChanged", {"volume": 100})
    for n in ("PlaybackStarted", "PlaybackNearlyFinished", "PlaybackFinished", "PlaybackStopped", "PlaybackPaused",
              "PlaybackResumed", "PlaybackStutterStarted", "ProgressReportDelayElapsed",
              "ProgressReportIntervalElapsed"):
        ev[f"AudioPlayer.{n}"] = v1_event("AudioPlayer", n, {"token": "tok-1", "offsetInMilliseconds": 42000},
                                          MEDIA_CONTEXT)
    ev["AudioPlayer.PlaybackStarted at 0, idle context"] = v1_event(
        "AudioPlayer", "PlaybackStarted", {"token": "t", "offsetInMilliseconds": 0}, FULL_CONTEXT)
    ev["AudioPlayer.PlaybackStutterFinished"] = v1_event("AudioPlayer", "PlaybackStutterFinished", {
        "token": "tok-1", "offsetInMilliseconds": 61000, "stutterDurationInMilliseconds": 1500}, MEDIA_CONTEXT)
    ev["AudioPlayer.PlaybackFailed"] = v1_event("AudioPlayer", "PlaybackFailed", {
        "token": "tok-2", "currentPlaybackState": {"token": "tok-1", "offsetInMilliseconds": 170000,
                                                   "playerActivity": "PLAYING"},
        "error": {"type": "MEDIA_ERROR_INVALID_REQUEST", "message": "HTTP 404: not found"}})
    ev["AudioPlayer.PlaybackFailed, idle, with context"] = v1_event("AudioPlayer", "PlaybackFailed", {
        "token": "t", "currentPlaybackState": {"token": "", "offsetInMilliseconds": 0, "playerActivity": "IDLE"},
        "error": {"type": "MEDIA_ERROR_INTERNAL_DEVICE_ERROR", "message": ""}}, FULL_CONTEXT)
    ev["AudioPlayer.PlaybackQueueCleared"] = v1_event("AudioPlayer", "PlaybackQueueCleared", {})
    ev["AudioPlayer.StreamMetadataExtracted"] = v1_event("AudioPlayer", "StreamMetadataExtracted", {
        "token": "tok-1", "metadata": {"title": "Song", "has-crc": False, "bitrate": "128000"}})
    for n in ("PlayCommandIssued", "PauseCommandIssued", "NextCommandIssued", "PreviousCommandIssued"):
        ev[f"PlaybackController.{n}"] = v1_event("PlaybackController", n, {}, MEDIA_CONTEXT)
    found = [{"uniqueDeviceId": BT_ID, "friendlyName": "Pixel 3", "truncatedMacAddress": "XX:XX:XX:XX:3C:9a"},
             {"uniqueDeviceId": "8f0c1e5a", "friendlyName": "JBL Charge 3"}]
    bt = {
        "ScanDevicesUpdated": {"discoveredDevices": found, "hasMore": True},
        "ScanDevicesFailed": {}, "EnterDiscoverableModeSucceeded": {}, "EnterDiscoverableModeFailed": {},
        "PairDeviceSucceeded": {"device": BT_PHONE}, "PairDeviceFailed": {},
        "UnpairDeviceSucceeded": {"device": BT_PHONE}, "UnpairDeviceFailed": {},
        "ConnectByDeviceIdSucceeded": {"device": BT_PHONE, "requester": "DEVICE"},
        "ConnectByDeviceIdFailed": {"device": BT_PHONE, "requester": "CLOUD"},
        "ConnectByProfileSucceeded": {"device": BT_PHONE, "requester": "CLOUD", "profileName": "A2DP-SOURCE"},
        "ConnectByProfileFailed": {"requester": "CLOUD", "profileName": "AVRCP"},
        "DisconnectDeviceSucceeded": {"device": BT_PHONE, "requester": "DEVICE"},
        "DisconnectDeviceFailed": {"device": BT_PHONE, "requester": "CLOUD"},
        "StreamingStarted": {"device": {"uniqueDeviceId": BT_ID}},
        "StreamingEnded": {"device": {"uniqueDeviceId": BT_ID}},
        **{f"MediaControl{c}{r}": {} for c in ("Play", "Stop", "Next", "Previous") for r in ("Succeeded", "Failed")},
    }
    for n, p in bt.items():
        ev[f"Bluetooth.{n}"] = v1_event("Bluetooth", n, p, MEDIA_CONTEXT)
    no_active = ctx_entry("Bluetooth", "BluetoothState", {"alexaDevice": {"friendlyName": "x"}, "pairedDevices": []})
    ev["Bluetooth.ScanDevicesUpdated, last, nothing paired"] = v1_event(
        "Bluetooth", "ScanDevicesUpdated", {"discoveredDevices": [], "hasMore": False}, [no_active])
    return ev


def media_invalid_events() -> dict[str, tuple[dict, str]]:
    ok = media_valid_events()
    started = ok["AudioPlayer.PlaybackStarted"]
    failed = ok["AudioPlayer.PlaybackFailed"]
    scan = ok["Bluetooth.ScanDevicesUpdated"]
    ctx_i = len(MEDIA_CONTEXT) - 1  # BT_STATE's index
    return {
        "Alerts token missing": (v1_event("Alerts", "AlertStarted", {}), "event.payload lacks 'token'"),
        "Alerts token empty": (v1_event("Alerts", "SetAlertSucceeded", {"token": ""}), "event.payload.token must be a non-empty"),
        "Alerts token number": (v1_event("Alerts", "AlertStopped", {"token": 7}), "event.payload.token must be a string"),
        "Alerts extra member (1.5 payload)": (v1_event("Alerts", "AlertStopped", {"token": "t", "reason": "x"}),
                                              "unexpected key(s) 'reason'"),
        "DeleteAlerts tokens not an array": (v1_event("Alerts", "DeleteAlertsSucceeded", {"tokens": "t"}),
                                             "event.payload.tokens must be an array"),
        "Alerts volume out of range": (v1_event("Alerts", "VolumeChanged", {"volume": 101}), "in 0..100, got 101"),
        "AlertsState type": (_with(ok["Alerts.AlertStarted with context"], "SNOOZE", "context", 1, "payload",
                                   "allAlerts", 0, "type"), "ALARM|TIMER|REMINDER"),
        "AlertsState time": (_with(ok["Alerts.AlertStarted with context"], "2017-08-01 11:30", "context", 1, "payload",
                                   "activeAlerts", 0, "scheduledTime"), "context[1].payload.activeAlerts[0].scheduledTime"),
        "AlertsState local time": (_with(ok["Alerts.AlertStarted with context"], "2017-08-01T11:30:00", "context", 1,
                                         "payload", "allAlerts", 1, "scheduledTime"), "ISO-8601"),
        "AlertsState token twice": (_with(ok["Alerts.AlertStarted with context"], [ALERTS_STATE["payload"]["allAlerts"][0]] * 2,
                                          "context", 1, "payload", "allAlerts"), "repeats token 'a-1'"),
        "AlertsState without activeAlerts": (_without(ok["Alerts.AlertStarted with context"], "context", 1, "payload",
                                                      "activeAlerts"), "lacks 'activeAlerts'"),
        "playback without context": (_without(started, "context"), "lacks 'context'"),
        "playback context without PlaybackState": (_with(started, FULL_CONTEXT[:4], "context"),
                                                   "context lacks the AudioPlayer.PlaybackState entry"),
        "playback offset negative": (_with(started, -1, "event", "payload", "offsetInMilliseconds"),
                                     "in 0..9223372036854775807, got -1"),
        "playback offset float": (_with(started, 1.5, "event", "payload", "offsetInMilliseconds"), "must be an integer"),
        "playback offset string": (_with(started, "100", "event", "payload", "offsetInMilliseconds"), "must be an integer"),
        "playback offset over a long": (_with(started, 2**63, "event", "payload", "offsetInMilliseconds"),
                                        "9223372036854775807"),
        "playback token empty": (_with(started, "", "event", "payload", "token"), "non-empty"),
        "playback without offset": (_without(ok["AudioPlayer.ProgressReportIntervalElapsed"], "event", "payload",
                                             "offsetInMilliseconds"), "lacks 'offsetInMilliseconds'"),
        "playback extra member (1.4 playbackAttributes)": (_with(started, {}, "event", "payload", "playbackAttributes"),
                                                           "unexpected key(s) 'playbackAttributes'"),
        "PlaybackState activity": (_with(started, "BUFFERING", "context", len(MEDIA_CONTEXT) - 2, "payload",
                                         "playerActivity"), "IDLE|PLAYING|PAUSED|BUFFER_UNDERRUN|FINISHED|STOPPED"),
        "PlaybackState offset negative": (_with(started, -5, "context", len(MEDIA_CONTEXT) - 2, "payload",
                                                "offsetInMilliseconds"),
                                          f"context[{len(MEDIA_CONTEXT) - 2}].payload.offsetInMilliseconds"),
        "stutter without duration": (_without(ok["AudioPlayer.PlaybackStutterFinished"], "event", "payload",
                                              "stutterDurationInMilliseconds"), "lacks 'stutterDurationInMilliseconds'"),
        "PlaybackFailed error type": (_with(failed, "MEDIA_ERROR_HTTP_404", "event", "payload", "error", "type"),
                                      "MEDIA_ERROR_UNKNOWN|MEDIA_ERROR_INVALID_REQUEST"),
        "PlaybackFailed without message": (_without(failed, "event", "payload", "error", "message"), "lacks 'message'"),
        "PlaybackFailed state activity": (_with(failed, "RUNNING", "event", "payload", "currentPlaybackState",
                                                "playerActivity"), "event.payload.currentPlaybackState.playerActivity"),
        "PlaybackFailed without currentPlaybackState": (_without(failed, "event", "payload", "currentPlaybackState"),
                                                        "lacks 'currentPlaybackState'"),
        "QueueCleared payload": (v1_event("AudioPlayer", "PlaybackQueueCleared", {"token": "t"}), "unexpected key(s) 'token'"),
        "metadata number": (v1_event("AudioPlayer", "StreamMetadataExtracted", {"token": "t", "metadata": {"bitrate": 128}}),
                            "event.payload.metadata.bitrate must be a string or true/false"),
        "PlaybackController without context": (v1_event("PlaybackController", "PlayCommandIssued", {}), "lacks 'context'"),
        "PlaybackController payload": (_with(ok["PlaybackController.NextCommandIssued"], {"button": "NEXT"}, "event",
                                             "payload"), "unexpected key(s) 'button'"),
        "PlaybackController without PlaybackState": (_with(ok["PlaybackController.PauseCommandIssued"], [BT_STATE],
                                                           "context"), "AudioPlayer.PlaybackState"),
        "Bluetooth without context": (_without(scan, "context"), "lacks 'context'"),
        "Bluetooth without BluetoothState": (_with(scan, FULL_CONTEXT, "context"),
                                             "context lacks the Bluetooth.BluetoothState entry"),
        "Bluetooth hasMore missing (2.0 spelling elsewhere)": (_without(scan, "event", "payload", "hasMore"),
                                                               "lacks 'hasMore'"),
        "Bluetooth MAC not truncated": (_with(scan, "A4:5E:60:C1:3C:9A", "event", "payload", "discoveredDevices", 0,
                                              "truncatedMacAddress"), "XX:XX:XX:XX:AB:CD"),
        "Bluetooth device twice": (_with(scan, [BT_PHONE, BT_PHONE], "event", "payload", "discoveredDevices"),
                                   "repeats uniqueDeviceId"),
        "Bluetooth requester": (_with(ok["Bluetooth.ConnectByDeviceIdSucceeded"], "USER", "event", "payload", "requester"),
                                "CLOUD|DEVICE"),
        "Bluetooth device without id": (_without(ok["Bluetooth.PairDeviceSucceeded"], "event", "payload", "device",
                                                 "uniqueDeviceId"), "event.payload.device lacks 'uniqueDeviceId'"),
        "Bluetooth failure with a payload": (_with(ok["Bluetooth.PairDeviceFailed"], {"device": BT_PHONE}, "event",
                                                   "payload"), "unexpected key(s) 'device'"),
        "Bluetooth profile failure without profileName": (_without(ok["Bluetooth.ConnectByProfileFailed"], "event",
                                                                   "payload", "profileName"), "lacks 'profileName'"),
        "Bluetooth streaming device with name": (_with(ok["Bluetooth.StreamingStarted"], BT_PHONE, "event", "payload",
                                                       "device"), "unexpected key(s) 'friendlyName'"),
        "Bluetooth 2.0 event name payload": (_with(ok["Bluetooth.MediaControlNextFailed"], {"x": 1}, "event", "payload"),
                                             "unexpected key(s) 'x'"),
        "BluetoothState streaming": (_with(scan, "PLAYING", "context", ctx_i, "payload", "activeDevice", "streaming"),
                                     "ACTIVE|PAUSED|INACTIVE"),
        "BluetoothState active not paired": (_with(scan, [], "context", ctx_i, "payload", "pairedDevices"),
                                             "activeDevice.uniqueDeviceId"),
        "BluetoothState without alexaDevice": (_without(scan, "context", ctx_i, "payload", "alexaDevice"),
                                               "lacks 'alexaDevice'"),
        "BluetoothState profile without version": (_without(scan, "context", ctx_i, "payload", "pairedDevices", 0,
                                                            "supportedProfiles", 0, "version"), "lacks 'version'"),
    }


def check_shapes(env, valid: dict, invalid: dict) -> None:
    srv, ctl = env["srv"], env["srv"].ctl
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    cid = ctl("connections")["connections"][-1]["id"]
    for what, meta in valid.items():
        sid = post_meta(c, meta)
        r = c.response(sid)
        assert r["status"] == 204, (what, r["status"], bytes(r["data"])[:400])
        assert record(ctl, cid, sid)["invalid"] is None, what
    for what, (meta, want) in invalid.items():
        sid = post_meta(c, meta)
        r = c.response(sid)
        assert r["status"] == 400, (what, r["status"])
        desc = json.loads(bytes(r["data"]))["payload"]["description"]
        h = meta["event"]["header"]
        assert desc.startswith(f"invalid event: {h['namespace']}.{h['name']}: ") and want in desc, (what, desc)
        rec = record(ctl, cid, sid)
        assert rec["invalid"] == desc and rec["status"] == 400, (what, rec["invalid"])
    c.close()


def t_media_event_shapes(env):
    """Alerts, AudioPlayer, PlaybackController and Bluetooth events as the avs-core writers make
    them are accepted; each kind of mistake is answered 400 and recorded in `invalid`."""
    ctl = env["srv"].ctl
    ctl("reset")
    valid, invalid = media_valid_events(), media_invalid_events()
    check_shapes(env, valid, invalid)
    ctl("reset")
    return f"{len(valid)} valid shapes, {len(invalid)} invalid ones"


def dc_parts(c: Client, dc: int) -> list[tuple[dict, bytes]]:
    """The downchannel's parts so far (headers, body), the empty ones skipped."""
    return [(h, b) for h, b, done in response_parts(c.streams[dc]) if done and b]


def wait_parts(c: Client, dc: int, n: int) -> list[tuple[dict, bytes]]:
    c.until(lambda: len(dc_parts(c, dc)) >= n, what=f"{n} downchannel parts")
    return dc_parts(c, dc)


def unix_ms_of(iso: str) -> int:
    return round(shapes.parse_iso8601(iso).timestamp() * 1000)


def t_set_alert(env):
    """set_alert: scheduledTime in_seconds from now (with an offset such as +0000) or verbatim,
    every SetAlert member; the Alerts directive defaults; the Alerts events in order (events)."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("reset")
    c = Client(srv.port, env["ca"])
    dc = open_downchannel(c)
    t0 = time.time()
    r = ctl("set_alert", token="alarm-1", type="ALARM", in_seconds=3)
    d = r["directive"]["directive"]
    assert d["header"]["namespace"] == "Alerts" and d["header"]["name"] == "SetAlert" and \
        "dialogRequestId" not in d["header"], d
    p = d["payload"]
    assert list(p) == ["token", "type", "scheduledTime"] and p["token"] == "alarm-1" and p["type"] == "ALARM", p
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?\+0000", p["scheduledTime"]), p
    due = unix_ms_of(p["scheduledTime"])
    assert due == r["scheduled_unix_ms"] and abs(due / 1000 - (t0 + 3)) < 0.2, (due, t0)
    assert 2.7 < r["in_seconds"] < 3.05, r
    parts = wait_parts(c, dc, 1)
    assert json.loads(parts[-1][1]) == r["directive"]
    # Every member, another offset, whole seconds.
    assets = [{"assetId": "a", "url": "https://x/a.mp3"}, {"assetId": "b", "url": "https://x/b.mp3"}]
    r = ctl("set_alert", type="REMINDER", in_seconds=60, utc_offset="+01:00", whole_seconds=True, assets=assets,
            asset_play_order=["a", "b", "a"], background_alert_asset="b", loop_count=2, loop_pause_ms=4000)
    p = r["directive"]["directive"]["payload"]
    assert list(p) == ["token", "type", "scheduledTime", "assets", "assetPlayOrder", "backgroundAlertAsset",
                       "loopCount", "loopPauseInMilliSeconds"], p
    assert p["assets"] == assets and p["assetPlayOrder"] == ["a", "b", "a"] and p["backgroundAlertAsset"] == "b"
    assert p["loopCount"] == 2 and p["loopPauseInMilliSeconds"] == 4000 and p["token"].startswith("amzn1.as-ct.v1.")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+01:00", p["scheduledTime"]), p
    assert unix_ms_of(p["scheduledTime"]) == r["scheduled_unix_ms"] and r["scheduled_unix_ms"] % 1000 == 0
    hour = int(p["scheduledTime"][11:13])
    assert hour == (time.gmtime(r["scheduled_unix_ms"] / 1000).tm_hour + 1) % 24, p
    r = ctl("set_alert", token="past", in_seconds=-30, utc_offset="-0530")
    assert r["scheduled_unix_ms"] / 1000 < time.time() - 29 and r["directive"]["directive"]["payload"][
        "scheduledTime"].endswith("-0530")
    r = ctl("set_alert", token="verbatim", scheduled_time="2017-08-01T11:30:00+0000", type="TIMER")
    assert r["scheduled_unix_ms"] is None and r["directive"]["directive"]["payload"]["scheduledTime"] == \
        "2017-08-01T11:30:00+0000"
    r = ctl("set_alert", token="dlg", dialog_request_id="d-7")
    assert r["directive"]["directive"]["header"]["dialogRequestId"] == "d-7"
    assert 4.7 < r["in_seconds"] < 5.05, r  # default: 5 s
    # The other Alerts directives: defaults name the alerts set since reset.
    tokens = [x["payload"]["token"] for x in [y for y in ctl("log")["requests"] if y["stream"] == dc][0]
              ["directives_sent"]]
    assert tokens[0] == "alarm-1" and tokens[-1] == "dlg" and len(tokens) == 5, tokens
    got = {}
    for name in ("SetAlert", "DeleteAlert", "DeleteAlerts", "SetVolume", "AdjustVolume"):
        got[name] = ctl("push_interface_directive", interface="Alerts", name=name)["directive"]["directive"]["payload"]
    assert set(got["SetAlert"]) == {"token", "type", "scheduledTime"} and got["SetAlert"]["type"] == "TIMER"
    assert abs(unix_ms_of(got["SetAlert"]["scheduledTime"]) / 1000 - time.time() - 5) < 0.3, got["SetAlert"]
    assert got["DeleteAlert"] == {"token": got["SetAlert"]["token"]}, got
    assert got["DeleteAlerts"] == {"tokens": tokens + [got["SetAlert"]["token"]]}, got
    assert got["SetVolume"] == {"volume": 50} and got["AdjustVolume"] == {"volume": -10}, got
    wait_parts(c, dc, 10)
    for bad in (dict(in_seconds=1, scheduled_time="x"), dict(in_seconds="3"), dict(in_seconds=True),
                dict(utc_offset="+2400"), dict(utc_offset="0000"), dict(whole_seconds=1), dict(type=1),
                dict(bogus=1), dict(conn=10**6)):
        assert ctl.raw("set_alert", **bad)["ok"] is False, bad
    # The events of an alert, in order, with their receive times; wait_for by token.
    names = ["SetAlertSucceeded", "AlertStarted", "AlertEnteredBackground", "AlertEnteredForeground", "AlertStopped"]
    for n in names:
        assert c.response(post_meta(c, v1_event("Alerts", n, {"token": "alarm-1"})))["status"] == 204
        assert c.response(post_meta(c, v1_event("Alerts", "SetAlertSucceeded", {"token": f"other-{n}"})))[
            "status"] == 204
        time.sleep(0.02)
    assert c.response(post_meta(c, v1_event("Alerts", "DeleteAlertsSucceeded", {"tokens": ["x", "alarm-1"]})))[
        "status"] == 204
    assert c.response(post_meta(c, v1_event("Alerts", "AlertStopped", {"token": ""})))["status"] == 400
    w = ctl("wait_for", what="requests", name="Alerts.AlertStopped", token="alarm-1", timeout_ms=100)
    assert w == {"ok": True, "matched": 1, "timed_out": False}, w
    assert ctl("wait_for", what="requests", name="AlertStopped", token="nope", timeout_ms=50)["timed_out"]
    evs = ctl("events", namespace="Alerts", token="alarm-1")["events"]
    assert [e["name"] for e in evs] == names + ["DeleteAlertsSucceeded"], evs
    assert all(b["t"] - a["t"] >= 0.015 for a, b in zip(evs, evs[1:len(names)])), [e["t"] for e in evs]
    assert all(e["t_headers"] <= e["t"] <= e["t_end"] and e["status"] == 204 and e["invalid"] is None
               and abs(e["t_unix"] - time.time()) < 10 and e["offset_ms"] is None and e["context"] is None
               for e in evs), evs
    assert evs[0]["payload"] == {"token": "alarm-1"}
    assert len(ctl("events", name="Alerts.SetAlertSucceeded")["events"]) == 6
    assert len(ctl("events", name="SetAlertSucceeded", token="other-AlertStarted")["events"]) == 1
    bad = ctl("events", namespace="Alerts", invalid=True)["events"]
    assert len(bad) == 1 and bad[0]["status"] == 400 and "non-empty" in bad[0]["invalid"], bad
    assert len(ctl("events", namespace="Alerts", invalid=None)["events"]) == len(names) * 2 + 2
    for bad in (dict(invalid="no"), dict(token=""), dict(bogus=1)):
        assert ctl.raw("events", **bad)["ok"] is False, bad
    c.close()
    ctl("reset")
    return f"alert due {due / 1000 - t0:.3f} s after the command"


def t_audio_play(env):
    """audio_play: a cid: stream with its MP3 part in the same push (after or before it, the right
    Content-ID), a URL stream, every Play member; Stop and ClearQueue; the playback events of a
    token with their offsets and receive times (events)."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("reset")
    c = Client(srv.port, env["ca"])
    dc = open_downchannel(c)
    r = ctl("audio_play", token="tok-1")
    d = r["directive"]["directive"]
    assert (d["header"]["namespace"], d["header"]["name"]) == ("AudioPlayer", "Play"), d
    p = d["payload"]
    s = p["audioItem"]["stream"]
    assert p["playBehavior"] == "REPLACE_ALL" and p["audioItem"]["audioItemId"].startswith("amzn1.as-ai.v1."), p
    assert list(s) == ["url", "streamFormat", "offsetInMilliseconds", "token"] and s["token"] == "tok-1", s
    assert s["url"] == f"cid:{r['content_id']}" and s["streamFormat"] == "AUDIO_MPEG" and s["offsetInMilliseconds"] == 0
    assert r["attachment_bytes"] == len(SPEAK_MP3) and r["attachment_sha256"] == hashlib.sha256(SPEAK_MP3).hexdigest()
    parts = wait_parts(c, dc, 2)
    assert json.loads(parts[0][1]) == r["directive"] and parts[0][0]["content-type"].startswith("application/json")
    assert parts[1][0]["content-id"] == f"<{r['content_id']}>" and parts[1][1] == SPEAK_MP3, parts[1][0]
    assert parts[1][0]["content-type"] == "application/octet-stream"
    # Attachment first, another MP3, every member.
    mp3 = b"ID3" + os.urandom(3000)
    r = ctl("audio_play", attachment_first=True, mp3_b64=base64.b64encode(mp3).decode(), play_behavior="ENQUEUE",
            token="tok-2", expected_previous_token="tok-1", offset_ms=12000, progress_report_delay_ms=20000,
            progress_report_interval_ms=60000, expiry_time="2030-02-07T12:47:26+0000", audio_item_id="item-2",
            chunk_size=500)
    s = r["directive"]["directive"]["payload"]["audioItem"]["stream"]
    assert list(s) == ["url", "streamFormat", "offsetInMilliseconds", "expiryTime", "progressReport", "token",
                       "expectedPreviousToken"], s
    assert s["progressReport"] == {"progressReportDelayInMilliseconds": 20000,
                                   "progressReportIntervalInMilliseconds": 60000}
    assert s["offsetInMilliseconds"] == 12000 and s["expectedPreviousToken"] == "tok-1" and r["attachment_first"]
    assert r["directive"]["directive"]["payload"]["playBehavior"] == "ENQUEUE"
    parts = wait_parts(c, dc, 4)
    assert parts[2][0]["content-id"] == f"<{r['content_id']}>" and parts[2][1] == mp3
    assert json.loads(parts[3][1]) == r["directive"]
    # A file; an explicit cid: URL keeps its id; a URL stream has no attachment and no streamFormat.
    # (The command returns once the bytes are handed to the transport: within the client's
    # flow-control window, as this client reads only between commands.)
    path = os.path.join(env["certs"], "play.mp3")
    with open(path, "wb") as f:
        f.write(SPEAK_MP3[:5000])
    r = ctl("audio_play", url="cid:my-id@x", mp3_file=path, token="tok-3",
            play_behavior="REPLACE_ENQUEUED", progress_report_interval_ms=1000)
    assert r["content_id"] == "my-id@x" and r["attachment_bytes"] == 5000
    assert r["directive"]["directive"]["payload"]["audioItem"]["stream"]["progressReport"] == {
        "progressReportIntervalInMilliseconds": 1000}
    parts = wait_parts(c, dc, 6)
    assert parts[5][0]["content-id"] == "<my-id@x>"
    url = "https://music.example.com/s/1.mp3?sig=abc&exp=1"
    r = ctl("audio_play", url=url, token="tok-4")
    s = r["directive"]["directive"]["payload"]["audioItem"]["stream"]
    assert s == {"url": url, "offsetInMilliseconds": 0, "token": "tok-4"} and r["content_id"] is None, r
    assert r["attachment_bytes"] is None
    parts = wait_parts(c, dc, 7)
    assert json.loads(parts[6][1]) == r["directive"]
    c.pump(0.1)
    assert len(dc_parts(c, dc)) == 7
    # A cid: URL without its attachment, and one whose attachment has another Content-ID.
    r = ctl("audio_play", url="cid:missing", attachment=False)
    assert r["content_id"] is None
    r = ctl("audio_play", url="cid:wanted", content_id="other")
    parts = wait_parts(c, dc, 10)
    assert parts[9][0]["content-id"] == "<other>" and "cid:wanted" in parts[8][1].decode()
    # Defaults of push_interface_directive.
    got = {n: ctl("push_interface_directive", interface="AudioPlayer", name=n)["directive"]["directive"]["payload"]
           for n in ("Play", "Stop", "ClearQueue")}
    assert got["Stop"] == {} and got["ClearQueue"] == {"clearBehavior": "CLEAR_ALL"}, got
    assert got["Play"]["audioItem"]["stream"]["url"].startswith("https://") and \
        "streamFormat" not in got["Play"]["audioItem"]["stream"], got
    r = ctl("push_interface_directive", interface="AudioPlayer", name="ClearQueue",
            payload={"clearBehavior": "CLEAR_ENQUEUED"})
    assert r["directive"]["directive"]["payload"] == {"clearBehavior": "CLEAR_ENQUEUED"}
    wait_parts(c, dc, 14)
    for bad in (dict(url=5), dict(mp3_b64="!!"), dict(mp3_file="/nonexistent/x.mp3"),
                dict(mp3_b64="", mp3_file="x"), dict(attachment="yes"), dict(content_id=""), dict(chunk_size=-1),
                dict(token=3), dict(bogus=1)):
        assert ctl.raw("audio_play", **bad)["ok"] is False, bad
    # Playback events of tok-1: offsets and receive times, in order.
    seq = [("PlaybackStarted", 0), ("ProgressReportDelayElapsed", 20000), ("PlaybackNearlyFinished", 25000),
           ("PlaybackPaused", 30000), ("PlaybackResumed", 30000), ("ProgressReportIntervalElapsed", 60000),
           ("PlaybackFinished", 61234)]
    for n, off in seq:
        meta = v1_event("AudioPlayer", n, {"token": "tok-1", "offsetInMilliseconds": off}, MEDIA_CONTEXT)
        assert c.response(post_meta(c, meta))["status"] == 204
        meta = v1_event("AudioPlayer", n, {"token": "tok-9", "offsetInMilliseconds": off}, MEDIA_CONTEXT)
        assert c.response(post_meta(c, meta))["status"] == 204
    assert c.response(post_meta(c, v1_event("PlaybackController", "NextCommandIssued", {}, MEDIA_CONTEXT)))[
        "status"] == 204
    evs = ctl("events", namespace="AudioPlayer", token="tok-1")["events"]
    assert [(e["name"], e["offset_ms"]) for e in evs] == seq, evs
    assert all(a["t"] < b["t"] for a, b in zip(evs, evs[1:])) and evs[0]["context"] == MEDIA_CONTEXT
    assert len(ctl("events", namespace="PlaybackController")["events"]) == 1
    assert len(ctl("events", name="AudioPlayer.PlaybackStarted")["events"]) == 2
    c.close()
    ctl("reset")


def t_bluetooth_directives(env):
    """Bluetooth 1.0 directives with their default payloads; the device named by default is the
    first one of the newest ScanDevicesUpdated."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("reset")
    c = Client(srv.port, env["ca"])
    dc = open_downchannel(c)
    dev = {"device": {"uniqueDeviceId": BT_ID}}
    want = {"ScanDevices": {}, "EnterDiscoverableMode": {"durationInSeconds": 180}, "ExitDiscoverableMode": {},
            "PairDevice": dev, "UnpairDevice": dev, "ConnectByDeviceId": dev,
            "ConnectByProfile": {"profile": {"name": "A2DP-SOURCE", "version": "1.3"}}, "DisconnectDevice": dev,
            "Play": {}, "Stop": {}, "Next": {}, "Previous": {}}
    for name, payload in want.items():
        d = ctl("push_interface_directive", interface="Bluetooth", name=name)["directive"]
        h = d["directive"]["header"]
        assert json.dumps(d) == json.dumps(expected_directive("Bluetooth", name, h["messageId"], payload)), d
    parts = wait_parts(c, dc, len(want))
    assert [json.loads(b)["directive"]["header"]["name"] for _, b in parts] == list(want)
    scan = v1_event("Bluetooth", "ScanDevicesUpdated", {"discoveredDevices": [
        {"uniqueDeviceId": "found-1", "friendlyName": "JBL"}], "hasMore": False}, MEDIA_CONTEXT)
    assert c.response(post_meta(c, scan))["status"] == 204
    assert c.response(post_meta(c, _with(scan, [], "context")))["status"] == 400  # ignored: invalid
    d = ctl("push_interface_directive", interface="Bluetooth", name="PairDevice")["directive"]["directive"]
    assert d["payload"] == {"device": {"uniqueDeviceId": "found-1"}}, d
    c.close()
    ctl("reset")
    return f"{len(want)} directives"


def t_recognize_play(env):
    """recognize_config play / set_alert: the Recognize answer carries the Speak, then a SetAlert
    or a Play (with its attachment, either order), same dialogRequestId; once: for one turn."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("reset")
    mp3 = b"ID3" + os.urandom(2000)
    cfg = ctl("recognize_config", play={"token": "music-1", "mp3_b64": base64.b64encode(mp3).decode(),
                                        "progress_report_interval_ms": 30000, "once": True},
              set_alert={"token": "timer-1", "in_seconds": 10, "once": True})["config"]
    assert cfg["play"]["mp3_bytes"] == len(mp3) and cfg["play"]["once"] is True and "mp3" not in cfg["play"], cfg
    assert cfg["set_alert"] == {"token": "timer-1", "in_seconds": 10, "once": True}, cfg
    json.dumps(ctl("recognize_config")["config"])
    c = Client(srv.port, env["ca"])
    open_downchannel(c)

    def turn() -> tuple[str, dict]:
        dialog = f"dlg-{uuid.uuid4()}"
        sid, boundary = start_recognize(c, "CLOSE_TALK", dialog)
        c.send(sid, UTTERANCE[:3200])
        end_recognize(c, sid, boundary)
        s = c.response(sid)
        check_speak(s, dialog)
        return dialog, s

    t0 = time.time()
    dialog, s = turn()
    ds = response_directives(s)
    assert [h["name"] for h, _ in ds] == ["Speak", "SetAlert", "Play"], ds
    assert all(h["dialogRequestId"] == dialog for h, _ in ds)
    alert = ds[1][1]["payload"]
    assert alert["token"] == "timer-1" and alert["type"] == "TIMER"
    assert abs(unix_ms_of(alert["scheduledTime"]) / 1000 - t0 - 10) < 0.5, alert
    play = ds[2][1]["payload"]
    stream = play["audioItem"]["stream"]
    assert stream["token"] == "music-1" and stream["progressReport"] == {"progressReportIntervalInMilliseconds": 30000}
    cid = stream["url"][4:]
    assert attachments(s)[cid] == mp3
    order = [h.get("content-id", json.loads(b)["directive"]["header"]["name"] if b.startswith(b"{") else "")
             for h, b, _ in response_parts(s)]
    assert order[-2:] == ["Play", f"<{cid}>"], order
    # once: the next turn is a plain Speak; a URL Play with its attachment first is just the directive.
    _, s = turn()
    assert [h["name"] for h, _ in response_directives(s)] == ["Speak"]
    ctl("recognize_config", play={"url": "https://radio.example.com/live.m3u", "play_behavior": "REPLACE_ALL"})
    for _ in range(2):
        _, s = turn()
        ds = response_directives(s)
        assert [h["name"] for h, _ in ds] == ["Speak", "Play"], ds
        assert ds[1][1]["payload"]["audioItem"]["stream"]["url"] == "https://radio.example.com/live.m3u"
        assert len(attachments(s)) == 1
    ctl("recognize_config", play={"attachment_first": True}, expect_speech={"timeoutInMilliseconds": 8000})
    _, s = turn()
    names = [h.get("content-id", "") or json.loads(b)["directive"]["header"]["name"] for h, b, _ in response_parts(s)]
    cid = response_directives(s)[1][1]["payload"]["audioItem"]["stream"]["url"][4:]
    assert names[-3:] == [f"<{cid}>", "Play", "ExpectSpeech"], names
    assert attachments(s)[cid] == SPEAK_MP3
    for bad in (dict(play=[1]), dict(play={"bogus": 1}), dict(play={"once": 1}), dict(set_alert={"in_seconds": "x"}),
                dict(set_alert={"utc_offset": "nope"})):
        assert ctl.raw("recognize_config", **bad)["ok"] is False, bad
    ctl("recognize_config", play=None, set_alert=None)
    _, s = turn()
    assert [h["name"] for h, _ in response_directives(s)] == ["Speak", "ExpectSpeech"]
    c.close()
    ctl("reset")
    assert ctl("recognize_config")["config"]["play"] is None


def collect_demo(c: Client, dc: int, n: int, timeout: float) -> list[dict]:
    c.until(lambda: len(downchannel_directives(c, dc)) >= n, timeout, what=f"{n} demo directives")
    return [json.loads(b)["directive"] for b in downchannel_directives(c, dc)]


DEMO_ORDER = [("Speaker", "SetVolume"), ("Speaker", "AdjustVolume"), ("Speaker", "SetMute"),
              ("Alexa.Speaker", "SetVolume"), ("Alexa.Speaker", "AdjustVolume"), ("Alexa.Speaker", "SetMute"),
              ("Alexa", "ReportState"), ("System", "ResetUserInactivity"),
              ("Notifications", "SetIndicator"), ("Notifications", "ClearIndicator"),
              ("TemplateRuntime", "RenderTemplate"), ("TemplateRuntime", "RenderPlayerInfo"),
              ("System", "SetEndpoint")]


def t_demo_interfaces(env):
    """demo_interfaces: armed, it runs once after a SynchronizeState; now: true runs it at once;
    --demo-interfaces arms it at start (0.5 s after the SynchronizeState, 300 ms apart, logged)."""
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("reset")
    c = Client(srv.port, env["ca"])
    dc = open_downchannel(c)
    r = ctl("demo_interfaces", delay_ms=0, interval_ms=20)
    assert r["armed"] is True and r["interval_ms"] == 20, r
    c.pump(0.2)
    assert not downchannel_directives(c, dc), "demo before SynchronizeState"
    assert c.response(post_meta(c, v1_event("System", "SynchronizeState", {}, FULL_CONTEXT)))["status"] == 204
    got = collect_demo(c, dc, len(DEMO_ORDER), 5)
    assert [(d["header"]["namespace"], d["header"]["name"]) for d in got] == DEMO_ORDER, got
    assert got[-1]["payload"] == {"endpoint": f"https://localhost:{srv.port}"}
    assert all("correlationToken" in d["header"] for d in got if d["header"]["namespace"].startswith("Alexa"))
    # Once per arming: a second SynchronizeState pushes nothing.
    assert ctl("demo_interfaces", delay_ms=0)["armed"] is True
    assert ctl("demo_interfaces", on=False)["armed"] is False
    assert c.response(post_meta(c, v1_event("System", "SynchronizeState", {}, FULL_CONTEXT)))["status"] == 204
    c.pump(0.3)
    assert len(downchannel_directives(c, dc)) == len(DEMO_ORDER)
    # now: true, at once on the newest downchannel.
    r = ctl("demo_interfaces", now=True, interval_ms=10)
    assert r["directives"] == [f"{i}.{n}" for i, n in DEMO_ORDER] and r["stream"] == dc, r
    got = collect_demo(c, dc, 2 * len(DEMO_ORDER), 5)[len(DEMO_ORDER):]
    assert [(d["header"]["namespace"], d["header"]["name"]) for d in got] == DEMO_ORDER
    for bad in (dict(now="yes"), dict(interval_ms=-1), dict(delay_ms=10**6), dict(bogus=1)):
        assert ctl.raw("demo_interfaces", **bad)["ok"] is False, bad
    c.close()
    ctl("reset")
    # The command-line option, with its timing and its log lines.
    other = ServerProc(env["certs"], "--token", TOKEN, "--demo-interfaces")
    try:
        c = Client(other.port, env["ca"])
        dc = open_downchannel(c)
        sid = post_meta(c, v1_event("System", "SynchronizeState", {}, FULL_CONTEXT))
        assert c.response(sid)["status"] == 204
        t_sync = time.monotonic()
        collect_demo(c, dc, len(DEMO_ORDER), 10)
        elapsed = time.monotonic() - t_sync
        assert 0.45 + 12 * 0.3 - 0.1 < elapsed < 0.5 + 12 * 0.3 + 1.5, elapsed
        rec = [x for x in other.ctl("log")["requests"] if x["stream"] == dc][0]
        ts = [d["t"] for d in rec["directives_sent"]]
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        assert len(ts) == 13 and all(0.28 < g < 0.6 for g in gaps), gaps
        sync = [x for x in other.ctl("log")["requests"] if x["stream"] == sid][0]
        assert 0.45 < ts[0] - sync["t_response_headers"] < 1.0, (ts[0], sync["t_response_headers"])
        c.close()
    finally:
        other.stop()
    log = open(other.log_path).read()
    assert "demo 1/13: pushed Speaker.SetVolume" in log and "demo 13/13: pushed System.SetEndpoint" in log, log[-2000:]
    return f"demo took {elapsed:.2f} s after SynchronizeState"


def t_close_downchannel(env):
    c, dc, ctl = env["client"], env["dc"], env["srv"].ctl
    ctl("close_downchannel")
    c.until(lambda: c.streams[dc]["ended"], what="downchannel end")
    B = boundary_of(c.streams[dc]["headers"]["content-type"]).encode()
    assert bytes(c.streams[dc]["data"]).endswith(b"\r\n--" + B + b"--\r\n")
    r = ctl.raw("push_directive", directives=[{"x": 1}])
    assert r["ok"] is False and "downchannel" in r["error"], r
    dc2 = open_downchannel(c)
    ctl("push_directive", directives=[{"x": 2}])
    c.until(lambda: b'{"x": 2}' in c.streams[dc2]["data"], what="push on new downchannel")
    env["dc"] = dc2


def t_goaway(env):
    srv, ctl = env["srv"], env["srv"].ctl
    c = env["client"]
    dc = env["dc"]
    headers, body = event_body("System", "SynchronizeState")
    pending = c.request("POST", EVENTS, headers, body[:20], end=False)
    ctl("wait_for", what="requests", count=1, path=EVENTS, done=False)
    r = ctl("goaway")
    c.until(lambda: c.goaway is not None, what="GOAWAY")
    assert c.goaway.error_code == 0 and c.goaway.last_stream_id == pending, (c.goaway, pending)
    assert r["last_stream_id"] == pending
    c.until(lambda: c.streams[dc]["ended"], what="downchannel end after GOAWAY")
    # A stream opened after GOAWAY is refused; the pending one still completes.
    late = post_event(c, "System", "SynchronizeState")
    assert c.response(late)["reset"] == 7
    assert not c.closed
    c.send(pending, body[20:], end=True)
    assert c.response(pending)["status"] == 204
    c.until(lambda: c.closed, 3, what="server closing the connection")
    for _ in range(100):  # TCP close follows the TLS close_notify within 0.25 s
        me = my_conn(env)
        if me["t_closed"] is not None:
            break
        time.sleep(0.01)
    assert me["goaway_sent"] and me["t_goaway"] is not None
    assert me["t_closed"] is not None and "all streams finished" in me["close_reason"], me
    c.close()


def t_refuse_and_kill(env):
    srv, ctl = env["srv"], env["srv"].ctl
    ctl("reset")
    ctl("refuse_connections", seconds=0.7)
    try:
        Client(srv.port, env["ca"])
        raise AssertionError("connection was not refused")
    except (ssl.SSLError, OSError):
        pass
    assert ctl("wait_for", what="connections", count=1, refused=True, timeout_ms=2000)["matched"] == 1
    time.sleep(0.8)
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    conns = ctl("connections")["connections"]
    refused = [x for x in conns if x["refused"]]
    assert len(refused) == 1 and refused[0]["t_accept"] and refused[0]["t_tls_done"] is None, refused
    assert conns[-1]["refused"] is False and conns[-1]["alpn"] == "h2"
    killed = ctl("kill_connections")["killed"]
    assert killed
    c.until(lambda: c.closed, 3, what="torn connection")
    assert c.goaway is None
    assert ctl("wait_for", what="connections", count=len(conns), closed=True, timeout_ms=2000)["matched"] == len(conns)


def t_bad_clients(env):
    srv, ctl = env["srv"], env["srv"].ctl
    # 1. Plain TCP garbage on the TLS port.
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(3)
    try:
        while s.recv(1000):
            pass
    except OSError:
        pass
    s.close()
    # 2. TLS without h2 in ALPN.
    try:
        c = Client(srv.port, env["ca"], alpn=("http/1.1",))
        c.until(lambda: c.closed, 3, what="close for non-h2 ALPN")
    except (ssl.SSLError, OSError):
        pass
    # 3. TLS + h2 ALPN but a broken preface.
    ctx = ssl.create_default_context(cafile=env["ca"])
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port)), server_hostname="localhost")
    s.sendall(b"PRI * HTTP/1.1\r\n\r\nnonsense" * 10)
    s.settimeout(3)
    try:
        while s.recv(1000):
            pass
    except OSError:
        pass
    s.close()
    # 4. A client that vanishes mid-request.
    c = Client(srv.port, env["ca"])
    c.request("POST", EVENTS, *event_body("System", "SynchronizeState"), end=False)
    c.sock.close()
    # The server is still fine.
    c = Client(srv.port, env["ca"])
    assert c.response(c.request("GET", "/ping"))["status"] == 204
    reasons = [x["close_reason"] or "" for x in ctl("connections")["connections"]]
    assert any("ALPN" in r for r in reasons), reasons
    assert any("protocol error" in r for r in reasons), reasons
    c.close()


def t_control_errors(env):
    ctl = env["srv"].ctl
    assert ctl.raw("nonsense")["ok"] is False
    assert ctl.raw("script_event", bogus=1)["ok"] is False
    assert ctl.raw("wait_for", what="x")["ok"] is False
    ctl.f.write(b"not json\n")
    ctl.f.flush()
    assert json.loads(ctl.f.readline())["ok"] is False
    t0 = time.monotonic()
    r = ctl("wait_for", what="requests", count=10**6, timeout_ms=200)
    assert r["timed_out"] and 0.15 < time.monotonic() - t0 < 2
    # A second control client at the same time.
    other = Control(env["srv"].control_port)
    assert other("connections")["ok"]


def t_other_servers(env):
    """Certificate variants and the downchannel deadline, on extra servers."""
    d = env["certs"]
    srv = ServerProc(d, "--cert", "wronghost", "--quiet")
    try:
        try:
            Client(srv.port, env["ca"])
            raise AssertionError("host name mismatch not detected")
        except ssl.SSLCertVerificationError as e:
            assert "match" in str(e) or "mismatch" in str(e), e
        # The handshake failure did not hurt the server.
        c = Client(srv.port, env["ca"], host="wrong.example")
        assert c.response(c.request("GET", "/ping"))["status"] == 204
        c.close()
    finally:
        srv.stop()
    srv = ServerProc(d, "--cert", "expired", "--quiet")
    try:
        try:
            Client(srv.port, env["ca"])
            raise AssertionError("expired certificate accepted")
        except ssl.SSLCertVerificationError as e:
            assert "expired" in str(e), e
    finally:
        srv.stop()
    srv = ServerProc(d, "--downchannel-deadline-s", "0.4", "--quiet")
    try:
        try:
            Client(srv.port, os.path.join(d, "other-ca.pem"))
            raise AssertionError("unknown CA accepted")
        except ssl.SSLCertVerificationError:
            pass
        c = Client(srv.port, env["ca"])
        t0 = time.monotonic()
        c.until(lambda: c.closed, 3, what="deadline close")
        assert 0.3 < time.monotonic() - t0 < 2.0
        assert c.goaway is not None
        conns = srv.ctl("connections")["connections"]
        assert "downchannel" in conns[-1]["close_reason"], conns[-1]
        c = Client(srv.port, env["ca"])
        open_downchannel(c)
        time.sleep(0.6)
        c.pump(0.1)
        assert not c.closed, "connection with a downchannel was closed"
        c.close()
    finally:
        srv.stop()


def t_goaway_reconnect_latency(env):
    """How fast the control->GOAWAY->new connection loop is on loopback."""
    srv, ctl = env["srv"], env["srv"].ctl
    c = Client(srv.port, env["ca"])
    open_downchannel(c)
    ctl("goaway")
    c.until(lambda: c.goaway is not None, what="GOAWAY")
    c2 = Client(srv.port, env["ca"])
    open_downchannel(c2)
    conns = ctl("connections")["connections"]
    old = [x for x in conns if x["goaway_sent"]][-1]
    new = conns[-1]
    dt = new["t_accept"] - old["t_goaway"]
    assert 0 <= dt < 1.0, dt
    env["latency_ms"] = dt * 1000
    c.close()
    c2.close()


def t_nghttp(env):
    if not shutil.which("nghttp"):
        return "skipped (nghttp not installed)"
    out = subprocess.run(["nghttp", "-nv", f"https://localhost:{env['srv'].port}/ping"],
                         capture_output=True, text=True, timeout=10)
    assert ":status: 204" in out.stdout, out.stdout[-2000:]


# --------------------------------------------------------------------------- Login with Amazon

LWA_CODEPAIR = "/auth/o2/create/codepair"
LWA_TOKEN = "/auth/o2/token"
SCOPE_DATA = json.dumps({"alexa:all": {"productID": "emu_product",
                                       "productInstanceAttributes": {"deviceSerialNumber": "dsn-42"}}})
RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
# The RFC's challenge for it (a value circulating as "the" vector, E9Melhoofx8..._A8, is not it).
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


class Http11:
    """A raw HTTP/1.1-over-TLS client for the LWA port: tests see framing and closes."""

    def __init__(self, port: int, ca: str, alpn=("http/1.1",)):
        ctx = ssl.create_default_context(cafile=ca)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.alpn = self.sock.selected_alpn_protocol()
        self.buf = b""

    def post(self, path: str, fields: dict, headers: dict | None = None, version: str = "HTTP/1.1",
             chunked: bool = False) -> None:
        body = urlencode(fields).encode()
        hs = {"Host": "localhost", "Content-Type": "application/x-www-form-urlencoded"}
        if chunked:
            hs["Transfer-Encoding"] = "chunked"
            half = len(body) // 2
            body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in (body[:half], body[half:]) if c)
            body += b"0\r\nX-Trailer: 1\r\n\r\n"
        else:
            hs["Content-Length"] = str(len(body))
        hs.update(headers or {})
        head = f"POST {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hs.items()) + "\r\n"
        self.sock.sendall(head.encode() + body)

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except (ssl.SSLError, ConnectionError):
            data = b""
        self.buf += data
        return bool(data)

    def response(self) -> dict | None:
        """{status, headers, json} or None if the connection closed first."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        n = int(headers["content-length"])
        while len(self.buf) < n:
            assert self._fill(), "connection closed mid-body"
        body, self.buf = self.buf[:n], self.buf[n:]
        return {"status": int(lines[0].split()[1]), "headers": headers, "json": json.loads(body)}

    def closed(self) -> bool:
        """True once the server has closed the connection (waits up to the socket timeout)."""
        return not self._fill()

    def close(self) -> None:
        self.sock.close()


def lwa(env, path: str, **fields) -> dict:
    """One request on a fresh connection, Connection: close."""
    c = Http11(env["srv"].lwa_port, env["ca"])
    c.post(path, fields, {"Connection": "close"})
    r = c.response()
    assert r is not None, f"no answer to {path}"
    c.close()
    return r


def lwa_error(r: dict, status: int, code: str) -> None:
    assert r["status"] == status and r["json"]["error"] == code, r
    assert r["json"]["error_description"], r


def new_code_pair(env, client_id: str = "emu-client-id") -> dict:
    r = lwa(env, LWA_CODEPAIR, response_type="device_code", client_id=client_id, scope="alexa:all",
            scope_data=SCOPE_DATA)
    assert r["status"] == 200, r
    assert r["headers"]["content-type"] == "application/json;charset=UTF-8", r
    return r["json"]


def poll(env, pair: dict) -> dict:
    return lwa(env, LWA_TOKEN, grant_type="device_code", device_code=pair["device_code"],
               user_code=pair["user_code"])


def check_tokens(r: dict, expires_in: int = 3600) -> dict:
    assert r["status"] == 200, r
    t = r["json"]
    assert t["token_type"] == "bearer" and t["expires_in"] == expires_in, t
    assert t["access_token"].startswith("Atza|") and len(t["access_token"]) >= 45, t
    assert "refresh_token" not in t or t["refresh_token"].startswith("Atzr|"), t
    return t


def avs_status(env, token: str) -> int:
    c = Client(env["srv"].port, env["ca"], token=token)
    r = c.response(post_event(c, "System", "SynchronizeState"))
    c.close()
    return r["status"]


def t_lwa_device_code(env):
    ctl = env["srv"].ctl
    ctl("lwa_config", interval=1)
    pair = new_code_pair(env)
    assert len(pair["user_code"]) == 6 and pair["user_code"].isalnum() and pair["user_code"].upper() == pair["user_code"]
    assert len(pair["device_code"]) >= 32 and pair["verification_uri"] == "https://amazon.com/us/code", pair
    assert pair["expires_in"] == 600 and pair["interval"] == 1, pair
    lwa_error(poll(env, pair), 400, "authorization_pending")
    lwa_error(poll(env, pair), 400, "slow_down")  # at once: too fast; the interval doubles to 2 s
    lwa_error(lwa(env, LWA_TOKEN, grant_type="device_code", device_code=pair["device_code"], user_code="XXXXXX"),
              400, "invalid_code_pair")
    a = ctl("lwa_approve")
    assert (a["user_code"], a["productID"], a["deviceSerialNumber"]) == (pair["user_code"], "emu_product", "dsn-42"), a
    assert ctl.raw("lwa_approve")["ok"] is False  # nothing pending any more
    time.sleep(1.9)  # honours the doubled interval (10 % slack): no slow_down
    tokens = check_tokens(poll(env, pair))
    lwa_error(poll(env, pair), 400, "invalid_code_pair")  # consumed
    # The access token opens AVS (the server also has a static --token), until it is expired.
    assert avs_status(env, tokens["access_token"]) == 204
    c = Client(env["srv"].port, env["ca"], token=tokens["access_token"])
    open_downchannel(c)
    assert avs_status(env, "Atza|not-issued-here") == 403
    ctl("lwa_expire_access", token=tokens["access_token"])
    r = c.response(post_event(c, "System", "SynchronizeState"))
    assert r["status"] == 403, r
    assert json.loads(bytes(r["data"]))["payload"]["code"] == "UNAUTHORIZED_REQUEST_EXCEPTION"
    c.close()
    assert avs_status(env, TOKEN) == 204  # the static token still works
    # Scripted slow_down (also on a first poll), then expiry.
    pair2 = new_code_pair(env)
    ctl("lwa_slow_down", count=1)
    lwa_error(poll(env, pair2), 400, "slow_down")
    assert ctl("lwa_expire_code_pairs")["expired"] == [pair2["user_code"]]
    lwa_error(poll(env, pair2), 400, "invalid_code_pair")
    # Code pair validation.
    base = dict(response_type="device_code", client_id="emu-client-id", scope="alexa:all", scope_data=SCOPE_DATA)
    lwa_error(lwa(env, LWA_CODEPAIR, **dict(base, response_type="code")), 400, "invalid_request")
    lwa_error(lwa(env, LWA_CODEPAIR, **dict(base, scope_data="{not json")), 400, "invalid_request")
    lwa_error(lwa(env, LWA_CODEPAIR, **dict(base, scope_data='{"alexa:all":{"productID":"p"}}')), 400, "invalid_request")
    lwa_error(lwa(env, LWA_CODEPAIR, **dict(base, client_id="nobody")), 401, "invalid_client")
    # What the tests can read back: records (secrets included) and every secret issued.
    st = ctl("lwa_state")
    recs = st["requests"]
    assert ctl("log")["lwa_requests"] == recs
    assert all(r["alpn"] == "http/1.1" and r["conn"] >= 1 for r in recs), recs
    first = [r for r in recs if r["path"] == LWA_CODEPAIR][0]
    assert first["fields"]["scope_data"] == SCOPE_DATA and first["status"] == 200 and first["method"] == "POST"
    polls = [r for r in recs if r["grant_type"] == "device_code"]
    assert [r["error"] for r in polls] == ["authorization_pending", "slow_down", "invalid_code_pair", None,
                                           "invalid_code_pair", "slow_down", "invalid_code_pair"], polls
    assert [r["expired"] for r in polls][-1] is True and polls[0]["fields"]["device_code"] == pair["device_code"]
    for secret in (tokens["access_token"], tokens["refresh_token"], pair["device_code"], pair["user_code"]):
        assert secret in st["secrets"], secret
    assert [a for a in st["access_tokens"] if a["token"] == tokens["access_token"]][0]["expired"] is True
    assert ctl("wait_for", what="lwa_requests", path=LWA_TOKEN, error="slow_down", count=2)["matched"] == 2


def refresh(env, token: str, client_id: str = "emu-client-id", **extra) -> dict:
    return lwa(env, LWA_TOKEN, grant_type="refresh_token", refresh_token=token, client_id=client_id, **extra)


def t_lwa_refresh(env):
    ctl = env["srv"].ctl
    r0 = ctl("lwa_issue_refresh")["refresh_token"]
    t1 = check_tokens(refresh(env, r0))
    assert t1["refresh_token"] != r0
    lwa_error(refresh(env, r0), 400, "invalid_grant")  # rotated: the old one is revoked
    assert avs_status(env, t1["access_token"]) == 204
    t2 = check_tokens(refresh(env, t1["refresh_token"]))
    ctl("lwa_config", rotation="off", access_expires_in=120)
    t3 = check_tokens(refresh(env, t2["refresh_token"]), expires_in=120)
    assert t3["refresh_token"] == t2["refresh_token"]
    ctl("lwa_config", rotation="omit")
    assert "refresh_token" not in check_tokens(refresh(env, t2["refresh_token"]), expires_in=120)
    ctl("lwa_revoke_refresh", token=t2["refresh_token"])
    lwa_error(refresh(env, t2["refresh_token"]), 400, "invalid_grant")
    # Clients: unknown, and one with a secret (from the command line and from lwa_config).
    r = ctl("lwa_issue_refresh", client_id="cli-client")["refresh_token"]
    lwa_error(refresh(env, r, client_id="nobody"), 401, "invalid_client")
    lwa_error(refresh(env, r, client_id="cli-client"), 401, "invalid_client")  # secret missing
    lwa_error(refresh(env, r, client_id="cli-client", client_secret="wrong"), 401, "invalid_client")
    check_tokens(refresh(env, r, client_id="cli-client", client_secret="cli:secret"), expires_in=120)
    ctl("lwa_config", clients=[{"id": "ctl-client", "secret": "s3"}])
    r = ctl("lwa_issue_refresh", client_id="ctl-client")["refresh_token"]
    lwa_error(refresh(env, r, client_id="emu-client-id"), 400, "invalid_grant")  # another client's token
    check_tokens(refresh(env, r, client_id="ctl-client", client_secret="s3"), expires_in=120)
    assert "s3" in ctl("lwa_state")["secrets"]
    lwa_error(lwa(env, LWA_TOKEN, grant_type="refresh_token", client_id="emu-client-id"), 400, "invalid_request")
    lwa_error(lwa(env, LWA_TOKEN, grant_type="password"), 400, "unsupported_grant_type")
    lwa_error(lwa(env, LWA_TOKEN), 400, "invalid_request")
    assert ctl.raw("lwa_config", rotation="sometimes")["ok"] is False
    assert ctl.raw("lwa_issue_refresh", client_id="nobody")["ok"] is False
    ctl("reset")  # restores the defaults (rotation on, 3600 s); tokens and clients stay
    assert ctl("lwa_config")["config"] == {"access_expires_in": 3600, "code_expires_in": 600, "interval": 5,
                                           "rotation": "on", "avs_rejects_issued": False}
    assert avs_status(env, t1["access_token"]) == 204 and not ctl("log")["lwa_requests"]


def t_lwa_authorization_code(env):
    ctl = env["srv"].ctl
    import lwa as lwa_mod
    assert lwa_mod.s256(RFC7636_VERIFIER) == RFC7636_CHALLENGE
    assert base64.urlsafe_b64encode(hashlib.sha256(RFC7636_VERIFIER.encode()).digest()).rstrip(b"=").decode() \
        == RFC7636_CHALLENGE
    uri = "https://example.com/cb"

    def exchange(code: str, verifier: str = RFC7636_VERIFIER, redirect_uri: str = uri) -> dict:
        return lwa(env, LWA_TOKEN, grant_type="authorization_code", code=code, redirect_uri=redirect_uri,
                   client_id="emu-client-id", code_verifier=verifier)

    code = ctl("lwa_authorization_code", code_challenge=RFC7636_CHALLENGE, code_challenge_method="S256",
               client_id="emu-client-id", redirect_uri=uri)["code"]
    lwa_error(exchange(code, verifier=RFC7636_VERIFIER[:-1] + "l"), 400, "invalid_grant")
    lwa_error(exchange(code, redirect_uri="https://example.com/other"), 400, "invalid_grant")
    t = check_tokens(exchange(code))
    assert t["refresh_token"].startswith("Atzr|")
    lwa_error(exchange(code), 400, "invalid_grant")  # single use
    lwa_error(exchange("ANnever-issued"), 400, "invalid_grant")
    code = ctl("lwa_authorization_code", code_challenge=RFC7636_CHALLENGE, code_challenge_method="S256",
               client_id="emu-client-id", redirect_uri=uri, expires_in=0)["code"]
    lwa_error(exchange(code), 400, "invalid_grant")  # expired
    assert ctl.raw("lwa_authorization_code", code_challenge=RFC7636_CHALLENGE, code_challenge_method="plain",
                   client_id="emu-client-id", redirect_uri=uri)["ok"] is False
    assert code in ctl("lwa_state")["secrets"]


def t_lwa_faults(env):
    ctl = env["srv"].ctl
    r0 = ctl("lwa_issue_refresh")["refresh_token"]
    ctl("lwa_fail", status=503)
    lwa_error(refresh(env, r0), 503, "temporarily_unavailable")
    ctl("lwa_fail", status=500, count=1)
    lwa_error(refresh(env, r0), 500, "server_error")
    ctl("lwa_fail", error="invalid_grant")
    lwa_error(refresh(env, r0), 400, "invalid_grant")
    ctl("lwa_fail", path="*", status=429)
    lwa_error(lwa(env, LWA_CODEPAIR), 429, "temporarily_unavailable")
    # drop: the request is read, then the connection closes without an answer.
    ctl("lwa_fail", drop=True)
    c = Http11(env["srv"].lwa_port, env["ca"])
    c.post(LWA_TOKEN, {"grant_type": "refresh_token", "refresh_token": r0, "client_id": "emu-client-id"})
    assert c.response() is None
    c.close()
    t1 = check_tokens(refresh(env, r0))  # none of the faulted requests was processed
    # drop with process: the token rotated although the client never saw the answer.
    ctl("lwa_fail", drop=True, process=True)
    c = Http11(env["srv"].lwa_port, env["ca"])
    c.post(LWA_TOKEN, {"grant_type": "refresh_token", "refresh_token": t1["refresh_token"],
                       "client_id": "emu-client-id"})
    assert c.response() is None
    lwa_error(refresh(env, t1["refresh_token"]), 400, "invalid_grant")
    ctl("lwa_fail", delay_ms=300)
    t0 = time.monotonic()
    lwa_error(refresh(env, t1["refresh_token"]), 400, "invalid_grant")
    assert time.monotonic() - t0 >= 0.3
    recs = ctl("lwa_state")["requests"]
    dropped = [r for r in recs if r["dropped"]]
    assert len(dropped) == 2 and dropped[0]["fields"]["refresh_token"] == r0 and dropped[0]["status"] is None, dropped
    assert [r["status"] for r in recs if r["fault"] and not r["dropped"]] == [503, 500, 400, 429, 400], recs
    ctl("lwa_fail", status=500, count=5)
    assert len(ctl("lwa_state")["faults"]) == 1
    ctl("reset")  # clears scripted faults
    assert ctl("lwa_state")["faults"] == []
    assert ctl.raw("lwa_fail", path="/auth/o2/token")["ok"] is False
    assert ctl.raw("lwa_fail", drop=True, status=500)["ok"] is False


def t_lwa_http11(env):
    ctl = env["srv"].ctl
    port, ca = env["srv"].lwa_port, env["ca"]
    bad = {"grant_type": "nope"}
    # Keep-alive: three requests on one connection (one with a chunked body), then Connection: close.
    c = Http11(port, ca)
    assert c.alpn == "http/1.1"
    c.post(LWA_TOKEN, bad)
    c.post(LWA_TOKEN, bad, chunked=True)  # pipelined
    for _ in range(2):
        r = c.response()
        lwa_error(r, 400, "unsupported_grant_type")
        assert "connection" not in r["headers"] and r["headers"]["cache-control"] == "no-store", r
    c.post("/nope", bad)
    assert c.response()["status"] == 404
    c.post(LWA_TOKEN, bad, {"Connection": "close"})
    r = c.response()
    assert r["headers"]["connection"] == "close" and c.closed(), r
    conn_id = ctl("lwa_state")["requests"][-1]["conn"]
    crec = [x for x in ctl("lwa_state")["connections"] if x["id"] == conn_id][0]
    assert crec["requests"] == 4 and crec["t_closed"] is not None and crec["alpn"] == "http/1.1", crec
    # HTTP/1.0 closes unless asked to keep alive.
    c = Http11(port, ca)
    c.post(LWA_TOKEN, bad, version="HTTP/1.0")
    assert c.response()["headers"]["connection"] == "close" and c.closed()
    c = Http11(port, ca)
    c.post(LWA_TOKEN, bad, {"Connection": "keep-alive"}, version="HTTP/1.0")
    assert c.response()["headers"]["connection"] == "keep-alive"
    c.close()
    # http.client with keep-alive, and a client offering no ALPN at all.
    ctx = ssl.create_default_context(cafile=ca)
    h = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=5)
    for _ in range(2):
        h.request("POST", LWA_TOKEN, urlencode(bad), {"Content-Type": "application/x-www-form-urlencoded"})
        resp = h.getresponse()
        assert resp.status == 400 and json.loads(resp.read())["error"] == "unsupported_grant_type"
    h.close()
    recs = ctl("lwa_state")["requests"][-2:]
    assert recs[0]["conn"] == recs[1]["conn"] and recs[0]["alpn"] is None, recs
    # Malformed requests: 400 and close.
    for junk in (b"GARBAGE\r\n\r\n", b"POST /auth/o2/token HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n",
                 b"POST /auth/o2/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
                 b"POST /auth/o2/token HTTP/1.1\r\nContent-Length: 0\r\n\r\n"):
        c = Http11(port, ca)
        c.sock.sendall(junk)
        r = c.response()
        assert r["status"] == 400 and r["headers"]["connection"] == "close" and c.closed(), (junk, r)
    assert ctl("lwa_state")["requests"][-1]["malformed"]
    # A wrong Content-Type is an OAuth error (the connection stays usable).
    c = Http11(port, ca)
    c.post(LWA_TOKEN, bad, {"Content-Type": "application/json"})
    lwa_error(c.response(), 400, "invalid_request")
    c.close()
    # Failed TLS handshakes are recorded (a client that does not trust the CA; plain HTTP).
    n = len(ctl("lwa_state")["connections"])
    try:
        Http11(port, os.path.join(env["certs"], "other-ca.pem"))
        raise AssertionError("unknown CA accepted")
    except ssl.SSLCertVerificationError:
        pass
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    raw.sendall(b"POST /auth/o2/token HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.recv(100) == b""
    raw.close()
    for _ in range(100):  # the server notices the client's alert / close a moment later
        failed = [x for x in ctl("lwa_state")["connections"][n:]
                  if "TLS handshake failed" in (x["close_reason"] or "")]
        if len(failed) == 2:
            break
        time.sleep(0.02)
    assert len(failed) == 2 and all(x["t_tls_done"] is None for x in failed), failed
    # A client offering only h2 is refused (no ALPN agreed; its preface is not HTTP/1.1).
    try:
        c = Http11(port, ca, alpn=("h2",))
        assert c.alpn is None
        c.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        r = c.response()
        assert r is None or r["status"] == 400, r
    except ssl.SSLError:
        pass


def t_stdin_eof(env):
    srv = env["srv"]
    srv.p.stdin.close()
    assert srv.p.wait(5) == 0


TESTS = [t_certs, t_basic, t_push_directive_bytewise, t_scripted_500, t_scripted_directives, t_auth,
         t_invalid_bodies, t_ping, t_concurrency_and_hold_open, t_flow_control,
         t_recognize_near_field, t_recognize_close_talk, t_recognize_variants, t_recognize_framing,
         t_recognize_split_delimiters, t_recognize_errors, t_fault_injection,
         t_event_shapes, t_capabilities, t_interface_directives, t_demo_interfaces,
         t_media_event_shapes, t_set_alert, t_audio_play, t_bluetooth_directives, t_recognize_play,
         t_close_downchannel,
         t_goaway, t_refuse_and_kill, t_bad_clients, t_control_errors, t_other_servers,
         t_goaway_reconnect_latency, t_nghttp,
         t_lwa_device_code, t_lwa_refresh, t_lwa_authorization_code, t_lwa_faults, t_lwa_http11,
         t_stdin_eof]


def main() -> int:
    tmp = tempfile.mkdtemp(prefix="avs-emu-test-")
    env: dict = {"certs": tmp, "ca": os.path.join(tmp, "ca.pem")}
    failed = 0
    srv = None
    try:
        subprocess.run([sys.executable, SERVER, "gen-certs", tmp], check=True, capture_output=True)
        srv = ServerProc(tmp, "--token", TOKEN, "--lwa-client", "cli-client:cli:secret")
        env["srv"] = srv
        for t in TESTS:
            t0 = time.monotonic()
            try:
                note = t(env)
                print(f"PASS {t.__name__} ({(time.monotonic() - t0) * 1000:.0f} ms){' ' + note if note else ''}")
            except Exception:
                failed += 1
                print(f"FAIL {t.__name__}\n{traceback.format_exc()}")
        if "latency_ms" in env:
            print(f"GOAWAY -> new connection accepted: {env['latency_ms']:.1f} ms")
    finally:
        if srv:
            srv.stop()
        if failed or os.environ.get("AVS_EMU_KEEP"):
            print(f"server logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("OK" if not failed else f"{failed} test(s) FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
