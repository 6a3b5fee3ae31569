//! The AVS JSON message model: directives and exceptions in, events out, message ids.
//!
//! Parsing borrows from the caller's bytes and never allocates: header strings are `&str` slices
//! of the input and payloads are raw byte spans, handed to the interface that owns the namespace
//! (which deserialises them with serde-json-core or reads single members with
//! [`super::json`]). Writing goes into caller buffers.
//!
//! Header strings containing JSON escapes are refused with [`MessageError::EscapedString`]
//! rather than unescaped: AVS ids and names never need escapes, and a borrowed `&str` cannot
//! hold the decoded form. Every document is validated (iteratively, depth-limited) before any
//! part of it is read, so a hostile directive cannot exhaust the stack; headers are read with
//! [`super::json`]'s member iterator like the rest of the document (no recursion at all).

use core::fmt;

use super::json;
use super::{put_all, Overflow};

/// The header members a directive (or exception) carries, in the order `string_members` gives.
const HEADER_KEYS: [&str; 6] = [
    "namespace",
    "name",
    "messageId",
    "dialogRequestId",
    "correlationToken",
    "payloadVersion",
];

/// Why a message could not be parsed or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageError {
    /// Not well-formed JSON: syntax error, truncated, or trailing bytes after the value.
    Malformed,
    /// Well-formed JSON, but not an object where one is required (the document, a payload).
    NotAnObject,
    /// Arrays and objects nested deeper than [`json::MAX_DEPTH`].
    TooDeep,
    /// No `directive` member.
    MissingDirective,
    /// No `header` in the directive (or exception).
    MissingHeader,
    /// No `namespace` in the header.
    MissingNamespace,
    /// No `name` in the header.
    MissingName,
    /// No `messageId` in the header.
    MissingMessageId,
    /// No `payload` in the directive (or exception).
    MissingPayload,
    /// An exception payload without `code`.
    MissingCode,
    /// A member has the wrong JSON type (e.g. a number for `messageId`, an array for `header`).
    WrongType,
    /// A header string contains JSON escapes (see the module documentation).
    EscapedString,
    /// A header names something other than `System.Exception` where an exception was expected.
    NotAnException,
    /// The output buffer is too small.
    Overflow,
}

impl From<Overflow> for MessageError {
    fn from(_: Overflow) -> Self {
        MessageError::Overflow
    }
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageError::Malformed => "malformed JSON",
            MessageError::NotAnObject => "JSON value is not an object",
            MessageError::TooDeep => "JSON nested too deeply",
            MessageError::MissingDirective => "missing directive",
            MessageError::MissingHeader => "missing header",
            MessageError::MissingNamespace => "missing header.namespace",
            MessageError::MissingName => "missing header.name",
            MessageError::MissingMessageId => "missing header.messageId",
            MessageError::MissingPayload => "missing payload",
            MessageError::MissingCode => "missing payload.code",
            MessageError::WrongType => "JSON member has the wrong type",
            MessageError::EscapedString => "escaped string in message header",
            MessageError::NotAnException => "not a System.Exception message",
            MessageError::Overflow => "output buffer too small",
        })
    }
}

/// The header of a directive; every string borrows from the directive's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectiveHeader<'a> {
    /// Interface, e.g. `SpeechSynthesizer`.
    pub namespace: &'a str,
    /// Directive name, e.g. `Speak`.
    pub name: &'a str,
    /// Unique id of this directive.
    pub message_id: &'a str,
    /// The dialog turn this directive answers, if any (may be empty).
    pub dialog_request_id: Option<&'a str>,
    /// Token to echo in the response event of v3 (`Alexa.*`) interfaces.
    pub correlation_token: Option<&'a str>,
    /// Payload version of v3 (`Alexa.*`) interfaces, e.g. `"3"`.
    pub payload_version: Option<&'a str>,
}

/// A parsed directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directive<'a> {
    /// The header, validated.
    pub header: DirectiveHeader<'a>,
    /// The exact bytes of the `payload` object inside the input (validated JSON).
    pub payload: &'a [u8],
    /// The exact bytes of the `endpoint` object of v3 (`Alexa.*`) directives, if present.
    pub endpoint: Option<&'a [u8]>,
}

/// The members of a header object (or exception payload) named in `keys`, as the raw contents
/// of their strings (escapes not decoded): like every other member, a key is matched with its
/// escapes decoded and the first occurrence counts; `null` counts as absent; a string that is
/// not UTF-8 is `Malformed` and any other value `WrongType`.
fn string_members<'a, const N: usize>(
    obj: &'a [u8],
    keys: [&str; N],
) -> Result<[Option<&'a str>; N], MessageError> {
    let mut out = [None; N];
    let mut seen = [false; N];
    for member in json::members(obj)? {
        let (key, value) = member?;
        let Some(k) = keys.iter().position(|want| json::key_eq(key, want)) else {
            continue;
        };
        if core::mem::replace(&mut seen[k], true) {
            continue;
        }
        out[k] = match json::string_contents(value) {
            Some(raw) => Some(core::str::from_utf8(raw).map_err(|_| MessageError::Malformed)?),
            None if value == b"null" => None,
            None => return Err(MessageError::WrongType),
        };
    }
    Ok(out)
}

fn unescaped(s: &str) -> Result<&str, MessageError> {
    if s.contains('\\') {
        Err(MessageError::EscapedString)
    } else {
        Ok(s)
    }
}

fn opt_unescaped(s: Option<&str>) -> Result<Option<&str>, MessageError> {
    s.map(unescaped).transpose()
}

/// Parses `{"directive":{"header":{...},"payload":{...}}}`.
///
/// Requires `header.namespace`, `header.name` and `header.messageId` (strings without escapes) and
/// a `payload` object; `dialogRequestId`, `correlationToken`, `payloadVersion` and `endpoint` are
/// optional; unknown members anywhere are ignored; for a repeated member the first one counts.
/// A missing piece gives its own `Missing*` error, so the caller can answer with
/// `System.ExceptionEncountered` / `UNEXPECTED_INFORMATION_RECEIVED`.
pub fn parse_directive(json: &[u8]) -> Result<Directive<'_>, MessageError> {
    validate_json_object(json)?;
    let directive = json::find_member(json, "directive")?.ok_or(MessageError::MissingDirective)?;
    if !json::is_object(directive) {
        return Err(MessageError::WrongType);
    }
    let (mut header, mut payload, mut endpoint) = (None, None, None);
    for member in json::members(directive)? {
        let (key, value) = member?;
        let slot = if json::key_eq(key, "header") {
            &mut header
        } else if json::key_eq(key, "payload") {
            &mut payload
        } else if json::key_eq(key, "endpoint") {
            &mut endpoint
        } else {
            continue;
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    let header = header.ok_or(MessageError::MissingHeader)?;
    let payload = payload.ok_or(MessageError::MissingPayload)?;
    if !json::is_object(header)
        || !json::is_object(payload)
        || matches!(endpoint, Some(e) if !json::is_object(e))
    {
        return Err(MessageError::WrongType);
    }
    let [namespace, name, message_id, dialog_request_id, correlation_token, payload_version] =
        string_members(header, HEADER_KEYS)?;
    let header = DirectiveHeader {
        namespace: unescaped(namespace.ok_or(MessageError::MissingNamespace)?)?,
        name: unescaped(name.ok_or(MessageError::MissingName)?)?,
        message_id: unescaped(message_id.ok_or(MessageError::MissingMessageId)?)?,
        dialog_request_id: opt_unescaped(dialog_request_id)?,
        correlation_token: opt_unescaped(correlation_token)?,
        payload_version: opt_unescaped(payload_version)?,
    };
    Ok(Directive {
        header,
        payload,
        endpoint,
    })
}

/// An exception the service answered with instead of a multipart body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceptionInfo<'a> {
    /// E.g. `INVALID_REQUEST_EXCEPTION`, `UNAUTHORIZED_REQUEST_EXCEPTION`; raw JSON string
    /// contents (escapes not decoded).
    pub code: &'a str,
    /// Human-readable text, raw JSON string contents (escapes not decoded); empty when absent.
    pub description: &'a str,
    /// The header's `messageId`, when present and a string.
    pub message_id: Option<&'a str>,
}

/// Parses `{"header":{"namespace":"System","name":"Exception",...},"payload":{"code":..,"description":..}}`.
///
/// The header may be absent; when present, its namespace and name must be `System` and
/// `Exception` ([`MessageError::NotAnException`] otherwise). `payload.code` is required.
pub fn parse_exception(json: &[u8]) -> Result<ExceptionInfo<'_>, MessageError> {
    validate_json_object(json)?;
    let mut message_id = None;
    if let Some(header) = json::find_member(json, "header")? {
        if !json::is_object(header) {
            return Err(MessageError::WrongType);
        }
        let [namespace, name, id, ..] = string_members(header, HEADER_KEYS)?;
        if namespace != Some("System") || name != Some("Exception") {
            return Err(MessageError::NotAnException);
        }
        message_id = id;
    }
    let payload = json::find_member(json, "payload")?.ok_or(MessageError::MissingPayload)?;
    if !json::is_object(payload) {
        return Err(MessageError::WrongType);
    }
    let [code, description] = string_members(payload, ["code", "description"])?;
    Ok(ExceptionInfo {
        code: code.ok_or(MessageError::MissingCode)?,
        description: description.unwrap_or(""),
        message_id,
    })
}

/// Validates that `json` is one well-formed JSON object (surrounding whitespace allowed), nested
/// at most [`json::MAX_DEPTH`] deep.
pub fn validate_json_object(json: &[u8]) -> Result<(), MessageError> {
    json::validate(json)?;
    if json::is_object(&json[json::skip_ws(json, 0)..]) {
        Ok(())
    } else {
        Err(MessageError::NotAnObject)
    }
}

/// Writes `s` as a JSON string literal, quotes included: `"` and `\` are escaped, control
/// characters become `\u00XX`, and invalid UTF-8 becomes `\ufffd` so the output is always valid
/// JSON. Returns the number of bytes written.
pub fn write_json_string(out: &mut [u8], s: &[u8]) -> Result<usize, Overflow> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pos = 0;
    put_all(out, &mut pos, &[b"\""])?;
    for chunk in s.utf8_chunks() {
        let valid = chunk.valid().as_bytes();
        let mut from = 0;
        for (i, &c) in valid.iter().enumerate() {
            let esc: [u8; 6];
            let escaped: &[u8] = match c {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                0..=0x1f => {
                    esc = [
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[usize::from(c >> 4)],
                        HEX[usize::from(c & 15)],
                    ];
                    &esc
                }
                _ => continue,
            };
            put_all(out, &mut pos, &[&valid[from..i], escaped])?;
            from = i + 1;
        }
        put_all(out, &mut pos, &[&valid[from..]])?;
        if !chunk.invalid().is_empty() {
            put_all(out, &mut pos, &[b"\\ufffd"])?;
        }
    }
    put_all(out, &mut pos, &[b"\""])?;
    Ok(pos)
}

/// The header of an event to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHeader<'a> {
    /// Interface, e.g. `System`.
    pub namespace: &'a str,
    /// Event name, e.g. `SynchronizeState`.
    pub name: &'a str,
    /// Unique id of this event (see [`IdGenerator`]).
    pub message_id: &'a str,
    /// The dialog turn (Recognize, and events answering its directives).
    pub dialog_request_id: Option<&'a str>,
}

/// Writes the header members (without braces).
fn write_header_members(
    out: &mut [u8],
    pos: &mut usize,
    h: &EventHeader<'_>,
) -> Result<(), Overflow> {
    fn string(out: &mut [u8], pos: &mut usize, key: &[u8], value: &str) -> Result<(), Overflow> {
        put_all(out, pos, &[key])?;
        *pos += write_json_string(&mut out[*pos..], value.as_bytes())?;
        Ok(())
    }
    string(out, pos, b"\"namespace\":", h.namespace)?;
    string(out, pos, b",\"name\":", h.name)?;
    string(out, pos, b",\"messageId\":", h.message_id)?;
    if let Some(d) = h.dialog_request_id {
        string(out, pos, b",\"dialogRequestId\":", d)?;
    }
    Ok(())
}

/// Writes `{"context":[<context>],"event":{"header":{...},"payload":<payload>}}` into `out` and
/// returns its length.
///
/// `context` is `Some(raw JSON array contents, possibly empty)` to include a context, `None` to
/// omit it; `payload` is raw JSON and must be an object. Both are validated
/// ([`MessageError::Malformed`], [`MessageError::NotAnObject`]); header strings are escaped.
pub fn write_event(
    out: &mut [u8],
    header: &EventHeader<'_>,
    context: Option<&[u8]>,
    payload: &[u8],
) -> Result<usize, MessageError> {
    validate_json_object(payload)?;
    let mut pos = 0;
    put_all(out, &mut pos, &[b"{"])?;
    if let Some(items) = context {
        put_all(out, &mut pos, &[b"\"context\":"])?;
        let open = pos;
        put_all(out, &mut pos, &[b"[", items, b"]"])?;
        // Validating the bracketed copy checks the items and that they close nothing early.
        json::validate(&out[open..pos])?;
        put_all(out, &mut pos, &[b","])?;
    }
    put_all(out, &mut pos, &[b"\"event\":{\"header\":{"])?;
    write_header_members(out, &mut pos, header)?;
    put_all(out, &mut pos, &[b"},\"payload\":", payload, b"}}"])?;
    Ok(pos)
}

/// The parts of a v3 (`Alexa.*` interface) event beyond [`EventHeader`], e.g. the
/// `Alexa.Response` answering an `Alexa.Speaker` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V3Event<'a> {
    /// The directive's `correlationToken`, echoed; `None` for proactive reports.
    pub correlation_token: Option<&'a str>,
    /// `payloadVersion`, e.g. `"3"`.
    pub payload_version: &'a str,
    /// Raw JSON object for `event.endpoint` (e.g. `{"endpointId":"..."}`), or `None`.
    pub endpoint: Option<&'a [u8]>,
    /// Raw JSON object for the top-level `context` (e.g. `{"properties":[...]}`), or `None`.
    pub context: Option<&'a [u8]>,
}

/// Writes a v3 event, `{"event":{"header":{namespace,name,messageId[,dialogRequestId]
/// [,correlationToken],payloadVersion}[,"endpoint":{...}],"payload":{...}}[,"context":{...}]}`,
/// and returns its length. `payload`, `endpoint` and `context` must be JSON objects (validated).
pub fn write_v3_event(
    out: &mut [u8],
    header: &EventHeader<'_>,
    v3: &V3Event<'_>,
    payload: &[u8],
) -> Result<usize, MessageError> {
    validate_json_object(payload)?;
    if let Some(e) = v3.endpoint {
        validate_json_object(e)?;
    }
    if let Some(c) = v3.context {
        validate_json_object(c)?;
    }
    let mut pos = 0;
    put_all(out, &mut pos, &[b"{\"event\":{\"header\":{"])?;
    write_header_members(out, &mut pos, header)?;
    if let Some(t) = v3.correlation_token {
        put_all(out, &mut pos, &[b",\"correlationToken\":"])?;
        pos += write_json_string(&mut out[pos..], t.as_bytes())?;
    }
    put_all(out, &mut pos, &[b",\"payloadVersion\":"])?;
    pos += write_json_string(&mut out[pos..], v3.payload_version.as_bytes())?;
    put_all(out, &mut pos, &[b"}"])?;
    if let Some(e) = v3.endpoint {
        put_all(out, &mut pos, &[b",\"endpoint\":", e])?;
    }
    put_all(out, &mut pos, &[b",\"payload\":", payload, b"}"])?;
    if let Some(c) = v3.context {
        put_all(out, &mut pos, &[b",\"context\":", c])?;
    }
    put_all(out, &mut pos, &[b"}"])?;
    Ok(pos)
}

/// The `error.type` of a `System.ExceptionEncountered` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionKind {
    /// The directive could not be parsed or lacked required members.
    UnexpectedInformationReceived,
    /// The directive is not supported by this device.
    UnsupportedOperation,
    /// The device failed while handling the directive.
    InternalError,
}

impl ExceptionKind {
    /// The wire name, e.g. `UNEXPECTED_INFORMATION_RECEIVED`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::UnexpectedInformationReceived => "UNEXPECTED_INFORMATION_RECEIVED",
            ExceptionKind::UnsupportedOperation => "UNSUPPORTED_OPERATION",
            ExceptionKind::InternalError => "INTERNAL_ERROR",
        }
    }
}

/// Writes the `System.ExceptionEncountered` payload,
/// `{"unparsedDirective":"<raw directive as a JSON string>","error":{"type":"<kind>","message":"<message>"}}`,
/// and returns its length. `unparsed` may be any bytes (see [`write_json_string`]).
pub fn write_exception_encountered_payload(
    out: &mut [u8],
    unparsed: &[u8],
    kind: ExceptionKind,
    message: &str,
) -> Result<usize, MessageError> {
    let mut pos = 0;
    put_all(out, &mut pos, &[b"{\"unparsedDirective\":"])?;
    pos += write_json_string(&mut out[pos..], unparsed)?;
    put_all(
        out,
        &mut pos,
        &[
            b",\"error\":{\"type\":\"",
            kind.as_str().as_bytes(),
            b"\",\"message\":",
        ],
    )?;
    pos += write_json_string(&mut out[pos..], message.as_bytes())?;
    put_all(out, &mut pos, &[b"}}"])?;
    Ok(pos)
}

/// Message-id generator without allocation: UUID-v4-formatted ids from a 128-bit seed.
///
/// Each id mixes a call counter into the seed with SplitMix64's bijective finaliser, and 64 of
/// the id's bits come from a bijection of the counter alone, so one generator never repeats an id
/// (for 2^64 calls); seeds from a good random source keep generators apart. The ids are
/// unpredictable only as far as the seed is secret; they serve as unique ids, not as secrets.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    seed_hi: u64,
    seed_lo: u64,
    counter: u64,
}

/// SplitMix64's output function: a bijection on `u64` with good avalanche.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl IdGenerator {
    /// Creates a generator from 128 random bits supplied by the caller (the host's RNG).
    pub fn new(seed: [u8; 16]) -> Self {
        let mut hi = [0u8; 8];
        let mut lo = [0u8; 8];
        hi.copy_from_slice(&seed[..8]);
        lo.copy_from_slice(&seed[8..]);
        IdGenerator {
            seed_hi: u64::from_le_bytes(hi),
            seed_lo: u64::from_le_bytes(lo),
            counter: 0,
        }
    }

    /// Returns the next id, e.g. `"1b4e28ba-2fa1-41d2-883f-0016d3cca427"` (lowercase, version 4,
    /// RFC 4122 variant).
    pub fn next_id(&mut self) -> heapless::String<36> {
        let n = self.counter;
        self.counter = self.counter.wrapping_add(1);
        // Odd multipliers keep both maps injective in the counter.
        let unique = mix64(
            self.seed_lo
                .wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        );
        let spread = mix64(
            self.seed_hi
                ^ mix64(
                    n.wrapping_mul(0xd1b5_4a32_d192_ed03)
                        .wrapping_add(self.seed_lo),
                ),
        );
        let u = unique.to_le_bytes();
        let s = spread.to_le_bytes();
        // `unique` fills the bytes the version and variant leave alone (7 and 9..16), so its 64
        // bits survive intact; `spread` fills the rest.
        let mut b = [0u8; 16];
        b[..7].copy_from_slice(&s[..7]);
        b[7] = u[0];
        b[8] = s[7];
        b[9..].copy_from_slice(&u[1..]);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let mut id = heapless::String::new();
        for (i, byte) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                let _ = id.push('-');
            }
            for nibble in [byte >> 4, byte & 15] {
                // 36 characters exactly fill the string, so pushes cannot fail.
                let _ = id.push(char::from(b"0123456789abcdef"[usize::from(nibble)]));
            }
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    const SPEAK: &str = r#"{
        "directive": {
            "header": {
                "namespace": "SpeechSynthesizer",
                "name": "Speak",
                "messageId": "2d9ae5b0-5e35-4a6c-9e3b-1f2a3b4c5d6e",
                "dialogRequestId": "dr-1"
            },
            "payload": {
                "url": "cid:DeviceTTSRendererV4_3:Q.x_y#1",
                "format": "AUDIO_MPEG",
                "token": "amzn1.as-ct.v1.#ACRI#\"quoted\"}"
            }
        }
    }"#;

    fn span_of(outer: &str, inner: &[u8]) -> core::ops::Range<usize> {
        let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
        start..start + inner.len()
    }

    #[test]
    fn speak() {
        let d = parse_directive(SPEAK.as_bytes()).unwrap();
        assert_eq!(d.header.namespace, "SpeechSynthesizer");
        assert_eq!(d.header.name, "Speak");
        assert_eq!(d.header.message_id, "2d9ae5b0-5e35-4a6c-9e3b-1f2a3b4c5d6e");
        assert_eq!(d.header.dialog_request_id, Some("dr-1"));
        assert_eq!(d.header.correlation_token, None);
        assert_eq!(d.endpoint, None);
        // The payload is the exact span of the input.
        let start = SPEAK.find("{\n                \"url\"").unwrap();
        let end = SPEAK.rfind("}\n        }").unwrap() + 1;
        assert_eq!(span_of(SPEAK, d.payload), start..end);
        assert_eq!(
            json::find_string_member(d.payload, "url"),
            Some(&b"cid:DeviceTTSRendererV4_3:Q.x_y#1"[..])
        );
    }

    #[test]
    fn stop_capture_and_expect_speech() {
        let stop = br#"{"directive":{"header":{"namespace":"SpeechRecognizer","name":"StopCapture","messageId":"m1","dialogRequestId":"d1"},"payload":{}}}"#;
        let d = parse_directive(stop).unwrap();
        assert_eq!(
            (d.header.namespace, d.header.name),
            ("SpeechRecognizer", "StopCapture")
        );
        assert_eq!(d.payload, b"{}");

        let expect = br#"{"directive":{"payload":{"timeoutInMilliseconds":8000,"initiator":{"type":"WAKEWORD","payload":{"token":"t\\\"k"}}},"header":{"messageId":"m2","name":"ExpectSpeech","namespace":"SpeechRecognizer","dialogRequestId":"d2"}}}"#;
        let d = parse_directive(expect).unwrap();
        assert_eq!(d.header.name, "ExpectSpeech");
        assert_eq!(
            json::find_member(d.payload, "timeoutInMilliseconds"),
            Ok(Some(&b"8000"[..]))
        );
        assert_eq!(
            json::find_member(d.payload, "initiator"),
            Ok(Some(
                &br#"{"type":"WAKEWORD","payload":{"token":"t\\\"k"}}"#[..]
            ))
        );

        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct ExpectSpeech {
            timeout_in_milliseconds: u32,
        }
        let (p, _): (ExpectSpeech, usize) = serde_json_core::from_slice(d.payload).unwrap();
        assert_eq!(p.timeout_in_milliseconds, 8000);
    }

    #[test]
    fn set_volume_v3_with_endpoint() {
        let set = br#"{"directive":{"header":{"namespace":"Alexa.Speaker","name":"SetVolume","messageId":"m","correlationToken":"ct==","payloadVersion":"3"},"endpoint":{"scope":{"type":"BearerToken","token":"x"},"endpointId":"e1","cookie":{}},"payload":{"volume":50}}}"#;
        let d = parse_directive(set).unwrap();
        assert_eq!(d.header.correlation_token, Some("ct=="));
        assert_eq!(d.header.payload_version, Some("3"));
        assert_eq!(d.header.dialog_request_id, None);
        assert_eq!(
            json::find_string_member(d.endpoint.unwrap(), "endpointId"),
            Some(&b"e1"[..])
        );
        assert_eq!(d.payload, br#"{"volume":50}"#);
    }

    #[test]
    fn unknown_members_ignored_everywhere() {
        let doc = br#"{"x":[1,{"directive":2}],"directive":{"a":{"header":1},"header":{"q":[{"r":null}],"namespace":"N","name":"A","messageId":"M","extra":true},"payload":{"k":[1,2]},"z":"payload"},"y":{}}"#;
        let d = parse_directive(doc).unwrap();
        assert_eq!(
            (d.header.namespace, d.header.name, d.header.message_id),
            ("N", "A", "M")
        );
        assert_eq!(d.payload, br#"{"k":[1,2]}"#);
    }

    #[test]
    fn missing_members() {
        let cases: [(&[u8], MessageError); 8] = [
            (br#"{}"#, MessageError::MissingDirective),
            (br#"{"event":{}}"#, MessageError::MissingDirective),
            (br#"{"directive":{"payload":{}}}"#, MessageError::MissingHeader),
            (br#"{"directive":{"header":{"name":"A","messageId":"M"},"payload":{}}}"#, MessageError::MissingNamespace),
            (br#"{"directive":{"header":{"namespace":"N","messageId":"M"},"payload":{}}}"#, MessageError::MissingName),
            (br#"{"directive":{"header":{"namespace":"N","name":"A"},"payload":{}}}"#, MessageError::MissingMessageId),
            (br#"{"directive":{"header":{"namespace":"N","name":"A","messageId":"M"}}}"#, MessageError::MissingPayload),
            (br#"{"directive":{"header":{"namespace":"N","name":"A","messageId":null},"payload":{}}}"#, MessageError::MissingMessageId),
        ];
        for (doc, err) in cases {
            assert_eq!(
                parse_directive(doc),
                Err(err),
                "{}",
                core::str::from_utf8(doc).unwrap()
            );
        }
    }

    #[test]
    fn wrong_types() {
        let cases: [&[u8]; 7] = [
            br#"{"directive":[]}"#,
            br#"{"directive":{"header":[],"payload":{}}}"#,
            br#"{"directive":{"header":{"namespace":"N","name":"A","messageId":"M"},"payload":"x"}}"#,
            br#"{"directive":{"header":{"namespace":5,"name":"A","messageId":"M"},"payload":{}}}"#,
            br#"{"directive":{"header":{"namespace":"N","name":{},"messageId":"M"},"payload":{}}}"#,
            br#"{"directive":{"header":{"namespace":"N","name":"A","messageId":["M"]},"payload":{}}}"#,
            br#"{"directive":{"header":{"namespace":"N","name":"A","messageId":"M"},"endpoint":1,"payload":{}}}"#,
        ];
        for doc in cases {
            assert_eq!(
                parse_directive(doc),
                Err(MessageError::WrongType),
                "{}",
                core::str::from_utf8(doc).unwrap()
            );
        }
        assert_eq!(parse_directive(b"[1]"), Err(MessageError::NotAnObject));
        assert_eq!(
            parse_directive(b"\"directive\""),
            Err(MessageError::NotAnObject)
        );
    }

    #[test]
    fn every_truncation_is_malformed() {
        let doc = SPEAK.trim().as_bytes();
        for n in 0..doc.len() {
            assert_eq!(
                parse_directive(&doc[..n]),
                Err(MessageError::Malformed),
                "prefix {n}"
            );
        }
        assert!(parse_directive(doc).is_ok());
        assert_eq!(
            parse_directive(b"{\"directive\":{}} trailing"),
            Err(MessageError::Malformed)
        );
        assert_eq!(parse_directive(b"\xff"), Err(MessageError::Malformed));
    }

    /// Found by fuzzing against serde_json (fuzz/, target `json`): the header was read by
    /// serde-json-core, so a repeated header member was `Malformed` (not "the first one counts"),
    /// an escaped key was not recognised (while `directive`/`payload` keys are decoded), and an
    /// unknown member nested 8 deep was `TooDeep`.
    #[test]
    fn header_members_like_every_other_member() {
        let doc = br#"{"directive":{"header":{"namespace":"A","name":"B","messageId":"C","namespace":"X","name":7},"payload":{}}}"#;
        let h = parse_directive(doc).unwrap().header;
        assert_eq!((h.namespace, h.name, h.message_id), ("A", "B", "C"));
        let doc = br#"{"directive":{"header":{"namesp\u0061ce":"A","n\u0061me":"B","messageId":"C","dialogRequestI\u0064":"D"},"payload":{}}}"#;
        let h = parse_directive(doc).unwrap().header;
        assert_eq!(
            (h.namespace, h.name, h.dialog_request_id),
            ("A", "B", Some("D"))
        );
        let doc = br#"{"directive":{"header":{"x":[[[[[[[[[[[[1]]]]]]]]]]]],"namespace":"A","name":"B","messageId":"C"},"payload":{}}}"#;
        assert_eq!(parse_directive(doc).unwrap().header.namespace, "A");
        let doc = br#"{"payload":{"code":"X","code":"Y","description":"d","description":1}}"#;
        let e = parse_exception(doc).unwrap();
        assert_eq!((e.code, e.description), ("X", "d"));
        let doc = br#"{"header":{"n\u0061mespace":"System","name":"Exception"},"payload":{"c\u006fde":"X"}}"#;
        assert_eq!(parse_exception(doc).unwrap().code, "X");
        // What stays: a wrong type for a known member, null as absent, escapes in values.
        let doc = br#"{"directive":{"header":{"namespace":"A","name":["B"],"messageId":"C"},"payload":{}}}"#;
        assert_eq!(parse_directive(doc), Err(MessageError::WrongType));
        let doc = br#"{"directive":{"header":{"namespace":null,"name":"B","messageId":"C"},"payload":{}}}"#;
        assert_eq!(parse_directive(doc), Err(MessageError::MissingNamespace));
        let doc = br#"{"directive":{"header":{"namespace":"A\n","name":"B","messageId":"C"},"payload":{}}}"#;
        assert_eq!(parse_directive(doc), Err(MessageError::EscapedString));
    }

    #[test]
    fn deeply_nested_payload() {
        let mut doc = String::from(
            r#"{"directive":{"header":{"namespace":"N","name":"A","messageId":"M"},"payload":{"a":"#,
        );
        let ok = doc.clone() + &"[".repeat(50) + &"]".repeat(50) + "}}}";
        assert!(parse_directive(ok.as_bytes()).is_ok());
        doc += &"[".repeat(100_000);
        assert_eq!(parse_directive(doc.as_bytes()), Err(MessageError::TooDeep));
        // Inside the header the same limit holds as anywhere (headers are read without
        // recursion): 20 deep is fine, beyond MAX_DEPTH in all is not.
        let deep_header = |n: usize| {
            String::from(
                r#"{"directive":{"header":{"namespace":"N","name":"A","messageId":"M","x":"#,
            ) + &"[".repeat(n)
                + &"]".repeat(n)
                + r#"},"payload":{}}}"#
        };
        assert!(parse_directive(deep_header(20).as_bytes()).is_ok());
        assert_eq!(
            parse_directive(deep_header(json::MAX_DEPTH).as_bytes()),
            Err(MessageError::TooDeep)
        );
    }

    #[test]
    fn escapes() {
        let doc = br#"{"directive":{"header":{"namespace":"N","name":"A","messageId":"M\"1"},"payload":{"s":"\u00e9\"}"}}}"#;
        assert_eq!(parse_directive(doc), Err(MessageError::EscapedString));
        let doc = br#"{"directive":{"header":{"namespace":"N","name":"A","messageId":"M","dialogRequestId":"d\/1"},"payload":{}}}"#;
        assert_eq!(parse_directive(doc), Err(MessageError::EscapedString));
        // Escapes in the payload and in unknown header members are fine; the payload span is exact.
        let doc = br#"{"directive":{"header":{"namespace":"N","name":"A","messageId":"M","x":"\"\\"},"payload":{"s":"\u00e9\"}\\"}}}"#;
        let d = parse_directive(doc).unwrap();
        assert_eq!(d.payload, br#"{"s":"\u00e9\"}\\"}"#);
        // Escaped member names are decoded by the scanner.
        let doc = br#"{"direc\u0074ive":{"header":{"namespace":"N","name":"A","messageId":"M"},"p\u0061yload":{}}}"#;
        assert_eq!(parse_directive(doc).unwrap().payload, b"{}");
        // Bad escapes are malformed JSON.
        let doc = br#"{"directive":{"header":{"namespace":"N\q","name":"A","messageId":"M"},"payload":{}}}"#;
        assert_eq!(parse_directive(doc), Err(MessageError::Malformed));
    }

    #[test]
    fn exceptions() {
        let e400 = br#"{"header":{"namespace":"System","name":"Exception","messageId":"b3c1"},"payload":{"code":"INVALID_REQUEST_EXCEPTION","description":"The request was \"invalid\"."}}"#;
        let e = parse_exception(e400).unwrap();
        assert_eq!(e.code, "INVALID_REQUEST_EXCEPTION");
        assert_eq!(e.description, r#"The request was \"invalid\"."#);
        assert_eq!(e.message_id, Some("b3c1"));
        let e403 = br#"{"payload":{"description":"Unable to authenticate the request. Please provide a valid authorization token.","code":"UNAUTHORIZED_REQUEST_EXCEPTION"},"header":{"namespace":"System","name":"Exception","messageId":"x"}}"#;
        assert_eq!(
            parse_exception(e403).unwrap().code,
            "UNAUTHORIZED_REQUEST_EXCEPTION"
        );
        let bare = br#"{"payload":{"code":"THROTTLING_EXCEPTION"}}"#;
        assert_eq!(
            parse_exception(bare),
            Ok(ExceptionInfo {
                code: "THROTTLING_EXCEPTION",
                description: "",
                message_id: None
            })
        );
        assert_eq!(
            parse_exception(br#"{"payload":{"description":"d"}}"#),
            Err(MessageError::MissingCode)
        );
        assert_eq!(
            parse_exception(br#"{"header":{"namespace":"System","name":"Exception"}}"#),
            Err(MessageError::MissingPayload)
        );
        assert_eq!(
            parse_exception(
                br#"{"header":{"namespace":"System","name":"Other"},"payload":{"code":"C"}}"#
            ),
            Err(MessageError::NotAnException)
        );
        assert_eq!(
            parse_exception(br#"{"payload":{"code":1}}"#),
            Err(MessageError::WrongType)
        );
        assert_eq!(
            parse_exception(br#"{"payload":{"code":"C"}"#),
            Err(MessageError::Malformed)
        );
    }

    #[test]
    fn synchronize_state_event() {
        let mut out = [0u8; 512];
        let header = EventHeader {
            namespace: "System",
            name: "SynchronizeState",
            message_id: "m-1",
            dialog_request_id: None,
        };
        let context = br#"{"header":{"namespace":"Speaker","name":"VolumeState"},"payload":{"volume":50,"muted":false}},{"header":{"namespace":"SpeechSynthesizer","name":"SpeechState"},"payload":{"token":"","offsetInMilliseconds":0,"playerActivity":"FINISHED"}}"#;
        let n = write_event(&mut out, &header, Some(context), b"{}").unwrap();
        let expected = String::from(r#"{"context":["#)
            + core::str::from_utf8(context).unwrap()
            + r#"],"event":{"header":{"namespace":"System","name":"SynchronizeState","messageId":"m-1"},"payload":{}}}"#;
        assert_eq!(core::str::from_utf8(&out[..n]).unwrap(), expected);
        assert_eq!(validate_json_object(&out[..n]), Ok(()));

        let header = EventHeader {
            dialog_request_id: Some("d\"1"),
            name: "Recognize",
            namespace: "SpeechRecognizer",
            message_id: "m-2",
        };
        let n = write_event(&mut out, &header, Some(b""), br#"{"profile":"CLOSE_TALK","format":"AUDIO_L16_RATE_16000_CHANNELS_1","initiator":{"type":"TAP"}}"#).unwrap();
        assert_eq!(
            core::str::from_utf8(&out[..n]).unwrap(),
            r#"{"context":[],"event":{"header":{"namespace":"SpeechRecognizer","name":"Recognize","messageId":"m-2","dialogRequestId":"d\"1"},"payload":{"profile":"CLOSE_TALK","format":"AUDIO_L16_RATE_16000_CHANNELS_1","initiator":{"type":"TAP"}}}}"#
        );
        let n = write_event(&mut out, &header, None, b"{}").unwrap();
        assert_eq!(
            core::str::from_utf8(&out[..n]).unwrap(),
            r#"{"event":{"header":{"namespace":"SpeechRecognizer","name":"Recognize","messageId":"m-2","dialogRequestId":"d\"1"},"payload":{}}}"#
        );
    }

    #[test]
    fn event_errors() {
        let mut out = [0u8; 256];
        let h = EventHeader {
            namespace: "N",
            name: "A",
            message_id: "M",
            dialog_request_id: None,
        };
        assert_eq!(
            write_event(&mut out, &h, None, b"[]"),
            Err(MessageError::NotAnObject)
        );
        assert_eq!(
            write_event(&mut out, &h, None, b"{"),
            Err(MessageError::Malformed)
        );
        assert_eq!(
            write_event(&mut out, &h, Some(b"{}]"), b"{}"),
            Err(MessageError::Malformed)
        );
        assert_eq!(
            write_event(&mut out, &h, Some(b"1,"), b"{}"),
            Err(MessageError::Malformed)
        );
        assert_eq!(
            write_event(&mut out, &h, Some(b"{},{}"), b"{}").map(|_| ()),
            Ok(())
        );
        let full = write_event(&mut out, &h, Some(b"{}"), b"{}").unwrap();
        for len in 0..full {
            assert_eq!(
                write_event(&mut out[..len], &h, Some(b"{}"), b"{}"),
                Err(MessageError::Overflow),
                "len {len}"
            );
        }
    }

    #[test]
    fn v3_event() {
        let mut out = [0u8; 512];
        let h = EventHeader {
            namespace: "Alexa",
            name: "Response",
            message_id: "m",
            dialog_request_id: None,
        };
        let v3 = V3Event {
            correlation_token: Some("ct=="),
            payload_version: "3",
            endpoint: Some(br#"{"endpointId":"e1"}"#),
            context: Some(
                br#"{"properties":[{"namespace":"Alexa.Speaker","name":"volume","value":50}]}"#,
            ),
        };
        let n = write_v3_event(&mut out, &h, &v3, b"{}").unwrap();
        assert_eq!(
            core::str::from_utf8(&out[..n]).unwrap(),
            r#"{"event":{"header":{"namespace":"Alexa","name":"Response","messageId":"m","correlationToken":"ct==","payloadVersion":"3"},"endpoint":{"endpointId":"e1"},"payload":{}},"context":{"properties":[{"namespace":"Alexa.Speaker","name":"volume","value":50}]}}"#
        );
        let bare = V3Event {
            correlation_token: None,
            payload_version: "3",
            endpoint: None,
            context: None,
        };
        let n = write_v3_event(&mut out, &h, &bare, b"{}").unwrap();
        assert_eq!(
            core::str::from_utf8(&out[..n]).unwrap(),
            r#"{"event":{"header":{"namespace":"Alexa","name":"Response","messageId":"m","payloadVersion":"3"},"payload":{}}}"#
        );
        let bad = V3Event {
            endpoint: Some(b"[]"),
            ..bare
        };
        assert_eq!(
            write_v3_event(&mut out, &h, &bad, b"{}"),
            Err(MessageError::NotAnObject)
        );
    }

    #[test]
    fn json_strings() {
        let mut out = [0u8; 64];
        let n = write_json_string(&mut out, b"a\"b\\c\n\x01\x1f\x7f/\xc3\xa9").unwrap();
        assert_eq!(
            &out[..n],
            b"\"a\\\"b\\\\c\\u000a\\u0001\\u001f\x7f/\xc3\xa9\""
        );
        assert_eq!(json::validate(&out[..n]), Ok(()));
        let n = write_json_string(&mut out, b"ok\xff\xc3").unwrap();
        assert_eq!(&out[..n], b"\"ok\\ufffd\\ufffd\"");
        let n = write_json_string(&mut out, b"").unwrap();
        assert_eq!(&out[..n], b"\"\"");
        assert_eq!(write_json_string(&mut out[..3], b"ab"), Err(Overflow));
        assert_eq!(write_json_string(&mut out[..4], b"ab"), Ok(4));
        assert_eq!(write_json_string(&mut out[..4], b"\n"), Err(Overflow));
    }

    #[test]
    fn exception_encountered_round_trip() {
        let mut out = [0u8; 512];
        let raw = b"{\"directive\":{\"header\":{\"namespace\":\"X\"}\n\t\"bad\\\xff";
        let n = write_exception_encountered_payload(
            &mut out,
            raw,
            ExceptionKind::UnexpectedInformationReceived,
            "missing \"name\"",
        )
        .unwrap();
        let payload = &out[..n];
        assert_eq!(validate_json_object(payload), Ok(()));
        assert!(payload.starts_with(b"{\"unparsedDirective\":\"{\\\"directive\\\""));
        assert!(payload.ends_with(b",\"error\":{\"type\":\"UNEXPECTED_INFORMATION_RECEIVED\",\"message\":\"missing \\\"name\\\"\"}}"));
        let unparsed = json::find_string_member(payload, "unparsedDirective").unwrap();
        let mut buf = [0u8; 128];
        let back = json::unescape(unparsed, &mut buf).unwrap();
        assert_eq!(
            back.as_bytes(),
            b"{\"directive\":{\"header\":{\"namespace\":\"X\"}\n\t\"bad\\\xef\xbf\xbd"
        );
        for (kind, name) in [
            (ExceptionKind::UnsupportedOperation, "UNSUPPORTED_OPERATION"),
            (ExceptionKind::InternalError, "INTERNAL_ERROR"),
        ] {
            let n = write_exception_encountered_payload(&mut out, b"{}", kind, "m").unwrap();
            let expected = std::format!(
                r#"{{"unparsedDirective":"{{}}","error":{{"type":"{name}","message":"m"}}}}"#
            );
            assert_eq!(core::str::from_utf8(&out[..n]).unwrap(), expected);
        }
        assert_eq!(
            write_exception_encountered_payload(
                &mut out[..30],
                raw,
                ExceptionKind::InternalError,
                ""
            ),
            Err(MessageError::Overflow)
        );
    }

    #[test]
    fn ids_are_uuid_v4_and_unique() {
        let mut g = IdGenerator::new(*b"0123456789abcdef");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100_000 {
            let id = g.next_id();
            let b = id.as_bytes();
            assert_eq!(b.len(), 36);
            for (i, &c) in b.iter().enumerate() {
                if matches!(i, 8 | 13 | 18 | 23) {
                    assert_eq!(c, b'-');
                } else {
                    assert!(c.is_ascii_digit() || (b'a'..=b'f').contains(&c), "{id}");
                }
            }
            assert_eq!(b[14], b'4');
            assert!(b"89ab".contains(&b[19]));
            assert!(seen.insert(String::from(id.as_str())), "repeated {id}");
        }
        let mut other = IdGenerator::new(*b"0123456789abcdeF");
        let mut first = IdGenerator::new(*b"0123456789abcdef");
        assert_ne!(other.next_id(), first.next_id());
        // Zero seed still gives distinct, well-spread ids.
        let mut z = IdGenerator::new([0; 16]);
        let ids: Vec<_> = (0..3).map(|_| z.next_id()).collect();
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
    }
}
