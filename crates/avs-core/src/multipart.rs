//! Multipart framing: a streaming `multipart/related` decoder for AVS responses and the
//! downchannel, and the `multipart/form-data` encoder for events.
//!
//! # Decoder
//! [`Decoder`] is fed the response body in pieces of any size, as they arrive, and hands parts to
//! a [`PartSink`]:
//! - JSON (and other text) parts are collected in the caller-supplied storage and delivered whole
//!   by [`PartSink::on_json_part`] the moment their closing delimiter `\r\n--boundary` is
//!   complete, before any byte after it arrives;
//! - binary parts are streamed through [`PartSink::on_binary_part`] as borrowed slices of the
//!   input, never buffered, and closed (`last`) at the same moment.
//!
//! The storage holds at most one header line (plus the part's Content-ID) and one JSON part.
//! Bytes that might be the start of a delimiter are held back (the decoder only counts how much
//! of the delimiter they match: they are the delimiter's own bytes) and released to the sink
//! when they turn out to be data.
//!
//! ## Errors inside the stream
//! A part that cannot be handled — a JSON part larger than the storage
//! ([`MultipartError::PartTooLarge`]), a header line that does not fit
//! ([`MultipartError::HeadersTooLarge`]), a header line without a colon
//! ([`MultipartError::MalformedHeaders`]) — is reported through [`PartSink::on_part_error`] and
//! skipped up to the next delimiter; the decoder keeps going, so one oversize directive does not
//! kill an hour-long downchannel. [`Decoder::feed`] itself only fails when no boundary is set.
//!
//! ## Leniencies (beyond RFC 2046)
//! - A delimiter `\r\n--B` ends the part the moment it is complete, whatever follows it (RFC
//!   2046: it cannot occur inside a part). Then `--` closes the body; anything else is the rest
//!   of the delimiter line and is skipped up to its LF, and the next part's headers follow —
//!   whether it is the CRLF, transport padding (space, tab), or bytes RFC 2046 does not allow
//!   there (`--Bx`, `--B-x`, `--B\rx`). Skipping that line loses nothing: its bytes come after
//!   the part that ended, and a part that follows the line is still read (reporting an error
//!   instead would have to drop it).
//! - The start of the stream, the start of a part's body and the start of every header line
//!   count as the start of a line: a first boundary without a preceding CRLF, `--B\r\n\r\n--B`
//!   (an empty part), and a header line that begins with `--B` (`--B\r\n--B\r\n`, repeated
//!   boundaries) are delimiters — recognised as they arrive, whatever the storage size. Parts
//!   with no body and no binary identity are never delivered.
//! - Header lines may end in a bare LF; continuation lines (leading space/tab) are ignored.
//!
//! # Encoder
//! [`write_metadata_part_head`], [`write_audio_part_head`] and [`write_close`] write the exact
//! framing bytes of an AVS event body around the JSON and the audio that the caller streams.

use core::fmt;
use core::ops::Range;

use memchr::{memchr, memrchr};

use super::{put_all, Overflow};

/// Longest boundary RFC 2046 allows.
pub const MAX_BOUNDARY_LEN: usize = 70;

/// `\r\n--` + boundary.
const DELIM_CAP: usize = MAX_BOUNDARY_LEN + 4;

/// Returns the `boundary` parameter of a `Content-Type` header value.
///
/// The parameter name is matched case-insensitively, in any position among the parameters;
/// quoted (`boundary="a b"`) and unquoted (`boundary=ab`) values are accepted; semicolons inside
/// quoted values of other parameters are skipped correctly. Returns `None` when the parameter is
/// missing or empty, or when its quoted value uses backslash escapes (which no valid boundary needs).
pub fn boundary_from_content_type(content_type: &[u8]) -> Option<&[u8]> {
    header_param(content_type, b"boundary").filter(|b| !b.is_empty())
}

/// Value of parameter `name` in a header value `token; a=b; c="d"` (RFC 2045 §5.1).
fn header_param<'a>(value: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    // The leading token (media type, disposition type) never contains quotes or ';'.
    let mut i = memchr(b';', value)? + 1;
    loop {
        let start = i;
        while i < value.len() && value[i] != b'=' && value[i] != b';' {
            i += 1;
        }
        let pname = value[start..i].trim_ascii();
        match value.get(i) {
            None => return None,
            Some(b';') => {
                // A parameter without a value: skip it.
                i += 1;
                continue;
            }
            _ => i += 1,
        }
        while matches!(value.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let found;
        if value.get(i) == Some(&b'"') {
            let vstart = i + 1;
            let mut j = vstart;
            let mut escaped = false;
            loop {
                match value.get(j) {
                    None => return None,
                    Some(b'\\') => {
                        escaped = true;
                        j += 2;
                    }
                    Some(b'"') => break,
                    Some(_) => j += 1,
                }
            }
            found = if escaped {
                None
            } else {
                Some(&value[vstart..j])
            };
            i = j + 1;
        } else {
            let vstart = i;
            while i < value.len() && value[i] != b';' {
                i += 1;
            }
            found = Some(value[vstart..i].trim_ascii());
        }
        if pname.eq_ignore_ascii_case(name) {
            return found;
        }
        i += memchr(b';', &value[i..])? + 1;
    }
}

/// How the decoder treats a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// Collected whole in the storage and delivered by [`PartSink::on_json_part`].
    Json,
    /// Streamed through [`PartSink::on_binary_part`], never buffered.
    Binary,
}

/// Decides how a part with these headers is handled.
///
/// JSON (`*/json`, `*+json`) is always [`PartKind::Json`]. Otherwise a part carrying a Content-ID
/// is binary; without one, text (`text/*`) and parts without a Content-Type are
/// [`PartKind::Json`] (collected whole) and every other type (`application/octet-stream`,
/// `audio/mpeg`, ...) is binary, so no large media part is ever buffered.
pub fn part_kind(content_type: Option<&[u8]>, has_content_id: bool) -> PartKind {
    kind_of(content_type.map(classify_content_type), has_content_id)
}

fn kind_of(ctype: Option<CType>, has_content_id: bool) -> PartKind {
    match ctype {
        Some(CType::Json) => PartKind::Json,
        _ if has_content_id => PartKind::Binary,
        None | Some(CType::Text) => PartKind::Json,
        Some(CType::Other) => PartKind::Binary,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CType {
    Json,
    Text,
    Other,
}

fn classify_content_type(value: &[u8]) -> CType {
    let media = match memchr(b';', value) {
        Some(k) => &value[..k],
        None => value,
    }
    .trim_ascii();
    let ends_with = |suffix: &[u8]| {
        media.len() >= suffix.len()
            && media[media.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    if ends_with(b"/json") || ends_with(b"+json") {
        CType::Json
    } else if media.len() >= 5 && media[..5].eq_ignore_ascii_case(b"text/") {
        CType::Text
    } else {
        CType::Other
    }
}

/// Receives the parts a [`Decoder`] finds. Every slice is valid only during the call.
pub trait PartSink {
    /// A complete JSON (or other non-binary) part. Called as soon as the part's closing delimiter
    /// `\r\n--boundary` is complete, before the bytes after it (CRLF or `--`) arrive — a server
    /// may send those only with its next part, and a downchannel may stay silent for an hour
    /// after. Empty parts are not delivered.
    fn on_json_part(&mut self, body: &[u8]);

    /// A piece of a binary part (see [`part_kind`]), `content_id` with angle brackets stripped
    /// (RFC 2392); a form-data part without Content-ID is identified by its `name` parameter,
    /// and a part with neither by an empty id. Pieces are borrowed slices of the caller's input
    /// wherever possible (no copy); `last` is true exactly once per part, possibly with an empty
    /// slice.
    fn on_binary_part(&mut self, content_id: &[u8], data: &[u8], last: bool);

    /// A part was skipped because of `error` ([`MultipartError::PartTooLarge`],
    /// [`MultipartError::HeadersTooLarge`] or [`MultipartError::MalformedHeaders`]); decoding
    /// continues at the next delimiter. For a JSON part, nothing of it has been delivered; a
    /// binary part is never skipped once its first piece went out. The default ignores it.
    fn on_part_error(&mut self, error: MultipartError) {
        let _ = error;
    }
}

/// What went wrong while decoding a multipart body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipartError {
    /// A header line (plus the part's Content-ID) did not fit the storage; the part was skipped.
    HeadersTooLarge,
    /// A JSON part did not fit the storage; the part was skipped.
    PartTooLarge,
    /// A header line had no colon; the part was skipped.
    MalformedHeaders,
    /// The boundary given to [`Decoder::reset`] is empty, longer than 70 bytes or contains CR or
    /// LF; or the decoder was used before a successful `reset`.
    BadBoundary,
    /// The stream ended inside a part, before the close delimiter.
    Truncated,
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MultipartError::HeadersTooLarge => "multipart part headers larger than the part buffer",
            MultipartError::PartTooLarge => "multipart JSON part larger than the part buffer",
            MultipartError::MalformedHeaders => "malformed multipart part header",
            MultipartError::BadBoundary => "missing or invalid multipart boundary",
            MultipartError::Truncated => "multipart body ended before its close delimiter",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Inside a body, or the preamble (with `Body::Discard`).
    Body,
    /// Right after a complete delimiter `\r\n--B` (the part before it is already out); `dash`:
    /// one `-` of a close delimiter has followed.
    Delimiter { dash: bool },
    /// The rest of a delimiter line that is not a close delimiter: skip to the end of the line.
    Padding,
    /// Reading a part's header lines.
    Headers,
    /// After the close delimiter, after `finish`, or before the first `reset`.
    Epilogue,
}

/// Where body bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Preamble, or a part being skipped.
    Discard,
    Json,
    Binary,
}

/// Where the current part's id came from; a Content-ID beats a form-data name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdSource {
    None,
    Name,
    ContentId,
}

/// Outcome of extending a partial delimiter match.
enum Match {
    /// The input ended; the match may still complete.
    Pending,
    /// The whole delimiter has been matched.
    Complete,
    /// The byte at the returned position does not continue the delimiter (it is not consumed).
    Failed,
}

/// Streaming `multipart/related` (and `multipart/form-data`) decoder over caller-supplied storage.
///
/// `S` is the storage: `Box<[u8]>` on std, `[u8; N]` or `&mut [u8]` on a microcontroller. It
/// bounds the largest JSON part and the largest header line; binary parts of any size stream
/// through. The decoder itself is a few hundred bytes and never allocates.
pub struct Decoder<S> {
    storage: S,
    /// `\r\n--` + boundary; `delim_len == 0` until the first successful `reset`.
    delim: [u8; DELIM_CAP],
    delim_len: usize,
    /// Bytes of `delim` matched so far (held back: they may be the start of a delimiter). The
    /// first `virtual_len` of them are an assumed line start, not input.
    matched: usize,
    virtual_len: usize,
    state: State,
    body: Body,
    /// A delimiter has been seen since `reset`.
    started: bool,
    /// The binary part's id, at `storage[..id_len]`.
    id_len: usize,
    id_source: IdSource,
    /// Content-Type of the part being read, as classified.
    ctype: Option<CType>,
    /// The header line being read, at `storage[id_len..id_len + line_len]`.
    line_len: usize,
    /// The JSON part being collected, at `storage[..json_len]`.
    json_len: usize,
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> Decoder<S> {
    /// Creates a decoder over `storage`. Call [`Decoder::reset`] with the boundary before feeding.
    pub fn new(storage: S) -> Self {
        Decoder {
            storage,
            delim: [0; DELIM_CAP],
            delim_len: 0,
            matched: 0,
            virtual_len: 0,
            state: State::Epilogue,
            body: Body::Discard,
            started: false,
            id_len: 0,
            id_source: IdSource::None,
            ctype: None,
            line_len: 0,
            json_len: 0,
        }
    }

    /// The storage, for another use while the decoder is not being fed (e.g. a non-multipart
    /// body); [`Decoder::reset`] must come before the next [`Decoder::feed`].
    pub fn storage_mut(&mut self) -> &mut [u8] {
        self.state = State::Epilogue;
        self.delim_len = 0;
        self.storage.as_mut()
    }

    /// Starts a new body delimited by `boundary` (the value from [`boundary_from_content_type`]),
    /// abandoning whatever the previous one was doing (no further sink calls for it).
    ///
    /// Fails with [`MultipartError::BadBoundary`] when `boundary` is empty, longer than
    /// [`MAX_BOUNDARY_LEN`] bytes or contains CR or LF; the decoder then refuses input until a
    /// successful reset.
    pub fn reset(&mut self, boundary: &[u8]) -> Result<(), MultipartError> {
        self.state = State::Epilogue;
        self.delim_len = 0;
        // CR only ever at delimiter position 0 is what lets the scanner restart a failed
        // partial match at the next CR instead of backtracking.
        if boundary.is_empty()
            || boundary.len() > MAX_BOUNDARY_LEN
            || boundary.iter().any(|&c| c == b'\r' || c == b'\n')
        {
            return Err(MultipartError::BadBoundary);
        }
        let len = 4 + boundary.len();
        self.delim[..4].copy_from_slice(b"\r\n--");
        self.delim[4..len].copy_from_slice(boundary);
        self.delim_len = len;
        self.started = false;
        self.begin_body(Body::Discard);
        Ok(())
    }

    /// How the part currently being received is handled, or `None` outside a part's body
    /// (preamble, headers, a skipped part, epilogue).
    pub fn current_part(&self) -> Option<PartKind> {
        match (self.state, self.body) {
            (State::Body, Body::Json) => Some(PartKind::Json),
            (State::Body, Body::Binary) => Some(PartKind::Binary),
            _ => None,
        }
    }

    /// Consumes the next piece of the body, of any size (including empty), calling `sink` for
    /// every part completed or continued by it.
    ///
    /// Parts that cannot be handled are reported through [`PartSink::on_part_error`] and skipped;
    /// the only error returned is [`MultipartError::BadBoundary`] when no boundary is set.
    /// Input after the close delimiter (the epilogue) is ignored.
    pub fn feed(&mut self, data: &[u8], sink: &mut impl PartSink) -> Result<(), MultipartError> {
        if self.delim_len == 0 {
            return Err(MultipartError::BadBoundary);
        }
        let mut i = 0;
        while i < data.len() {
            i = match self.state {
                State::Body => self.feed_body(data, i, sink),
                // `--` right after the boundary closes the body; anything else is the rest of
                // the delimiter line (this byte is looked at again: it may be its LF).
                State::Delimiter { dash } => match (data[i], dash) {
                    (b'-', false) => {
                        self.state = State::Delimiter { dash: true };
                        i + 1
                    }
                    (b'-', true) => {
                        self.state = State::Epilogue;
                        i + 1
                    }
                    _ => {
                        self.state = State::Padding;
                        i
                    }
                },
                State::Padding => match memchr(b'\n', &data[i..]) {
                    Some(k) => {
                        self.begin_headers();
                        i + k + 1
                    }
                    None => data.len(),
                },
                State::Headers => self.feed_headers(data, i, sink),
                State::Epilogue => data.len(),
            };
        }
        Ok(())
    }

    /// Ends the body: `Ok` after the close delimiter, or when no delimiter was ever seen (an empty
    /// or non-multipart body); [`MultipartError::Truncated`] otherwise.
    ///
    /// A binary part cut off by the end is still closed with `last = true` (carrying any bytes
    /// held back) so the sink can release it; a cut-off JSON part is dropped. Further input is
    /// ignored until the next [`Decoder::reset`].
    pub fn finish(&mut self, sink: &mut impl PartSink) -> Result<(), MultipartError> {
        if self.delim_len == 0 {
            return Err(MultipartError::BadBoundary);
        }
        let result = match self.state {
            State::Epilogue => Ok(()),
            State::Body if !self.started => Ok(()),
            _ => {
                if self.state == State::Body && self.body == Body::Binary {
                    let held = &self.delim[self.virtual_len..self.matched];
                    sink.on_binary_part(&self.storage.as_ref()[..self.id_len], held, true);
                }
                Err(MultipartError::Truncated)
            }
        };
        self.state = State::Epilogue;
        self.body = Body::Discard;
        self.matched = 0;
        self.virtual_len = 0;
        result
    }

    /// At the start of a line, which may be a delimiter (`--B`): assume the CRLF before it.
    fn line_start(&mut self) {
        self.matched = 2;
        self.virtual_len = 2;
    }

    fn begin_headers(&mut self) {
        self.state = State::Headers;
        self.id_len = 0;
        self.id_source = IdSource::None;
        self.ctype = None;
        self.line_len = 0;
        self.line_start();
    }

    /// Enters a body (or the preamble, or a skipped part) at the start of a line.
    fn begin_body(&mut self, body: Body) {
        self.state = State::Body;
        self.body = body;
        self.json_len = 0;
        self.line_start();
    }

    /// Skips the rest of the current part. `line_start`: the input is at the start of a line;
    /// otherwise `held_cr`: the last byte consumed was a CR that may begin a delimiter.
    fn skip_part(&mut self, line_start: bool, held_cr: bool) {
        self.begin_body(Body::Discard);
        if !line_start {
            self.matched = usize::from(held_cr);
            self.virtual_len = 0;
        }
    }

    /// Extends the partial delimiter match with `data[i..]`; returns where it stopped.
    fn extend_match(&mut self, data: &[u8], mut i: usize) -> (usize, Match) {
        while let Some(&b) = data.get(i) {
            if b != self.delim[self.matched] {
                return (i, Match::Failed);
            }
            self.matched += 1;
            i += 1;
            if self.matched == self.delim_len {
                return (i, Match::Complete);
            }
        }
        (i, Match::Pending)
    }

    fn feed_body(&mut self, data: &[u8], mut i: usize, sink: &mut impl PartSink) -> usize {
        // Bytes held back from earlier input come first: they may begin a delimiter.
        if self.matched > 0 {
            match self.extend_match(data, i) {
                (j, Match::Pending) => return j,
                (j, Match::Complete) => {
                    self.commit(&[], sink);
                    return j;
                }
                (j, Match::Failed) => {
                    self.release_held(sink);
                    i = j;
                }
            }
        }
        let rest = &data[i..];
        let m = self.delim_len;
        match find_delim(rest, &self.delim[..m]) {
            Some(p) => {
                self.commit(&rest[..p], sink);
                i + p + m
            }
            None => {
                let keep = partial_delim_len(rest, &self.delim[..m]);
                self.emit(&rest[..rest.len() - keep], sink);
                self.matched = keep;
                self.virtual_len = 0;
                data.len()
            }
        }
    }

    /// The held bytes are not a delimiter: hand them on as data. None of them can begin another
    /// one: the delimiter has no CR after its first byte. (The byte that failed the match is
    /// scanned next, as input.)
    fn release_held(&mut self, sink: &mut impl PartSink) {
        let (n, v) = (self.matched, self.virtual_len);
        self.matched = 0;
        self.virtual_len = 0;
        if n > v {
            let delim = self.delim;
            self.emit(&delim[v..n], sink);
        }
    }

    /// Body bytes of the current part.
    fn emit(&mut self, data: &[u8], sink: &mut impl PartSink) {
        if data.is_empty() {
            return;
        }
        match self.body {
            Body::Discard => {}
            Body::Json => {
                let storage = self.storage.as_mut();
                let end = self.json_len + data.len();
                if end > storage.len() {
                    sink.on_part_error(MultipartError::PartTooLarge);
                    self.body = Body::Discard;
                } else {
                    storage[self.json_len..end].copy_from_slice(data);
                    self.json_len = end;
                }
            }
            Body::Binary => {
                sink.on_binary_part(&self.storage.as_ref()[..self.id_len], data, false);
            }
        }
    }

    /// A delimiter is complete: the current part ends with `last` and is delivered now, before
    /// whatever follows the delimiter arrives.
    fn commit(&mut self, last: &[u8], sink: &mut impl PartSink) {
        match self.body {
            Body::Discard => {}
            Body::Json => {
                self.emit(last, sink);
                if self.body == Body::Json && self.json_len > 0 {
                    sink.on_json_part(&self.storage.as_ref()[..self.json_len]);
                }
            }
            Body::Binary => {
                sink.on_binary_part(&self.storage.as_ref()[..self.id_len], last, true);
            }
        }
        self.body = Body::Discard;
        self.matched = 0;
        self.virtual_len = 0;
        self.started = true;
        self.state = State::Delimiter { dash: false };
    }

    fn feed_headers(&mut self, data: &[u8], mut i: usize, sink: &mut impl PartSink) -> usize {
        if self.matched > 0 {
            // A line start: a line that begins with `--B` is a delimiter (repeated boundaries).
            match self.extend_match(data, i) {
                (j, Match::Pending) => return j,
                (j, Match::Complete) => {
                    self.commit(&[], sink);
                    return j;
                }
                (j, Match::Failed) => {
                    // An ordinary header line; it starts with the bytes matched (no CR among them).
                    let k = self.matched - self.virtual_len;
                    self.matched = 0;
                    self.virtual_len = 0;
                    i = j;
                    let start = self.id_len;
                    let storage = self.storage.as_mut();
                    if k > storage.len() - start {
                        sink.on_part_error(MultipartError::HeadersTooLarge);
                        self.skip_part(false, false);
                        return i;
                    }
                    storage[start..start + k].copy_from_slice(&self.delim[2..2 + k]);
                    self.line_len = k;
                }
            }
        }
        let rest = &data[i..];
        let (piece, complete) = match memchr(b'\n', rest) {
            Some(k) => (&rest[..=k], true),
            None => (rest, false),
        };
        let start = self.id_len + self.line_len;
        let storage = self.storage.as_mut();
        if piece.len() > storage.len() - start {
            let held_cr = self.line_len > 0 && storage[start - 1] == b'\r';
            sink.on_part_error(MultipartError::HeadersTooLarge);
            self.skip_part(false, held_cr);
            // These bytes are scanned again, now only for the next delimiter.
            return i;
        }
        storage[start..start + piece.len()].copy_from_slice(piece);
        self.line_len += piece.len();
        if complete {
            self.header_line(sink);
        }
        i + piece.len()
    }

    /// Acts on the complete header line at `storage[id_len..id_len + line_len]` (never a
    /// delimiter line: those end the headers as soon as their `--B` is complete).
    fn header_line(&mut self, sink: &mut impl PartSink) {
        enum Action {
            EndOfHeaders,
            Ignore,
            Malformed,
            ContentType(CType),
            Id(Range<usize>, IdSource),
        }
        let storage = self.storage.as_ref();
        let start = self.id_len;
        let mut line = &storage[start..start + self.line_len];
        line = line.strip_suffix(b"\n").unwrap_or(line);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        let action = if line.is_empty() {
            Action::EndOfHeaders
        } else if matches!(line[0], b' ' | b'\t') {
            Action::Ignore
        } else if let Some(colon) = memchr(b':', line) {
            let name = line[..colon].trim_ascii();
            let value = line[colon + 1..].trim_ascii();
            if name.eq_ignore_ascii_case(b"content-type") {
                Action::ContentType(classify_content_type(value))
            } else if name.eq_ignore_ascii_case(b"content-id") {
                let id = match value {
                    [b'<', inner @ .., b'>'] => inner,
                    _ => value,
                };
                Action::Id(range_in(storage, id), IdSource::ContentId)
            } else if name.eq_ignore_ascii_case(b"content-disposition")
                && self.id_source != IdSource::ContentId
            {
                match header_param(value, b"name") {
                    Some(n) => Action::Id(range_in(storage, n), IdSource::Name),
                    None => Action::Ignore,
                }
            } else {
                Action::Ignore
            }
        } else {
            Action::Malformed
        };
        self.line_len = 0;
        match action {
            Action::EndOfHeaders => {
                match kind_of(self.ctype, self.id_source == IdSource::ContentId) {
                    PartKind::Json => {
                        self.id_len = 0;
                        self.begin_body(Body::Json);
                    }
                    PartKind::Binary => self.begin_body(Body::Binary),
                }
                return;
            }
            Action::Ignore => {}
            Action::Malformed => {
                sink.on_part_error(MultipartError::MalformedHeaders);
                self.skip_part(true, false);
                return;
            }
            Action::ContentType(c) => self.ctype = Some(c),
            Action::Id(range, source) => {
                // The id moves to the front of the storage; header lines go after it.
                self.id_len = range.len();
                self.storage.as_mut().copy_within(range, 0);
                self.id_source = source;
            }
        }
        self.line_start();
    }
}

/// Position of `inner` (a subslice) within `outer`.
fn range_in(outer: &[u8], inner: &[u8]) -> Range<usize> {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    start..start + inner.len()
}

/// First complete occurrence of `delim` in `hay`.
fn find_delim(hay: &[u8], delim: &[u8]) -> Option<usize> {
    // The delimiter's only CR is its first byte: look for CRs, compare there.
    let m = delim.len();
    let mut from = 0;
    while let Some(k) = memchr(b'\r', &hay[from..]) {
        let p = from + k;
        let cand = hay.get(p..p + m)?;
        if cand == delim {
            return Some(p);
        }
        from = p + 1;
    }
    None
}

/// Length of the longest suffix of `hay` that is a proper prefix of `delim`.
fn partial_delim_len(hay: &[u8], delim: &[u8]) -> usize {
    // Only the last CR can start one: a prefix of the delimiter holds no other CR.
    let window = hay.len().min(delim.len() - 1);
    let tail = &hay[hay.len() - window..];
    match memrchr(b'\r', tail) {
        Some(k) if delim.starts_with(&tail[k..]) => window - k,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Encoder

/// Writes the head of an event's JSON part, `"--B\r\nContent-Disposition: form-data;
/// name=\"metadata\"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"`; the event JSON
/// follows it. Returns the number of bytes written.
pub fn write_metadata_part_head(out: &mut [u8], boundary: &str) -> Result<usize, Overflow> {
    let mut pos = 0;
    put_all(
        out,
        &mut pos,
        &[
            b"--",
            boundary.as_bytes(),
            b"\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\
              Content-Type: application/json; charset=UTF-8\r\n\r\n",
        ],
    )?;
    Ok(pos)
}

/// Writes the head of a Recognize event's audio part, `"\r\n--B\r\nContent-Disposition:
/// form-data; name=\"audio\"\r\nContent-Type: application/octet-stream\r\n\r\n"`, to follow the
/// event JSON; the raw audio follows it. Returns the number of bytes written.
pub fn write_audio_part_head(out: &mut [u8], boundary: &str) -> Result<usize, Overflow> {
    let mut pos = 0;
    put_all(
        out,
        &mut pos,
        &[
            b"\r\n--",
            boundary.as_bytes(),
            b"\r\nContent-Disposition: form-data; name=\"audio\"\r\n\
              Content-Type: application/octet-stream\r\n\r\n",
        ],
    )?;
    Ok(pos)
}

/// Writes the close delimiter `"\r\n--B--\r\n"` that ends an event body after its last part.
/// Returns the number of bytes written.
pub fn write_close(out: &mut [u8], boundary: &str) -> Result<usize, Overflow> {
    let mut pos = 0;
    put_all(out, &mut pos, &[b"\r\n--", boundary.as_bytes(), b"--\r\n"])?;
    Ok(pos)
}

/// Writes the request's `content-type` header value, `"multipart/form-data; boundary=B"`.
/// Returns the number of bytes written.
pub fn write_form_data_content_type(out: &mut [u8], boundary: &str) -> Result<usize, Overflow> {
    let mut pos = 0;
    put_all(
        out,
        &mut pos,
        &[b"multipart/form-data; boundary=", boundary.as_bytes()],
    )?;
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const B: &str = "b6f3c2a0-1d2e-4f5a-9b8c-7d6e5f4a3b2c";

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        Json(Vec<u8>),
        /// id, data, closed by `last`
        Bin(Vec<u8>, Vec<u8>, bool),
        Err(MultipartError),
    }

    #[derive(Default)]
    struct Rec {
        events: Vec<Ev>,
    }

    impl PartSink for Rec {
        fn on_json_part(&mut self, body: &[u8]) {
            assert!(
                !matches!(self.events.last(), Some(Ev::Bin(_, _, false))),
                "JSON inside a binary part"
            );
            self.events.push(Ev::Json(body.to_vec()));
        }
        fn on_binary_part(&mut self, id: &[u8], data: &[u8], last: bool) {
            if let Some(Ev::Bin(open_id, acc, closed @ false)) = self.events.last_mut() {
                assert_eq!(open_id.as_slice(), id, "id changed inside a part");
                acc.extend_from_slice(data);
                *closed = last;
            } else {
                self.events.push(Ev::Bin(id.to_vec(), data.to_vec(), last));
            }
        }
        fn on_part_error(&mut self, error: MultipartError) {
            assert!(
                !matches!(self.events.last(), Some(Ev::Bin(_, _, false))),
                "error inside a binary part"
            );
            self.events.push(Ev::Err(error));
        }
    }

    fn json(s: &str) -> Ev {
        Ev::Json(s.as_bytes().to_vec())
    }
    fn bin(id: &str, data: &[u8]) -> Ev {
        Ev::Bin(id.as_bytes().to_vec(), data.to_vec(), true)
    }

    /// Decodes `msg` fed in the pieces whose end offsets are `cuts`.
    fn decode_cuts(
        msg: &[u8],
        boundary: &str,
        cap: usize,
        cuts: &[usize],
    ) -> (Vec<Ev>, Result<(), MultipartError>) {
        let mut d = Decoder::new(vec![0u8; cap]);
        d.reset(boundary.as_bytes()).unwrap();
        let mut rec = Rec::default();
        let mut from = 0;
        for &c in cuts.iter().chain(core::iter::once(&msg.len())) {
            d.feed(&msg[from..c], &mut rec).unwrap();
            from = c;
        }
        let r = d.finish(&mut rec);
        (rec.events, r)
    }

    fn decode(msg: &[u8], boundary: &str, cap: usize) -> (Vec<Ev>, Result<(), MultipartError>) {
        decode_cuts(msg, boundary, cap, &[])
    }

    /// One-shot, every single split point, and 1-byte pieces all give the same result.
    fn check_all_splits(
        msg: &[u8],
        boundary: &str,
        cap: usize,
    ) -> (Vec<Ev>, Result<(), MultipartError>) {
        let whole = decode(msg, boundary, cap);
        for p in 0..=msg.len() {
            assert_eq!(decode_cuts(msg, boundary, cap, &[p]), whole, "split at {p}");
        }
        let bytes: Vec<usize> = (1..msg.len()).collect();
        assert_eq!(
            decode_cuts(msg, boundary, cap, &bytes),
            whole,
            "1-byte pieces"
        );
        whole
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    const SPEAK: &str = r#"{"directive":{"header":{"namespace":"SpeechSynthesizer","name":"Speak","messageId":"m-1","dialogRequestId":"d-1"},"payload":{"url":"cid:DeviceTTSRendererV4_3:Q.x_y#1","format":"AUDIO_MPEG","token":"t"}}}"#;
    const ID: &str = "DeviceTTSRendererV4_3:Q.x_y#1";

    /// Binary data full of near-misses: CRLF, `\r\n--` plus a prefix of the boundary, the
    /// boundary not after CRLF, a trailing CR. (A whole `\r\n--B` cannot occur in a part.)
    fn tricky_binary() -> Vec<u8> {
        cat(&[
            b"\x00\xff\r\n\r\nabc\r\n--",
            b"\r\n--b6f3c2a0-1d2e",
            b"\r\r\n--b6f3c2a0-1d2e-4f5a-9b8c-7d6e5f4a3b2",
            b"\r\n-b6f3c2a0-1d2e-4f5a-9b8c-7d6e5f4a3b2c-x",
            b"\n--b6f3c2a0-1d2e-4f5a-9b8c-7d6e5f4a3b2c\rx",
            b"\r--b6f3c2a0-1d2e-4f5a-9b8c-7d6e5f4a3b2c\r\r",
            b"--b6f3c2a0-1d2e-4f5a-9b8c-7d6e5f4a3b2c\r\n",
            b"end\r\n-\r",
        ])
    }

    fn avs_response() -> (Vec<u8>, Vec<Ev>) {
        let data = tricky_binary();
        let msg = cat(&[
            b"\r\n--",
            B.as_bytes(),
            b"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n",
            SPEAK.as_bytes(),
            b"\r\n--",
            B.as_bytes(),
            b"\r\nContent-ID: <",
            ID.as_bytes(),
            b">\r\nContent-Type: application/octet-stream\r\n\r\n",
            &data,
            b"\r\n--",
            B.as_bytes(),
            b"\r\nContent-Type: application/json\r\n\r\n{\"b\":2}",
            b"\r\n--",
            B.as_bytes(),
            b"--\r\nepilogue\r\n--",
            B.as_bytes(),
            b"\r\nContent-Type: application/json\r\n\r\n{}",
        ]);
        (msg, vec![json(SPEAK), bin(ID, &data), json("{\"b\":2}")])
    }

    #[test]
    fn avs_response_every_split() {
        let (msg, expected) = avs_response();
        let (events, r) = check_all_splits(&msg, B, 1024);
        assert_eq!(events, expected);
        assert_eq!(r, Ok(()));
    }

    #[test]
    fn three_way_splits() {
        // `\r\n--b-\r\n` ends the binary part (the delimiter alone does) and its line is skipped;
        // the header line `--b--` after it closes the body.
        let msg = cat(&[
            b"--b\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\r\n--b\r\nContent-ID: x\r\n\r\n\r\n--\r\n--b-\r\n--b--",
        ]);
        let whole = decode(&msg, "b", 64);
        assert_eq!(whole.0, vec![json("{\"a\":1}"), bin("x", b"\r\n--")]);
        assert_eq!(whole.1, Ok(()));
        for p in 0..=msg.len() {
            for q in p..=msg.len() {
                assert_eq!(decode_cuts(&msg, "b", 64, &[p, q]), whole, "cuts {p} {q}");
            }
        }
    }

    #[test]
    fn first_boundary_without_leading_crlf_and_preamble() {
        let body = b"--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b--";
        assert_eq!(check_all_splits(body, "b", 64), (vec![json("{}")], Ok(())));
        let pre = cat(&[b"preamble --b not at line start\r\nx--b\r\n\r\n", body]);
        assert_eq!(check_all_splits(&pre, "b", 64), (vec![json("{}")], Ok(())));
        let crlf = cat(&[b"\r\n\r\n", body]);
        assert_eq!(check_all_splits(&crlf, "b", 64), (vec![json("{}")], Ok(())));
    }

    #[test]
    fn repeated_boundaries_make_no_empty_parts() {
        let msg = b"--b\r\n--b\r\n\r\n--b  \r\n\r\n\r\n--b\r\nContent-Type: application/json\r\n\r\n{\"x\":1}\r\n--b\r\n--b\r\nContent-Type: application/json\r\n\r\n\r\n--b--\r\n";
        assert_eq!(
            check_all_splits(msg, "b", 64),
            (vec![json("{\"x\":1}")], Ok(()))
        );
    }

    #[test]
    fn transport_padding_after_boundary() {
        let msg = b"--b \t \r\nContent-Type: application/json\r\n\r\n{}\r\n--b\t\r\ncontent-id: <a.b>\r\n\r\nDATA\r\n--b-- \r\n";
        assert_eq!(
            check_all_splits(msg, "b", 64),
            (vec![json("{}"), bin("a.b", b"DATA")], Ok(()))
        );
    }

    #[test]
    fn header_names_case_insensitive_and_ids() {
        let msg = b"--b\r\nCONTENT-TYPE: Application/JSON\r\n\r\n{}\r\n--b\r\ncOnTeNt-Id:   plain:id_1.2#3  \r\nX-Other: y\r\n\r\nD1\r\n--b\r\nContent-Id:<w>\nContent-Type:application/octet-stream\n\nD2\r\n--b--";
        assert_eq!(
            check_all_splits(msg, "b", 64),
            (
                vec![json("{}"), bin("plain:id_1.2#3", b"D1"), bin("w", b"D2")],
                Ok(())
            )
        );
    }

    #[test]
    fn part_kinds() {
        assert_eq!(
            part_kind(Some(b"application/json; charset=UTF-8"), true),
            PartKind::Json
        );
        assert_eq!(
            part_kind(Some(b"application/vnd.x+JSON"), false),
            PartKind::Json
        );
        assert_eq!(part_kind(Some(b"text/plain"), false), PartKind::Json);
        assert_eq!(part_kind(None, false), PartKind::Json);
        assert_eq!(part_kind(Some(b"text/plain"), true), PartKind::Binary);
        assert_eq!(part_kind(None, true), PartKind::Binary);
        assert_eq!(
            part_kind(Some(b"application/octet-stream"), false),
            PartKind::Binary
        );
        assert_eq!(part_kind(Some(b"audio/mpeg"), false), PartKind::Binary);
    }

    #[test]
    fn empty_binary_part_is_delivered_empty_json_is_not() {
        let msg = b"--b\r\nContent-ID: <e>\r\n\r\n\r\n--b\r\nContent-Type: application/json\r\n\r\n\r\n--b--";
        assert_eq!(
            check_all_splits(msg, "b", 64),
            (vec![bin("e", b"")], Ok(()))
        );
    }

    #[test]
    fn delimiter_only_at_line_start() {
        // In a body only CRLF starts a line: `x--b`, `\n--b`, `\r--b` are data.
        let msg = b"--b\r\nContent-ID: <i>\r\n\r\nx--b\n--b\r--b\r\n-b\r\n--b--\r\n\r\n--b--";
        assert_eq!(
            check_all_splits(msg, "b", 64),
            (vec![bin("i", b"x--b\n--b\r--b\r\n-b")], Ok(()))
        );
    }

    /// Bytes after a complete delimiter that RFC 2046 does not allow there: the part before it
    /// has ended all the same, the rest of that line is skipped and the next part is read.
    #[test]
    fn junk_after_a_delimiter_is_skipped_with_its_line() {
        for junk in [
            &b"x"[..],
            b"-x",
            b"\rx",
            b"\r\r",
            b"-",
            b"\r",
            b"",
            b"x--b",
            b"\t--",
        ] {
            let msg = cat(&[
                b"--b\r\nContent-ID: <i>\r\n\r\nDATA\r\n--b",
                junk,
                b"\r\nContent-Type: application/json\r\n\r\n{}\r\n--b",
                junk,
                b"\n--b--",
            ]);
            assert_eq!(
                check_all_splits(&msg, "b", 64),
                (vec![bin("i", b"DATA"), json("{}")], Ok(())),
                "junk {junk:?}"
            );
        }
        // A line-start `--b` inside the headers is a delimiter too, whatever follows it.
        let msg = b"--b\r\nContent-Type: application/json\r\n--bjunk\r\n\r\n{}\r\n--b--";
        assert_eq!(check_all_splits(msg, "b", 64), (vec![json("{}")], Ok(())));
        // Even with a storage too small for that line.
        let msg = b"--b\r\n--bjunk longer than the storage\r\n\r\n{}\r\n--b--";
        assert_eq!(check_all_splits(msg, "b", 4), (vec![json("{}")], Ok(())));
    }

    #[test]
    fn epilogue_ignored() {
        let msg = b"--b\r\n\r\nA\r\n--b--garbage\r\n--b\r\n\r\nB\r\n--b--";
        assert_eq!(check_all_splits(msg, "b", 64), (vec![json("A")], Ok(())));
    }

    #[test]
    fn oversize_json_is_skipped_and_decoding_continues() {
        let big = "x".repeat(100);
        let msg = cat(&[
            b"--b\r\nContent-Type: application/json\r\n\r\n",
            big.as_bytes(),
            b"\r\n--b\r\nContent-Type: application/json\r\n\r\n{\"ok\":1}",
            b"\r\n--b\r\nContent-ID: <big>\r\n\r\n",
            big.as_bytes(),
            b"\r\n--b--",
        ]);
        let (events, r) = check_all_splits(&msg, "b", 64);
        assert_eq!(
            events,
            vec![
                Ev::Err(MultipartError::PartTooLarge),
                json("{\"ok\":1}"),
                bin("big", big.as_bytes())
            ]
        );
        assert_eq!(r, Ok(()));
        // Exactly fitting is fine.
        let fit = "y".repeat(64);
        let msg = cat(&[b"--b\r\n\r\n", fit.as_bytes(), b"\r\n--b--"]);
        assert_eq!(check_all_splits(&msg, "b", 64), (vec![json(&fit)], Ok(())));
    }

    #[test]
    fn oversize_headers_are_skipped() {
        let long = "z".repeat(80);
        let msg = cat(&[
            b"--b\r\nX-Long: ",
            long.as_bytes(),
            b"\r\n\r\n{\"lost\":1}",
            b"\r\n--b\r\nContent-ID: <",
            &long.as_bytes()[..40],
            b">\r\nX-Long: ",
            &long.as_bytes()[..30],
            b"\r\n\r\nD",
            b"\r\n--b\r\nContent-Type: application/json\r\n\r\n{\"ok\":1}\r\n--b--",
        ]);
        let (events, r) = check_all_splits(&msg, "b", 64);
        assert_eq!(
            events,
            vec![
                Ev::Err(MultipartError::HeadersTooLarge),
                Ev::Err(MultipartError::HeadersTooLarge),
                json("{\"ok\":1}")
            ]
        );
        assert_eq!(r, Ok(()));
        // A header line cut right after its CR, where the delimiter follows.
        let msg = cat(&[
            b"--b\r\nX: ",
            long.as_bytes(),
            b"\r\n--b\r\n\r\n{}\r\n--b--",
        ]);
        assert_eq!(
            check_all_splits(&msg, "b", 32),
            (
                vec![Ev::Err(MultipartError::HeadersTooLarge), json("{}")],
                Ok(())
            )
        );
        // A header line that fills the storage up to its CR: the LF no longer fits, and the CR
        // must still count as the start of the delimiter.
        let msg = cat(&[
            b"--b\r\nX: ",
            &long.as_bytes()[..28],
            b"\r\n--b\r\n\r\n{}\r\n--b--",
        ]);
        assert_eq!(
            check_all_splits(&msg, "b", 32),
            (
                vec![Ev::Err(MultipartError::HeadersTooLarge), json("{}")],
                Ok(())
            )
        );
    }

    #[test]
    fn malformed_header_skips_part() {
        let msg = b"--b\r\nno colon here\r\n\r\n{\"lost\":1}\r\n--b\r\n\r\n{\"ok\":1}\r\n--b--";
        assert_eq!(
            check_all_splits(msg, "b", 64),
            (
                vec![
                    Ev::Err(MultipartError::MalformedHeaders),
                    json("{\"ok\":1}")
                ],
                Ok(())
            )
        );
        // A malformed line directly followed by a delimiter line.
        let msg = b"--b\r\nbad\r\n--b\r\n\r\n{}\r\n--b--";
        assert_eq!(
            check_all_splits(msg, "b", 64),
            (
                vec![Ev::Err(MultipartError::MalformedHeaders), json("{}")],
                Ok(())
            )
        );
    }

    #[test]
    fn json_delivered_as_soon_as_delimiter_complete() {
        for (tail, close) in [(&b"\r\n"[..], false), (b"--", true), (b" ", false)] {
            let mut d = Decoder::new([0u8; 64]);
            d.reset(b"b").unwrap();
            let mut rec = Rec::default();
            d.feed(
                b"--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--",
                &mut rec,
            )
            .unwrap();
            assert!(rec.events.is_empty());
            d.feed(b"b", &mut rec).unwrap();
            assert_eq!(rec.events, vec![json("{}")], "out before the line's end");
            d.feed(&tail[..tail.len() - 1], &mut rec).unwrap();
            d.feed(&tail[tail.len() - 1..], &mut rec).unwrap();
            assert_eq!(rec.events, vec![json("{}")]);
            assert_eq!(
                d.finish(&mut rec),
                if close {
                    Ok(())
                } else {
                    Err(MultipartError::Truncated)
                }
            );
        }
    }

    /// A server that writes each part followed by its delimiter (`…}\r\n--B`) and sends the rest
    /// of the delimiter line only with the next part: every part must be out the moment its
    /// delimiter is complete (a NEAR_FIELD turn waits on StopCapture), whatever the split.
    #[test]
    fn part_is_delivered_when_its_delimiter_completes_every_split() {
        const STOP: &str = r#"{"directive":{"header":{"namespace":"SpeechRecognizer","name":"StopCapture","messageId":"m-0","dialogRequestId":"d-1"},"payload":{}}}"#;
        // Binary data with delimiter near-misses that are never a whole delimiter.
        let data = cat(&[
            b"\x00\r\n\r\nabc\r\n--\r\n--b6f3c2a0-1d2e",
            b"\r\r\n--b6f3c2a0-1d2e-4f5a-9b8c-7d6e5f4a3b2",
            b"--b6f3c2a0-1d2e-4f5a-9b8c-7d6e5f4a3b2c\r\nend\r",
        ]);
        let delim = std::format!("\r\n--{B}");
        let writes: [Vec<u8>; 4] = [
            cat(&[
                b"--",
                B.as_bytes(),
                b"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n",
                STOP.as_bytes(),
                delim.as_bytes(),
            ]),
            cat(&[
                b"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n",
                SPEAK.as_bytes(),
                delim.as_bytes(),
            ]),
            cat(&[
                b"\r\nContent-ID: <",
                ID.as_bytes(),
                b">\r\nContent-Type: application/octet-stream\r\n\r\n",
                &data,
                delim.as_bytes(),
            ]),
            b"--\r\n".to_vec(),
        ];
        let msg = writes.concat();
        // Where each part's delimiter is complete.
        let ends: Vec<usize> = writes[..3]
            .iter()
            .scan(0, |end, w| {
                *end += w.len();
                Some(*end)
            })
            .collect();
        let expected = vec![json(STOP), json(SPEAK), bin(ID, &data)];
        assert_eq!(check_all_splits(&msg, B, 1024), (expected.clone(), Ok(())));
        let complete = |events: &[Ev]| {
            events
                .iter()
                .filter(|e| !matches!(e, Ev::Bin(_, _, false)))
                .count()
        };
        // Every first piece, then one byte at a time: after each byte, exactly the parts whose
        // delimiter is complete are out.
        for q in 0..=msg.len() {
            let mut d = Decoder::new(vec![0u8; 1024]);
            d.reset(B.as_bytes()).unwrap();
            let mut rec = Rec::default();
            d.feed(&msg[..q], &mut rec).unwrap();
            for p in q..=msg.len() {
                if p > q {
                    d.feed(&msg[p - 1..p], &mut rec).unwrap();
                }
                let due = ends.iter().filter(|&&e| e <= p).count();
                assert_eq!(
                    complete(&rec.events),
                    due,
                    "first piece {q} bytes, fed {p} of {} (delimiters end at {ends:?})",
                    msg.len()
                );
            }
            assert_eq!(d.finish(&mut rec), Ok(()));
            assert_eq!(rec.events, expected);
        }
    }

    #[test]
    fn downchannel_parts_one_at_a_time() {
        let mut d = Decoder::new([0u8; 256]);
        d.reset(B.as_bytes()).unwrap();
        let mut rec = Rec::default();
        let part = |n: u32| {
            std::format!(
                "\r\n--{B}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{{\"n\":{n}}}"
            )
        };
        for n in 0..5 {
            d.feed(part(n).as_bytes(), &mut rec).unwrap();
            if n > 0 {
                // The previous part is out only once this part's delimiter line arrives.
                assert_eq!(rec.events.len(), n as usize);
            }
        }
        d.feed(std::format!("\r\n--{B}\r\n").as_bytes(), &mut rec)
            .unwrap();
        assert_eq!(rec.events.len(), 5);
        assert_eq!(rec.events[4], json("{\"n\":4}"));
        assert_eq!(d.current_part(), None);
    }

    #[test]
    fn binary_pieces_borrow_the_input() {
        struct Ptr<'a> {
            input: &'a [u8],
            copied: usize,
            borrowed: usize,
        }
        impl PartSink for Ptr<'_> {
            fn on_json_part(&mut self, _: &[u8]) {}
            fn on_binary_part(&mut self, _: &[u8], data: &[u8], _: bool) {
                let r = self.input.as_ptr_range();
                if data.is_empty() {
                } else if r.contains(&data.as_ptr()) {
                    self.borrowed += data.len();
                } else {
                    self.copied += data.len();
                }
            }
        }
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let msg = cat(&[b"--b\r\nContent-ID: <a>\r\n\r\n", &data, b"\r\n--b--"]);
        let mut d = Decoder::new([0u8; 64]);
        d.reset(b"b").unwrap();
        let mut sink = Ptr {
            input: &msg,
            copied: 0,
            borrowed: 0,
        };
        for piece in msg.chunks(1000) {
            sink.input = piece;
            d.feed(piece, &mut sink).unwrap();
        }
        assert_eq!(sink.borrowed + sink.copied, data.len());
        assert_eq!(sink.copied, 0);
    }

    #[test]
    fn finish_results() {
        let mut rec = Rec::default();
        let mut d = Decoder::new([0u8; 64]);
        assert_eq!(d.feed(b"x", &mut rec), Err(MultipartError::BadBoundary));
        assert_eq!(d.finish(&mut rec), Err(MultipartError::BadBoundary));
        d.reset(b"b").unwrap();
        assert_eq!(d.finish(&mut rec), Ok(()), "empty body");
        d.reset(b"b").unwrap();
        d.feed(b"no multipart here", &mut rec).unwrap();
        assert_eq!(d.finish(&mut rec), Ok(()), "preamble only");
        d.reset(b"b").unwrap();
        d.feed(b"--b\r\n", &mut rec).unwrap();
        assert_eq!(d.finish(&mut rec), Err(MultipartError::Truncated));
        d.reset(b"b").unwrap();
        d.feed(b"--b\r\n\r\n{\"cut", &mut rec).unwrap();
        assert_eq!(d.finish(&mut rec), Err(MultipartError::Truncated));
        assert!(rec.events.is_empty(), "a cut JSON part is dropped");
        d.reset(b"b").unwrap();
        d.feed(b"--b\r\nContent-ID: <c>\r\n\r\nabc\r\n--", &mut rec)
            .unwrap();
        assert_eq!(d.current_part(), Some(PartKind::Binary));
        assert_eq!(d.finish(&mut rec), Err(MultipartError::Truncated));
        assert_eq!(
            rec.events,
            vec![bin("c", b"abc\r\n--")],
            "a cut binary part is closed"
        );
        // After finish, input is ignored until reset.
        d.feed(b"\r\n--b\r\n\r\n{}\r\n--b--", &mut rec).unwrap();
        assert_eq!(rec.events.len(), 1);
    }

    #[test]
    fn reset_validates_boundary() {
        let mut d = Decoder::new([0u8; 8]);
        assert_eq!(d.reset(b""), Err(MultipartError::BadBoundary));
        assert_eq!(d.reset(&[b'a'; 71]), Err(MultipartError::BadBoundary));
        assert_eq!(d.reset(b"a\rb"), Err(MultipartError::BadBoundary));
        assert_eq!(d.reset(b"a\nb"), Err(MultipartError::BadBoundary));
        assert_eq!(
            d.feed(b"x", &mut Rec::default()),
            Err(MultipartError::BadBoundary)
        );
        assert_eq!(d.reset(&[b'a'; 70]), Ok(()));
    }

    #[test]
    fn longest_boundary_every_split() {
        let b = "0123456789'()+_,-./:=?abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV";
        assert_eq!(b.len(), 70);
        let data = cat(&[
            b"\r\n--",
            &b.as_bytes()[..69],
            b"\r\n-",
            b.as_bytes(),
            b"\r\n--",
            &b.as_bytes()[1..],
        ]);
        let msg = cat(&[
            b"--",
            b.as_bytes(),
            b"\r\nContent-ID: <q>\r\n\r\n",
            &data,
            b"\r\n--",
            b.as_bytes(),
            b"--",
        ]);
        assert_eq!(
            check_all_splits(&msg, b, 64),
            (vec![bin("q", &data)], Ok(()))
        );
    }

    #[test]
    fn boundary_parameter() {
        let f = boundary_from_content_type;
        assert_eq!(
            f(b"multipart/related; boundary=abc-123; type=\"application/json\""),
            Some(&b"abc-123"[..])
        );
        assert_eq!(
            f(b"multipart/related; type=\"application/json\"; boundary=abc"),
            Some(&b"abc"[..])
        );
        assert_eq!(
            f(b"multipart/related;BOUNDARY=\"a b;c\""),
            Some(&b"a b;c"[..])
        );
        assert_eq!(
            f(b"multipart/related; start=\"<x;boundary=no>\"; Boundary = yes "),
            Some(&b"yes"[..])
        );
        assert_eq!(f(b"multipart/related; myboundary=no"), None);
        assert_eq!(f(b"multipart/related; boundary="), None);
        assert_eq!(f(b"multipart/related; boundary=\"\""), None);
        assert_eq!(f(b"multipart/related; boundary=\"unterminated"), None);
        assert_eq!(f(b"multipart/related; boundary=\"esc\\\"aped\""), None);
        assert_eq!(f(b"multipart/related"), None);
        assert_eq!(f(b"multipart/related; flag; boundary=z"), Some(&b"z"[..]));
        assert_eq!(f(b""), None);
    }

    #[test]
    fn encoder_exact_bytes_and_round_trip() {
        let mut buf = [0u8; 512];
        let mut pos = write_metadata_part_head(&mut buf, "BB").unwrap();
        assert_eq!(
            &buf[..pos],
            b"--BB\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
        );
        let j = br#"{"event":{}}"#;
        buf[pos..pos + j.len()].copy_from_slice(j);
        pos += j.len();
        let a = write_audio_part_head(&mut buf[pos..], "BB").unwrap();
        assert_eq!(
            &buf[pos..pos + a],
            b"\r\n--BB\r\nContent-Disposition: form-data; name=\"audio\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        );
        pos += a;
        buf[pos..pos + 4].copy_from_slice(b"\x01\r\n\x02");
        pos += 4;
        let c = write_close(&mut buf[pos..], "BB").unwrap();
        assert_eq!(&buf[pos..pos + c], b"\r\n--BB--\r\n");
        pos += c;
        let (events, r) = check_all_splits(&buf[..pos], "BB", 64);
        assert_eq!(
            events,
            vec![Ev::Json(j.to_vec()), bin("audio", b"\x01\r\n\x02")]
        );
        assert_eq!(r, Ok(()));

        let n = write_form_data_content_type(&mut buf, "BB").unwrap();
        assert_eq!(&buf[..n], b"multipart/form-data; boundary=BB");
        assert_eq!(boundary_from_content_type(&buf[..n]), Some(&b"BB"[..]));
        assert_eq!(write_close(&mut buf[..9], "BB"), Err(Overflow));
        assert_eq!(write_close(&mut buf[..10], "BB"), Ok(10));
        assert_eq!(
            write_metadata_part_head(&mut [0u8; 20], "BB"),
            Err(Overflow)
        );
        assert_eq!(write_audio_part_head(&mut [0u8; 20], "BB"), Err(Overflow));
    }

    /// xorshift64*, enough for test data.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Random data biased towards delimiter near-misses, free of `\r\n--b` and not starting `--b`.
    fn near_miss_data(rng: &mut Rng, boundary: &[u8], len: usize) -> Vec<u8> {
        let pieces: [&[u8]; 6] = [b"\r", b"\n", b"-", b"\r\n--", b"x", boundary];
        let mut v = Vec::new();
        while v.len() < len {
            let p = pieces[rng.below(pieces.len())];
            let p = &p[..1 + rng.below(p.len())];
            v.extend_from_slice(p);
        }
        v.truncate(len);
        let mut delim = b"\r\n--".to_vec();
        delim.extend_from_slice(boundary);
        // Break every real delimiter (and a leading `--b`) by changing its last byte.
        let mut i = 0;
        while i + delim.len() <= v.len() {
            if v[i..i + delim.len()] == delim[..] {
                v[i + delim.len() - 1] = b'!';
            }
            i += 1;
        }
        if v.starts_with(&delim[2..]) {
            v[delim.len() - 3] = b'!';
        }
        v
    }

    #[test]
    fn random_messages_random_pieces() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let boundary = b"bo-und";
        let bs = std::str::from_utf8(boundary).unwrap();
        let cap = 48;
        for round in 0..3000 {
            let n = rng.below(8);
            let mut msg = near_miss_data(&mut rng, boundary, n);
            let mut expected = Vec::new();
            for _ in 0..rng.below(5) {
                msg.extend_from_slice(b"\r\n--bo-und");
                if rng.below(3) == 0 {
                    msg.extend_from_slice(b" \t");
                }
                msg.extend_from_slice(b"\r\n");
                let len = rng.below(70);
                let body = near_miss_data(&mut rng, boundary, len);
                if rng.below(2) == 0 {
                    msg.extend_from_slice(b"Content-Type: application/json\r\n\r\n");
                    if body.len() > cap {
                        expected.push(Ev::Err(MultipartError::PartTooLarge));
                    } else if !body.is_empty() {
                        expected.push(Ev::Json(body.clone()));
                    }
                } else {
                    let id = std::format!("id{round}.{len}");
                    msg.extend_from_slice(std::format!("Content-ID: <{id}>\r\n\r\n").as_bytes());
                    expected.push(bin(&id, &body));
                }
                msg.extend_from_slice(&body);
            }
            let closed = rng.below(4) != 0;
            if closed {
                msg.extend_from_slice(b"\r\n--bo-und--");
                let n = rng.below(20);
                let epilogue = near_miss_data(&mut rng, boundary, n);
                msg.extend_from_slice(&epilogue);
            }
            let whole = decode(&msg, bs, cap);
            if closed {
                assert_eq!(
                    whole,
                    (expected, Ok(())),
                    "round {round}: {:?}",
                    std::string::String::from_utf8_lossy(&msg)
                );
            }
            let mut cuts = Vec::new();
            let mut at = 0;
            loop {
                at += 1 + rng.below(12);
                if at >= msg.len() {
                    break;
                }
                cuts.push(at);
            }
            assert_eq!(decode_cuts(&msg, bs, cap, &cuts), whole, "round {round}");
        }
    }
}
