"""POST /v20160207/events: body validation and the per-event answer.

An EventRequest follows one event stream: it validates the headers and the
multipart/form-data body as the bytes arrive, and once the metadata part is
complete it picks a handler. Handlers are looked up by "Namespace.Name" in
EVENT_HANDLERS (default: DefaultEventHandler, a 204), unless a scripted answer
queued through the control port matches first. A handler sees the event in
three steps: on_metadata() (JSON part complete), on_audio(chunk) (while the
audio part streams) and on_end() (END_STREAM), and answers through the
EventRequest's respond_* methods or ResponseStream. RecognizeHandler (at the
bottom) is the full example: 200 at once, StopCapture mid-audio, then Speak
with an MP3 part, configured by the control command recognize_config.

Every event with an audio part also gets per-DATA-frame accounting
(audio_frames, audio_max_frame, ...) and, for SpeechRecognizer.Recognize, its
audio bytes are kept for the control command `audio`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

import multipart as mp
import shapes

if TYPE_CHECKING:  # only for type names; avoids an import cycle
    from connection import Conn, Stream

MAX_METADATA_BYTES = 1 << 20
MAX_STORED_AUDIO = 64 << 20  # per Recognize; beyond this the audio is counted but not kept

RECOGNIZE = "SpeechRecognizer.Recognize"
PROFILES = ("CLOSE_TALK", "NEAR_FIELD", "FAR_FIELD")
AUDIO_FORMAT = "AUDIO_L16_RATE_16000_CHANNELS_1"
DEFAULT_SPEAK_MP3 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "speak.mp3")


def audio_record_fields() -> dict:
    """Request-record fields about the audio part and the Recognize turn (every
    record has them, so clients of the log need no special cases)."""
    return {
        "validation_error": None,     # Recognize metadata problem (answered 400 unless scripted)
        "audio_frames": 0,            # DATA frames that carried audio-part bytes
        "audio_max_frame": 0,         # most audio-part bytes in one DATA frame (clients: 320)
        "audio_max_frame_payload": 0,  # largest whole payload of such a frame (with multipart bytes)
        "t_audio_start": None,        # audio part headers parsed
        "t_audio_end": None,          # audio part ended (its closing delimiter arrived)
        "t_stop_capture": None,       # StopCapture handed to the transport
        "audio_bytes_after_stop": 0,  # audio bytes that arrived after that
        "initiator_echoed": None,     # after an ExpectSpeech with an initiator: sent back verbatim?
        "directives_sent": [],        # [{namespace, name, messageId, dialogRequestId, payload, t}]
        "invalid": None,              # why the request was answered 400 INVALID_REQUEST_EXCEPTION
    }

EXCEPTION_CODES = {
    400: "INVALID_REQUEST_EXCEPTION",
    403: "UNAUTHORIZED_REQUEST_EXCEPTION",
    429: "THROTTLING_EXCEPTION",
    500: "INTERNAL_SERVICE_EXCEPTION",
    503: "INTERNAL_SERVICE_EXCEPTION",
}


class StreamGone(Exception):
    """The stream or connection closed while we were writing to it."""


def new_boundary() -> str:
    return str(uuid.uuid4())


def exception_body(code: str, description: str) -> bytes:
    return json.dumps({
        "header": {"namespace": "System", "name": "Exception", "messageId": str(uuid.uuid4())},
        "payload": {"code": code, "description": description},
    }).encode()


def directive_parts(directives: list[Any], attachments: list[dict], attachments_first: bool) -> list[mp.Part]:
    """JSON directives (objects are serialised; strings are sent verbatim, so
    tests can send broken JSON) and binary attachments as multipart parts."""
    d_parts = [mp.json_part(d.encode() if isinstance(d, str) else json.dumps(d).encode())
               for d in directives]
    a_parts = []
    for a in attachments:
        if "data_b64" in a:
            data = base64.b64decode(a["data_b64"])
        else:
            data = str(a.get("data", "")).encode()
        a_parts.append(mp.binary_part(str(a["content_id"]), data,
                                      a.get("content_type", "application/octet-stream")))
    return a_parts + d_parts if attachments_first else d_parts + a_parts


def check_auth(conn: "Conn", headers: dict[str, str]) -> str | None:
    """None if the bearer token is acceptable, else what was wrong."""
    auth = headers.get("authorization")
    if auth is None:
        return "missing authorization header"
    scheme, _, token = auth.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return "authorization is not 'Bearer <token>'"
    token = token.strip()
    expected = conn.server.token
    if token == expected:
        return None
    # An access token issued by the LWA endpoints passes until it expires; an expired one is
    # refused like a wrong token, also when any token would do (--token not given).
    lwa_state = conn.server.lwa.access_token_state(token)
    if lwa_state == "valid" and not conn.server.lwa.config.get("avs_rejects_issued"):
        return None
    if lwa_state == "valid":
        return "access token not allowed for AVS"
    if lwa_state == "expired" or expected is not None:
        return "invalid access token"
    return None


# --------------------------------------------------------------------------- responses


class ResponseStream:
    """A multipart/related response that is written part by part (for handlers
    that answer while the request is still streaming)."""

    def __init__(self, req: "EventRequest", status: int = 200, split_delimiters: bool = False):
        self.req = req
        self.status = status
        self.boundary = new_boundary()
        self.writer = mp.MultipartWriter(self.boundary, leading_crlf=False, split_delimiters=split_delimiters)

    def content_type(self) -> str:
        return f'multipart/related; boundary={self.boundary}; type="application/json"'

    async def start(self) -> None:
        await self.req.send_headers(self.status, [("content-type", self.content_type())])

    async def parts(self, parts: list[mp.Part], chunk_size: int = 0, trailing_delimiter: bool = True) -> None:
        if self.writer.split_delimiters:
            # One write per part, each ending with its delimiter `CRLF--B`; the rest of that
            # line goes with the next write (see MultipartWriter).
            for p in parts:
                await self.req.send_body(self.writer.write([p]), chunk_size=chunk_size)
            return
        await self.req.send_body(self.writer.write(parts, trailing_delimiter), chunk_size=chunk_size)

    async def finish(self, chunk_size: int = 0, hold_open_ms: int = 0) -> None:
        await self.req.send_body(self.writer.close(), chunk_size=chunk_size)
        await self.req.end(hold_open_ms)


class EventRequest:
    """One POST /events stream (see module docstring)."""

    def __init__(self, conn: "Conn", st: "Stream", headers: dict[str, str]):
        self.conn, self.st, self.rec = conn, st, st.rec
        self.server = conn.server
        self.auth_error = check_auth(conn, headers)
        self.error: tuple[int, str] | None = None  # first problem found: (status, description)
        self.responded = False
        self.handler: Any = None
        self.parser: mp.MultipartParser | None = None
        self.part_index = -1
        self.metadata = bytearray()
        self.audio_hash = None
        self.audio_store: dict | None = None  # Recognize: {"rec", "buf", "truncated"}
        # DATA-frame accounting for the audio part (absolute body offsets).
        self.fed = 0
        self.audio_start: int | None = None
        self.audio_end: int | None = None
        self.pending_frames: list[tuple[int, int]] = []
        ctype = headers.get("content-type")
        if ctype is None:
            self.fail(400, "missing content-type header")
        else:
            main, params = mp.parse_header_value(ctype)
            if main != "multipart/form-data":
                self.fail(400, f"content-type must be multipart/form-data, got {ctype!r}")
            elif not params.get("boundary"):
                self.fail(400, "content-type has no boundary parameter")
            else:
                try:
                    self.parser = mp.MultipartParser(params["boundary"], self._part_begin,
                                                     self._part_data, self._part_end)
                except mp.MultipartError as e:
                    self.fail(400, str(e))

    # ---- body, called by the connection
    def on_data(self, data: bytes) -> None:
        """One DATA frame's payload."""
        if self.parser is None or self.error:
            return
        start = self.fed
        self.fed += len(data)
        try:
            self.parser.feed(data)
        except mp.MultipartError as e:
            self.fail(400, f"invalid multipart body: {e}")
            return
        if self.audio_start is not None and self.audio_end is None and self.fed > self.audio_start:
            self.pending_frames.append((start, self.fed))
            self._settle_frames()
            self._progress()

    def audio_arrived(self) -> int:
        """Audio-part bytes received so far, counted per DATA frame. The parser
        holds back a few bytes that might start the closing delimiter; only
        those that really could (a suffix of its buffer that is a prefix of the
        delimiter) are not counted yet."""
        if self.audio_start is None:
            return 0
        if self.audio_end is not None:
            return self.audio_end - self.audio_start
        buf, delim = self.parser.buf, self.parser.delim
        k = min(len(buf), len(delim) - 1)
        while k > 0 and not delim.startswith(bytes(buf[-k:])):
            k -= 1
        return max(self.rec["audio_bytes"], self.fed - self.audio_start - k)

    def _progress(self) -> None:
        h = self.handler
        if h is not None and not self.error and hasattr(h, "on_audio_progress"):
            h.on_audio_progress(self.audio_arrived())

    def _settle_frames(self) -> None:
        """Count the frames whose audio share is known: those wholly before the
        audio bytes the parser has released (it keeps back a possible delimiter)."""
        if self.audio_start is None or not self.pending_frames:
            return
        known = self.audio_end if self.audio_end is not None else self.audio_start + self.rec["audio_bytes"]
        rec, keep = self.rec, []
        for a, b in self.pending_frames:
            if self.audio_end is None and b > known:
                keep.append((a, b))
                continue
            n = min(b, known) - max(a, self.audio_start)
            if n > 0:
                rec["audio_frames"] += 1
                rec["audio_max_frame"] = max(rec["audio_max_frame"], n)
                rec["audio_max_frame_payload"] = max(rec["audio_max_frame_payload"], b - a)
        self.pending_frames = keep

    def on_end(self) -> None:
        if self.parser is not None and not self.error:
            try:
                self.parser.finish()
            except mp.MultipartError as e:
                self.fail(400, f"invalid multipart body: {e}")
        if not self.error and self.handler is None and not self.auth_error:
            self.fail(400, "no metadata part")
        if self.auth_error:
            self._respond_error(403, self.auth_error)
        elif self.error:
            if not self.responded:  # (an invalid event may have been answered already)
                self._respond_error(*self.error)
        else:
            self.handler.on_end()

    def on_reset(self) -> None:
        # Torn mid-audio: the bytes the parser held back (a possible delimiter
        # start) were audio after all; count and keep them.
        p = self.parser
        if (self.audio_start is not None and self.audio_end is None and p is not None
                and p.state == mp._BODY and self.part_index == 1 and p.buf and not self.error):
            rest = bytes(p.buf)
            p.buf.clear()
            self._part_data(rest)
            self._settle_frames()
        if self.handler is not None and hasattr(self.handler, "on_reset"):
            self.handler.on_reset()

    def fail(self, status: int, description: str) -> None:
        if self.error is None:
            self.error = (status, description)
            if not self.rec["error"]:
                self.rec["error"] = description
            if status == 400 and self.rec["invalid"] is None:
                self.rec["invalid"] = description
            self.conn.log(f"stream {self.st.sid}: {description}")

    # ---- multipart callbacks
    def _part_begin(self, headers: list[tuple[str, str]]) -> None:
        self.part_index += 1
        self.rec["parts"].append({"headers": {k: v for k, v in headers}, "bytes": 0})
        h = {k.lower(): v for k, v in headers}
        disp_main, disp = mp.parse_header_value(h.get("content-disposition", ""))
        ctype_main, ctype = mp.parse_header_value(h.get("content-type", ""))
        if self.part_index == 0:
            if disp_main != "form-data" or disp.get("name") != "metadata":
                self.fail(400, 'first part must have Content-Disposition: form-data; name="metadata"')
            elif ctype_main != "application/json":
                self.fail(400, "metadata part must have Content-Type: application/json; charset=UTF-8")
            elif ctype.get("charset", "utf-8").lower().replace("_", "-") not in ("utf-8", "utf8"):
                self.fail(400, "metadata part charset must be UTF-8")
        elif self.part_index == 1:
            if disp_main != "form-data" or disp.get("name") != "audio":
                self.fail(400, 'second part must have Content-Disposition: form-data; name="audio"')
            elif ctype_main != "application/octet-stream":
                self.fail(400, "audio part must have Content-Type: application/octet-stream")
            self.audio_hash = hashlib.sha256()
            self.rec["t_audio_start"] = time.monotonic()
            # The parser has consumed everything up to the part's first data byte.
            self.audio_start = self.fed - len(self.parser.buf)
        else:
            self.fail(400, "more than two parts (metadata and audio) in an event")

    def _part_data(self, data: bytes) -> None:
        self.rec["parts"][-1]["bytes"] += len(data)
        if self.part_index == 0:
            if len(self.metadata) + len(data) > MAX_METADATA_BYTES:
                self.fail(400, "metadata part too large")
                return
            self.metadata += data
        elif self.part_index == 1 and self.audio_hash is not None:
            self.audio_hash.update(data)
            self.rec["audio_bytes"] += len(data)
            st = self.audio_store
            if st is not None and not st["truncated"]:
                if len(st["buf"]) + len(data) > MAX_STORED_AUDIO:
                    st["truncated"] = True
                else:
                    st["buf"] += data
            if self.handler is not None and not self.error:
                self.handler.on_audio(data)

    def _part_end(self) -> None:
        if self.part_index == 0:
            self._metadata_done()
        elif self.part_index == 1 and self.audio_hash is not None:
            self.rec["audio_sha256"] = self.audio_hash.hexdigest()
            self.rec["t_audio_end"] = time.monotonic()
            self.audio_end = self.audio_start + self.rec["audio_bytes"]
            self._settle_frames()
            self._progress()
            self.server.notify()

    def _metadata_done(self) -> None:
        if self.error:
            return
        try:
            meta = json.loads(bytes(self.metadata).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            self.fail(400, f"metadata is not valid JSON: {e}")
            return
        self.rec["metadata"] = meta
        # When the event was received: its metadata part complete (monotonic and wall clock).
        self.rec["t_metadata"], self.rec["t_metadata_unix"] = time.monotonic(), time.time()
        header = shapes.envelope_header(meta)
        if header is not None:  # recorded even when the rest is invalid (wait_for can name it)
            d = header.get("dialogRequestId")
            self.rec["event"] = {"namespace": header["namespace"], "name": header["name"],
                                 "messageId": header["messageId"],
                                 "dialogRequestId": d if isinstance(d, str) else None}
        problem = validate_event(meta)
        if problem:
            self.fail(400, f"invalid event: {problem}")
            self.server.notify()
            if not self.auth_error:
                # At once, like an invalid Recognize: a client streaming audio would stream on.
                self._respond_error(400, self.error[1])
            return
        ns, name = header["namespace"], header["name"]
        self.conn.log(f"stream {self.st.sid}: event {ns}.{name}")
        recognize = f"{ns}.{name}" == RECOGNIZE
        if recognize:
            self.audio_store = {"rec": self.rec, "buf": bytearray(), "truncated": False}
            self.server.recognize_audio.append(self.audio_store)
        self.server.notify()
        if self.auth_error:
            return  # answered 403 at END_STREAM; do not consume scripts
        if recognize:  # recorded even when a script answers; enforced by RecognizeHandler
            problem = validate_recognize(meta, self.server.take_expect_speech(), self.rec)
            if problem:
                self.rec["validation_error"] = problem
                self.conn.log(f"stream {self.st.sid}: invalid Recognize: {problem}")
        script = self.server.take_script(ns, name)
        if script is not None:
            self.handler = ScriptedHandler(self, script)
        else:
            self.handler = EVENT_HANDLERS.get(f"{ns}.{name}", DefaultEventHandler)(self)
        self.handler.on_metadata()

    # ---- answering (handlers call these)
    def run(self, coro) -> None:
        """Run coro after everything this request already scheduled, so a
        handler's answers go out in the order it asked for them."""
        self.st.run(coro)

    def _respond_error(self, status: int, description: str) -> None:
        if not self.rec["error"]:
            self.rec["error"] = description
        if self.responded:
            self.conn.log(f"stream {self.st.sid}: cannot answer {status}, response already sent")
            return
        self.responded = True
        self.run(self.respond(status, exception_body(EXCEPTION_CODES.get(status, "INTERNAL_SERVICE_EXCEPTION"),
                                                     description), "application/json"))

    async def send_headers(self, status: int, headers: list[tuple[str, str]] = (), end_stream: bool = False) -> None:
        self.responded = True
        await self.wait_while_held()
        self.conn.send_headers(self.st, status, list(headers), end_stream)
        ev = self.rec["event"]
        if 200 <= status < 300 and ev is not None and ev["namespace"] == "System" and ev["name"] == "SynchronizeState":
            self.server.on_synchronized(self.conn)  # the demo (--demo-interfaces) may start

    def held(self) -> bool:
        """Whether a hold_answers hold matches this event (its answer must wait)."""
        ev = self.rec["event"]
        return any(h == "*" or (ev is not None and h in (ev["name"], f"{ev['namespace']}.{ev['name']}"))
                   for h in self.server.answer_holds)

    async def wait_while_held(self) -> None:
        """Control command hold_answers: the response headers wait until the hold is lifted."""
        if not self.held():
            return
        self.conn.log(f"stream {self.st.sid}: answer held (hold_answers)")
        while self.held():
            await self.server.answers_released.wait()
        self.conn.log(f"stream {self.st.sid}: answer released")

    async def send_body(self, data: bytes, chunk_size: int = 0) -> None:
        await self.conn.send_body(self.st, data, end_stream=False, chunk_size=chunk_size)

    async def end(self, hold_open_ms: int = 0) -> None:
        await self.conn.end_stream(self.st, hold_open_ms)

    async def respond(self, status: int, body: bytes = b"", content_type: str | None = None,
                      chunk_size: int = 0, hold_open_ms: int = 0) -> None:
        headers = [("content-type", content_type)] if content_type and body else []
        if not body and not hold_open_ms:
            await self.send_headers(status, headers, end_stream=True)
            return
        await self.send_headers(status, headers)
        await self.send_body(body, chunk_size)
        await self.end(hold_open_ms)


def validate_event(meta: Any) -> str | None:
    """None if the event metadata has the right shape, else what is wrong (shapes.py:
    the envelope of every event, and the exact shape of the events the client implements)."""
    return shapes.check_event(meta)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def validate_recognize(meta: dict, expect_speech: dict | None, rec: dict) -> str | None:
    """SpeechRecognizer.Recognize checks beyond validate_event. expect_speech is
    the payload of the ExpectSpeech this turn answers (or None); its initiator,
    if any, must come back verbatim, and then the WAKEWORD checks do not apply."""
    ev = meta["event"]
    if not isinstance(meta.get("context"), list):
        return "Recognize needs a 'context' array"
    if not isinstance(ev["header"].get("dialogRequestId"), str) or not ev["header"]["dialogRequestId"]:
        return "Recognize needs event.header.dialogRequestId"
    p = ev["payload"]
    if p.get("profile") not in PROFILES:
        return f"payload.profile must be one of {', '.join(PROFILES)}, got {p.get('profile')!r}"
    if p.get("format") != AUDIO_FORMAT:
        return f"payload.format must be {AUDIO_FORMAT}, got {p.get('format')!r}"
    ini = p.get("initiator")
    want = expect_speech.get("initiator") if isinstance(expect_speech, dict) else None
    if want is not None:
        # Echoed verbatim: valid whatever it holds (an ExpectSpeech initiator is
        # opaque, e.g. a WAKEWORD type without indices). Otherwise (a new turn
        # started by the user instead) it must be valid on its own.
        rec["initiator_echoed"] = ini == want
        if ini == want:
            return None
    if not isinstance(ini, dict):
        return "payload.initiator object missing"
    if not isinstance(ini.get("type"), str) or not ini["type"]:
        return "payload.initiator.type missing or not a non-empty string"
    if ini["type"] == "WAKEWORD":
        idx = (ini.get("payload") or {}).get("wakeWordIndices") if isinstance(ini.get("payload"), dict) else None
        if not isinstance(idx, dict):
            return "WAKEWORD initiator needs payload.wakeWordIndices"
        s, e = idx.get("startIndexInSamples"), idx.get("endIndexInSamples")
        if not (_is_int(s) and _is_int(e)):
            return "wakeWordIndices.startIndexInSamples/endIndexInSamples must be integers"
        if not 0 <= s <= e:
            return "wakeWordIndices must satisfy 0 <= startIndexInSamples <= endIndexInSamples"
    return None


# --------------------------------------------------------------------------- handlers


class DefaultEventHandler:
    """A valid event with nothing scripted: 204 at END_STREAM."""

    def __init__(self, req: EventRequest):
        self.req = req

    def on_metadata(self) -> None:
        pass

    def on_audio(self, data: bytes) -> None:
        pass

    def on_end(self) -> None:
        if not self.req.responded:
            self.req.responded = True
            self.req.run(self.req.respond(204))


class ScriptedHandler(DefaultEventHandler):
    """Answers with a script queued by the control command script_event."""

    def __init__(self, req: EventRequest, script: dict):
        super().__init__(req)
        self.s = script

    def on_metadata(self) -> None:
        if self.s["respond_before_end"]:
            self._answer()

    def on_end(self) -> None:
        if not self.req.responded:
            self._answer()

    def _answer(self) -> None:
        self.req.responded = True
        self.req.run(self._send())

    async def _send(self) -> None:
        s, req = self.s, self.req
        if s["delay_headers_ms"]:
            await asyncio.sleep(s["delay_headers_ms"] / 1000)
        if s.get("reset") is not None:
            req.conn.reset_stream(req.st, int(s["reset"]), f"scripted RST_STREAM {s['reset']}")
            return
        status = s["status"]
        if 200 <= status < 300:
            has_parts = bool(s["directives"] or s["attachments"])
            if status == 204 or (status != 200 and not has_parts):
                await req.respond(status, hold_open_ms=s["hold_open_ms"])
                return
            rs = ResponseStream(req, status)
            body = rs.writer.write(directive_parts(s["directives"], s["attachments"], s["attachments_first"]))
            body += rs.writer.close()
            await req.respond(status, body, rs.content_type(), s["chunk_size"], s["hold_open_ms"])
            return
        exc = s.get("exception") or {}
        code = exc.get("code") or EXCEPTION_CODES.get(status, "INTERNAL_SERVICE_EXCEPTION")
        desc = exc.get("description") or f"scripted {status}"
        await req.respond(status, exception_body(code, desc), "application/json",
                          s["chunk_size"], s["hold_open_ms"])


# --------------------------------------------------------------------------- Recognize


RECOGNIZE_DEFAULTS: dict[str, Any] = {
    "stop_capture_after_bytes": 32000,   # NEAR_FIELD/FAR_FIELD; CLI --stop-capture-after-bytes
    "speak_mp3": None,                   # bytes overriding fixtures/speak.mp3 (speak_mp3_b64)
    "attachment_first": False,
    "chunk_size": 0,
    "expect_speech": None,               # ExpectSpeech payload (+ "once") or None
    "stale_directive": False,
    "fail_status": None,
    "hang": False,
    "drop_connection_after_bytes": None,
    "split_delimiters": False,           # each part + `CRLF--B` in one write, the line's end with the next
    "set_alert": None,                   # Alerts.SetAlert after the Speak (interfaces.alert_spec + once)
    "play": None,                        # AudioPlayer.Play after the Speak (interfaces.play_spec + once)
}


def load_speak_mp3(path: str | None) -> bytes:
    try:
        with open(path or DEFAULT_SPEAK_MP3, "rb") as f:
            return f.read()
    except OSError as e:
        # Still serve: Speak then carries an empty attachment, and the log says why.
        print(f"avs-server: cannot read the Speak MP3 ({e}); Speak attachments will be empty",
              file=sys.stderr, flush=True)
        return b""


def directive(ns: str, name: str, payload: dict, dialog: str | None) -> dict:
    header = {"namespace": ns, "name": name, "messageId": str(uuid.uuid4())}
    if dialog is not None:
        header["dialogRequestId"] = dialog
    return {"directive": {"header": header, "payload": payload}}


class DiscoveryHandler(DefaultEventHandler):
    """Alexa.Discovery.AddOrUpdateReport (valid, see shapes.py): the capabilities document
    is kept for the control command `capabilities`, then 204."""

    def on_end(self) -> None:
        if not self.req.responded:
            self.req.server.store_capabilities(self.req.rec)
        super().on_end()


class ExpectSpeechTimedOutHandler(DefaultEventHandler):
    """204; the pending ExpectSpeech is over, so the next Recognize is a new turn."""

    def on_metadata(self) -> None:
        self.req.server.pending_expect_speech = None


class RecognizeHandler(DefaultEventHandler):
    """SpeechRecognizer.Recognize, like the service: 200 multipart/related as
    soon as the metadata is in, StopCapture after stop_capture_after_bytes of
    audio (NEAR_FIELD, FAR_FIELD; never CLOSE_TALK), and at END_STREAM the
    Speak directive with its MP3 part, then the close delimiter. The server's
    recognize_config (snapshot taken when the metadata arrives) varies this."""

    def __init__(self, req: EventRequest):
        super().__init__(req)
        self.cfg = dict(req.server.recognize)
        self.rs: ResponseStream | None = None
        self.failed = False
        self.dropped = False
        self.stop_at: int | None = None  # audio byte count that triggers StopCapture
        self.stop_queued = False
        self.arrived_at_stop: int | None = None  # audio bytes in when StopCapture went out
        self.dialog: str | None = None

    # ---- events from EventRequest
    def on_metadata(self) -> None:
        req, rec, cfg = self.req, self.req.rec, self.cfg
        if rec["validation_error"]:
            req.fail(400, f"invalid Recognize: {rec['validation_error']}")
            req._respond_error(400, rec["error"])  # at once: a NEAR_FIELD client would stream on
            return
        self.dialog = rec["event"]["dialogRequestId"]
        if cfg["fail_status"] is not None:
            status = int(cfg["fail_status"])
            self.failed = True
            req.responded = True
            req.run(req.respond(status, exception_body(
                EXCEPTION_CODES.get(status, "INTERNAL_SERVICE_EXCEPTION"),
                f"recognize_config fail_status {status}"), "application/json"))
            return
        self.rs = ResponseStream(req, 200, split_delimiters=cfg["split_delimiters"])
        req.responded = True
        req.run(self.rs.start())
        if cfg["hang"]:
            return
        if rec["metadata"]["event"]["payload"]["profile"] != "CLOSE_TALK":
            self.stop_at = max(0, int(cfg["stop_capture_after_bytes"]))
            if self.stop_at == 0:
                self._stop_capture()

    def on_audio_progress(self, arrived: int) -> None:
        """After each DATA frame of the audio part (and at its end): `arrived`
        audio bytes so far."""
        rec, cfg = self.req.rec, self.cfg
        if self.arrived_at_stop is not None:
            rec["audio_bytes_after_stop"] = max(0, arrived - self.arrived_at_stop)
        drop = cfg["drop_connection_after_bytes"]
        if drop is not None and not self.dropped and arrived >= drop:
            self.dropped = True
            rec["error"] = rec["error"] or f"connection dropped after {arrived} audio bytes"
            self.req.conn.log(f"stream {self.req.st.sid}: drop_connection_after_bytes {drop}: aborting")
            self.req.conn.abort(f"dropped mid-Recognize (drop_connection_after_bytes {drop})")
            return
        if self.stop_at is not None and not self.stop_queued and arrived >= self.stop_at:
            self._stop_capture()

    def on_end(self) -> None:
        if self.failed or self.dropped or self.rs is None or self.cfg["hang"]:
            return
        rec = self.req.rec
        if rec["t_audio_start"] is None:
            rec["validation_error"] = "Recognize had no audio part"
            self.req.run(self._finish([]))
            return
        cfg = self.cfg
        server = self.req.server
        cid = f"DeviceTTSRendererV4_{uuid.uuid4()}:1.2#0"
        token = f"amzn1.as-ct.v1.Domain:Application:Knowledge#ACRI#{uuid.uuid4()}"
        mp3 = cfg["speak_mp3"] if cfg["speak_mp3"] is not None else server.speak_mp3
        speak = directive("SpeechSynthesizer", "Speak",
                          {"url": f"cid:{cid}", "format": "AUDIO_MPEG", "token": token}, self.dialog)
        parts: list[tuple[dict | None, mp.Part]] = []
        if cfg["stale_directive"]:
            stale = directive("Speaker", "SetVolume", {"volume": 17}, f"stale-{uuid.uuid4()}")
            parts.append((stale, mp.json_part(json.dumps(stale).encode())))
        pair = [(speak, mp.json_part(json.dumps(speak).encode())), (None, mp.binary_part(cid, mp3))]
        parts += pair[::-1] if cfg["attachment_first"] else pair
        # "Set a timer", "play music": the Speak, then the SetAlert or the Play (its attachment
        # after it, or before it with the play's attachment_first), same dialogRequestId.
        import interfaces  # (here: interfaces imports this module)
        for key in ("set_alert", "play"):
            spec = cfg[key]
            if spec is None:
                continue
            if key == "set_alert":
                d = directive("Alerts", "SetAlert", interfaces.build_set_alert(spec, server)[0], self.dialog)
                parts.append((d, mp.json_part(json.dumps(d).encode())))
            else:
                payload, part, _ = interfaces.build_play(spec)
                d = directive("AudioPlayer", "Play", payload, self.dialog)
                pair = [(d, mp.json_part(json.dumps(d).encode()))] + ([(None, part)] if part is not None else [])
                parts += pair[::-1] if spec.get("attachment_first") else pair
            if spec.get("once") and server.recognize.get(key) is spec:
                server.recognize[key] = None  # used up by this turn
        es = cfg["expect_speech"]
        if es is not None:
            payload = {k: v for k, v in es.items() if k != "once"}
            d = directive("SpeechRecognizer", "ExpectSpeech", payload, self.dialog)
            parts.append((d, mp.json_part(json.dumps(d).encode())))
            if es.get("once") and server.recognize.get("expect_speech") is es:
                server.recognize["expect_speech"] = None  # used up by this turn
        self.req.run(self._finish(parts))

    # ---- writing
    def _note(self, d: dict) -> None:
        h = d["directive"]["header"]
        self.req.rec["directives_sent"].append({
            "namespace": h["namespace"], "name": h["name"], "messageId": h["messageId"],
            "dialogRequestId": h.get("dialogRequestId"), "payload": d["directive"]["payload"],
            "t": time.monotonic()})

    def _stop_capture(self) -> None:
        self.stop_queued = True
        d = directive("SpeechRecognizer", "StopCapture", {}, self.dialog)

        async def send() -> None:
            # Trailing delimiter line (or, with split_delimiters, only `CRLF--B`, the rest of
            # the line after the audio ended): the client can act on StopCapture at once.
            await self.rs.parts([mp.json_part(json.dumps(d).encode())], self.cfg["chunk_size"],
                                trailing_delimiter=True)
            self.req.rec["t_stop_capture"] = time.monotonic()
            self.arrived_at_stop = self.req.audio_arrived()
            self._note(d)
            self.req.conn.log(f"stream {self.req.st.sid}: StopCapture after "
                              f"{self.arrived_at_stop} audio bytes")
            self.req.server.notify()
        self.req.run(send())

    async def _finish(self, parts: list[tuple[dict | None, mp.Part]]) -> None:
        cs = self.cfg["chunk_size"]
        if parts:
            await self.rs.parts([p for _, p in parts], cs, trailing_delimiter=False)
            for d, _ in parts:
                if d is not None:
                    self._note(d)
                    if d["directive"]["header"]["name"] == "ExpectSpeech":
                        # The next Recognize answers it (see validate_recognize).
                        self.req.server.pending_expect_speech = d["directive"]["payload"]
            self.req.conn.log(f"stream {self.req.st.sid}: sent "
                              + ", ".join(d["directive"]["header"]["name"] for d, _ in parts if d))
        await self.rs.finish(cs)
        self.req.server.notify()


# "Namespace.Name" -> handler class taking the EventRequest (default DefaultEventHandler: 204).
EVENT_HANDLERS: dict[str, type] = {
    "System.SynchronizeState": DefaultEventHandler,
    RECOGNIZE: RecognizeHandler,
    "SpeechSynthesizer.SpeechStarted": DefaultEventHandler,
    "SpeechSynthesizer.SpeechFinished": DefaultEventHandler,
    "SpeechRecognizer.ExpectSpeechTimedOut": ExpectSpeechTimedOutHandler,
    "Alexa.Discovery.AddOrUpdateReport": DiscoveryHandler,
}
