//! Login with Amazon (LWA): the bodies of the OAuth 2 requests a device sends to
//! `https://api.amazon.com/auth/o2/...` and the parsing of the answers, as pure functions over
//! byte slices (no I/O, no allocation, no panics on any input).
//!
//! - Requests are `application/x-www-form-urlencoded`, written with [`FormWriter`]: token refresh
//!   ([`write_refresh_request`]), code-based linking ([`write_code_pair_request`], then polling
//!   with [`write_device_token_request`]) and the authorization code grant with PKCE
//!   ([`write_authorization_code_request`]).
//! - Answers are JSON: [`parse_token_response`], [`parse_code_pair_response`] and, for a 4xx
//!   answer, [`parse_error_response`], whose [`OAuthErrorKind`] says whether to keep polling,
//!   slow down, start over or give up.
//! - PKCE (RFC 7636, method `S256`): [`write_code_verifier`] and [`code_challenge_s256`].
//!
//! Answers are checked as JSON first (UTF-8, nesting bounded, by [`json`]'s scanner, which does
//! not recurse), then deserialized by serde-json-core into structs with borrowed fields, whose
//! values are checked last. Parsed strings are borrowed from the answer, so they must not
//! contain JSON escapes: LWA's tokens and codes never do, and a response that escapes one is
//! refused as [`LwaError::Malformed`] rather than decoded into a buffer.

use core::fmt;

use crate::json;
use crate::jsonw::JsonWriter;
use crate::sha256::sha256;
use crate::{put_all, Overflow};
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json_core::str::{EscapedStr, EscapedStringFragment};

// ---------------------------------------------------------------------------------------------
// application/x-www-form-urlencoded

/// The bytes a form field is percent-encoded with: all but the RFC 3986 unreserved characters
/// `A-Z a-z 0-9 - . _ ~` (non-ASCII bytes are always encoded by [`percent_encode`]).
///
/// Stricter than the WHATWG `application/x-www-form-urlencoded` serializer, which leaves `*`
/// alone and writes a space as `+`; every form parser decodes both spellings alike, and a body
/// without `+` and `*` means the same to a parser that treats the body as a plain query string.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `b` percent-encoded per [`FORM`]: `%XX` or the byte itself.
fn percent_encoded(b: &u8) -> &str {
    // One byte in, so exactly one piece out; "" is unreachable.
    percent_encode(core::slice::from_ref(b), FORM)
        .next()
        .unwrap_or("")
}

/// Writes an `application/x-www-form-urlencoded` body into `&mut [u8]`:
/// `name=value&name=value`, names and values percent-encoded (by the `percent-encoding` crate)
/// except for the RFC 3986 unreserved characters `A-Z a-z 0-9 - . _ ~` (a space becomes `%20`,
/// hex digits are upper case). The WHATWG parser (`form_urlencoded::parse`, what servers run)
/// decodes every body back to its values.
///
/// Overflow is sticky, as with [`JsonWriter`]: once a field does not fit, later calls do
/// nothing and [`FormWriter::finish`] returns [`Overflow`], so a body is written with
/// unconditional calls and checked once. After an overflow the buffer's contents are
/// unspecified.
#[derive(Debug)]
pub struct FormWriter<'a> {
    out: &'a mut [u8],
    pos: usize,
    first: bool,
    failed: bool,
}

impl<'a> FormWriter<'a> {
    /// A writer that starts at the beginning of `out`.
    pub fn new(out: &'a mut [u8]) -> Self {
        FormWriter {
            out,
            pos: 0,
            first: true,
            failed: false,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// True when nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Appends the field `name=value` (after a `&` unless it is the first).
    pub fn field(&mut self, name: &str, value: &[u8]) -> &mut Self {
        if self.begin_field(name) {
            self.encode(value);
        }
        self
    }

    /// Appends a field whose value is the JSON document `write` produces (e.g. LWA's
    /// `scope_data`), percent-encoded like any other value. The writer fails when `write`
    /// leaves the document unfinished or invalid (see [`JsonWriter::finish`]), or writes
    /// anything but exactly one JSON value.
    ///
    /// No scratch buffer is needed: the JSON is written into the free end of the buffer and
    /// encoded forwards from there, which never overwrites a byte not yet read unless the
    /// encoded field would not fit anyway.
    pub fn json_field(&mut self, name: &str, write: impl FnOnce(&mut JsonWriter<'_>)) -> &mut Self {
        if !self.begin_field(name) {
            return self;
        }
        let start = self.pos;
        let len = self.out.len();
        let n = {
            let Some(free) = self.out.get_mut(start..) else {
                self.failed = true;
                return self;
            };
            let mut w = JsonWriter::new(free);
            write(&mut w);
            match w.finish() {
                // Exactly one value: the writer also accepts none or a sequence at the top level.
                Ok(n) if free.get(..n).is_some_and(|doc| json::validate(doc).is_ok()) => n,
                _ => {
                    self.failed = true;
                    return self;
                }
            }
        };
        // The document is at start..start + n; move it to the end of the buffer.
        let src = len - n; // n <= len - start, so src >= start
        self.out.copy_within(start..start + n, src);
        // Encode it forwards. With r the next byte to read, the output is at w <= r as long as
        // everything fits: prefix + encoded(read) + unread <= prefix + encoded(all) <= len.
        let mut w = start;
        for r in src..len {
            let b = self.out[r];
            let enc = percent_encoded(&b).as_bytes();
            let end = w + enc.len();
            if end > r + 1 {
                // Exactly when the whole encoded field cannot fit (see above).
                self.failed = true;
                return self;
            }
            self.out[w..end].copy_from_slice(enc);
            w = end;
        }
        self.pos = w;
        self
    }

    /// The body's length, or [`Overflow`] when a field did not fit.
    pub fn finish(&self) -> Result<usize, Overflow> {
        if self.failed {
            Err(Overflow)
        } else {
            Ok(self.pos)
        }
    }

    /// Writes `&name=` (or `name=` for the first field); false when the writer has failed.
    fn begin_field(&mut self, name: &str) -> bool {
        if self.failed {
            return false;
        }
        if !self.first {
            self.put(b"&");
        }
        self.first = false;
        self.encode(name.as_bytes());
        self.put(b"=");
        !self.failed
    }

    fn encode(&mut self, value: &[u8]) {
        for piece in percent_encode(value, FORM) {
            if self.failed {
                return;
            }
            self.put(piece.as_bytes());
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        if self.failed || put_all(self.out, &mut self.pos, &[bytes]).is_err() {
            self.failed = true;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// The body of a token refresh (`POST https://api.amazon.com/auth/o2/token`):
/// `grant_type=refresh_token&refresh_token=R&client_id=C`, followed by `&client_secret=S` for
/// security profiles that have a secret.
pub fn write_refresh_request(
    out: &mut [u8],
    client_id: &str,
    client_secret: Option<&str>,
    refresh_token: &str,
) -> Result<usize, Overflow> {
    let mut f = FormWriter::new(out);
    f.field("grant_type", b"refresh_token")
        .field("refresh_token", refresh_token.as_bytes())
        .field("client_id", client_id.as_bytes());
    if let Some(secret) = client_secret {
        f.field("client_secret", secret.as_bytes());
    }
    f.finish()
}

/// The body of a code pair request for code-based linking
/// (`POST https://api.amazon.com/auth/o2/create/codepair`):
/// `response_type=device_code&client_id=C&scope=alexa%3Aall&scope_data=D` where `D` is
/// `{"alexa:all":{"productID":P,"productInstanceAttributes":{"deviceSerialNumber":DSN}}}`
/// percent-encoded (the strings JSON-escaped first).
pub fn write_code_pair_request(
    out: &mut [u8],
    client_id: &str,
    product_id: &str,
    device_serial_number: &str,
) -> Result<usize, Overflow> {
    let mut f = FormWriter::new(out);
    f.field("response_type", b"device_code")
        .field("client_id", client_id.as_bytes())
        .field("scope", b"alexa:all")
        .json_field("scope_data", |w| {
            w.begin_object();
            w.key("alexa:all");
            w.begin_object();
            w.key("productID");
            w.str(product_id);
            w.key("productInstanceAttributes");
            w.begin_object();
            w.key("deviceSerialNumber");
            w.str(device_serial_number);
            w.end_object();
            w.end_object();
            w.end_object();
        });
    f.finish()
}

/// The body of one poll for the token of a code pair (`POST https://api.amazon.com/auth/o2/token`):
/// `grant_type=device_code&device_code=D&user_code=U`.
pub fn write_device_token_request(
    out: &mut [u8],
    device_code: &str,
    user_code: &str,
) -> Result<usize, Overflow> {
    FormWriter::new(out)
        .field("grant_type", b"device_code")
        .field("device_code", device_code.as_bytes())
        .field("user_code", user_code.as_bytes())
        .finish()
}

/// The body that exchanges an authorization code (from a companion app or website, obtained
/// with a PKCE challenge) for tokens (`POST https://api.amazon.com/auth/o2/token`):
/// `grant_type=authorization_code&code=A&redirect_uri=U&client_id=C&code_verifier=V`.
///
/// `code_verifier` is the verifier written by [`write_code_verifier`] (bytes, as it is kept).
pub fn write_authorization_code_request(
    out: &mut [u8],
    code: &str,
    redirect_uri: &str,
    client_id: &str,
    code_verifier: &[u8],
) -> Result<usize, Overflow> {
    FormWriter::new(out)
        .field("grant_type", b"authorization_code")
        .field("code", code.as_bytes())
        .field("redirect_uri", redirect_uri.as_bytes())
        .field("client_id", client_id.as_bytes())
        .field("code_verifier", code_verifier)
        .finish()
}

// ---------------------------------------------------------------------------------------------
// Responses

/// Why an LWA answer was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LwaError {
    /// Not a well-formed JSON object, or a string that had to be borrowed contains JSON escapes.
    Malformed,
    /// A required member is absent, `null` or an empty string.
    Missing(&'static str),
    /// A member has the wrong JSON type or an unusable value (an `expires_in` that is not a
    /// positive integer fitting `u32`, a `token_type` other than `bearer`, a token with
    /// characters outside visible ASCII).
    WrongType(&'static str),
}

impl fmt::Display for LwaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LwaError::Malformed => f.write_str("LWA response is not a well-formed JSON object"),
            LwaError::Missing(m) => write!(f, "LWA response has no {m}"),
            LwaError::WrongType(m) => write!(f, "LWA response has an invalid {m}"),
        }
    }
}

/// A successful answer to a token request (refresh, device code or authorization code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenResponse<'a> {
    /// The access token for `Authorization: Bearer ...`.
    pub access_token: &'a str,
    /// A new refresh token, when the answer carries one (absent, `null` or empty: `None`, keep
    /// the current one).
    pub refresh_token: Option<&'a str>,
    /// `bearer` in whatever case the answer spelt it (`"bearer"` when the answer has none).
    pub token_type: &'a str,
    /// Seconds until the access token expires (at least 1).
    pub expires_in: u32,
}

/// An answer to a code pair request: show `verification_uri` and `user_code` to the user, then
/// poll with `device_code` every `interval` seconds until `expires_in` seconds have passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePair<'a> {
    /// The code the user types at `verification_uri`.
    pub user_code: &'a str,
    /// The code the device polls with.
    pub device_code: &'a str,
    /// Where the user enters the code.
    pub verification_uri: &'a str,
    /// Seconds the code pair stays valid (at least 1).
    pub expires_in: u32,
    /// Seconds between polls (at least 1; [`DEFAULT_POLL_INTERVAL`] when the answer has none).
    pub interval: u32,
}

/// The polling interval when a code pair answer gives none (RFC 8628 section 3.2).
pub const DEFAULT_POLL_INTERVAL: u32 = 5;

/// The error codes of an OAuth 2 error answer (RFC 6749 section 5.2, RFC 8628 section 3.5, and
/// LWA's `invalid_code_pair`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorKind {
    /// `authorization_pending`: the user has not entered the code yet; keep polling.
    AuthorizationPending,
    /// `slow_down`: keep polling, with a longer interval (RFC 8628: 5 s more; the protocol
    /// notes: double it).
    SlowDown,
    /// `invalid_code_pair`: the code pair is unknown or used; request a new one.
    InvalidCodePair,
    /// `expired_token`: the code pair expired; request a new one.
    ExpiredToken,
    /// `invalid_grant`: the refresh token or code is invalid, expired or revoked.
    InvalidGrant,
    /// `invalid_client`: the client id (or secret) is wrong.
    InvalidClient,
    /// `unauthorized_client`: the client may not use this grant.
    UnauthorizedClient,
    /// `invalid_request`: a parameter is missing or malformed.
    InvalidRequest,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope,
    /// `server_error`: retry later.
    ServerError,
    /// `temporarily_unavailable`: retry later.
    TemporarilyUnavailable,
    /// Any other code (see [`OAuthError::code`]).
    Other,
}

const ERROR_CODES: [(&str, OAuthErrorKind); 12] = [
    (
        "authorization_pending",
        OAuthErrorKind::AuthorizationPending,
    ),
    ("slow_down", OAuthErrorKind::SlowDown),
    ("invalid_code_pair", OAuthErrorKind::InvalidCodePair),
    ("expired_token", OAuthErrorKind::ExpiredToken),
    ("invalid_grant", OAuthErrorKind::InvalidGrant),
    ("invalid_client", OAuthErrorKind::InvalidClient),
    ("unauthorized_client", OAuthErrorKind::UnauthorizedClient),
    ("invalid_request", OAuthErrorKind::InvalidRequest),
    (
        "unsupported_grant_type",
        OAuthErrorKind::UnsupportedGrantType,
    ),
    ("invalid_scope", OAuthErrorKind::InvalidScope),
    ("server_error", OAuthErrorKind::ServerError),
    (
        "temporarily_unavailable",
        OAuthErrorKind::TemporarilyUnavailable,
    ),
];

impl OAuthErrorKind {
    /// The kind for the error code `code` (exact, case-sensitive as in RFC 6749).
    pub fn from_code(code: &str) -> Self {
        Self::from_raw(code)
    }

    /// The kind for raw JSON string contents (escapes allowed, compared decoded).
    fn from_raw(raw: &str) -> Self {
        ERROR_CODES
            .iter()
            .find(|(code, _)| decodes_to(raw, code))
            .map_or(OAuthErrorKind::Other, |&(_, kind)| kind)
    }

    /// The error code, `None` for [`OAuthErrorKind::Other`].
    pub fn code(self) -> Option<&'static str> {
        ERROR_CODES
            .iter()
            .find(|&&(_, kind)| kind == self)
            .map(|&(code, _)| code)
    }

    /// True when retrying the same request cannot succeed: the credentials or the client's
    /// configuration must change (`invalid_grant`: link the device again; `invalid_client`,
    /// `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`: fix the product's
    /// configuration). False for the others, which are polled, retried or answered with a new
    /// code pair.
    pub fn is_permanent(self) -> bool {
        matches!(
            self,
            OAuthErrorKind::InvalidGrant
                | OAuthErrorKind::InvalidClient
                | OAuthErrorKind::UnauthorizedClient
                | OAuthErrorKind::UnsupportedGrantType
                | OAuthErrorKind::InvalidScope
        )
    }
}

/// An OAuth 2 error answer: `{"error":"...","error_description":"..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthError<'a> {
    /// What the `error` code means.
    pub kind: OAuthErrorKind,
    /// The `error` code as received (raw JSON string contents, escapes not decoded).
    pub code: &'a str,
    /// The `error_description` as received (raw JSON string contents, escapes not decoded:
    /// for logs), `""` when absent or not a string.
    pub description: &'a str,
}

/// Whether the raw JSON string contents `raw` decode to `want` (decoded with serde-json-core's
/// [`EscapedStr`]; a bad escape never matches).
fn decodes_to(raw: &str, want: &str) -> bool {
    let mut rest = want;
    for fragment in EscapedStr(raw).fragments() {
        let after = match fragment {
            Ok(EscapedStringFragment::NotEscaped(s)) => rest.strip_prefix(s),
            Ok(EscapedStringFragment::Escaped(c)) => rest.strip_prefix(c),
            Err(_) => None,
        };
        match after {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

impl OAuthError<'_> {
    /// See [`OAuthErrorKind::is_permanent`].
    pub fn is_permanent(&self) -> bool {
        self.kind.is_permanent()
    }
}

/// Deepest nesting of arrays and objects accepted in an LWA answer. The members read are flat;
/// unknown members may nest this deep. serde-json-core recurses into nested values (even
/// ignored ones), so this bounds its stack use.
const MAX_DEPTH: usize = 16;

/// `json` when it is exactly one JSON object (surrounding whitespace allowed) in UTF-8, nested
/// at most [`MAX_DEPTH`] deep.
///
/// Checked before serde-json-core sees the answer (as for AVS messages, see [`json`]): its
/// deserializer recurses without a depth limit, skips unknown scalars without checking them and
/// accepts raw control characters in strings, so after this check the only errors it can
/// report are about the members' types.
fn well_formed(json: &[u8]) -> Option<&[u8]> {
    core::str::from_utf8(json).ok()?;
    let end = json::value_end(json, 0, MAX_DEPTH).ok()?;
    let is_object = json.get(json::skip_ws(json, 0)) == Some(&b'{');
    (is_object && json::skip_ws(json, end) == json.len()).then_some(json)
}

/// The JSON kind a known member of an answer must have.
#[derive(Clone, Copy)]
enum Kind {
    /// A string (or `null`).
    Str,
    /// A non-negative integer fitting `u32`, written without fraction or exponent (or `null`).
    U32,
}

/// Why a [`well_formed`] answer did not deserialize, which serde-json-core's error does not say,
/// read from the members themselves (one pass, no further deserialization, so no code per
/// member): the first of `known` whose value has the wrong kind is [`LwaError::WrongType`]; a
/// repeated known member (serde's `duplicate_field`), or no culprit found, is
/// [`LwaError::Malformed`].
fn mistyped(json: &[u8], known: &[(&'static str, Kind)]) -> LwaError {
    let Ok(members) = json::members(json) else { return LwaError::Malformed };
    // Per known member, in the order given: seen, repeated, of the wrong kind.
    let (mut seen, mut repeated, mut wrong) = (0u32, 0u32, 0u32);
    for member in members {
        let Ok((key, value)) = member else { return LwaError::Malformed };
        let Ok(key) = core::str::from_utf8(key) else { continue };
        let Some(i) = known.iter().position(|(name, _)| *name == key) else { continue };
        if seen & (1 << i) != 0 {
            repeated |= 1 << i;
        }
        seen |= 1 << i;
        let ok = value == b"null"
            || match known[i].1 {
                Kind::Str => json::string_contents(value).is_some(),
                Kind::U32 => value.iter().all(u8::is_ascii_digit) && core::str::from_utf8(value).ok().and_then(|v| v.parse::<u32>().ok()).is_some(),
            };
        if !ok {
            wrong |= 1 << i;
        }
    }
    for (i, (name, _)) in known.iter().enumerate() {
        if repeated & (1 << i) != 0 {
            return LwaError::Malformed;
        }
        if wrong & (1 << i) != 0 {
            return LwaError::WrongType(name);
        }
    }
    LwaError::Malformed
}

/// A token answer as serde-json-core reads it; [`parse_token_response`] checks the values.
#[derive(Deserialize)]
struct TokenJson<'a> {
    #[serde(borrow)]
    access_token: Option<&'a str>,
    #[serde(borrow)]
    refresh_token: Option<&'a str>,
    #[serde(borrow)]
    token_type: Option<&'a str>,
    expires_in: Option<u32>,
}

/// A code pair answer as serde-json-core reads it; [`parse_code_pair_response`] checks the values.
#[derive(Deserialize)]
struct CodePairJson<'a> {
    #[serde(borrow)]
    user_code: Option<&'a str>,
    #[serde(borrow)]
    device_code: Option<&'a str>,
    #[serde(borrow)]
    verification_uri: Option<&'a str>,
    expires_in: Option<u32>,
    interval: Option<u32>,
}

/// An error answer with a string `error_description`.
#[derive(Deserialize)]
struct ErrorJson<'a> {
    error: &'a str,
    #[serde(borrow)]
    error_description: Option<&'a str>,
}

/// An error answer whose `error_description` is of another type (or repeated).
#[derive(Deserialize)]
struct ErrorCodeJson<'a> {
    error: &'a str,
}

/// A string member as received (raw JSON string contents, since serde-json-core borrows them
/// without decoding): `None` when absent, `null` or empty, [`LwaError::Malformed`] when it
/// contains escapes.
fn text(s: Option<&str>) -> Result<Option<&str>, LwaError> {
    match s {
        Some(s) if s.contains('\\') => Err(LwaError::Malformed),
        Some("") | None => Ok(None),
        s => Ok(s),
    }
}

/// A required string member (see [`text`]).
fn required<'a>(s: Option<&'a str>, name: &'static str) -> Result<&'a str, LwaError> {
    text(s)?.ok_or(LwaError::Missing(name))
}

/// A token or code: visible ASCII only, so it can go into a header or be shown as it is.
fn token<'a>(t: &'a str, name: &'static str) -> Result<&'a str, LwaError> {
    if t.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(t)
    } else {
        Err(LwaError::WrongType(name))
    }
}

/// A number of seconds (already a `u32`): at least 1.
fn seconds(n: Option<u32>, name: &'static str) -> Result<Option<u32>, LwaError> {
    match n {
        Some(0) => Err(LwaError::WrongType(name)),
        n => Ok(n),
    }
}

/// Parses the answer to a token request (200 OK):
/// `{"access_token":"Atza|...","refresh_token":"Atzr|...","token_type":"bearer","expires_in":3600}`.
///
/// `access_token` and `expires_in` are required; `refresh_token` is optional; `token_type`, when
/// present, must be `bearer` in any case. Unknown members are ignored; a repeated member is
/// [`LwaError::Malformed`]. `expires_in` must be written as an integer (`3600`, not `3600.0` or
/// `3.6e3`).
pub fn parse_token_response(json: &[u8]) -> Result<TokenResponse<'_>, LwaError> {
    let json = well_formed(json).ok_or(LwaError::Malformed)?;
    let t: TokenJson<'_> = match serde_json_core::from_slice(json) {
        Ok((t, _)) => t,
        Err(_) => {
            return Err(mistyped(
                json,
                &[("access_token", Kind::Str), ("refresh_token", Kind::Str), ("token_type", Kind::Str), ("expires_in", Kind::U32)],
            ))
        }
    };
    let access_token = token(required(t.access_token, "access_token")?, "access_token")?;
    let refresh_token = match text(t.refresh_token)? {
        Some(r) => Some(token(r, "refresh_token")?),
        None => None,
    };
    let token_type = match text(t.token_type)? {
        None => "bearer",
        Some(t) if t.eq_ignore_ascii_case("bearer") => t,
        Some(_) => return Err(LwaError::WrongType("token_type")),
    };
    let expires_in = seconds(t.expires_in, "expires_in")?.ok_or(LwaError::Missing("expires_in"))?;
    Ok(TokenResponse {
        access_token,
        refresh_token,
        token_type,
        expires_in,
    })
}

/// Parses the answer to a code pair request (200 OK):
/// `{"user_code":"...","device_code":"...","verification_uri":"...","expires_in":600,"interval":5}`.
///
/// All members are required except `interval` ([`DEFAULT_POLL_INTERVAL`] when absent or
/// `null`). Unknown members are ignored; a repeated member is [`LwaError::Malformed`].
pub fn parse_code_pair_response(json: &[u8]) -> Result<CodePair<'_>, LwaError> {
    let json = well_formed(json).ok_or(LwaError::Malformed)?;
    let p: CodePairJson<'_> = match serde_json_core::from_slice(json) {
        Ok((p, _)) => p,
        Err(_) => {
            return Err(mistyped(
                json,
                &[
                    ("user_code", Kind::Str),
                    ("device_code", Kind::Str),
                    ("verification_uri", Kind::Str),
                    ("expires_in", Kind::U32),
                    ("interval", Kind::U32),
                ],
            ))
        }
    };
    let user_code = token(required(p.user_code, "user_code")?, "user_code")?;
    let device_code = token(required(p.device_code, "device_code")?, "device_code")?;
    let verification_uri = required(p.verification_uri, "verification_uri")?;
    let expires_in = seconds(p.expires_in, "expires_in")?.ok_or(LwaError::Missing("expires_in"))?;
    let interval = seconds(p.interval, "interval")?.unwrap_or(DEFAULT_POLL_INTERVAL);
    Ok(CodePair {
        user_code,
        device_code,
        verification_uri,
        expires_in,
        interval,
    })
}

/// Parses an OAuth 2 error answer (usually 400 or 401):
/// `{"error":"authorization_pending","error_description":"..."}`. `None` when `json` is not a
/// well-formed object (UTF-8) with exactly one `error`, a string.
pub fn parse_error_response(json: &[u8]) -> Option<OAuthError<'_>> {
    let json = well_formed(json)?;
    let (code, description) = match serde_json_core::from_slice::<ErrorJson<'_>>(json) {
        Ok((e, _)) => (e.error, e.error_description.unwrap_or("")),
        Err(_) => (
            serde_json_core::from_slice::<ErrorCodeJson<'_>>(json)
                .ok()?
                .0
                .error,
            "",
        ),
    };
    Some(OAuthError {
        kind: OAuthErrorKind::from_raw(code),
        code,
        description,
    })
}

// ---------------------------------------------------------------------------------------------
// PKCE (RFC 7636)

/// Length of the code verifier [`write_code_verifier`] writes: 48 random bytes in base64url.
pub const VERIFIER_LEN: usize = 64;

/// Length of an `S256` code challenge: a SHA-256 digest in base64url without padding.
pub const CHALLENGE_LEN: usize = 43;

/// The `code_challenge_method` that goes with [`code_challenge_s256`].
pub const CODE_CHALLENGE_METHOD: &str = "S256";

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `input` in base64url without padding, into `out` (which the callers size exactly:
/// `ceil(4 * input.len() / 3)`; extra input or output is ignored, never indexed out of bounds).
fn base64url_nopad(input: &[u8], out: &mut [u8]) {
    let mut slots = out.iter_mut();
    for chunk in input.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        for k in 0..=chunk.len() {
            let six = (n >> (18 - 6 * k)) & 0x3f;
            if let Some(slot) = slots.next() {
                *slot = BASE64URL[six as usize];
            }
        }
    }
}

/// Writes a PKCE code verifier: `random` (48 bytes from a cryptographically secure generator,
/// which is the caller's) in base64url without padding, 64 characters from RFC 7636's
/// unreserved set (`A-Z a-z 0-9 - _`), within its 43..=128.
pub fn write_code_verifier(random: &[u8; 48], out: &mut [u8; VERIFIER_LEN]) {
    base64url_nopad(random, out);
}

/// Writes the `S256` code challenge of `verifier`: base64url without padding of
/// SHA-256(`verifier`) (RFC 7636 section 4.2).
pub fn code_challenge_s256(verifier: &[u8], out: &mut [u8; CHALLENGE_LEN]) {
    base64url_nopad(&sha256(verifier), out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::never_panics;
    use std::string::String;
    use std::vec::Vec;

    /// Runs a writer into a big buffer and returns the body as a string.
    fn body(write: impl Fn(&mut [u8]) -> Result<usize, Overflow>) -> String {
        let mut buf = std::vec![0xAAu8; 16384];
        let n = write(&mut buf).expect("fits");
        String::from_utf8(buf[..n].to_vec()).expect("ASCII")
    }

    /// Every buffer shorter than the body overflows (never panics), and the exact length fits
    /// with the same bytes, whatever the buffer held before.
    fn overflows_below(write: impl Fn(&mut [u8]) -> Result<usize, Overflow>) {
        let want = body(&write);
        for n in 0..want.len() {
            let mut buf = std::vec![0x55u8; n];
            assert_eq!(write(&mut buf), Err(Overflow), "buffer of {n}");
        }
        for fill in [0u8, b'%', 0xff] {
            let mut buf = std::vec![fill; want.len()];
            assert_eq!(write(&mut buf), Ok(want.len()));
            assert_eq!(buf, want.as_bytes());
        }
    }

    /// RFC 3986 unreserved characters, the only bytes a form field is written with unescaped.
    fn is_unreserved(b: u8) -> bool {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
    }

    fn hexval(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("bad hex digit {c}"),
        }
    }

    /// Strict percent-decoding: only unreserved bytes and `%XX` (upper case) may appear.
    fn decode(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(hexval(b[i + 1]) << 4 | hexval(b[i + 2]));
                i += 3;
            } else {
                assert!(is_unreserved(b[i]), "unescaped {:?} in {s}", b[i] as char);
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    /// The decoded `(name, value)` pairs of a form body.
    fn fields(s: &str) -> Vec<(String, Vec<u8>)> {
        s.split('&')
            .map(|f| {
                let (k, v) = f.split_once('=').expect("name=value");
                (String::from_utf8(decode(k)).unwrap(), decode(v))
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(k, v)| (String::from(*k), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn form_encoding_of_every_byte() {
        let all: Vec<u8> = (0..=255u8).collect();
        let s = body(|out| FormWriter::new(out).field("b", &all).finish());
        let value = s.strip_prefix("b=").unwrap();
        assert_eq!(decode(value), all);
        // Unreserved bytes as they are, everything else %XX in upper case.
        assert!(value.contains("%2C-.%2F0123456789%3A"));
        assert!(value.contains("ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abc"));
        assert!(value.contains("xyz%7B%7C%7D~%7F%80"));
        assert!(value.starts_with("%00%01"));
        assert!(value.ends_with("%FE%FF"));
        assert_eq!(value.len(), 66 + 3 * 190);
    }

    #[test]
    fn form_encoding_of_reserved_and_non_ascii() {
        let s = body(|out| {
            FormWriter::new(out)
                .field("a b", b"x y+z")
                .field("k&=", b"&=?#/:@!$'()*,;%")
                .field("", b"")
                .field("u", "é€😀".as_bytes())
                .finish()
        });
        assert_eq!(
            s,
            "a%20b=x%20y%2Bz&k%26%3D=%26%3D%3F%23%2F%3A%40%21%24%27%28%29%2A%2C%3B%25&=\
             &u=%C3%A9%E2%82%AC%F0%9F%98%80"
        );
        assert_eq!(
            fields(&s),
            std::vec![
                (String::from("a b"), b"x y+z".to_vec()),
                (String::from("k&="), b"&=?#/:@!$'()*,;%".to_vec()),
                (String::new(), Vec::new()),
                (String::from("u"), "é€😀".as_bytes().to_vec()),
            ]
        );
        assert_eq!(body(|out| FormWriter::new(out).finish()), "");
    }

    /// `s` decoded by the WHATWG form parser, which is what a server runs.
    fn parsed(s: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(s.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// Bodies written with any value decode to that value again, with the WHATWG parser (which
    /// decodes to UTF-8, replacing invalid sequences) and byte for byte.
    #[test]
    fn form_round_trip() {
        let all: Vec<u8> = (0..=255u8).collect();
        let ascii: Vec<u8> = (0..=127u8).collect();
        let values: [&[u8]; 12] = [
            &all,
            &ascii,
            b"&",
            b"=",
            b"+",
            b"%",
            b" ",
            b"%41+%2B &a=b&&==",
            b"",
            "é€😀 x".as_bytes(),
            b"\xff\x00",
            b"\r\n\t\0~*'()!",
        ];
        for v in values {
            for name in ["n", "a b&c=d+%", "é"] {
                let s = body(|out| {
                    FormWriter::new(out)
                        .field(name, v)
                        .field("next", b"1 2")
                        .json_field("j", |w| w.str(&String::from_utf8_lossy(v)))
                        .finish()
                });
                let lossy = String::from_utf8_lossy(v).into_owned();
                let p = parsed(&s);
                assert_eq!(
                    p[..2],
                    [
                        (String::from(name), lossy.clone()),
                        (String::from("next"), String::from("1 2")),
                    ],
                    "{s}"
                );
                assert_eq!(p.len(), 3);
                assert_eq!(p[2].0, "j");
                // The JSON document decoded by the form parser, then as JSON: the value again.
                let doc: serde_json::Value = serde_json::from_str(&p[2].1).unwrap();
                assert_eq!(doc, serde_json::Value::String(lossy));
                // No '+' is written, so plain percent-decoding gives back the exact bytes.
                assert!(!s.contains('+'));
                let exact: Vec<Vec<u8>> = s
                    .split('&')
                    .map(|f| {
                        percent_encoding::percent_decode_str(f.split_once('=').unwrap().1).collect()
                    })
                    .collect();
                assert_eq!(exact[..2], [v.to_vec(), b"1 2".to_vec()]);
                assert_eq!(exact[2], p[2].1.as_bytes());
            }
        }
        // The request writers' bodies too.
        let s = body(|out| write_refresh_request(out, "c&i d", Some("s+=%"), "Atzr|a/b=="));
        assert_eq!(
            parsed(&s),
            [
                ("grant_type", "refresh_token"),
                ("refresh_token", "Atzr|a/b=="),
                ("client_id", "c&i d"),
                ("client_secret", "s+=%"),
            ]
            .map(|(k, v)| (String::from(k), String::from(v)))
        );
        let s = body(|out| write_code_pair_request(out, "cid", "p é&+", "d=%\n"));
        let p = parsed(&s);
        assert_eq!(p[2], (String::from("scope"), String::from("alexa:all")));
        let v: serde_json::Value = serde_json::from_str(&p[3].1).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"alexa:all": {"productID": "p é&+",
                "productInstanceAttributes": {"deviceSerialNumber": "d=%\n"}}})
        );
        let s = body(|out| write_device_token_request(out, "D+ C", "U&V"));
        assert_eq!(
            parsed(&s)[1..],
            [
                (String::from("device_code"), String::from("D+ C")),
                (String::from("user_code"), String::from("U&V")),
            ]
        );
        let s = body(|out| {
            write_authorization_code_request(out, "a b", "amzn://x/cb?y=1&z=2", "c", b"v~_")
        });
        assert_eq!(
            parsed(&s)[1..],
            [
                ("code", "a b"),
                ("redirect_uri", "amzn://x/cb?y=1&z=2"),
                ("client_id", "c"),
                ("code_verifier", "v~_"),
            ]
            .map(|(k, v)| (String::from(k), String::from(v)))
        );
    }

    #[test]
    fn form_writer_overflow_is_sticky() {
        let mut buf = [0u8; 8];
        let mut f = FormWriter::new(&mut buf);
        f.field("a", b"1");
        assert_eq!(f.len(), 3);
        assert!(!f.is_empty());
        f.field("b", b"  "); // needs 9 more
        assert_eq!(f.finish(), Err(Overflow));
        f.field("c", b""); // would fit, but the body is already broken
        assert_eq!(f.finish(), Err(Overflow));
        overflows_below(|out| {
            FormWriter::new(out)
                .field("n m", b"v/w")
                .field("x", b"")
                .finish()
        });
    }

    #[test]
    fn json_field_needs_a_finished_document() {
        let mut buf = [0u8; 64];
        let mut f = FormWriter::new(&mut buf);
        f.json_field("j", |w| w.begin_object());
        assert_eq!(f.finish(), Err(Overflow));
        let s = body(|out| {
            FormWriter::new(out)
                .json_field("j", |w| {
                    w.begin_array();
                    w.uint(1);
                    w.str("a b");
                    w.end_array();
                })
                .field("after", b"x")
                .finish()
        });
        assert_eq!(s, "j=%5B1%2C%22a%20b%22%5D&after=x");
        // Nothing, or a sequence of values, is not a JSON document.
        let mut f = FormWriter::new(&mut buf);
        f.json_field("j", |_| {});
        assert_eq!(f.finish(), Err(Overflow));
        let mut f = FormWriter::new(&mut buf);
        f.json_field("j", |w| {
            w.uint(1);
            w.uint(2);
        });
        assert_eq!(f.finish(), Err(Overflow));
        let mut f = FormWriter::new(&mut buf);
        f.json_field("j", |w| w.str(""));
        assert_eq!(f.finish(), Ok(8));
    }

    #[test]
    fn refresh_request() {
        let with = |out: &mut [u8]| {
            write_refresh_request(
                out,
                "amzn1.application-oa2-client.abc",
                Some("s3cr/t="),
                "Atzr|IwEB+x/y",
            )
        };
        let s = body(with);
        assert_eq!(
            s,
            "grant_type=refresh_token&refresh_token=Atzr%7CIwEB%2Bx%2Fy\
             &client_id=amzn1.application-oa2-client.abc&client_secret=s3cr%2Ft%3D"
        );
        assert_eq!(
            fields(&s),
            pairs(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "Atzr|IwEB+x/y"),
                ("client_id", "amzn1.application-oa2-client.abc"),
                ("client_secret", "s3cr/t="),
            ])
        );
        overflows_below(with);
        let without = |out: &mut [u8]| write_refresh_request(out, "cid", None, "R");
        assert_eq!(
            body(without),
            "grant_type=refresh_token&refresh_token=R&client_id=cid"
        );
        overflows_below(without);
    }

    #[test]
    fn code_pair_request() {
        let write = |out: &mut [u8]| write_code_pair_request(out, "cid", "my_device", "123456");
        let s = body(write);
        assert_eq!(
            s,
            "response_type=device_code&client_id=cid&scope=alexa%3Aall&scope_data=\
             %7B%22alexa%3Aall%22%3A%7B%22productID%22%3A%22my_device%22%2C\
             %22productInstanceAttributes%22%3A%7B%22deviceSerialNumber%22%3A%22123456%22%7D%7D%7D"
        );
        let f = fields(&s);
        assert_eq!(
            f[..3],
            pairs(&[
                ("response_type", "device_code"),
                ("client_id", "cid"),
                ("scope", "alexa:all"),
            ])[..]
        );
        assert_eq!(f[3].0, "scope_data");
        assert_eq!(
            std::str::from_utf8(&f[3].1).unwrap(),
            r#"{"alexa:all":{"productID":"my_device","productInstanceAttributes":{"deviceSerialNumber":"123456"}}}"#
        );
        overflows_below(write);
    }

    #[test]
    fn code_pair_request_escapes_json_then_form() {
        let product = "dev \"1\"\\é";
        let dsn = "a&b=c\n\u{1}%";
        let write = |out: &mut [u8]| write_code_pair_request(out, "c i", product, dsn);
        let s = body(write);
        let f = fields(&s);
        assert_eq!(f[1], (String::from("client_id"), b"c i".to_vec()));
        let v: serde_json::Value = serde_json::from_slice(&f[3].1).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"alexa:all": {"productID": product,
                "productInstanceAttributes": {"deviceSerialNumber": dsn}}})
        );
        overflows_below(write);
        // Long values: the in-place encoding with most of the buffer in use.
        let long: String = (0..300).map(|i| ["x", "\"", "é", " "][i % 4]).collect();
        let write = |out: &mut [u8]| write_code_pair_request(out, "cid", &long, &long);
        let s = body(write);
        let v: serde_json::Value = serde_json::from_slice(&fields(&s)[3].1).unwrap();
        assert_eq!(v["alexa:all"]["productID"], long.as_str());
        assert_eq!(
            v["alexa:all"]["productInstanceAttributes"]["deviceSerialNumber"],
            long.as_str()
        );
        overflows_below(write);
    }

    #[test]
    fn device_token_request() {
        let write = |out: &mut [u8]| write_device_token_request(out, "DC-1/2", "AB12C");
        let s = body(write);
        assert_eq!(
            s,
            "grant_type=device_code&device_code=DC-1%2F2&user_code=AB12C"
        );
        assert_eq!(
            fields(&s),
            pairs(&[
                ("grant_type", "device_code"),
                ("device_code", "DC-1/2"),
                ("user_code", "AB12C")
            ])
        );
        overflows_below(write);
    }

    #[test]
    fn authorization_code_request() {
        let verifier = b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let write = |out: &mut [u8]| {
            write_authorization_code_request(
                out,
                "ANd/ef",
                "amzn://com.example/cb?x=1",
                "cid",
                verifier,
            )
        };
        let s = body(write);
        assert_eq!(
            s,
            "grant_type=authorization_code&code=ANd%2Fef\
             &redirect_uri=amzn%3A%2F%2Fcom.example%2Fcb%3Fx%3D1&client_id=cid\
             &code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        assert_eq!(
            fields(&s),
            pairs(&[
                ("grant_type", "authorization_code"),
                ("code", "ANd/ef"),
                ("redirect_uri", "amzn://com.example/cb?x=1"),
                ("client_id", "cid"),
                (
                    "code_verifier",
                    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
                ),
            ])
        );
        overflows_below(write);
    }

    const TOKEN: &[u8] = br#"{"access_token":"Atza|IQEBLjAsAhRmHjNgHpi0U-Dme37rR6CuUpSR","refresh_token":"Atzr|IQEBLzAtAhRPpMJxdwVz2Nn6f2y-tpJX2DeX","token_type":"bearer","expires_in":3600}"#;

    #[test]
    fn token_response() {
        assert_eq!(
            parse_token_response(TOKEN),
            Ok(TokenResponse {
                access_token: "Atza|IQEBLjAsAhRmHjNgHpi0U-Dme37rR6CuUpSR",
                refresh_token: Some("Atzr|IQEBLzAtAhRPpMJxdwVz2Nn6f2y-tpJX2DeX"),
                token_type: "bearer",
                expires_in: 3600,
            })
        );
        let t = parse_token_response(
            b" {\"expires_in\" : 1, \"x\":[{}], \"token_type\":\"Bearer\", \"access_token\":\"A\"} \n",
        )
        .unwrap();
        assert_eq!(
            (t.access_token, t.refresh_token, t.token_type, t.expires_in),
            ("A", None, "Bearer", 1)
        );
        // Without token_type, null or empty refresh_token.
        let t = parse_token_response(
            br#"{"access_token":"A","refresh_token":null,"expires_in":4294967295}"#,
        )
        .unwrap();
        assert_eq!(
            (t.access_token, t.refresh_token, t.token_type, t.expires_in),
            ("A", None, "bearer", u32::MAX)
        );
        let t = parse_token_response(br#"{"access_token":"A","refresh_token":"","expires_in":5}"#)
            .unwrap();
        assert_eq!(t.refresh_token, None);
    }

    #[test]
    fn token_response_refused() {
        use LwaError::*;
        for (json, want) in [
            (
                &br#"{"refresh_token":"R","expires_in":3600}"#[..],
                Missing("access_token"),
            ),
            (
                br#"{"access_token":null,"expires_in":3600}"#,
                Missing("access_token"),
            ),
            (
                br#"{"access_token":"","expires_in":3600}"#,
                Missing("access_token"),
            ),
            (
                br#"{"access_token":5,"expires_in":3600}"#,
                WrongType("access_token"),
            ),
            (
                br#"{"access_token":["A"],"expires_in":3600}"#,
                WrongType("access_token"),
            ),
            (
                br#"{"access_token":"A B","expires_in":3600}"#,
                WrongType("access_token"),
            ),
            (
                b"{\"access_token\":\"A\xc3\xa9\",\"expires_in\":3600}",
                WrongType("access_token"),
            ),
            // Not UTF-8: not JSON (RFC 8259 section 8.1).
            (
                b"{\"access_token\":\"A\xff\",\"expires_in\":3600}",
                Malformed,
            ),
            (
                br#"{"access_token":"Atza\u007cX","expires_in":3600}"#,
                Malformed,
            ),
            (br#"{"access_token":"A\/B","expires_in":3600}"#, Malformed),
            (
                br#"{"access_token":"A","refresh_token":"R\"","expires_in":3600}"#,
                Malformed,
            ),
            (
                br#"{"access_token":"A","refresh_token":7,"expires_in":3600}"#,
                WrongType("refresh_token"),
            ),
            (br#"{"access_token":"A"}"#, Missing("expires_in")),
            (
                br#"{"access_token":"A","expires_in":null}"#,
                Missing("expires_in"),
            ),
            (
                br#"{"access_token":"A","expires_in":0}"#,
                WrongType("expires_in"),
            ),
            (
                br#"{"access_token":"A","expires_in":-1}"#,
                WrongType("expires_in"),
            ),
            (
                br#"{"access_token":"A","expires_in":-3600}"#,
                WrongType("expires_in"),
            ),
            (
                br#"{"access_token":"A","expires_in":4294967296}"#,
                WrongType("expires_in"),
            ),
            (
                br#"{"access_token":"A","expires_in":99999999999999999999999}"#,
                WrongType("expires_in"),
            ),
            (
                br#"{"access_token":"A","expires_in":3600.0}"#,
                WrongType("expires_in"),
            ),
            (
                br#"{"access_token":"A","expires_in":3.6e3}"#,
                WrongType("expires_in"),
            ),
            (
                br#"{"access_token":"A","expires_in":"3600"}"#,
                WrongType("expires_in"),
            ),
            (
                br#"{"access_token":"A","expires_in":true}"#,
                WrongType("expires_in"),
            ),
            (
                br#"{"access_token":"A","expires_in":5,"token_type":"mac"}"#,
                WrongType("token_type"),
            ),
            (
                br#"{"access_token":"A","expires_in":5,"token_type":1}"#,
                WrongType("token_type"),
            ),
            (
                br#"{"access_token":"A","expires_in":5,"token_type":"bearer "}"#,
                WrongType("token_type"),
            ),
            (
                br#"{"access_token":"A","expires_in":5,"token_type":"be\u0061rer"}"#,
                Malformed,
            ),
            (br#"{"access_token":"A","expires_in":3600"#, Malformed),
            (br#"{"access_token":"A","expires_in":3600}}"#, Malformed),
            (br#"{"access_token":"A","expires_in":3600} {}"#, Malformed),
            (br#"[{"access_token":"A","expires_in":3600}]"#, Malformed),
            (b"", Malformed),
            (b"null", Malformed),
            (b"\"Atza|x\"", Malformed),
        ] {
            assert_eq!(
                parse_token_response(json),
                Err(want),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn code_pair_response() {
        let json = br#"{"user_code":"ABC123","device_code":"1e0f2a7c-4c8a","verification_uri":"https://amazon.com/us/code","expires_in":600,"interval":30}"#;
        assert_eq!(
            parse_code_pair_response(json),
            Ok(CodePair {
                user_code: "ABC123",
                device_code: "1e0f2a7c-4c8a",
                verification_uri: "https://amazon.com/us/code",
                expires_in: 600,
                interval: 30,
            })
        );
        for without in [
            &br#"{"user_code":"U","device_code":"D","verification_uri":"V","expires_in":600}"#[..],
            br#"{"user_code":"U","device_code":"D","verification_uri":"V","expires_in":600,"interval":null}"#,
        ] {
            assert_eq!(parse_code_pair_response(without).unwrap().interval, DEFAULT_POLL_INTERVAL);
            assert_eq!(DEFAULT_POLL_INTERVAL, 5);
        }
        use LwaError::*;
        let base = r#""user_code":"U","device_code":"D","verification_uri":"https://a/b","expires_in":600"#;
        for (json, want) in [
            (
                String::from(r#"{"device_code":"D","verification_uri":"V","expires_in":1}"#),
                Missing("user_code"),
            ),
            (
                String::from(r#"{"user_code":"U","verification_uri":"V","expires_in":1}"#),
                Missing("device_code"),
            ),
            (
                String::from(r#"{"user_code":"U","device_code":"D","expires_in":1}"#),
                Missing("verification_uri"),
            ),
            (
                String::from(r#"{"user_code":"U","device_code":"D","verification_uri":"V"}"#),
                Missing("expires_in"),
            ),
            (
                String::from(
                    r#"{"user_code":1,"device_code":"D","verification_uri":"V","expires_in":1}"#,
                ),
                WrongType("user_code"),
            ),
            (
                String::from(
                    r#"{"user_code":"U","device_code":{},"verification_uri":"V","expires_in":1}"#,
                ),
                WrongType("device_code"),
            ),
            (
                String::from(
                    r#"{"user_code":"U","device_code":"D","verification_uri":false,"expires_in":1}"#,
                ),
                WrongType("verification_uri"),
            ),
            (
                String::from(
                    r#"{"user_code":"U","device_code":"D","verification_uri":"https:\/\/a","expires_in":1}"#,
                ),
                Malformed,
            ),
            (
                String::from(
                    r#"{"user_code":"U\u0041","device_code":"D","verification_uri":"V","expires_in":1}"#,
                ),
                Malformed,
            ),
            (
                String::from(
                    r#"{"user_code":"U","device_code":"D","verification_uri":"V","expires_in":0}"#,
                ),
                WrongType("expires_in"),
            ),
            (
                String::from(
                    r#"{"user_code":"U","device_code":"D","verification_uri":"V","expires_in":-600}"#,
                ),
                WrongType("expires_in"),
            ),
            (
                String::from(
                    r#"{"user_code":"U","device_code":"D","verification_uri":"V","expires_in":1e9}"#,
                ),
                WrongType("expires_in"),
            ),
            (
                std::format!("{{{base},\"interval\":0}}"),
                WrongType("interval"),
            ),
            (
                std::format!("{{{base},\"interval\":-5}}"),
                WrongType("interval"),
            ),
            (
                std::format!("{{{base},\"interval\":5.5}}"),
                WrongType("interval"),
            ),
            (
                std::format!("{{{base},\"interval\":\"5\"}}"),
                WrongType("interval"),
            ),
            (
                std::format!("{{{base},\"interval\":4294967296}}"),
                WrongType("interval"),
            ),
            (std::format!("{{{base},\"interval\":5"), Malformed),
            (String::from("[]"), Malformed),
        ] {
            assert_eq!(
                parse_code_pair_response(json.as_bytes()),
                Err(want),
                "{json}"
            );
        }
        assert_eq!(
            parse_code_pair_response(std::format!("{{{base},\"interval\":4294967295}}").as_bytes())
                .unwrap()
                .interval,
            u32::MAX
        );
    }

    /// What serde-json-core would do differently from the strict scanner the parsers used
    /// before, and what they do now.
    #[test]
    fn answers_deserialized_with_serde_json_core() {
        use LwaError::*;
        let pair = r#""user_code":"U","device_code":"D","verification_uri":"https://a/b""#;
        // A repeated member is refused (serde's duplicate_field), even with the same value; a
        // repeated unknown member is ignored like any other.
        for json in [
            &br#"{"access_token":"A","access_token":"B","expires_in":5}"#[..],
            br#"{"access_token":"A","expires_in":5,"access_token":"A"}"#,
            br#"{"access_token":"A","expires_in":5,"expires_in":5}"#,
            br#"{"access_token":"A","refresh_token":null,"refresh_token":"R","expires_in":5}"#,
            br#"{"access_token":"A","token_type":"bearer","expires_in":5,"token_type":"bearer"}"#,
            // Repeated, and another member mistyped.
            br#"{"access_token":"A","access_token":"B","expires_in":"5"}"#,
            br#"{"access_token":"A","expires_in":"5","access_token":"B"}"#,
        ] {
            assert_eq!(
                parse_token_response(json),
                Err(Malformed),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
        let t = parse_token_response(br#"{"x":1,"access_token":"A","x":[2],"expires_in":5}"#);
        assert_eq!(t.map(|t| t.access_token), Ok("A"));
        assert_eq!(
            parse_code_pair_response(
                std::format!(r#"{{{pair},"expires_in":1,"interval":5,"interval":5}}"#).as_bytes()
            ),
            Err(Malformed)
        );
        // Integers only, written as integers: no fraction, exponent or minus sign, even for a
        // whole number (serde-json-core reads the digits before '.' or 'e' and stops there).
        for n in ["3600.0", "3.6e3", "1e3", "1E3", "36e+2", "-0", "-1", "0"] {
            let json = std::format!(r#"{{"access_token":"A","expires_in":{n}}}"#);
            assert_eq!(
                parse_token_response(json.as_bytes()),
                Err(WrongType("expires_in")),
                "{n}"
            );
            let json = std::format!(r#"{{{pair},"expires_in":{n},"interval":{n}}}"#);
            assert_eq!(
                parse_code_pair_response(json.as_bytes()),
                Err(WrongType("expires_in")),
                "{n}"
            );
            let json = std::format!(r#"{{{pair},"interval":{n},"expires_in":1}}"#);
            assert_eq!(
                parse_code_pair_response(json.as_bytes()),
                Err(WrongType("interval")),
                "{n}"
            );
        }
        // Not JSON numbers at all (serde-json-core alone would skip them in unknown members).
        for n in ["03600", "+1", "1.", ".5", "0x10", "1e", "NaN"] {
            let json = std::format!(r#"{{"access_token":"A","expires_in":{n}}}"#);
            assert_eq!(parse_token_response(json.as_bytes()), Err(Malformed), "{n}");
            let json = std::format!(r#"{{"access_token":"A","expires_in":1,"x":{n}}}"#);
            assert_eq!(parse_token_response(json.as_bytes()), Err(Malformed), "{n}");
        }
        // null is absent, for optional and required members alike.
        let t = parse_token_response(
            br#"{"access_token":"A","refresh_token":null,"token_type":null,"expires_in":5}"#,
        )
        .unwrap();
        assert_eq!((t.refresh_token, t.token_type), (None, "bearer"));
        assert_eq!(
            parse_code_pair_response(
                std::format!(r#"{{{pair},"expires_in":null,"interval":null}}"#).as_bytes()
            ),
            Err(Missing("expires_in"))
        );
        // Unknown members are checked as JSON, which serde-json-core would not do (it skips a
        // scalar up to the next ',', '}' or ']', and takes raw control characters in strings).
        for unknown in [
            "tru", "nul", "1 2", "@", "\"a\tb\"", "\"a\\x\"", "[1,]", "{\"a\"}",
        ] {
            let json = std::format!(r#"{{"x":{unknown},"access_token":"A","expires_in":5}}"#);
            assert_eq!(
                parse_token_response(json.as_bytes()),
                Err(Malformed),
                "{unknown}"
            );
            let json = std::format!(r#"{{"error":"slow_down","x":{unknown}}}"#);
            assert_eq!(parse_error_response(json.as_bytes()), None, "{unknown}");
        }
        let t = parse_token_response(
            br#"{"x":"a\"b\u00e9","access_token":"A","y":{"z":[null,true,-1.5e-3]},"expires_in":5}"#,
        );
        assert_eq!(t.map(|t| t.expires_in), Ok(5));
        // Raw control characters are not JSON, in the members read too.
        assert_eq!(
            parse_code_pair_response(
                b"{\"user_code\":\"U\",\"device_code\":\"D\",\"verification_uri\":\"a\nb\",\"expires_in\":1}"
            ),
            Err(Malformed)
        );
        // Invalid UTF-8 anywhere is not JSON, in unknown members and keys too.
        for json in [
            &b"{\"x\":\"\xff\",\"access_token\":\"A\",\"expires_in\":5}"[..],
            b"{\"\xc3\":1,\"access_token\":\"A\",\"expires_in\":5}",
        ] {
            assert_eq!(parse_token_response(json), Err(Malformed));
        }
        assert_eq!(
            parse_error_response(b"{\"error\":\"slow_down\",\"error_description\":\"\xff\"}"),
            None
        );
        // Anything after the object, or a top-level value that is not an object.
        for json in [
            &br#"{"access_token":"A","expires_in":5}x"#[..],
            br#"{"access_token":"A","expires_in":5},"#,
            br#"{"access_token":"A","expires_in":5}{}"#,
            br#"{"access_token":"A","expires_in":5,}"#,
            b"5",
            b"[]",
            b" ",
        ] {
            assert_eq!(parse_token_response(json), Err(Malformed));
            assert_eq!(parse_code_pair_response(json), Err(Malformed));
        }
        // Error answers: a repeated `error` is no error answer; a repeated or mistyped
        // description is "".
        assert_eq!(
            parse_error_response(br#"{"error":"slow_down","error":"slow_down"}"#),
            None
        );
        for json in [
            &br#"{"error":"slow_down","error_description":"a","error_description":"b"}"#[..],
            br#"{"error_description":{"a":1},"error":"slow_down"}"#,
            br#"{"error":"slow_down","error_description":[]}"#,
        ] {
            let e = parse_error_response(json).unwrap();
            assert_eq!((e.kind, e.description), (OAuthErrorKind::SlowDown, ""));
        }
        // A bad escape never names a known error (and is not JSON anyway).
        assert_eq!(parse_error_response(br#"{"error":"slow\u00_down"}"#), None);
        let e = parse_error_response(br#"{"error":"\ud800slow_down"}"#).unwrap();
        assert_eq!(e.kind, OAuthErrorKind::Other);
        let e = parse_error_response(br#"{"error":"\u0073low_down"}"#).unwrap();
        assert_eq!(e.kind, OAuthErrorKind::SlowDown);
        for code in [
            r"slow_dow\u006",
            r"slow_down\u0000",
            r"slow_dow",
            r"\/slow_down",
        ] {
            let json = std::format!(r#"{{"error":"{code}"}}"#);
            assert_eq!(
                parse_error_response(json.as_bytes()).map(|e| e.kind),
                (code != r"slow_dow\u006").then_some(OAuthErrorKind::Other),
                "{code}"
            );
        }
        // Keys are compared as written: an escaped key is an unknown member (LWA never
        // escapes keys; the strict scanner decoded them).
        assert_eq!(
            parse_token_response(br#"{"access\u005ftoken":"A","expires_in":5}"#),
            Err(Missing("access_token"))
        );
        let t =
            parse_token_response(br#"{"access_token":"A","access\u005ftoken":"B","expires_in":5}"#);
        assert_eq!(t.map(|t| t.access_token), Ok("A"));
        assert_eq!(parse_error_response(br#"{"\u0065rror":"slow_down"}"#), None);
        // With several problems, a mistyped member is reported before a missing one (and of
        // a mistyped and a repeated one, the member checked first).
        assert_eq!(
            parse_token_response(br#"{"access_token":5,"expires_in":1,"expires_in":1}"#),
            Err(WrongType("access_token"))
        );
        assert_eq!(
            parse_token_response(br#"{"expires_in":"5"}"#),
            Err(WrongType("expires_in"))
        );
        assert_eq!(
            parse_token_response(br#"{"expires_in":0}"#),
            Err(Missing("access_token"))
        );
    }

    /// Members nested up to MAX_DEPTH are skipped; deeper answers are refused before
    /// serde-json-core, which recurses into them, sees them. The deepest answer parses within a
    /// small stack.
    #[test]
    fn nesting_is_bounded() {
        let nested = |depth: usize| {
            // The answer itself is one level.
            let inner = "[".repeat(depth - 1) + &"]".repeat(depth - 1);
            (
                std::format!(r#"{{"x":{inner},"access_token":"A","expires_in":5}}"#),
                std::format!(r#"{{"x":{inner},"error":"slow_down"}}"#),
            )
        };
        let (ok, ok_error) = nested(MAX_DEPTH);
        let (deep, deep_error) = nested(MAX_DEPTH + 1);
        let small_stack = std::thread::Builder::new().stack_size(16 * 1024);
        small_stack
            .spawn(move || {
                assert!(parse_token_response(ok.as_bytes()).is_ok());
                assert!(parse_error_response(ok_error.as_bytes()).is_some());
                assert_eq!(
                    parse_token_response(deep.as_bytes()),
                    Err(LwaError::Malformed)
                );
                assert_eq!(parse_error_response(deep_error.as_bytes()), None);
                let objects = "{\"a\":".repeat(MAX_DEPTH - 1) + "1" + &"}".repeat(MAX_DEPTH - 1);
                let json = std::format!(r#"{{"access_token":"A","expires_in":5,"x":{objects}}}"#);
                assert!(parse_token_response(json.as_bytes()).is_ok());
                // A whole response buffer of brackets.
                let huge = String::from("{\"x\":") + &"[".repeat(8000);
                assert_eq!(
                    parse_code_pair_response(huge.as_bytes()),
                    Err(LwaError::Malformed)
                );
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn error_kinds() {
        use OAuthErrorKind::*;
        for (code, kind, permanent) in [
            ("authorization_pending", AuthorizationPending, false),
            ("slow_down", SlowDown, false),
            ("invalid_code_pair", InvalidCodePair, false),
            ("expired_token", ExpiredToken, false),
            ("invalid_grant", InvalidGrant, true),
            ("invalid_client", InvalidClient, true),
            ("unauthorized_client", UnauthorizedClient, true),
            ("invalid_request", InvalidRequest, false),
            ("unsupported_grant_type", UnsupportedGrantType, true),
            ("invalid_scope", InvalidScope, true),
            ("server_error", ServerError, false),
            ("temporarily_unavailable", TemporarilyUnavailable, false),
        ] {
            let json =
                std::format!(r#"{{"error":"{code}","error_description":"The {code} happened"}}"#);
            let e = parse_error_response(json.as_bytes()).unwrap();
            let description = std::format!("The {code} happened");
            assert_eq!(
                e,
                OAuthError {
                    kind,
                    code,
                    description: &description
                }
            );
            assert_eq!(e.is_permanent(), permanent, "{code}");
            assert_eq!(kind.is_permanent(), permanent);
            assert_eq!(OAuthErrorKind::from_code(code), kind);
            assert_eq!(kind.code(), Some(code));
        }
        assert_eq!(Other.code(), None);
        assert!(!Other.is_permanent());
        for other in ["access_denied", "Invalid_Grant", "invalid_grant ", ""] {
            assert_eq!(OAuthErrorKind::from_code(other), Other);
        }
    }

    #[test]
    fn error_response() {
        let e = parse_error_response(
            br#"{"error_description":"bad code","error":"access_denied","x":1}"#,
        )
        .unwrap();
        assert_eq!(
            (e.kind, e.code, e.description),
            (OAuthErrorKind::Other, "access_denied", "bad code")
        );
        // No description, or not a string: "".
        for json in [
            &br#"{"error":"slow_down"}"#[..],
            br#"{"error":"slow_down","error_description":null}"#,
            br#"{"error":"slow_down","error_description":5}"#,
        ] {
            let e = parse_error_response(json).unwrap();
            assert_eq!((e.kind, e.description), (OAuthErrorKind::SlowDown, ""));
        }
        // Escapes are compared decoded for the kind, and passed on raw.
        let e = parse_error_response(
            br#"{"error":"invalid\u005fgrant","error_description":"say \"hi\""}"#,
        )
        .unwrap();
        assert_eq!(e.kind, OAuthErrorKind::InvalidGrant);
        assert_eq!(e.code, r"invalid\u005fgrant");
        assert_eq!(e.description, r#"say \"hi\""#);
        for json in [
            &br#"{"error_description":"x"}"#[..],
            br#"{"error":null}"#,
            br#"{"error":5}"#,
            br#"{"error":["slow_down"]}"#,
            br#"{"error":"slow_down""#,
            b"{\"error\":\"\xff\"}",
            br#""slow_down""#,
            b"",
            TOKEN,
        ] {
            assert_eq!(
                parse_error_response(json),
                None,
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn error_display() {
        assert_eq!(
            std::format!("{}", LwaError::Malformed),
            "LWA response is not a well-formed JSON object"
        );
        assert_eq!(
            std::format!("{}", LwaError::Missing("access_token")),
            "LWA response has no access_token"
        );
        assert_eq!(
            std::format!("{}", LwaError::WrongType("expires_in")),
            "LWA response has an invalid expires_in"
        );
    }

    #[test]
    fn parsers_never_panic() {
        let all = |p: &[u8]| {
            let _ = parse_token_response(p);
            let _ = parse_code_pair_response(p);
            let _ = parse_error_response(p);
        };
        never_panics(TOKEN, all);
        never_panics(
            br#"{"user_code":"U","device_code":"D","verification_uri":"V","expires_in":600,"interval":5}"#,
            all,
        );
        never_panics(
            br#"{"error":"invalid\u005fgrant","error_description":"x\"y"}"#,
            all,
        );
    }

    #[test]
    fn pkce_rfc7636_appendix_b() {
        // The 32 octets of RFC 7636 Appendix B give its verifier ...
        let octets = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let mut verifier = [0u8; 43];
        base64url_nopad(&octets, &mut verifier);
        assert_eq!(&verifier, b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        // ... and that verifier its challenge.
        let mut challenge = [0u8; CHALLENGE_LEN];
        code_challenge_s256(&verifier, &mut challenge);
        assert_eq!(&challenge, b"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(CODE_CHALLENGE_METHOD, "S256");
    }

    #[test]
    fn pkce_verifier() {
        let mut v = [0u8; VERIFIER_LEN];
        write_code_verifier(&core::array::from_fn(|i| i as u8), &mut v);
        assert_eq!(
            &v,
            b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v"
        );
        write_code_verifier(&core::array::from_fn(|i| (255 - i * 5) as u8), &mut v);
        assert_eq!(
            &v,
            b"__r18Ovm4dzX0s3Iw765tK-qpaCblpGMh4J9eHNuaWRfWlVQS0ZBPDcyLSgjHhkU"
        );
        for r in [[0u8; 48], [0xff; 48], [0xfb; 48]] {
            write_code_verifier(&r, &mut v);
            // RFC 7636 4.1: [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~", 43..=128 long.
            assert!(v.iter().all(|&b| is_unreserved(b)));
            assert!((43..=128).contains(&v.len()));
        }
        write_code_verifier(&[0xff; 48], &mut v);
        assert_eq!(&v, &[b'_'; 64]);
        // The challenge of a verifier round-trips through the authorization code body as is.
        let mut c = [0u8; CHALLENGE_LEN];
        code_challenge_s256(&v, &mut c);
        assert!(c
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let s = body(|out| write_authorization_code_request(out, "c", "r", "i", &v));
        assert!(s.ends_with(std::str::from_utf8(&v).unwrap()));
    }
}
