//! HTTP/1.1 for one request and its response (RFC 9112), as pure functions over byte slices: no
//! I/O, no allocation, no panics on any input.
//!
//! This is what the Login with Amazon token endpoint (`https://api.amazon.com/auth/o2/token`)
//! needs: one `POST` on a connection of its own (`Connection: close`), written by
//! [`write_post_request`], and its answer read by [`parse_response`] from a fixed buffer the
//! caller fills as bytes arrive from a non-blocking TLS stream.
//!
//! The status line, the header fields, the chunk sizes and the trailers are parsed by the
//! `httparse` crate; this module adds the message framing: interim `1xx` responses skipped,
//! `204` and `304` without a body, `Transfer-Encoding: chunked` (de-chunked in place), then
//! `Content-Length`, then a body that runs to the end of the connection.

use core::fmt;
use core::ops::Range;

use httparse::{Status, EMPTY_HEADER};

use crate::jsonw::fmt_u64;
use crate::{put_all, Overflow};

/// The `User-Agent` every request carries: `avs/` and this crate's version.
pub const USER_AGENT: &str = concat!("avs/", env!("CARGO_PKG_VERSION"));

/// The most header fields (and, separately, trailer fields) a response may have; more is
/// [`ResponseError::TooLarge`].
pub const MAX_HEADERS: usize = 32;

// ---------------------------------------------------------------------------------------------
// Request

/// Why a request was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// The output buffer is too small (its contents are then unspecified).
    Overflow,
    /// An argument would break the request or inject into it: `"host"` (empty, or not all
    /// visible ASCII), `"path"` (not starting with `/`, or not all visible ASCII: no space, CR,
    /// LF or other control character) or `"content type"` (empty, a control character such as
    /// CR or LF, non-ASCII, or white space at either end).
    Invalid(&'static str),
}

impl From<Overflow> for RequestError {
    fn from(_: Overflow) -> Self {
        RequestError::Overflow
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Overflow => f.write_str("output buffer too small"),
            RequestError::Invalid(what) => write!(f, "invalid {what} for an HTTP request"),
        }
    }
}

/// Writes `POST {path} HTTP/1.1` with `Host`, `User-Agent` ([`USER_AGENT`]),
/// `Accept: application/json`, `Content-Type`, `Content-Length` and `Connection: close`, then
/// `body`, into `out`; returns the request's length.
///
/// `host` is the authority (`api.amazon.com`, `localhost:8443`), `path` the origin form
/// (`/auth/o2/token`, with its query if any). Arguments that would write a broken request, or
/// smuggle a header into it, are refused with [`RequestError::Invalid`] before anything is
/// written.
pub fn write_post_request(
    out: &mut [u8],
    host: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Result<usize, RequestError> {
    let visible = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
    if !visible(host) {
        return Err(RequestError::Invalid("host"));
    }
    if !path.starts_with('/') || !visible(path) {
        return Err(RequestError::Invalid("path"));
    }
    // A field value: visible ASCII with spaces and tabs inside (RFC 9110 section 5.5, without
    // obs-text).
    let ct = content_type.as_bytes();
    let inner_ok = ct
        .iter()
        .all(|&b| b.is_ascii_graphic() || b == b' ' || b == b'\t');
    let ends_ok =
        ct.first().is_some_and(u8::is_ascii_graphic) && ct.last().is_some_and(u8::is_ascii_graphic);
    if !inner_ok || !ends_ok {
        return Err(RequestError::Invalid("content type"));
    }
    let mut digits = [0u8; 20];
    // usize is at most 64 bits on every target Rust supports.
    let length = fmt_u64(body.len() as u64, &mut digits);
    let mut pos = 0;
    put_all(
        out,
        &mut pos,
        &[
            b"POST ",
            path.as_bytes(),
            b" HTTP/1.1\r\nHost: ",
            host.as_bytes(),
            b"\r\nUser-Agent: ",
            USER_AGENT.as_bytes(),
            b"\r\nAccept: application/json\r\nContent-Type: ",
            ct,
            b"\r\nContent-Length: ",
            length,
            b"\r\nConnection: close\r\n\r\n",
            body,
        ],
    )?;
    Ok(pos)
}

// ---------------------------------------------------------------------------------------------
// Response

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The final status code, 200..=999 (interim 1xx responses are skipped).
    pub status: u16,
    /// Where the body is in the buffer given to [`parse_response`] (de-chunked when it was
    /// chunked); empty for 204, 304 and `Content-Length: 0`.
    pub body: Range<usize>,
}

/// What [`parse_response`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole response yet: call again when more bytes have arrived.
    Partial,
    /// The whole response.
    Complete(Response),
}

/// Why a response cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseError {
    /// More than [`MAX_HEADERS`] header fields (or trailer fields), or a `Content-Length` or
    /// chunk size that does not fit `usize`.
    TooLarge,
    /// Not an HTTP/1.x response, or its framing is invalid; the text says what was wrong.
    Malformed(&'static str),
    /// The peer closed the connection before the response was complete.
    Truncated,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::TooLarge => f.write_str("HTTP response too large"),
            ResponseError::Malformed(what) => write!(f, "malformed HTTP response: {what}"),
            ResponseError::Truncated => f.write_str("HTTP response truncated"),
        }
    }
}

/// How the body of a response is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body (204, 304).
    Empty,
    /// `Content-Length`.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body runs to the end of the connection.
    Close,
}

/// Parses the response to a request written by [`write_post_request`].
///
/// `buf` holds every byte received so far (exactly those bytes); `eof` says the peer has closed
/// the connection. The function is stateless: call it again with the longer buffer until it
/// returns [`Parsed::Complete`]. Bytes after the end of the response are ignored.
///
/// - Interim responses (`1xx`, e.g. `100 Continue`) are skipped; `101 Switching Protocols` is
///   [`ResponseError::Malformed`] (no upgrade is ever asked for).
/// - `204` and `304` have no body, whatever their header fields say.
/// - `Transfer-Encoding: chunked` wins over `Content-Length`. Any other transfer coding is
///   `Malformed` (none is ever asked for), and so is `Transfer-Encoding` in an HTTP/1.0
///   response. Chunk extensions and trailer fields are ignored. On `Complete` the body has
///   been de-chunked in place: it is `buf[body]`, and the bytes after it in `buf` are
///   unspecified.
/// - `Content-Length` must be decimal digits; a list of equal values (in one field or several)
///   counts as one value, different values are `Malformed`.
/// - With neither, the body runs to the end of the connection: `Complete` only once `eof`.
/// - `eof` before the response is complete is [`ResponseError::Truncated`].
/// - More than [`MAX_HEADERS`] header fields in one response, or trailer fields, is
///   [`ResponseError::TooLarge`].
///
/// A full buffer is the caller's to notice (this function only ever sees what it was given):
/// `Partial` with a full buffer means the response does not fit.
pub fn parse_response(buf: &mut [u8], eof: bool) -> Result<Parsed, ResponseError> {
    let more = || {
        if eof {
            Err(ResponseError::Truncated)
        } else {
            Ok(Parsed::Partial)
        }
    };
    let mut start = 0;
    let (status, body_start, framing) = loop {
        let rest = buf.get(start..).unwrap_or_default();
        let mut headers = [EMPTY_HEADER; MAX_HEADERS];
        let mut r = httparse::Response::new(&mut headers);
        let n = match r.parse(rest) {
            Ok(Status::Complete(n)) => n,
            Ok(Status::Partial) => return more(),
            Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooLarge),
            Err(e) => return Err(ResponseError::Malformed(httparse_error(e))),
        };
        // n <= rest.len(), so this is at most buf.len().
        let head_end = start + n;
        match r.code {
            Some(101) => return Err(ResponseError::Malformed("101 Switching Protocols")),
            Some(100..=199) => start = head_end,
            Some(code @ 200..=999) => break (code, head_end, framing(code, r.version, r.headers)?),
            _ => return Err(ResponseError::Malformed("status code below 100")),
        }
    };
    let complete = |end: usize| {
        Ok(Parsed::Complete(Response {
            status,
            body: body_start..end,
        }))
    };
    match framing {
        Framing::Empty => complete(body_start),
        Framing::Length(n) => {
            let end = body_start.checked_add(n).ok_or(ResponseError::TooLarge)?;
            if end <= buf.len() {
                complete(end)
            } else {
                more()
            }
        }
        Framing::Close => {
            if eof {
                complete(buf.len())
            } else {
                Ok(Parsed::Partial)
            }
        }
        Framing::Chunked => {
            // Check that the whole body is there before moving anything, so that a Partial
            // leaves `buf` as it was for the next call.
            if dechunk(buf, body_start, false)?.is_none() {
                return more();
            }
            match dechunk(buf, body_start, true)? {
                Some(len) => complete(body_start + len),
                None => more(), // not reached: the same bytes were complete above
            }
        }
    }
}

/// The text for an error of `httparse` other than `TooManyHeaders`.
fn httparse_error(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Token => "invalid token",
        httparse::Error::Version => "not HTTP/1.0 or HTTP/1.1",
        httparse::Error::TooManyHeaders => "too many header fields",
    }
}

/// `s` without optional white space (spaces and tabs) at either end.
fn trim_ows(s: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// The framing of a final response with status `status` from its header fields.
fn framing(
    status: u16,
    version: Option<u8>,
    headers: &[httparse::Header<'_>],
) -> Result<Framing, ResponseError> {
    if status == 204 || status == 304 {
        return Ok(Framing::Empty);
    }
    let mut transfer_encoding = false;
    let mut codings = 0usize;
    let mut only_chunked = true;
    let mut length: Option<usize> = None;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            // A list; empty elements do not count (RFC 9110 section 5.6.1).
            for coding in h.value.split(|&b| b == b',').map(trim_ows) {
                if !coding.is_empty() {
                    codings += 1;
                    only_chunked &= coding.eq_ignore_ascii_case(b"chunked");
                }
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            // RFC 9112 section 6.3: a list of identical values may be taken as one.
            for value in h.value.split(|&b| b == b',').map(trim_ows) {
                if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                    return Err(ResponseError::Malformed("Content-Length is not a number"));
                }
                // Digits only, so the only possible error is overflow.
                let n = core::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok())
                    .ok_or(ResponseError::TooLarge)?;
                if length.is_some_and(|l| l != n) {
                    return Err(ResponseError::Malformed("different Content-Length values"));
                }
                length = Some(n);
            }
        }
    }
    if transfer_encoding {
        if version == Some(0) {
            return Err(ResponseError::Malformed("Transfer-Encoding in HTTP/1.0"));
        }
        if codings != 1 || !only_chunked {
            return Err(ResponseError::Malformed(
                "transfer coding other than chunked",
            ));
        }
        return Ok(Framing::Chunked);
    }
    Ok(length.map_or(Framing::Close, Framing::Length))
}

/// Reads the chunked body that starts at `buf[start]`: `Some(length of the data)` when the
/// last chunk and the trailer section are all there, `None` when more bytes are needed.
///
/// With `compact`, the chunks' data is also moved to `buf[start..start + length]`. The data is
/// only ever moved backwards, over chunk-size lines already read, so the pass reads what the
/// checking pass (`compact` false) read.
fn dechunk(buf: &mut [u8], start: usize, compact: bool) -> Result<Option<usize>, ResponseError> {
    const BAD_SIZE: ResponseError = ResponseError::Malformed("invalid chunk size");
    let mut r = start;
    let mut len = 0usize;
    loop {
        let rest = buf.get(r..).unwrap_or_default();
        // httparse takes an empty size (a line of just CRLF or an extension) as 0.
        match rest.first() {
            None => return Ok(None),
            Some(b) if !b.is_ascii_hexdigit() => return Err(BAD_SIZE),
            Some(_) => {}
        }
        let (line, size) = match httparse::parse_chunk_size(rest) {
            Ok(Status::Complete(c)) => c,
            Ok(Status::Partial) => return Ok(None),
            Err(httparse::InvalidChunkSize) => return Err(BAD_SIZE),
        };
        // line <= rest.len()
        let data = r + line;
        if size == 0 {
            let mut trailers = [EMPTY_HEADER; MAX_HEADERS];
            return match httparse::parse_headers(buf.get(data..).unwrap_or_default(), &mut trailers)
            {
                Ok(Status::Complete(_)) => Ok(Some(len)),
                Ok(Status::Partial) => Ok(None),
                Err(httparse::Error::TooManyHeaders) => Err(ResponseError::TooLarge),
                Err(_) => Err(ResponseError::Malformed("invalid trailer section")),
            };
        }
        let size = usize::try_from(size).map_err(|_| ResponseError::TooLarge)?;
        let end = data.checked_add(size).ok_or(ResponseError::TooLarge)?;
        let next = end.checked_add(2).ok_or(ResponseError::TooLarge)?;
        match buf.get(end..next) {
            Some(b"\r\n") => {}
            Some(_) => return Err(ResponseError::Malformed("chunk data not followed by CRLF")),
            None => {
                return match buf.get(end) {
                    Some(&b) if b != b'\r' => {
                        Err(ResponseError::Malformed("chunk data not followed by CRLF"))
                    }
                    _ => Ok(None),
                };
            }
        }
        // start + len <= data <= end <= buf.len(): every chunk's framing takes at least 3 bytes.
        if compact {
            buf.copy_within(data..end, start + len);
        }
        len += size;
        r = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// `parse_response` on a copy of `bytes`, and the body it found.
    fn parse(bytes: &[u8], eof: bool) -> Result<(u16, Vec<u8>), ResponseError> {
        let mut buf = bytes.to_vec();
        match parse_response(&mut buf, eof)? {
            Parsed::Partial => Err(ResponseError::Malformed("test: Partial")),
            Parsed::Complete(r) => Ok((r.status, buf[r.body].to_vec())),
        }
    }

    fn partial(bytes: &[u8]) -> bool {
        parse_response(&mut bytes.to_vec(), false) == Ok(Parsed::Partial)
    }

    const TOKEN_JSON: &[u8] = br#"{"access_token":"Atza|x","expires_in":3600}"#;

    #[test]
    fn content_length() {
        let msg = b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: 43\r\n\r\n{\"access_token\":\"Atza|x\",\"expires_in\":3600}";
        assert_eq!(parse(msg, false), Ok((200, TOKEN_JSON.to_vec())));
        assert_eq!(parse(msg, true), Ok((200, TOKEN_JSON.to_vec())));
        let mut buf = msg.to_vec();
        let Ok(Parsed::Complete(r)) = parse_response(&mut buf, false) else {
            panic!()
        };
        assert_eq!(r.body, msg.len() - 43..msg.len());
        // Bytes after the body are not part of it; case-insensitive names; a list of equal
        // values; leading zeros; no reason phrase.
        let msg = b"HTTP/1.1 400 \r\ncontent-LENGTH: 2, 002\r\nContent-Length:2\r\n\r\n{}garbage";
        assert_eq!(parse(msg, false), Ok((400, b"{}".to_vec())));
        let msg = b"HTTP/1.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse(msg, false), Ok((401, Vec::new())));
        assert!(partial(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab"));
    }

    #[test]
    fn bad_content_length() {
        for cl in [
            &b"-1"[..],
            b"+1",
            b"1.0",
            b"0x10",
            b"",
            b"1 2",
            b"1,",
            b"1, 2",
            b"\xff",
            b"\"1\"",
        ] {
            let mut msg = b"HTTP/1.1 200 OK\r\nContent-Length: ".to_vec();
            msg.extend_from_slice(cl);
            msg.extend_from_slice(b"\r\n\r\n1234");
            assert!(
                matches!(parse(&msg, true), Err(ResponseError::Malformed(_))),
                "{}",
                std::string::String::from_utf8_lossy(cl)
            );
        }
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n12";
        assert_eq!(
            parse(two, false),
            Err(ResponseError::Malformed("different Content-Length values"))
        );
        let huge = b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n";
        assert_eq!(parse(huge, false), Err(ResponseError::TooLarge));
        let max = std::format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", usize::MAX);
        assert_eq!(parse(max.as_bytes(), false), Err(ResponseError::TooLarge));
    }

    const CHUNKED: &[u8] =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n\
        5\r\n{\"acc\r\n\
        a;name=value;x=\"q;\\\"\"\r\ness_token\"\r\n\
        1C \t; ext\r\n:\"Atza|x\",\"expires_in\":3600}\r\n\
        0;last\r\nX-Trailer: 1\r\nOther: two\r\n\r\n";

    #[test]
    fn chunked() {
        assert_eq!(parse(CHUNKED, false), Ok((200, TOKEN_JSON.to_vec())));
        let mut buf = CHUNKED.to_vec();
        let head = CHUNKED.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let Ok(Parsed::Complete(r)) = parse_response(&mut buf, true) else {
            panic!()
        };
        assert_eq!(r.body, head..head + TOKEN_JSON.len());
        // Upper-case hex, no trailers, an empty body, and a coding list written differently.
        let msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: ,Chunked ,\r\n\r\n\
            1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nafter";
        assert_eq!(
            parse(msg, false),
            Ok((200, b"abcdefghijklmnopqrstuvwxyz".to_vec()))
        );
        let msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(parse(msg, false), Ok((200, Vec::new())));
        // Not there yet: after the data, after the last chunk, inside the trailers.
        for cut in [
            b"0\r\n\r".len(),
            b"0\r\n".len(),
            b"0\r\nX-Trailer: 1\r\n".len(),
        ] {
            let end = CHUNKED.len() - b"0;last\r\nX-Trailer: 1\r\nOther: two\r\n\r\n".len() + cut;
            assert!(partial(&CHUNKED[..end]), "{cut}");
            assert_eq!(parse(&CHUNKED[..end], true), Err(ResponseError::Truncated));
        }
    }

    #[test]
    fn chunked_refused() {
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (body, want) in [
            (&b"\r\n"[..], ResponseError::Malformed("invalid chunk size")),
            (
                b";x\r\n\r\n",
                ResponseError::Malformed("invalid chunk size"),
            ),
            (
                b" 1\r\na\r\n0\r\n\r\n",
                ResponseError::Malformed("invalid chunk size"),
            ),
            (b"g\r\n", ResponseError::Malformed("invalid chunk size")),
            (b"1 2\r\n", ResponseError::Malformed("invalid chunk size")),
            (b"1\n", ResponseError::Malformed("invalid chunk size")),
            (b"-1\r\n", ResponseError::Malformed("invalid chunk size")),
            (
                b"1234567890abcdef0\r\n",
                ResponseError::Malformed("invalid chunk size"),
            ),
            (
                b"1\r\nabc",
                ResponseError::Malformed("chunk data not followed by CRLF"),
            ),
            (
                b"1\r\nab\r\n",
                ResponseError::Malformed("chunk data not followed by CRLF"),
            ),
            (
                b"1\r\na\rx",
                ResponseError::Malformed("chunk data not followed by CRLF"),
            ),
            (
                b"0\r\nbad trailer\r\n\r\n",
                ResponseError::Malformed("invalid trailer section"),
            ),
        ] {
            let mut msg = head.to_vec();
            msg.extend_from_slice(body);
            assert_eq!(
                parse(&msg, true),
                Err(want),
                "{}",
                std::string::String::from_utf8_lossy(body)
            );
        }
        // A size beyond the buffer is waited for (the caller's full buffer ends it); one beyond
        // usize is TooLarge on 32-bit targets, and waited for on 64-bit ones.
        let mut msg = head.to_vec();
        msg.extend_from_slice(b"fffffffffffffff\r\n");
        assert!(partial(&msg));
        for te in [
            &b"gzip"[..],
            b"gzip, chunked",
            b"chunked, chunked",
            b"chunked;q=1",
            b"",
        ] {
            let mut msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: ".to_vec();
            msg.extend_from_slice(te);
            msg.extend_from_slice(b"\r\n\r\n0\r\n\r\n");
            assert_eq!(
                parse(&msg, true),
                Err(ResponseError::Malformed(
                    "transfer coding other than chunked"
                ))
            );
        }
        let msg = b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(
            parse(msg, true),
            Err(ResponseError::Malformed("Transfer-Encoding in HTTP/1.0"))
        );
        // Too many trailer fields.
        let mut msg = head.to_vec();
        msg.extend_from_slice(b"0\r\n");
        for i in 0..=MAX_HEADERS {
            msg.extend_from_slice(std::format!("T{i}: x\r\n").as_bytes());
        }
        msg.extend_from_slice(b"\r\n");
        assert_eq!(parse(&msg, true), Err(ResponseError::TooLarge));
    }

    #[test]
    fn close_delimited() {
        let msg = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nsorry";
        assert!(partial(msg));
        assert_eq!(parse(msg, true), Ok((500, b"sorry".to_vec())));
        let msg = b"HTTP/1.1 200 OK\r\n\r\n";
        assert!(partial(msg));
        assert_eq!(parse(msg, true), Ok((200, Vec::new())));
    }

    #[test]
    fn interim_responses_are_skipped() {
        let msg = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n\
            HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse(msg, false), Ok((200, b"{}".to_vec())));
        assert!(partial(b"HTTP/1.1 100 Continue\r\n\r\n"));
        assert_eq!(
            parse(b"HTTP/1.1 100 Continue\r\n\r\n", true),
            Err(ResponseError::Truncated)
        );
        assert!(partial(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2"));
        assert_eq!(
            parse(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
                false
            ),
            Err(ResponseError::Malformed("101 Switching Protocols"))
        );
    }

    #[test]
    fn no_body_statuses() {
        for status in [204, 304] {
            let msg = std::format!(
                "HTTP/1.1 {status} X\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n"
            );
            assert_eq!(parse(msg.as_bytes(), false), Ok((status, Vec::new())));
        }
    }

    #[test]
    fn malformed_and_truncated() {
        for msg in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 099 X\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"<html>",
        ] {
            assert!(
                matches!(parse(msg, false), Err(ResponseError::Malformed(_))),
                "{}",
                std::string::String::from_utf8_lossy(msg)
            );
        }
        for msg in [
            &b""[..],
            b"HTTP/1.1 200",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcd",
        ] {
            assert!(partial(msg));
            assert_eq!(parse(msg, true), Err(ResponseError::Truncated));
        }
    }

    #[test]
    fn header_overflow_is_too_large() {
        let mut msg = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            msg.extend_from_slice(std::format!("X-{i}: v\r\n").as_bytes());
        }
        let mut exact = msg.clone();
        exact.extend_from_slice(b"\r\n");
        assert_eq!(parse(&exact, true), Ok((200, Vec::new())));
        msg.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        assert_eq!(parse(&msg, false), Err(ResponseError::TooLarge));
    }

    #[test]
    fn errors_display() {
        assert_eq!(
            std::format!("{}", ResponseError::TooLarge),
            "HTTP response too large"
        );
        assert_eq!(
            std::format!("{}", ResponseError::Malformed("x")),
            "malformed HTTP response: x"
        );
        assert_eq!(
            std::format!("{}", ResponseError::Truncated),
            "HTTP response truncated"
        );
        assert_eq!(
            std::format!("{}", RequestError::Overflow),
            "output buffer too small"
        );
        assert_eq!(
            std::format!("{}", RequestError::Invalid("path")),
            "invalid path for an HTTP request"
        );
    }

    /// Every prefix of a valid response is Partial (or, at EOF, Truncated, or for a body
    /// delimited by the close a shorter body), and the whole response gives `want`.
    fn every_prefix(msg: &[u8], want: (u16, &[u8]), close_delimited: bool) {
        for n in 0..msg.len() {
            let p = &msg[..n];
            assert!(partial(p), "prefix {n}");
            match parse(p, true) {
                Err(ResponseError::Truncated) => {}
                Ok((status, body)) if close_delimited => {
                    assert_eq!(status, want.0);
                    assert!(want.1.starts_with(&body), "prefix {n}");
                }
                other => panic!("prefix {n}: {other:?}"),
            }
        }
        for eof in [false, true] {
            if eof || !close_delimited {
                assert_eq!(parse(msg, eof), Ok((want.0, want.1.to_vec())));
            }
        }
    }

    #[test]
    fn prefixes() {
        every_prefix(CHUNKED, (200, TOKEN_JSON), false);
        every_prefix(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\nContent-Length: 25\r\n\r\n{\"error\":\"invalid_grant\"}",
            (400, br#"{"error":"invalid_grant"}"#),
            false,
        );
        every_prefix(
            b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n",
            (204, b""),
            false,
        );
        every_prefix(
            b"HTTP/1.1 503 Busy\r\nRetry-After: 5\r\n\r\nlater",
            (503, b"later"),
            true,
        );
    }

    /// xorshift32
    fn next(x: &mut u32) -> u32 {
        *x ^= *x << 13;
        *x ^= *x >> 17;
        *x ^= *x << 5;
        *x
    }

    /// Checks what a result can be for any input: a Complete body lies within the buffer.
    fn check_any(bytes: &[u8]) {
        for eof in [false, true] {
            let mut buf = bytes.to_vec();
            if let Ok(Parsed::Complete(r)) = parse_response(&mut buf, eof) {
                assert!(r.body.start <= r.body.end && r.body.end <= buf.len());
                assert!((200..=999).contains(&r.status));
            }
        }
    }

    #[test]
    fn never_panics_on_random_or_mutated_input() {
        let mut x = 0x9e37_79b9u32;
        // Random bytes, from all 256 and from the bytes HTTP is made of.
        let alphabet = b"HTTP/1.1 200 OK\r\n\r\n:;, \t0123456789abcdefABCDEF\0\xff-chunkedContent-LengthTransfer-Encoding";
        for _ in 0..20_000 {
            let len = (next(&mut x) % 200) as usize;
            let wide = next(&mut x) % 2 == 0;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next(&mut x);
                    if wide {
                        r as u8
                    } else {
                        alphabet[r as usize % alphabet.len()]
                    }
                })
                .collect();
            check_any(&bytes);
        }
        // Valid responses with each byte replaced, and with random chunks of text spliced in.
        let seeds: [&[u8]; 3] = [
            CHUNKED,
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            b"HTTP/1.0 200 OK\r\nX: y\r\n\r\nbody",
        ];
        for seed in seeds {
            for n in 0..=seed.len() {
                check_any(&seed[..n]);
            }
            let mut m = seed.to_vec();
            for i in 0..seed.len() {
                for b in [
                    b'\r', b'\n', b':', b' ', b';', b',', b'0', b'f', b'g', 0, 0xff,
                ] {
                    m[i] = b;
                    check_any(&m);
                }
                m[i] = next(&mut x) as u8;
                check_any(&m);
                m[i] = seed[i];
            }
            for piece in [
                &b"\r\n"[..],
                b"0\r\n\r\n",
                b"ffffffffffffff\r\n",
                b"HTTP/1.1 100 C\r\n\r\n",
            ] {
                for i in 0..=seed.len() {
                    let mut m = seed[..i].to_vec();
                    m.extend_from_slice(piece);
                    m.extend_from_slice(&seed[i..]);
                    check_any(&m);
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Request

    fn request(host: &str, path: &str, ct: &str, body: &[u8]) -> Result<Vec<u8>, RequestError> {
        let mut out = std::vec![0u8; 4096];
        let n = write_post_request(&mut out, host, path, ct, body)?;
        out.truncate(n);
        Ok(out)
    }

    #[test]
    fn post_request() {
        let body = b"grant_type=refresh_token&refresh_token=Atzr%7Cx&client_id=c";
        let req = request(
            "api.amazon.com",
            "/auth/o2/token",
            "application/x-www-form-urlencoded",
            body,
        )
        .unwrap();
        let want = std::format!(
            "POST /auth/o2/token HTTP/1.1\r\nHost: api.amazon.com\r\nUser-Agent: avs/{}\r\n\
             Accept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        assert_eq!(&req[..want.len()], want.as_bytes());
        assert_eq!(&req[want.len()..], body);
        // httparse reads it back as written.
        let mut headers = [EMPTY_HEADER; 8];
        let mut r = httparse::Request::new(&mut headers);
        assert_eq!(r.parse(&req), Ok(Status::Complete(want.len())));
        assert_eq!(
            (r.method, r.path, r.version),
            (Some("POST"), Some("/auth/o2/token"), Some(1))
        );
        let get = |name: &str| {
            r.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value)
        };
        assert_eq!(
            get("content-length"),
            Some(std::format!("{}", body.len()).as_bytes())
        );
        assert_eq!(get("host"), Some(&b"api.amazon.com"[..]));
        // A port, a query, an empty body, a content type with a parameter.
        let req = request("localhost:8443", "/t?x=1", "text/plain; charset=utf-8", b"").unwrap();
        let s = std::str::from_utf8(&req).unwrap();
        assert!(s.starts_with("POST /t?x=1 HTTP/1.1\r\nHost: localhost:8443\r\n"));
        assert!(s.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
        assert!(s.ends_with("\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        assert_eq!(
            USER_AGENT,
            std::format!("avs/{}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn post_request_needs_room() {
        let body = b"a=b";
        let full = request("h", "/p", "t/x", body).unwrap();
        for n in 0..full.len() {
            let mut out = std::vec![0xAAu8; n];
            assert_eq!(
                write_post_request(&mut out, "h", "/p", "t/x", body),
                Err(RequestError::Overflow),
                "{n}"
            );
        }
        let mut out = std::vec![0u8; full.len()];
        assert_eq!(
            write_post_request(&mut out, "h", "/p", "t/x", body),
            Ok(full.len())
        );
        assert_eq!(out, full);
        assert_eq!(RequestError::from(Overflow), RequestError::Overflow);
    }

    #[test]
    fn post_request_refuses_injection() {
        let ok = ("api.amazon.com", "/auth/o2/token", "application/json");
        for host in [
            "",
            "a\r\nX: y",
            "a\nb",
            "a b",
            "a\0",
            "a\x7f",
            "é.com",
            "a\t",
        ] {
            assert_eq!(
                request(host, ok.1, ok.2, b""),
                Err(RequestError::Invalid("host")),
                "{host:?}"
            );
        }
        for path in [
            "",
            "token",
            "/a b",
            "/a\r\nX: y",
            "/\n",
            "/\0",
            "/é",
            "/\t",
            "http://x/",
        ] {
            assert_eq!(
                request(ok.0, path, ok.2, b""),
                Err(RequestError::Invalid("path")),
                "{path:?}"
            );
        }
        for ct in [
            "",
            " ",
            "a\r\nX: y",
            "a\n",
            "a\rb",
            "a\0",
            "a\x7f",
            "é",
            " a",
            "a ",
            "a\t",
        ] {
            assert_eq!(
                request(ok.0, ok.1, ct, b""),
                Err(RequestError::Invalid("content type")),
                "{ct:?}"
            );
        }
        // Nothing was written on refusal, even with room.
        let mut out = [7u8; 64];
        assert!(write_post_request(&mut out, "a\r\n", "/", "t", b"").is_err());
        assert_eq!(out, [7u8; 64]);
        // The body is data, not a header: anything goes.
        assert!(request(ok.0, ok.1, ok.2, b"\r\n\r\nHTTP/1.1 200 OK\0\xff").is_ok());
    }
}
