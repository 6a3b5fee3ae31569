"""Incremental multipart (RFC 2046) parsing and encoding for the AVS test server.

The parser accepts the body in pieces of any size (audio is streamed for many
seconds), so it never needs the whole body in memory: part data is handed to a
callback as it arrives, keeping back only the few bytes that could be the start
of the next delimiter.
"""

from __future__ import annotations

from typing import Callable, Iterable

CRLF = b"\r\n"


class MultipartError(Exception):
    """The body is not valid multipart; the message says what was wrong."""


# --------------------------------------------------------------------------- headers


def split_params(value: str) -> list[str]:
    """Split a header value on ';' outside double quotes."""
    out, cur, quoted, escape = [], [], False, False
    for ch in value:
        if escape:
            cur.append(ch)
            escape = False
        elif ch == "\\" and quoted:
            cur.append(ch)
            escape = True
        elif ch == '"':
            quoted = not quoted
            cur.append(ch)
        elif ch == ";" and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def parse_header_value(value: str) -> tuple[str, dict[str, str]]:
    """'multipart/form-data; boundary="x"' -> ('multipart/form-data', {'boundary': 'x'}).

    The main value and parameter names are lower-cased; parameter values keep
    their case (boundaries are case-sensitive) and lose surrounding quotes.
    Lenient about whitespace, as real clients vary.
    """
    pieces = split_params(value)
    main = pieces[0].strip().lower()
    params: dict[str, str] = {}
    for p in pieces[1:]:
        p = p.strip()
        if not p:
            continue
        if "=" not in p:
            params[p.lower()] = ""
            continue
        k, v = p.split("=", 1)
        v = v.strip()
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[k.strip().lower()] = v
    return main, params


def parse_part_headers(block: bytes) -> list[tuple[str, str]]:
    """Parse a part's header block (without the blank line) into (name, value) pairs."""
    headers: list[tuple[str, str]] = []
    if not block:
        return headers
    for raw in block.split(CRLF):
        line = raw.decode("utf-8", errors="replace")
        if line[:1] in (" ", "\t") and headers:  # obsolete line folding
            name, val = headers[-1]
            headers[-1] = (name, val + " " + line.strip())
            continue
        if ":" not in line:
            raise MultipartError(f"malformed part header line {line!r}")
        name, val = line.split(":", 1)
        if not name or name != name.strip():
            raise MultipartError(f"malformed part header name {name!r}")
        headers.append((name, val.strip()))
    return headers


# --------------------------------------------------------------------------- parser

_PREAMBLE, _AFTER_DELIM, _HEADERS, _BODY, _DONE, _ERROR = range(6)


class MultipartParser:
    """Streaming multipart parser.

    Callbacks: on_begin(headers: list[(name, value)]), on_data(bytes), on_end().
    feed() raises MultipartError on malformed input; finish() raises if the
    close delimiter never came. Empty parts between two delimiters are skipped,
    as are the preamble and the epilogue.
    """

    MAX_HEADER_BYTES = 16 * 1024

    def __init__(self, boundary: str,
                 on_begin: Callable[[list[tuple[str, str]]], None],
                 on_data: Callable[[bytes], None],
                 on_end: Callable[[], None]):
        if not boundary or len(boundary) > 200:
            raise MultipartError("boundary must be 1..200 characters")
        self.boundary = boundary.encode("latin-1", errors="replace")
        self.delim = CRLF + b"--" + self.boundary
        # Pretend a CRLF precedes the body: the first delimiter then looks like
        # every other one, and a leading CRLF before it is also accepted.
        self.buf = bytearray(CRLF)
        self.state = _PREAMBLE
        self.parts = 0
        self.on_begin, self.on_data, self.on_end = on_begin, on_data, on_end

    @property
    def done(self) -> bool:
        return self.state == _DONE

    def feed(self, data: bytes) -> None:
        if self.state == _ERROR:
            raise MultipartError("parser already failed")
        if self.state == _DONE:
            return  # epilogue: ignored
        self.buf += data
        try:
            self._run()
        except MultipartError:
            self.state = _ERROR
            raise

    def finish(self) -> None:
        if self.state == _DONE:
            return
        where = {_PREAMBLE: "no boundary delimiter found",
                 _AFTER_DELIM: "body ended right after a delimiter",
                 _HEADERS: "body ended inside part headers",
                 _BODY: "body ended without the close delimiter",
                 _ERROR: "parser already failed"}[self.state]
        self.state = _ERROR
        raise MultipartError(f"{where} (expected '--{self.boundary.decode('latin-1')}--')")

    def _run(self) -> None:
        buf, delim = self.buf, self.delim
        while True:
            if self.state == _PREAMBLE:
                i = buf.find(delim)
                if i < 0:
                    keep = len(delim) - 1
                    if len(buf) > keep:
                        del buf[:len(buf) - keep]
                    return
                del buf[:i + len(delim)]
                self.state = _AFTER_DELIM
            elif self.state == _AFTER_DELIM:
                if len(buf) < 2:
                    return
                if buf[:2] == b"--":
                    self.state = _DONE
                    buf.clear()
                    return
                i = buf.find(CRLF)
                if i < 0:
                    if len(buf) > 256 or buf.strip(b" \t"):
                        raise MultipartError("unexpected bytes after a boundary delimiter")
                    return
                if buf[:i].strip(b" \t"):
                    raise MultipartError("unexpected bytes after a boundary delimiter")
                del buf[:i + 2]
                self.state = _HEADERS
            elif self.state == _HEADERS:
                # A delimiter right after a delimiter line is an empty part: skip it.
                if len(buf) < len(delim) and delim.startswith(bytes(buf)):
                    return
                if buf.startswith(delim):
                    del buf[:len(delim)]
                    self.state = _AFTER_DELIM
                    continue
                if buf.startswith(CRLF):
                    block, cut = b"", 2
                else:
                    i = buf.find(CRLF + CRLF)
                    if i < 0:
                        if len(buf) > self.MAX_HEADER_BYTES:
                            raise MultipartError("part headers too long or not terminated by a blank line")
                        return
                    block, cut = bytes(buf[:i]), i + 4
                headers = parse_part_headers(block)
                del buf[:cut]
                self.state = _BODY
                self.parts += 1
                self.on_begin(headers)
            elif self.state == _BODY:
                i = buf.find(delim)
                if i >= 0:
                    if i:
                        self.on_data(bytes(buf[:i]))
                    del buf[:i + len(delim)]
                    self.state = _AFTER_DELIM
                    self.on_end()
                    continue
                keep = len(delim) - 1
                if len(buf) > keep:
                    n = len(buf) - keep
                    self.on_data(bytes(buf[:n]))
                    del buf[:n]
                return
            else:
                return


# --------------------------------------------------------------------------- encoder

Part = tuple[list[tuple[str, str]], bytes]

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"


def json_part(body: bytes) -> Part:
    return ([("Content-Type", JSON_CONTENT_TYPE)], body)


def binary_part(content_id: str, data: bytes, content_type: str = "application/octet-stream") -> Part:
    cid = content_id if content_id.startswith("<") else f"<{content_id}>"
    return ([("Content-Type", content_type), ("Content-ID", cid)], data)


class MultipartWriter:
    """Produces a multipart body piece by piece, for streams whose parts are
    sent as they become available (the downchannel, streamed responses).

    leading_crlf: start with CRLF before the first delimiter (the downchannel
    does; event responses do not).
    trailing_delimiter (per write): end the write with a full delimiter line, so
    that a receiver can finish the last part at once instead of waiting for the
    next part. A close after such a line yields an empty part, which RFC 2046
    permits and receivers must skip.
    split_delimiters: every part is followed by its delimiter `CRLF--B` in the
    same write, and the rest of that delimiter line (the CRLF before the next
    part's headers, or `--CRLF` of the close) only comes with the next write,
    as some servers do. RFC 2046 allows it: the delimiter alone ends the part,
    so a receiver must act on the part without waiting for the next write.
    (trailing_delimiter is then moot: every write ends that way.)
    """

    def __init__(self, boundary: str, leading_crlf: bool, split_delimiters: bool = False):
        self.b = boundary.encode("latin-1")
        self.leading_crlf = leading_crlf
        self.split_delimiters = split_delimiters
        self.started = False
        self.open_line = False  # output currently ends with a full delimiter line
        self.open_delim = False  # output ends with `CRLF--B`, the rest of its line not yet written
        self.closed = False

    def _delim_line(self) -> bytes:
        pre = CRLF if (self.started or self.leading_crlf) else b""
        self.started = True
        return pre + b"--" + self.b + CRLF

    def write(self, parts: Iterable[Part], trailing_delimiter: bool = False) -> bytes:
        if self.closed:
            raise ValueError("multipart body already closed")
        out = bytearray()
        wrote = False
        for headers, body in parts:
            if self.open_delim:
                out += CRLF  # the end of the previous write's delimiter line
                self.open_delim = False
            elif not self.open_line:
                out += self._delim_line()
            for name, value in headers:
                out += f"{name}: {value}".encode("utf-8") + CRLF
            out += CRLF
            out += body
            self.open_line = False
            wrote = True
            if self.split_delimiters:
                out += CRLF + b"--" + self.b
                self.open_delim = True
        if trailing_delimiter and wrote and not self.split_delimiters:
            out += self._delim_line()
            self.open_line = True
        return bytes(out)

    def close(self) -> bytes:
        if self.closed:
            return b""
        self.closed = True
        if self.open_delim:
            return b"--" + CRLF  # completes the delimiter the last write ended with
        pre = CRLF if (self.started or self.leading_crlf) else b""
        return pre + b"--" + self.b + b"--" + CRLF


def encode(boundary: str, parts: Iterable[Part], leading_crlf: bool = False) -> bytes:
    """A complete multipart body."""
    w = MultipartWriter(boundary, leading_crlf)
    return w.write(parts) + w.close()
