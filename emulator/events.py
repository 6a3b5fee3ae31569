"""POST /v20160207/events: body validation and the per-event answer.

An EventRequest follows one event stream: it validates the headers and the
multipart/form-data body as the bytes arrive, and once the metadata part is
complete it picks a handler. Handlers are looked up by "Namespace.Name" in
EVENT_HANDLERS (default: DefaultEventHandler, a 204), unless a scripted answer
queued through the control port matches first. A handler sees the event in
three steps: on_metadata() (JSON part complete), on_audio(chunk) (while the
audio part streams) and on_end() (END_STREAM), and answers through the
EventRequest's respond_* methods or ResponseStream. A Recognize handler that
streams StopCapture mid-audio and a Speak with MP3 later fits this shape.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

import multipart as mp

if TYPE_CHECKING:  # only for type names; avoids an import cycle
    from connection import Conn, Stream

MAX_METADATA_BYTES = 1 << 20

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
    expected = conn.server.token
    if expected is not None and token.strip() != expected:
        return "invalid access token"
    return None


# --------------------------------------------------------------------------- responses


class ResponseStream:
    """A multipart/related response that is written part by part (for handlers
    that answer while the request is still streaming)."""

    def __init__(self, req: "EventRequest", status: int = 200):
        self.req = req
        self.status = status
        self.boundary = new_boundary()
        self.writer = mp.MultipartWriter(self.boundary, leading_crlf=False)

    def content_type(self) -> str:
        return f'multipart/related; boundary={self.boundary}; type="application/json"'

    async def start(self) -> None:
        await self.req.send_headers(self.status, [("content-type", self.content_type())])

    async def parts(self, parts: list[mp.Part], chunk_size: int = 0, trailing_delimiter: bool = True) -> None:
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
        if self.parser is None or self.error:
            return
        try:
            self.parser.feed(data)
        except mp.MultipartError as e:
            self.fail(400, f"invalid multipart body: {e}")

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
            self._respond_error(*self.error)
        else:
            self.handler.on_end()

    def on_reset(self) -> None:
        if self.handler is not None and hasattr(self.handler, "on_reset"):
            self.handler.on_reset()

    def fail(self, status: int, description: str) -> None:
        if self.error is None:
            self.error = (status, description)
            if not self.rec["error"]:
                self.rec["error"] = description
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
            if self.handler is not None and not self.error:
                self.handler.on_audio(data)

    def _part_end(self) -> None:
        if self.part_index == 0:
            self._metadata_done()
        elif self.part_index == 1 and self.audio_hash is not None:
            self.rec["audio_sha256"] = self.audio_hash.hexdigest()
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
        problem = validate_event(meta)
        if problem:
            self.fail(400, problem)
            return
        header = meta["event"]["header"]
        ns, name = header["namespace"], header["name"]
        self.rec["event"] = {"namespace": ns, "name": name, "messageId": header["messageId"],
                             "dialogRequestId": header.get("dialogRequestId")}
        self.conn.log(f"stream {self.st.sid}: event {ns}.{name}")
        self.server.notify()
        if self.auth_error:
            return  # answered 403 at END_STREAM; do not consume scripts
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
        self.conn.send_headers(self.st, status, list(headers), end_stream)

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
    if not isinstance(meta, dict):
        return "metadata must be a JSON object"
    ev = meta.get("event")
    if not isinstance(ev, dict):
        return "metadata has no 'event' object"
    header = ev.get("header")
    if not isinstance(header, dict):
        return "event has no 'header' object"
    for k in ("namespace", "name", "messageId"):
        if not isinstance(header.get(k), str) or not header[k]:
            return f"event.header.{k} missing or not a non-empty string"
    if "dialogRequestId" in header and not isinstance(header["dialogRequestId"], str):
        return "event.header.dialogRequestId must be a string"
    if not isinstance(ev.get("payload"), dict):
        return "event has no 'payload' object"
    if "context" in meta and not isinstance(meta["context"], list):
        return "context must be a JSON array"
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


# "Namespace.Name" -> handler class taking the EventRequest. Add Recognize here.
EVENT_HANDLERS: dict[str, type] = {
    "System.SynchronizeState": DefaultEventHandler,
}
