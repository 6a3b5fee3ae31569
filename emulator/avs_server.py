#!/usr/bin/env python3
"""Local Alexa Voice Service (AVS) test server: HTTP/2 over TLS, Python h2.

  python3 avs_server.py gen-certs DIR [--key-type ec|rsa] [--force]
  python3 avs_server.py serve --certs DIR [--cert NAME] [--host H] [--port P]
        [--control-port C] [--token T] [--max-concurrent-streams N]
        [--downchannel-deadline-s S] [--stop-capture-after-bytes N] [--speak-mp3 F]
        [--demo-interfaces] [--lwa-port L] [--lwa-client ID[:SECRET]]...
        [--quiet] [--log-file F] [--no-stdin-watch]

`serve` prints one JSON line {"port","control_port","lwa_port","pid"} on stdout, logs to
stderr, and exits on SIGTERM/SIGINT or when stdin (a pipe) reaches EOF. Tests
drive it through the newline-delimited JSON control port (control.py,
README.md).

Modules: connection.py (TLS + HTTP/2 per connection), events.py (POST /events
validation and answers), lwa.py (Login with Amazon over HTTP/1.1), shapes.py (event shape checks), interfaces.py (directives
of the client's interfaces, the demo), control.py (control port), multipart.py, certs.py.
This file holds the shared state (Server) and the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import certs  # noqa: E402
import connection  # noqa: E402
import control  # noqa: E402
import events  # noqa: E402
import interfaces  # noqa: E402
import lwa  # noqa: E402
from connection import Conn, log, now  # noqa: E402


# --------------------------------------------------------------------------- server state


class Server:
    """State shared by all connections and the control port."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.cli_token: str | None = args.token
        self.token: str | None = args.token
        self.cli_max_streams: int = args.max_concurrent_streams
        self.max_streams: int = args.max_concurrent_streams
        self.requests: list[dict] = []
        self.conn_records: list[dict] = []
        self.live: dict[int, Conn] = {}
        self.scripts: list[dict] = []
        self.withhold_ping_acks = False
        self.refuse_until = 0.0
        self._next_id = 0
        self._changed = asyncio.Event()
        # SpeechRecognizer.Recognize (events.RecognizeHandler, control recognize_config / audio)
        self.speak_mp3: bytes = events.load_speak_mp3(args.speak_mp3)
        self.recognize_cli = dict(events.RECOGNIZE_DEFAULTS,
                                  stop_capture_after_bytes=args.stop_capture_after_bytes)
        self.recognize: dict = dict(self.recognize_cli)
        self.recognize_audio: list[dict] = []  # one per Recognize in the log: {"rec", "buf", "truncated"}
        self.pending_expect_speech: dict | None = None  # payload of the last ExpectSpeech sent
        # Fault injection (control commands hold_answers, reset_stream): event names whose
        # answers are held, and stream resets armed for a moment of a request.
        self.answer_holds: list[str] = []
        self.answers_released = asyncio.Event()
        self.stream_triggers: list[dict] = []
        # Alexa.Discovery.AddOrUpdateReport: the latest accepted one (control `capabilities`).
        self.capabilities: dict | None = None
        self.capability_reports = 0
        # Alerts tokens of the SetAlerts pushed since reset (defaults of DeleteAlert/DeleteAlerts).
        self.pushed_alert_tokens: list[str] = []
        # Demo (--demo-interfaces, control demo_interfaces): armed = runs after the next
        # SynchronizeState answered with 2xx, then disarms.
        self.demo_armed: bool = args.demo_interfaces
        self.demo_delay_s = interfaces.DEMO_DELAY_S
        self.demo_interval_s = interfaces.DEMO_INTERVAL_S
        # Login with Amazon (lwa.py): its own HTTP/1.1 port; issued access tokens pass check_auth.
        self.lwa = lwa.Lwa(args.lwa_client, self.notify)
        self.port: int | None = None  # set once listening
        self.ssl_ctx = self._ssl_context()

    def _ssl_context(self) -> ssl.SSLContext:
        d, name = self.args.certs, self.args.cert
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key"))
        ctx.set_alpn_protocols(["h2"])
        ctx.options |= ssl.OP_NO_COMPRESSION
        # RFC 7540 9.2.2: TLS 1.2 with HTTP/2 needs ephemeral key exchange and AEAD ciphers.
        ctx.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20")
        return ctx

    def next_conn_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_connection(self, conn: Conn) -> None:
        self.conn_records.append(conn.rec)
        self.notify()

    def notify(self) -> None:
        """Wake wait_for commands: something in the log or connections changed."""
        ev, self._changed = self._changed, asyncio.Event()
        ev.set()
        if self.stream_triggers:
            control.fire_stream_triggers(self)

    def release_answers(self) -> None:
        """Wake the answers waiting in EventRequest.send_headers to re-check the holds."""
        ev, self.answers_released = self.answers_released, asyncio.Event()
        ev.set()

    def take_script(self, namespace: str, name: str) -> dict | None:
        for i, s in enumerate(self.scripts):
            if s["name"] in ("*", name, f"{namespace}.{name}"):
                s["count"] -= 1
                if s["count"] <= 0:
                    del self.scripts[i]
                return dict(s)
        return None

    def store_capabilities(self, rec: dict) -> None:
        ev = rec["metadata"]["event"]
        self.capabilities = {"payload": ev["payload"], "header": ev["header"], "conn": rec["conn"],
                             "stream": rec["stream"], "t": now()}
        self.capability_reports += 1
        eps = ev["payload"]["endpoints"]
        log(f"conn#{rec['conn']} capabilities stored: {len(eps)} endpoint(s), "
            + "; ".join(f"{e['endpointId']}: " + ", ".join(f"{c['interface']} {c['version']}"
                                                          for c in e["capabilities"]) for e in eps))

    def on_synchronized(self, conn: Conn) -> None:
        """A SynchronizeState on conn was answered 2xx: start the demo if armed."""
        if not self.demo_armed:
            return
        self.demo_armed = False
        conn.spawn(interfaces.run_demo(self, conn, self.demo_delay_s, self.demo_interval_s), "demo")

    def take_expect_speech(self) -> dict | None:
        """The ExpectSpeech a new Recognize answers (consumed)."""
        es, self.pending_expect_speech = self.pending_expect_speech, None
        return es

    def find_downchannel(self, conn_id: int | None) -> tuple[Conn | None, Stream | None]:
        conns = [self.live[conn_id]] if conn_id is not None and conn_id in self.live else (
            [] if conn_id is not None else sorted(self.live.values(), key=lambda c: -c.id))
        for c in conns:
            if c.downchannels:
                return c, c.downchannels[-1]
        return (conns[0] if conns else None), None

    def reset(self) -> None:
        self.requests.clear()
        self.recognize_audio.clear()
        self.recognize = dict(self.recognize_cli)
        self.pending_expect_speech = None
        self.conn_records[:] = [c.rec for c in sorted(self.live.values(), key=lambda c: c.id)]
        self.scripts.clear()
        self.withhold_ping_acks = False
        self.refuse_until = 0.0
        self.token = self.cli_token
        self.answer_holds.clear()
        self.release_answers()
        self.stream_triggers.clear()
        self.capabilities = None
        self.capability_reports = 0
        self.pushed_alert_tokens.clear()
        self.demo_armed = self.args.demo_interfaces
        self.demo_delay_s = interfaces.DEMO_DELAY_S
        self.demo_interval_s = interfaces.DEMO_INTERVAL_S
        self.lwa.reset()
        if self.max_streams != self.cli_max_streams:
            self.max_streams = self.cli_max_streams
            for c in self.live.values():
                c.update_max_streams(self.max_streams)
        self.notify()

    def shutdown(self) -> None:
        self.lwa.shutdown()
        for c in list(self.live.values()):
            try:
                c.abort("server shutdown")
            except Exception:
                pass


# --------------------------------------------------------------------------- main


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Exit when stdin reaches EOF, so a dead test harness never leaves us running.

    Only a pipe or socket on stdin is watched: /dev/null or a file would hit
    EOF at once, and a terminal is someone running the server by hand.
    """
    import stat
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        log("stdin is not a pipe: not watching it for EOF")
        return

    def reader():
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        loop.call_soon_threadsafe(stop.set)
    threading.Thread(target=reader, name="stdin-watch", daemon=True).start()


async def serve(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()

    def on_loop_error(_loop, context):
        exc = context.get("exception")
        msg = context.get("message")
        print(f"avs-server {now():.3f} asyncio: {msg}" + (f": {exc!r}" if exc else ""),
              file=sys.stderr, flush=True)
    loop.set_exception_handler(on_loop_error)

    server = Server(args)
    tcp = await loop.create_server(lambda: Conn(server), args.host, args.port, reuse_address=True)
    ctl = await asyncio.start_server(control.client_handler(server), "127.0.0.1", args.control_port,
                                     limit=256 * 1024 * 1024)
    lwa_srv = await server.lwa.start(args.host, args.lwa_port, args.certs, args.cert)
    port = tcp.sockets[0].getsockname()[1]
    server.port = port
    cport = ctl.sockets[0].getsockname()[1]
    # Signal handlers before the ready line: a harness may signal right after reading it.
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not args.no_stdin_watch:
        _watch_stdin(loop, stop)
    sys.stdout.write(json.dumps({"port": port, "control_port": cport, "lwa_port": server.lwa.port,
                                 "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    log(f"listening on {args.host}:{port} (control 127.0.0.1:{cport}, LWA {server.lwa.port}), "
        f"cert {args.cert}")
    await stop.wait()
    log("shutting down")
    tcp.close()
    ctl.close()
    lwa_srv.close()
    server.shutdown()
    await asyncio.sleep(0)
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "gen-certs":
        return certs.main(argv[1:])
    ap = argparse.ArgumentParser(prog="avs_server.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("gen-certs", help="create test certificates in DIR (see gen-certs --help)")
    s = sub.add_parser("serve", help="run the server")
    s.add_argument("--certs", required=True, help="directory made by gen-certs")
    s.add_argument("--cert", default="server", help="NAME.pem/NAME.key in --certs (default server)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--control-port", type=int, default=0)
    s.add_argument("--token", default=None, help="accepted bearer token (default: any non-empty)")
    s.add_argument("--max-concurrent-streams", type=int, default=10)
    s.add_argument("--downchannel-deadline-s", type=float, default=10.0,
                   help="close connections without a downchannel after this long (0 = never)")
    s.add_argument("--stop-capture-after-bytes", type=int, default=32000,
                   help="NEAR_FIELD/FAR_FIELD Recognize: send StopCapture after this many audio "
                        "bytes (default 32000 = 1 s); recognize_config can change it")
    s.add_argument("--speak-mp3", default=None,
                   help="MP3 sent with SpeechSynthesizer.Speak (default emulator/fixtures/speak.mp3)")
    s.add_argument("--demo-interfaces", action="store_true",
                   help="once a client's SynchronizeState is answered, push one directive of each "
                        "interface (Speaker, Alexa.Speaker, Alexa, System, Notifications, "
                        "TemplateRuntime) on its downchannel, 300 ms apart (once; reset re-arms)")
    s.add_argument("--lwa-port", type=int, default=0,
                   help="Login with Amazon endpoints (HTTP/1.1 over TLS, same certificate) on this "
                        "port (default 0 = ephemeral; the ready line says which)")
    s.add_argument("--lwa-client", action="append", default=[], metavar="ID[:SECRET]",
                   help="an LWA client id (with its secret) besides emu-client-id (repeatable)")
    s.add_argument("--quiet", action="store_true", help="log only exceptions")
    s.add_argument("--no-stdin-watch", action="store_true",
                   help="do not exit on stdin EOF (for running detached)")
    s.add_argument("--log-file", default=None,
                   help="append the log here instead of stderr (a harness that pipes stderr "
                        "but never reads it would otherwise block the server once the pipe fills)")
    args = ap.parse_args(argv)
    connection.quiet = lwa.quiet = args.quiet
    if args.log_file:
        sys.stderr = open(args.log_file, "a", buffering=1)
    try:
        return asyncio.run(serve(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
