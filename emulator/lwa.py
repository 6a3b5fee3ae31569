"""Login with Amazon (LWA) side of the AVS test server: HTTP/1.1 over TLS.

A second listening socket in the same event loop serves the two LWA
endpoints a device uses (protocol-notes.md "Login with Amazon"):

  POST /auth/o2/create/codepair   code-based linking: a user code to show
  POST /auth/o2/token             device_code, refresh_token and
                                  authorization_code (PKCE, RFC 7636) grants

Requests are form-urlencoded, answers JSON; errors are 400 (401 for
invalid_client) with {"error", "error_description"}. Every access token
issued here is accepted by the AVS port until it expires (events.check_auth
asks Lwa.check_access_token). State (clients, code pairs, tokens, codes) and
one record per request live in Lwa; control.py's lwa_* commands change and
read them. The HTTP/1.1 reader is deliberately small but strict: a request it
cannot parse gets 400 and the connection is closed.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import json
import os
import re
import secrets
import ssl
import string
import sys
import time
import uuid
from urllib.parse import parse_qsl

CODEPAIR_PATH = "/auth/o2/create/codepair"
TOKEN_PATH = "/auth/o2/token"
DEFAULT_CLIENT = "emu-client-id"
VERIFICATION_URI = "https://amazon.com/us/code"

CONFIG_DEFAULTS = {
    "access_expires_in": 3600,  # s, access tokens (answer's expires_in)
    "code_expires_in": 600,     # s, code pairs
    "interval": 5,              # s, code pairs' initial polling interval
    "rotation": "on",           # refresh grant: "on" new refresh token, "off" same one, "omit" none
    "avs_rejects_issued": False,  # AVS refuses every token issued here (a product not enabled for AVS)
}
ROTATIONS = ("on", "off", "omit")
AUTH_CODE_EXPIRES_IN = 300      # s, lwa_authorization_code default
SLOW_DOWN_SLACK = 0.9           # a poll this fraction of the interval after the last one is in time

MAX_LINE = 64 * 1024            # request line, one header line, one chunk-size line
MAX_HEADERS = 100
MAX_BODY = 1 << 20
REASONS = {200: "OK", 100: "Continue", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 413: "Payload Too Large", 429: "Too Many Requests",
           500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}
H2_PREFACE = "PRI * HTTP/2.0"
VERIFIER_RE = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 4.1
USER_CODE_CHARS = string.ascii_uppercase + string.digits

quiet = False


def now() -> float:
    return time.monotonic()


def log(msg: str) -> None:
    # Field values (secrets) are never logged: tests grep logs for leaked secrets.
    if not quiet:
        print(f"avs-server {now():.3f} lwa {msg}", flush=True, file=sys.stderr)


def s256(verifier: str) -> str:
    """RFC 7636 4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class HttpError(Exception):
    """A request that cannot be parsed: answered 400 (or the status given), then close."""

    def __init__(self, msg: str, status: int = 400):
        super().__init__(msg)
        self.status = status


class LwaError(Exception):
    """An OAuth error answer: {"error": code, "error_description": description}."""

    def __init__(self, code: str, description: str, status: int | None = None, **rec):
        super().__init__(description)
        self.code = code
        self.status = status or (401 if code == "invalid_client" else 400)
        self.rec = rec  # extra fields for the request record (e.g. expired: true)


# --------------------------------------------------------------------------- HTTP/1.1


class Request:
    def __init__(self, method: str, target: str, version: str, headers: dict[str, str], body: bytes):
        self.method, self.target, self.version = method, target, version
        self.path = target.split("?", 1)[0]
        self.headers, self.body = headers, body
        conn_tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        # HTTP/1.1 is persistent unless "close"; HTTP/1.0 only with "keep-alive".
        self.keep_alive = ("close" not in conn_tokens if version == "HTTP/1.1"
                           else "keep-alive" in conn_tokens)


async def _line(reader: asyncio.StreamReader) -> str | None:
    """One line without its CRLF (a bare LF is accepted too); None at EOF before any byte."""
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise
    except asyncio.LimitOverrunError:
        raise HttpError("line too long", 400)
    try:
        return raw.rstrip(b"\n").rstrip(b"\r").decode("ascii")
    except UnicodeDecodeError:
        raise HttpError("non-ASCII bytes in the request line or a header")


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    """The next request, or None if the peer closed between requests.
    Raises HttpError (malformed) or asyncio.IncompleteReadError (EOF mid-request)."""
    line = await _line(reader)
    while line == "":  # RFC 9112 2.2: ignore empty lines before a request line
        line = await _line(reader)
    if line is None:
        return None
    if line.startswith(H2_PREFACE):
        raise HttpError("HTTP/2 connection preface on the HTTP/1.1 port (client offered only h2?)")
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise HttpError(f"bad request line {line[:100]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(f"unsupported version {version[:20]!r}")
    if not method.isalpha() or not method.isupper() or not target.startswith("/"):
        raise HttpError(f"bad request line {line[:100]!r}")
    headers: dict[str, str] = {}
    while True:
        h = await _line(reader)
        if h is None:
            raise asyncio.IncompleteReadError(b"", None)
        if h == "":
            break
        if len(headers) >= MAX_HEADERS:
            raise HttpError("too many header fields")
        if h[0] in " \t":
            raise HttpError("obsolete line folding in a header")
        name, sep, value = h.partition(":")
        if not sep or not name or name != name.strip() or any(c in name for c in " \t"):
            raise HttpError(f"bad header line {h[:100]!r}")
        name, value = name.lower(), value.strip(" \t")
        if name in headers:
            if name in ("content-length", "host") and headers[name] != value:
                raise HttpError(f"conflicting {name} headers")
            if name not in ("content-length", "host"):
                headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    if version == "HTTP/1.1" and "host" not in headers:
        raise HttpError("HTTP/1.1 request without Host")  # RFC 9112 3.2
    if headers.get("expect", "").lower() == "100-continue" and version == "HTTP/1.1":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = await _read_body(reader, headers)
    return Request(method, target, version, headers, body)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    te = headers.get("transfer-encoding")
    if te is not None:
        # RFC 9112 6.1: both framings at once is a smuggling vector: refuse.
        if "content-length" in headers:
            raise HttpError("both Transfer-Encoding and Content-Length")
        if [c.strip().lower() for c in te.split(",")] != ["chunked"]:
            raise HttpError(f"unsupported Transfer-Encoding {te[:50]!r}", 501)
        return await _read_chunked(reader)
    cl = headers.get("content-length")
    if cl is None:
        return b""
    if not cl.isdigit():
        raise HttpError(f"bad Content-Length {cl[:30]!r}")
    n = int(cl)
    if n > MAX_BODY:
        raise HttpError(f"body of {n} bytes is larger than {MAX_BODY}", 413)
    return await reader.readexactly(n)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        line = await _line(reader)
        if line is None:
            raise asyncio.IncompleteReadError(bytes(body), None)
        size_s = line.split(";", 1)[0].strip(" \t")
        if not size_s or any(c not in string.hexdigits for c in size_s) or len(size_s) > 8:
            raise HttpError(f"bad chunk size line {line[:50]!r}")
        size = int(size_s, 16)
        if size == 0:
            break
        if len(body) + size > MAX_BODY:
            raise HttpError(f"chunked body larger than {MAX_BODY}", 413)
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise HttpError("chunk data not followed by CRLF")
    while True:  # trailer section, ignored
        t = await _line(reader)
        if t is None:
            raise asyncio.IncompleteReadError(bytes(body), None)
        if t == "":
            return bytes(body)


def response_bytes(status: int, payload: dict, close: bool, version: str = "HTTP/1.1",
                   keep_alive_1_0: bool = False) -> bytes:
    body = json.dumps(payload).encode()
    head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
            f"Date: {email.utils.formatdate(usegmt=True)}",
            "Content-Type: application/json;charset=UTF-8",
            f"Content-Length: {len(body)}",
            "Cache-Control: no-store",  # RFC 6749 5.1: token answers must not be cached
            "Pragma: no-cache"]
    if close:
        head.append("Connection: close")
    elif version == "HTTP/1.0":
        head.append("Connection: keep-alive")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# --------------------------------------------------------------------------- state


def _token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(48)  # 64 url-safe characters


class Lwa:
    """Clients, code pairs, tokens, authorization codes, request records and scripted faults."""

    def __init__(self, cli_clients: list[str] | None = None, notify=lambda: None):
        self.notify = notify  # Server.notify: wakes wait_for
        self.config = dict(CONFIG_DEFAULTS)
        self.clients: dict[str, str | None] = {DEFAULT_CLIENT: None}
        for spec in cli_clients or []:
            cid, sep, secret = spec.partition(":")
            if not cid:
                raise ValueError(f"--lwa-client {spec!r}: empty client id")
            self.clients[cid] = secret if sep else None
        self.pairs: list[dict] = []           # every code pair, oldest first
        self.access: dict[str, dict] = {}     # token -> {client_id, t_issued, expires_at, grant}
        self.refresh: dict[str, dict] = {}    # token -> {client_id, t_issued, revoked, ...}
        self.codes: dict[str, dict] = {}      # authorization code -> {client_id, redirect_uri, ...}
        self.requests: list[dict] = []
        self.conns: list[dict] = []
        self._conn_seq = 0  # LWA connection numbers (1, 2, ...), separate from the AVS port's
        self._writers: set[asyncio.StreamWriter] = set()  # live connections, aborted at shutdown
        self.faults: list[dict] = []
        self.slow_down_pending = 0
        self.port: int | None = None
        self.ssl_ctx: ssl.SSLContext | None = None

    def reset(self) -> None:
        """Control reset: records and scripted faults go, config returns to the defaults;
        clients, pairs and tokens stay (a connected client keeps working)."""
        self.requests.clear()
        self.conns[:] = [c for c in self.conns if c["t_closed"] is None]
        self.faults.clear()
        self.slow_down_pending = 0
        self.config = dict(CONFIG_DEFAULTS)

    # ---- queries used by the AVS side and control
    def access_token_state(self, token: str) -> str | None:
        """"valid", "expired" (issued here, expired or revoked), or None (not issued here)."""
        a = self.access.get(token)
        if a is None:
            return None
        return "valid" if now() < a["expires_at"] else "expired"

    def secrets_known(self) -> list[str]:
        out = [s for s in self.clients.values() if s]
        out += list(self.access) + list(self.refresh) + list(self.codes)
        for p in self.pairs:
            out += [p["device_code"], p["user_code"]]
        return out

    def state(self) -> dict:
        t = now()
        return {
            "config": dict(self.config),
            "clients": [{"id": k, "secret": v} for k, v in self.clients.items()],
            "access_tokens": [dict(v, token=k, expired=t >= v["expires_at"]) for k, v in self.access.items()],
            "refresh_tokens": [dict(v, token=k) for k, v in self.refresh.items()],
            "code_pairs": [dict(p, expired=self._pair_expired(p, t)) for p in self.pairs],
            "authorization_codes": [dict(v, code=k, expired=t >= v["expires_at"]) for k, v in self.codes.items()],
            "faults": [dict(f) for f in self.faults],
            "slow_down_pending": self.slow_down_pending,
            "connections": self.conns,
            "requests": self.requests,
            "secrets": self.secrets_known(),
        }

    # ---- changes made by control commands
    def add_client(self, cid: str, secret: str | None) -> None:
        self.clients[cid] = secret

    def pending_pairs(self) -> list[dict]:
        t = now()
        return [p for p in self.pairs if not p["approved"] and not p["consumed"] and not self._pair_expired(p, t)]

    def approve(self, user_code: str | None) -> dict | None:
        pending = self.pending_pairs()
        if user_code is not None:
            pending = [p for p in pending if p["user_code"] == user_code]
        if not pending:
            return None
        p = pending[-1]
        p["approved"], p["t_approved"] = True, now()
        return p

    def issue_code(self, client_id: str, redirect_uri: str, challenge: str, expires_in: float) -> str:
        code = "AN" + "".join(secrets.choice(string.ascii_letters) for _ in range(18))
        self.codes[code] = {"client_id": client_id, "redirect_uri": redirect_uri, "code_challenge": challenge,
                            "code_challenge_method": "S256", "t_issued": now(),
                            "expires_at": now() + expires_in, "used": False}
        return code

    def issue_refresh(self, client_id: str, grant: str = "control") -> str:
        tok = _token("Atzr|")
        self.refresh[tok] = {"client_id": client_id, "t_issued": now(), "grant": grant,
                             "revoked": False, "t_revoked": None, "replaced_by": None}
        return tok

    def expire_access(self, token: str | None) -> list[str]:
        t = now()
        hit = [k for k in self.access if token is None or k == token]
        for k in hit:
            self.access[k]["expires_at"] = min(self.access[k]["expires_at"], t)
        return hit

    def revoke_refresh(self, token: str | None) -> list[str]:
        hit = [k for k, v in self.refresh.items() if (token is None or k == token) and not v["revoked"]]
        for k in hit:
            self.refresh[k].update(revoked=True, t_revoked=now())
        return hit

    def expire_pairs(self) -> list[str]:
        t = now()
        hit = self.pending_pairs() + [p for p in self.pairs if p["approved"] and not p["consumed"]
                                      and not self._pair_expired(p, t)]
        for p in hit:
            p["expires_at"] = t
        return [p["user_code"] for p in hit]

    # ---- the endpoints
    def handle(self, req: Request, rec: dict) -> dict:
        """The 200 answer's JSON; raises LwaError for an error answer."""
        if req.path not in (CODEPAIR_PATH, TOKEN_PATH):
            raise LwaError("not_found", f"no such endpoint {req.path}", 404)
        if req.method != "POST":
            raise LwaError("invalid_request", f"{req.path} takes POST, not {req.method}", 405)
        ctype = req.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise LwaError("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        fields = _form(req.body)
        if req.path == CODEPAIR_PATH:
            return self._codepair(fields)
        grant = fields.get("grant_type")
        rec["grant_type"] = grant
        if not grant:
            raise LwaError("invalid_request", "missing grant_type")
        fn = {"device_code": self._grant_device_code, "refresh_token": self._grant_refresh,
              "authorization_code": self._grant_authorization_code}.get(grant)
        if fn is None:
            raise LwaError("unsupported_grant_type", f"grant_type {grant!r} is not supported")
        return fn(fields, rec)

    def _codepair(self, f: dict) -> dict:
        _require(f, "response_type", "client_id", "scope", "scope_data")
        if f["response_type"] != "device_code":
            raise LwaError("invalid_request", "response_type must be device_code")
        if f["client_id"] not in self.clients:
            raise LwaError("invalid_client", "unknown client_id")
        if f["scope"] != "alexa:all":
            raise LwaError("invalid_scope", "scope must be alexa:all")
        product, dsn = _scope_data(f["scope_data"])
        taken = {p["user_code"] for p in self.pairs}
        user_code = next(c for c in iter(lambda: "".join(secrets.choice(USER_CODE_CHARS) for _ in range(6)), None)
                         if c not in taken)
        t = now()
        p = {"user_code": user_code, "device_code": str(uuid.uuid4()), "client_id": f["client_id"],
             "productID": product, "deviceSerialNumber": dsn, "t_created": t,
             "expires_in": self.config["code_expires_in"], "expires_at": t + self.config["code_expires_in"],
             "interval": self.config["interval"], "t_last_poll": None, "polls": 0, "slow_downs": 0,
             "approved": False, "t_approved": None, "consumed": False}
        self.pairs.append(p)
        return {"user_code": p["user_code"], "device_code": p["device_code"],
                "verification_uri": VERIFICATION_URI, "expires_in": p["expires_in"], "interval": p["interval"]}

    @staticmethod
    def _pair_expired(p: dict, t: float) -> bool:
        return t >= p["expires_at"]

    def _grant_device_code(self, f: dict, rec: dict) -> dict:
        _require(f, "device_code", "user_code")
        p = next((p for p in self.pairs if p["device_code"] == f["device_code"]), None)
        if p is None or p["user_code"] != f["user_code"] or p["consumed"]:
            raise LwaError("invalid_code_pair", "unknown or used code pair")
        t = now()
        if self._pair_expired(p, t):
            # LWA answers an expired pair like an unknown one; the record tells them apart.
            raise LwaError("invalid_code_pair", "the code pair has expired", expired=True)
        last, p["t_last_poll"] = p["t_last_poll"], t
        p["polls"] += 1
        too_fast = last is not None and t - last < p["interval"] * SLOW_DOWN_SLACK
        if self.slow_down_pending > 0 or too_fast:
            if not too_fast:
                self.slow_down_pending -= 1
            # The client doubles its interval (protocol notes); so do we, so that a client
            # that does is not told slow_down again.
            p["interval"] *= 2
            p["slow_downs"] += 1
            raise LwaError("slow_down", f"poll at most every {p['interval']} s")
        if not p["approved"]:
            raise LwaError("authorization_pending", "the user has not approved the code yet")
        p["consumed"] = True
        return self._tokens(p["client_id"], "device_code", None)

    def _authenticate(self, f: dict) -> str:
        """The request's client_id, checked against the known clients and their secrets."""
        cid = f["client_id"]
        if cid not in self.clients:
            raise LwaError("invalid_client", "unknown client_id")
        want, got = self.clients[cid], f.get("client_secret")
        if (want is not None or got is not None) and got != want:
            raise LwaError("invalid_client", "client authentication failed")
        return cid

    def _grant_refresh(self, f: dict, rec: dict) -> dict:
        _require(f, "refresh_token", "client_id")
        cid = self._authenticate(f)
        r = self.refresh.get(f["refresh_token"])
        if r is None or r["revoked"] or r["client_id"] != cid:
            raise LwaError("invalid_grant", "the refresh token is invalid or revoked")
        return self._tokens(cid, "refresh_token", f["refresh_token"])

    def _grant_authorization_code(self, f: dict, rec: dict) -> dict:
        _require(f, "code", "redirect_uri", "client_id", "code_verifier")
        cid = self._authenticate(f)
        c = self.codes.get(f["code"])
        if c is None or c["used"] or now() >= c["expires_at"]:
            raise LwaError("invalid_grant", "the authorization code is invalid, used or expired")
        if c["client_id"] != cid or c["redirect_uri"] != f["redirect_uri"]:
            raise LwaError("invalid_grant", "client_id or redirect_uri differ from the authorization request")
        v = f["code_verifier"]
        if not VERIFIER_RE.fullmatch(v) or s256(v) != c["code_challenge"]:
            # A failed attempt leaves the code usable (documented): tests may retry with the right one.
            raise LwaError("invalid_grant", "code_verifier does not match the code_challenge")
        c["used"], c["t_used"] = True, now()
        return self._tokens(cid, "authorization_code", None)

    def _tokens(self, cid: str, grant: str, old_refresh: str | None) -> dict:
        t = now()
        access = _token("Atza|")
        self.access[access] = {"client_id": cid, "t_issued": t,
                               "expires_at": t + self.config["access_expires_in"], "grant": grant}
        out = {"access_token": access, "refresh_token": None, "token_type": "bearer",
               "expires_in": self.config["access_expires_in"]}
        rotation = self.config["rotation"] if old_refresh else "on"
        if rotation == "on":
            out["refresh_token"] = self.issue_refresh(cid, grant)
            if old_refresh:
                self.refresh[old_refresh].update(revoked=True, t_revoked=t, replaced_by=out["refresh_token"])
        elif rotation == "off":
            out["refresh_token"] = old_refresh
        else:
            del out["refresh_token"]
        return out

    # ---- scripted faults (control lwa_fail)
    def take_fault(self, path: str) -> dict | None:
        for i, f in enumerate(self.faults):
            if f["path"] in ("*", path):
                f["count"] -= 1
                if f["count"] <= 0:
                    del self.faults[i]
                return dict(f)
        return None

    # ---- transport
    def ssl_context(self, cert: str, key: str) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
        # Only http/1.1: a client offering only h2 gets no ALPN and then fails on its preface.
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.options |= ssl.OP_NO_COMPRESSION
        return ctx

    async def start(self, host: str, port: int, certs_dir: str, cert: str) -> asyncio.AbstractServer:
        self.ssl_ctx = self.ssl_context(os.path.join(certs_dir, f"{cert}.pem"),
                                        os.path.join(certs_dir, f"{cert}.key"))
        # TLS is started per connection (not ssl= here) so a failed handshake is recorded: asyncio
        # would drop it silently, and it is what a client's TLS bug looks like.
        srv = await asyncio.start_server(self._serve_connection, host, port, limit=MAX_LINE)
        self.port = srv.sockets[0].getsockname()[1]
        return srv

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        self._conn_seq += 1
        crec = {"id": self._conn_seq,
                "peer": f"{peer[0]}:{peer[1]}" if peer else None, "t_accept": now(), "t_tls_done": None,
                "alpn": None, "tls_version": None, "requests": 0, "t_closed": None, "close_reason": None}
        self.conns.append(crec)
        self._writers.add(writer)
        reason = "peer closed"
        try:
            try:
                await writer.start_tls(self.ssl_ctx, ssl_handshake_timeout=10)
            except (OSError, asyncio.TimeoutError, EOFError) as e:
                crec["close_reason"] = f"TLS handshake failed: {type(e).__name__}: {e}"
                log(f"conn#{crec['id']} from {crec['peer']}: {crec['close_reason']}")
                writer.transport.abort()
                return
            sslobj = writer.get_extra_info("ssl_object")
            crec.update(t_tls_done=now(), alpn=sslobj.selected_alpn_protocol(), tls_version=sslobj.version())
            log(f"conn#{crec['id']} from {crec['peer']} alpn {crec['alpn']}")
            while True:
                if not await self._serve_one(crec, reader, writer):
                    reason = crec["close_reason"] or "closed after answer"
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as e:
            reason = f"connection error: {type(e).__name__}"
        except asyncio.CancelledError:
            reason = "server shutdown"
        finally:
            crec["t_closed"], crec["close_reason"] = now(), crec["close_reason"] or reason
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()
            self.notify()

    def shutdown(self) -> None:
        for w in list(self._writers):
            w.transport.abort()

    def _new_record(self, crec: dict) -> dict:
        rec = {"conn": crec["id"], "alpn": crec["alpn"], "method": None, "path": None, "version": None,
               "headers": {}, "fields": None, "grant_type": None, "t": now(), "t_response": None,
               "status": None, "error": None, "error_description": None, "expired": False,
               "keep_alive": None, "fault": None, "dropped": False, "malformed": None}
        self.requests.append(rec)
        crec["requests"] += 1
        return rec

    async def _serve_one(self, crec: dict, reader, writer) -> bool:
        """Reads and answers one request; False when the connection is to be closed."""
        try:
            req = await read_request(reader, writer)
        except HttpError as e:
            rec = self._new_record(crec)
            rec["malformed"] = str(e)
            self._finish(rec, e.status, {"error": "invalid_request", "error_description": str(e)})
            writer.write(response_bytes(e.status, {"error": "invalid_request", "error_description": str(e)}, True))
            await writer.drain()
            crec["close_reason"] = f"malformed request: {e}"
            log(f"conn#{crec['id']} malformed request: {e}")
            return False
        except asyncio.IncompleteReadError as e:
            if e.partial:
                self._new_record(crec)["malformed"] = "connection closed mid-request"
            crec["close_reason"] = "peer closed mid-request"
            return False
        if req is None:
            return False
        rec = self._new_record(crec)
        rec.update(method=req.method, path=req.path, version=req.version, headers=req.headers,
                   keep_alive=req.keep_alive, fields=_try_form(req.body))
        self.notify()
        fault = self.take_fault(req.path)
        rec["fault"] = fault
        if fault and fault.get("delay_ms"):
            await asyncio.sleep(fault["delay_ms"] / 1000)
        scripted = fault is not None and (fault.get("drop") or fault.get("status") or fault.get("error"))
        status, payload = 200, None
        if not scripted or fault.get("process"):
            try:
                payload = self.handle(req, rec)
            except LwaError as e:
                status, payload = e.status, {"error": e.code, "error_description": str(e)}
                rec.update(e.rec)
        if scripted and fault.get("drop"):
            rec.update(dropped=True, t_response=now())
            crec["close_reason"] = "dropped (lwa_fail drop)"
            log(f"conn#{crec['id']} {req.method} {req.path}: dropped (lwa_fail)")
            writer.transport.abort()  # no answer, no TLS close_notify: like a failed network
            self.notify()
            return False
        if scripted:
            status, payload = _fault_answer(fault)
        self._finish(rec, status, payload)
        log(f"conn#{crec['id']} {req.method} {req.path}: {status}"
            + (f" {payload['error']}" if status != 200 else ""))
        writer.write(response_bytes(status, payload, not req.keep_alive, req.version))
        await writer.drain()
        if not req.keep_alive:
            crec["close_reason"] = "Connection: close"
        return req.keep_alive

    def _finish(self, rec: dict, status: int, payload: dict) -> None:
        rec.update(status=status, t_response=now())
        if status != 200:
            rec.update(error=payload.get("error"), error_description=payload.get("error_description"))
        self.notify()


def _fault_answer(fault: dict) -> tuple[int, dict]:
    status = fault.get("status") or (401 if fault.get("error") == "invalid_client" else 400)
    code = fault.get("error") or ("temporarily_unavailable" if status in (429, 503) else "server_error")
    return status, {"error": code, "error_description": fault.get("error_description") or "scripted (lwa_fail)"}


def _form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError) as e:
        raise LwaError("invalid_request", f"body is not application/x-www-form-urlencoded: {e}")
    out: dict[str, str] = {}
    for k, v in pairs:
        if k in out:  # RFC 6749 3.2: parameters must not be repeated
            raise LwaError("invalid_request", f"parameter {k} given twice")
        out[k] = v
    return out


def _try_form(body: bytes) -> dict[str, str] | None:
    """The fields for the record, also of requests a fault answers (None if undecodable)."""
    try:
        return _form(body)
    except LwaError:
        return None


def _require(f: dict, *names: str) -> None:
    missing = [n for n in names if not f.get(n)]
    if missing:
        raise LwaError("invalid_request", f"missing {', '.join(missing)}")


def _scope_data(text: str) -> tuple[str, str]:
    try:
        sd = json.loads(text)
        aa = sd["alexa:all"]
        product = aa["productID"]
        dsn = aa["productInstanceAttributes"]["deviceSerialNumber"]
    except (ValueError, KeyError, TypeError):
        raise LwaError("invalid_request", 'scope_data must be {"alexa:all":{"productID":P,'
                       '"productInstanceAttributes":{"deviceSerialNumber":DSN}}}')
    if not isinstance(product, str) or not product or not isinstance(dsn, str) or not dsn:
        raise LwaError("invalid_request", "productID and deviceSerialNumber must be non-empty strings")
    return product, dsn
