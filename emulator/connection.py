"""HTTP/2 side of the AVS test server: one Conn (asyncio protocol) per TCP
connection, TLS layered on with start_tls, h2 for framing, one Stream per
request. Event semantics live in events.py; shared state in avs_server.Server.
"""

from __future__ import annotations

import asyncio
import sys
import time
import traceback

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame

import events
import multipart as mp
from events import StreamGone

DIRECTIVES_PATH = "/v20160207/directives"
EVENTS_PATH = "/v20160207/events"
PING_PATH = "/ping"
GOAWAY_DRAIN_S = 5.0

quiet = False


def now() -> float:
    return time.monotonic()


def log(msg: str) -> None:
    if not quiet:
        print(f"avs-server {now():.3f} {msg}", file=sys.stderr, flush=True)


def log_exc(what: str) -> None:
    # Exceptions are always logged, --quiet or not: they are server bugs or bad clients.
    print(f"avs-server {now():.3f} EXCEPTION in {what}:\n{traceback.format_exc()}",
          file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- h2 tweaks


class AVSH2Connection(h2.connection.H2Connection):
    """h2's connection with the few behaviours a test server needs changed.

    - Streams beyond SETTINGS_MAX_CONCURRENT_STREAMS: h2 would tear the whole
      connection down (TooManyStreamsError); we count the violation and let the
      stream be created so the Conn can refuse just it (RST_STREAM
      REFUSED_STREAM, RFC 7540 5.1.2). Creating it keeps HPACK state in sync.
    - PING: h2 acks automatically in _receive_ping_frame; we count pings and
      can drop the ack (to test client ping timeouts).
    - GOAWAY (either direction): h2 moves its state machine to CLOSED, after
      which open streams cannot finish. We send our GOAWAY as a raw frame and
      ignore the state change on a received one, so open streams complete.
    """

    def __init__(self, config: h2.config.H2Configuration, owner: "Conn"):
        super().__init__(config)
        self.owner = owner
        self.refused_streams: set[int] = set()
        self._lift_stream_limit = False

    @property
    def open_inbound_streams(self) -> int:
        if self._lift_stream_limit:
            return 0
        return h2.connection.H2Connection.open_inbound_streams.fget(self)

    def _receive_headers_frame(self, frame):
        sid = frame.stream_id
        if sid not in self.streams and sid % 2 == 1 and sid > self.highest_inbound_stream_id:
            open_now = h2.connection.H2Connection.open_inbound_streams.fget(self) + 1
            limit = self.local_settings.max_concurrent_streams
            self.owner.on_new_stream(sid, open_now, limit)
            if open_now > limit:
                self.refused_streams.add(sid)
                self._lift_stream_limit = True
        try:
            return super()._receive_headers_frame(frame)
        finally:
            self._lift_stream_limit = False

    def _receive_ping_frame(self, frame):
        frames, evts = super()._receive_ping_frame(frame)
        if "ACK" not in frame.flags:
            if self.owner.on_ping():
                return frames, evts
            return [], evts  # ack withheld
        return frames, evts

    def _receive_goaway_frame(self, frame):
        ev = h2.events.ConnectionTerminated()
        ev.error_code = h2.errors._error_code_from_int(frame.error_code)
        ev.last_stream_id = frame.last_stream_id
        ev.additional_data = frame.additional_data or None
        return [], [ev]

    def send_goaway_keep_open(self, last_stream_id: int, error_code: int = 0, debug: bytes = b"") -> None:
        f = GoAwayFrame(0)
        f.last_stream_id = last_stream_id
        f.error_code = error_code
        f.additional_data = debug
        self._prepare_for_sending([f])


# --------------------------------------------------------------------------- streams


class IgnoreBody:
    """Handler for requests whose body does not matter (downchannel, ping, 404)."""

    def on_data(self, data: bytes) -> None:
        pass

    def on_end(self) -> None:
        pass

    def on_reset(self) -> None:
        pass


class Stream:
    def __init__(self, conn: "Conn", sid: int, rec: dict):
        self.conn, self.sid, self.rec = conn, sid, rec
        self.remote_ended = False
        self.local_ended = False
        self.reset = False
        self.closed = False
        self.handler = IgnoreBody()
        self.lock = asyncio.Lock()  # one body writer at a time (concurrent pushes)
        self.dc_writer: mp.MultipartWriter | None = None  # set on downchannels
        self._chain: asyncio.Task | None = None

    def run(self, coro) -> None:
        """Run coro after the ones scheduled earlier on this stream."""
        prev = self._chain

        async def step():
            try:
                if prev is not None and not prev.done():
                    await asyncio.wait([prev])
                await coro
            finally:
                coro.close()  # no "never awaited" warning if cancelled early

        self._chain = self.conn.spawn(step(), f"stream {self.sid}")


# --------------------------------------------------------------------------- connections


class Conn(asyncio.Protocol):
    """One client TCP connection: TLS, then HTTP/2 through AVSH2Connection."""

    def __init__(self, server):
        self.server = server
        self.id = server.next_conn_id()
        self.raw: asyncio.Transport | None = None
        self.transport: asyncio.Transport | None = None
        self.h2: AVSH2Connection | None = None
        self.closed = False
        self.streams: dict[int, Stream] = {}
        self.downchannels: list[Stream] = []
        self.goaway_last_id: int | None = None
        self.tasks: set[asyncio.Task] = set()
        self._writable = asyncio.Event()
        self._writable.set()
        self._flow_ev = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._deadline: asyncio.TimerHandle | None = None
        self._draining = False
        self._early: list[bytes] = []  # TLS data that arrived before the h2 session existed
        self.rec = {
            "id": self.id, "peer": None, "t_accept": now(), "t_tls_done": None, "t_closed": None,
            "refused": False, "alpn": None, "tls_version": None, "cipher": None,
            "max_concurrent_seen": 0, "concurrency_violations": 0,
            "pings_received": 0, "pings_acked": 0,
            "goaway_sent": False, "t_goaway": None, "goaway_last_stream_id": None,
            "goaway_received": None, "downchannel_streams": [], "close_reason": None,
        }

    def log(self, msg: str) -> None:
        log(f"conn#{self.id} {msg}")

    # ---- asyncio plumbing
    def connection_made(self, transport: asyncio.Transport) -> None:
        if self.raw is not None:
            return  # start_tls does not call this again, but be safe
        self.raw = transport
        peer = transport.get_extra_info("peername")
        self.rec["peer"] = f"{peer[0]}:{peer[1]}" if peer else None
        self.server.add_connection(self)
        if now() < self.server.refuse_until:
            self.rec["refused"] = True
            self.rec["close_reason"] = "refused (refuse_connections)"
            self.rec["t_closed"] = now()
            self.closed = True
            self.log(f"refused connection from {self.rec['peer']}")
            transport.abort()
            self.server.notify()
            return
        self.server.live[self.id] = self
        self.log(f"accepted from {self.rec['peer']}")
        # Nothing must reach this protocol before TLS is layered on top.
        transport.pause_reading()
        self.spawn(self._start_tls(transport), "TLS handshake")

    async def _start_tls(self, raw: asyncio.Transport) -> None:
        loop = asyncio.get_running_loop()
        try:
            tls = await loop.start_tls(raw, self, self.server.ssl_ctx, server_side=True,
                                       ssl_handshake_timeout=10.0,
                                       # after our close_notify, do not linger for the peer's
                                       ssl_shutdown_timeout=0.25)
        except Exception as e:  # handshake failures are normal in cert tests
            reason = f"TLS handshake failed: {type(e).__name__}: {e}"
            self.log(reason)
            raw.abort()
            self._lost(reason)
            return
        if self.closed:  # killed during the handshake
            tls.abort()
            return
        self.transport = tls
        sslobj = tls.get_extra_info("ssl_object")
        self.rec["t_tls_done"] = now()
        self.rec["alpn"] = sslobj.selected_alpn_protocol()
        self.rec["tls_version"] = sslobj.version()
        self.rec["cipher"] = (sslobj.cipher() or [None])[0]
        if self.rec["alpn"] != "h2":
            self.log(f"ALPN gave {self.rec['alpn']!r}, not h2: closing")
            self.close(f"ALPN did not negotiate h2 (got {self.rec['alpn']!r})")
            return
        self.log(f"TLS done ({self.rec['tls_version']}, {self.rec['cipher']}, ALPN h2)")
        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.h2 = AVSH2Connection(cfg, self)
        # Replace the default local settings before they are first sent, so the
        # limit applies from the start rather than after the client's ACK.
        self.h2.local_settings = h2.settings.Settings(client=False, initial_values={
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.server.max_streams,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 65536,
        })
        self.h2.initiate_connection()
        self.flush()
        self.server.notify()
        deadline = self.server.args.downchannel_deadline_s
        if deadline and deadline > 0:
            self._deadline = loop.call_later(deadline, self._downchannel_deadline, deadline)
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self.h2 is None:
            # start_tls resumes reading before our coroutine continues, so the
            # client preface can arrive before the h2 session is set up.
            self._early.append(data)
            return
        try:
            evts = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            self.log(f"HTTP/2 protocol error from client: {type(e).__name__}: {e}")
            self.close(f"protocol error: {e}")
            return
        except Exception:
            log_exc(f"conn#{self.id} receive_data")
            self.close("server error while parsing")
            return
        for ev in evts:
            if self.closed:
                break  # aborted while handling an earlier event (e.g. drop_connection_after_bytes)
            try:
                self._on_event(ev)
            except Exception:
                log_exc(f"conn#{self.id} handling {type(ev).__name__}")
                sid = getattr(ev, "stream_id", None)
                st = self.streams.get(sid) if sid else None
                if st is not None:
                    self.reset_stream(st, ErrorCodes.INTERNAL_ERROR, "server error")
        self.flush()

    def eof_received(self):
        return False  # close our side too

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def connection_lost(self, exc) -> None:
        self._lost(f"connection lost: {exc}" if exc else "closed")

    def _lost(self, reason: str) -> None:
        if self.rec["t_closed"] is not None:
            return
        self.closed = True
        self.rec["t_closed"] = now()
        if not self.rec["close_reason"]:
            self.rec["close_reason"] = "peer closed" if reason == "closed" else reason
        self.log(f"closed ({self.rec['close_reason']})")
        self.server.live.pop(self.id, None)
        for st in list(self.streams.values()):
            if not st.closed:
                st.closed = True
                st.rec["t_closed"] = now()
                if not st.rec["error"] and not (st.local_ended and st.remote_ended):
                    st.rec["error"] = "connection closed"
                try:
                    st.handler.on_reset()
                except Exception:
                    log_exc("on_reset")
        self.streams.clear()
        self.downchannels.clear()
        self._idle.set()
        self._wake_flow()
        self._writable.set()
        if self._deadline:
            self._deadline.cancel()
        current = asyncio.current_task()
        for t in list(self.tasks):
            if t is not current:
                t.cancel()
        self.server.notify()

    def spawn(self, coro, what: str) -> asyncio.Task:
        async def guard():
            try:
                await coro
            except (StreamGone, asyncio.CancelledError):
                pass
            except Exception:
                log_exc(f"conn#{self.id} {what}")
        t = asyncio.ensure_future(guard())
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)
        return t

    def flush(self) -> None:
        if self.h2 is None or self.transport is None:
            return
        data = self.h2.data_to_send()
        if data and not self.transport.is_closing():
            self.transport.write(data)

    def close(self, reason: str) -> None:
        """Graceful close: flush, TLS close_notify, then TCP close."""
        if not self.rec["close_reason"]:
            self.rec["close_reason"] = reason
        if self.transport is not None:
            self.flush()
            self.transport.close()
        elif self.raw is not None:
            self.raw.abort()

    def abort(self, reason: str) -> None:
        """Torn connection: no GOAWAY, no close_notify."""
        if not self.rec["close_reason"]:
            self.rec["close_reason"] = reason
        (self.transport or self.raw).abort()
        if self.transport is None:
            self._lost(reason)
        # connection_lost comes later; until then, bytes already decrypted must
        # not be processed as if the connection were still up.
        self.closed = True

    # ---- hooks from AVSH2Connection
    def on_new_stream(self, sid: int, open_now: int, limit: int) -> None:
        self.rec["max_concurrent_seen"] = max(self.rec["max_concurrent_seen"], open_now)
        if open_now > limit:
            self.rec["concurrency_violations"] += 1
            self.log(f"stream {sid}: {open_now} concurrent streams > limit {limit}: refusing")

    def on_ping(self) -> bool:
        self.rec["pings_received"] += 1
        if self.server.withhold_ping_acks:
            self.log("PING received, ack withheld")
            return False
        self.rec["pings_acked"] += 1
        self.log("PING received, acked")
        return True

    # ---- HTTP/2 events
    def _on_event(self, ev) -> None:
        if isinstance(ev, h2.events.RequestReceived):
            self._on_request(ev)
        elif isinstance(ev, h2.events.DataReceived):
            if ev.flow_controlled_length:
                # Give the window back at once so the client can stream audio forever.
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            st = self.streams.get(ev.stream_id)
            if st is not None and ev.data:
                st.handler.on_data(ev.data)
        elif isinstance(ev, h2.events.StreamEnded):
            st = self.streams.get(ev.stream_id)
            if st is not None:
                st.remote_ended = True
                st.rec["t_end"] = now()
                st.handler.on_end()
                self._check_closed(st)
                self.server.notify()
        elif isinstance(ev, h2.events.StreamReset):
            st = self.streams.get(ev.stream_id)
            if st is not None:
                st.reset = True
                if not st.rec["error"]:
                    st.rec["error"] = f"reset by client ({ev.error_code.name if hasattr(ev.error_code, 'name') else ev.error_code})"
                self.log(f"stream {st.sid}: {st.rec['error']}")
                st.handler.on_reset()
                self._check_closed(st)
        elif isinstance(ev, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self._wake_flow()
        elif isinstance(ev, h2.events.ConnectionTerminated):
            code = ev.error_code.name if hasattr(ev.error_code, "name") else str(ev.error_code)
            self.rec["goaway_received"] = {"error_code": code, "last_stream_id": ev.last_stream_id}
            self.log(f"GOAWAY received from client ({code})")
            if ev.error_code != 0:
                self.close(f"client GOAWAY {code}")
            else:
                self._begin_drain("client GOAWAY")

    def _on_request(self, ev: h2.events.RequestReceived) -> None:
        sid = ev.stream_id
        headers: dict[str, str] = {}
        for k, v in ev.headers:
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        method, path = headers.get(":method", ""), headers.get(":path", "")
        rec = {
            "conn": self.id, "stream": sid, "method": method, "path": path, "headers": headers,
            "t_headers": now(), "t_end": None, "event": None, "metadata": None,
            "t_metadata": None, "t_metadata_unix": None,
            "audio_bytes": 0, "audio_sha256": None, "status": None,
            "t_response_headers": None, "t_closed": None, "error": None, "parts": [],
        }
        rec.update(events.audio_record_fields())
        self.server.requests.append(rec)
        st = Stream(self, sid, rec)
        self.streams[sid] = st
        self._idle.clear()
        self.log(f"stream {sid}: {method} {path}")
        if sid in self.h2.refused_streams:
            self.h2.refused_streams.discard(sid)
            self.reset_stream(st, ErrorCodes.REFUSED_STREAM,
                              f"refused: more than {self.h2.local_settings.max_concurrent_streams} concurrent streams")
            return
        if self.goaway_last_id is not None and sid > self.goaway_last_id:
            self.reset_stream(st, ErrorCodes.REFUSED_STREAM, "refused: stream opened after GOAWAY")
            return
        route = path.split("?", 1)[0]
        if route == DIRECTIVES_PATH and method == "GET":
            self._open_downchannel(st, headers)
        elif route == EVENTS_PATH and method == "POST":
            st.handler = events.EventRequest(self, st, headers)
        elif route == PING_PATH and method == "GET":
            self.send_headers(st, 204, [], end_stream=True)
        else:
            self.send_headers(st, 404, [], end_stream=True)
        self.server.notify()

    def _open_downchannel(self, st: Stream, headers: dict[str, str]) -> None:
        err = events.check_auth(self, headers)
        if err:
            st.rec["error"] = err
            body = events.exception_body("UNAUTHORIZED_REQUEST_EXCEPTION", err)
            st.run(self.respond(st, 403, body, "application/json"))
            return
        boundary = events.new_boundary()
        st.dc_writer = mp.MultipartWriter(boundary, leading_crlf=True)
        self.send_headers(st, 200, [
            ("content-type", f'multipart/related; boundary={boundary}; type="application/json"')])
        self.downchannels.append(st)
        self.rec["downchannel_streams"].append(st.sid)
        if self._deadline:
            self._deadline.cancel()
            self._deadline = None
        self.log(f"stream {st.sid}: downchannel open")

    def _downchannel_deadline(self, seconds: float) -> None:
        if self.closed or self.h2 is None or self.rec["downchannel_streams"]:
            return
        self.log(f"no downchannel within {seconds} s: GOAWAY and close")
        self.h2.send_goaway_keep_open(self.h2.highest_inbound_stream_id, 0, b"no downchannel")
        self.close(f"no downchannel within {seconds} s")

    # ---- sending (used by events.py and control.py)
    def _check_sendable(self, st: Stream) -> None:
        if self.closed or st.closed or st.reset or st.local_ended or self.h2 is None:
            raise StreamGone(f"stream {st.sid} is closed")

    def send_headers(self, st: Stream, status: int, headers: list[tuple[str, str]],
                     end_stream: bool = False) -> None:
        self._check_sendable(st)
        try:
            self.h2.send_headers(st.sid, [(":status", str(status))] + headers, end_stream=end_stream)
        except h2.exceptions.H2Error as e:
            raise StreamGone(str(e)) from e
        st.rec["status"] = status
        st.rec["t_response_headers"] = now()
        self.log(f"stream {st.sid}: response {status}" + (" (end)" if end_stream else ""))
        if end_stream:
            self._local_end(st)
        self.flush()
        self.server.notify()

    async def send_body(self, st: Stream, data: bytes, end_stream: bool = False, chunk_size: int = 0) -> None:
        """Send data as the flow-control windows allow; chunk_size > 0 caps DATA frame size."""
        if not data:
            if end_stream:
                await self.end_stream(st)
            return
        mv, pos, total = memoryview(data), 0, len(data)
        while pos < total:
            self._check_sendable(st)
            if not self._writable.is_set():  # transport buffer full
                await self._writable.wait()
                continue
            flow = self._flow_ev
            try:
                window = self.h2.local_flow_control_window(st.sid)
            except h2.exceptions.H2Error as e:
                raise StreamGone(str(e)) from e
            size = min(total - pos, window, self.h2.max_outbound_frame_size)
            if chunk_size > 0:
                size = min(size, chunk_size)
            if size <= 0:
                await flow.wait()  # woken by WINDOW_UPDATE / SETTINGS / close
                continue
            last = end_stream and pos + size == total
            try:
                self.h2.send_data(st.sid, bytes(mv[pos:pos + size]), end_stream=last)
            except h2.exceptions.H2Error as e:
                raise StreamGone(str(e)) from e
            pos += size
            if last:
                self._local_end(st)
            self.flush()
            if chunk_size > 0:
                await asyncio.sleep(0)  # each tiny frame goes out in its own write

    async def end_stream(self, st: Stream, hold_open_ms: int = 0) -> None:
        if hold_open_ms:
            await asyncio.sleep(hold_open_ms / 1000)
        if self.closed or st.closed or st.local_ended or st.reset:
            return
        try:
            self.h2.end_stream(st.sid)
        except h2.exceptions.H2Error as e:
            raise StreamGone(str(e)) from e
        self._local_end(st)
        self.flush()

    async def respond(self, st: Stream, status: int, body: bytes = b"", content_type: str | None = None) -> None:
        if not body:
            self.send_headers(st, status, [], end_stream=True)
            return
        self.send_headers(st, status, [("content-type", content_type or "application/octet-stream")])
        await self.send_body(st, body, end_stream=True)

    def reset_stream(self, st: Stream, code: int, why: str) -> None:
        if not st.rec["error"]:
            st.rec["error"] = why
        self.log(f"stream {st.sid}: RST_STREAM {code} ({why})")
        if not st.closed and not self.closed:
            try:
                self.h2.reset_stream(st.sid, code)
            except h2.exceptions.H2Error:
                pass
        st.reset = True
        try:
            st.handler.on_reset()
        except Exception:
            log_exc("on_reset")
        self._check_closed(st)
        self.flush()

    def _local_end(self, st: Stream) -> None:
        st.local_ended = True
        self._check_closed(st)

    def _check_closed(self, st: Stream) -> None:
        if st.closed or not (st.reset or (st.local_ended and st.remote_ended)):
            return
        st.closed = True
        st.rec["t_closed"] = now()
        self.streams.pop(st.sid, None)
        if st in self.downchannels:
            self.downchannels.remove(st)
        if not self.streams:
            self._idle.set()
        self._wake_flow()
        self.server.notify()

    def _wake_flow(self) -> None:
        ev, self._flow_ev = self._flow_ev, asyncio.Event()
        ev.set()

    # ---- downchannel and GOAWAY (control commands)
    async def push(self, st: Stream, parts: list[mp.Part], chunk_size: int, trailing_delimiter: bool) -> int:
        async with st.lock:
            self._check_sendable(st)
            data = st.dc_writer.write(parts, trailing_delimiter)
            await self.send_body(st, data, chunk_size=chunk_size)
        self.log(f"stream {st.sid}: pushed {len(parts)} part(s), {len(data)} bytes")
        return len(data)

    async def close_downchannel(self, st: Stream) -> None:
        async with st.lock:
            if st.closed or st.local_ended:
                return
            await self.send_body(st, st.dc_writer.close(), end_stream=True)
        self.log(f"stream {st.sid}: downchannel closed by server")

    def goaway(self, last_stream_id: int | None = None) -> int:
        """GOAWAY(NO_ERROR). last_stream_id defaults to the highest client stream; a lower one
        says the open streams above it were not processed: they are reset with REFUSED_STREAM
        (their records say so) and never answered, so the client must retry them elsewhere."""
        if self.goaway_last_id is None:
            last = self.h2.highest_inbound_stream_id if last_stream_id is None else last_stream_id
            self.h2.send_goaway_keep_open(last)
            self.goaway_last_id = last
            self.rec.update(goaway_sent=True, t_goaway=now(), goaway_last_stream_id=last)
            self.flush()
            self.log(f"GOAWAY sent (NO_ERROR, last_stream_id={last})")
            for st in sorted(self.streams.values(), key=lambda s: s.sid):
                if st.sid > last and not st.closed:
                    st.rec["error"] = f"not processed: above GOAWAY last_stream_id {last}"
                    self.reset_stream(st, ErrorCodes.REFUSED_STREAM, st.rec["error"])
            self._begin_drain("GOAWAY")
            self.server.notify()
        return self.goaway_last_id

    def _begin_drain(self, why: str) -> None:
        """End the downchannels, let other open streams finish, then close
        (at most GOAWAY_DRAIN_S later)."""
        if self._draining:
            return
        self._draining = True

        async def drain():
            t_end = now() + GOAWAY_DRAIN_S
            dcs = [self.close_downchannel(st) for st in list(self.downchannels)]
            if dcs:
                await asyncio.wait([asyncio.ensure_future(c) for c in dcs], timeout=GOAWAY_DRAIN_S)
            try:
                await asyncio.wait_for(self._idle.wait(), max(0.0, t_end - now()))
                self.close(f"{why}: all streams finished")
            except asyncio.TimeoutError:
                self.close(f"{why}: {GOAWAY_DRAIN_S:g} s drain timeout")

        self.spawn(drain(), "GOAWAY drain")

    def update_max_streams(self, n: int) -> None:
        if self.h2 is not None and not self.closed:
            self.h2.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: n})
            self.flush()
