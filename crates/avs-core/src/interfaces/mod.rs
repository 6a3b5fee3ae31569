//! The AVS interfaces' messages: each submodule parses its interface's directive payloads into
//! typed values and writes its events' payloads and context entries.
//!
//! The code here is pure (no state, no I/O): the client keeps each interface's state and decides
//! what to do; these modules only know the wire format, so it can be tested against the spec
//! examples on its own and shared by every build (Linux and Cortex-M alike).
//!
//! Payloads are read strictly: a member with the wrong JSON type (`"5"`, `5.0`, `1e2` or `true`
//! where an integer belongs) is refused rather than coerced, so a directive the device does not
//! understand is reported to AVS instead of being half obeyed. Unknown members are ignored (AVS
//! adds members over time), `null` counts as absent, and for a repeated member the first counts,
//! as in [`crate::message`].

use core::fmt;

use crate::json;
use crate::message::{validate_json_object, ExceptionKind};

pub mod alerts;
pub mod alexa_speaker;
pub mod audio_player;
pub mod bluetooth;
pub mod discovery;
pub mod notifications;
pub mod playback_controller;
pub mod settings;
pub mod speaker;
pub mod system;
pub mod template_runtime;

/// Why a directive of an AVS (v1-style) interface was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectiveError {
    /// The name is not a directive of the interface: answer `System.ExceptionEncountered` with
    /// `UNSUPPORTED_OPERATION`.
    Unsupported,
    /// The payload is missing a member, has one of the wrong type or out of range, or is not an
    /// object: answer `System.ExceptionEncountered` with `UNEXPECTED_INFORMATION_RECEIVED` and
    /// this message.
    Invalid(&'static str),
}

impl DirectiveError {
    /// The `error.type` of the `System.ExceptionEncountered` that answers this error.
    pub fn exception_kind(self) -> ExceptionKind {
        match self {
            DirectiveError::Unsupported => ExceptionKind::UnsupportedOperation,
            DirectiveError::Invalid(_) => ExceptionKind::UnexpectedInformationReceived,
        }
    }

    /// The `error.message` of that `System.ExceptionEncountered`.
    pub fn message(self) -> &'static str {
        match self {
            DirectiveError::Unsupported => "directive not supported by this interface",
            DirectiveError::Invalid(m) => m,
        }
    }
}

impl fmt::Display for DirectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Why one payload member could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    /// Absent or `null`.
    Missing,
    /// Present with the wrong JSON type (or a string that is not UTF-8).
    Mistyped,
    /// The right type, outside the allowed range.
    OutOfRange,
    /// A string containing JSON escapes, which a `&str` borrowed from the payload cannot hold
    /// decoded (AVS never escapes the values read this way).
    Escaped,
}

/// The messages for each [`FieldError`] of one member, all `'static` so errors need no buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldMessages {
    /// The member is absent.
    pub missing: &'static str,
    /// The member has the wrong type.
    pub mistyped: &'static str,
    /// The member is out of range.
    pub out_of_range: &'static str,
    /// The member is a string with escapes.
    pub escaped: &'static str,
}

impl FieldMessages {
    /// The message for `e`.
    pub fn pick(&self, e: FieldError) -> &'static str {
        match e {
            FieldError::Missing => self.missing,
            FieldError::Mistyped => self.mistyped,
            FieldError::OutOfRange => self.out_of_range,
            FieldError::Escaped => self.escaped,
        }
    }

    /// [`DirectiveError::Invalid`] with the message for `e`.
    pub fn invalid(&self, e: FieldError) -> DirectiveError {
        DirectiveError::Invalid(self.pick(e))
    }
}

/// [`FieldMessages`] for `payload.<field>`: `field_messages!("volume", "an integer", "0..100")`
/// (the range may be omitted for members that have none).
macro_rules! field_messages {
    ($field:literal, $what:literal) => {
        field_messages!($field, $what, "its range")
    };
    ($field:literal, $what:literal, $range:literal) => {
        $crate::interfaces::FieldMessages {
            missing: concat!("payload.", $field, " is missing"),
            mistyped: concat!("payload.", $field, " is not ", $what),
            out_of_range: concat!("payload.", $field, " is outside ", $range),
            escaped: concat!("payload.", $field, " contains JSON escapes"),
        }
    };
}
pub(crate) use field_messages;

/// The message for a payload that is not a well-formed JSON object.
pub const NOT_AN_OBJECT: &str = "payload is not a JSON object";

/// A JSON object checked to be well-formed, whose members can then be read without errors of
/// syntax (only of presence, type and range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object<'a>(&'a [u8]);

impl<'a> Object<'a> {
    /// `raw` validated as exactly one JSON object (surrounding whitespace allowed).
    pub fn new(raw: &'a [u8]) -> Option<Self> {
        validate_json_object(raw).ok().map(|()| Object(raw))
    }

    /// `payload` as an [`Object`], or [`DirectiveError::Invalid`] with [`NOT_AN_OBJECT`].
    pub fn payload(payload: &'a [u8]) -> Result<Self, DirectiveError> {
        Object::new(payload).ok_or(DirectiveError::Invalid(NOT_AN_OBJECT))
    }

    /// The bytes of the object.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The raw value of the first member named `key`; `None` when absent or `null`.
    pub fn get(&self, key: &str) -> Option<&'a [u8]> {
        // The object is validated, so the scan cannot fail.
        match json::find_member(self.0, key) {
            Ok(Some(v)) if v != b"null" => Some(v),
            _ => None,
        }
    }

    /// Member `key` read with `read`, [`FieldError::Missing`] when absent or `null`.
    pub fn field<T>(
        &self,
        key: &str,
        read: impl FnOnce(&'a [u8]) -> Result<T, FieldError>,
    ) -> Result<T, FieldError> {
        self.get(key).ok_or(FieldError::Missing).and_then(read)
    }

    /// Integer member `key` within `min..=max` (see [`read_int`]).
    pub fn int_in(&self, key: &str, min: i64, max: i64) -> Result<i64, FieldError> {
        self.field(key, |v| read_int_in(v, min, max))
    }

    /// Boolean member `key`.
    pub fn bool(&self, key: &str) -> Result<bool, FieldError> {
        self.field(key, read_bool)
    }

    /// String member `key` as a `&str` borrowed from the payload (see [`read_str`]).
    pub fn str(&self, key: &str) -> Result<&'a str, FieldError> {
        self.field(key, read_str)
    }

    /// Object member `key`.
    pub fn object(&self, key: &str) -> Result<Object<'a>, FieldError> {
        self.field(key, |v| {
            if json::is_object(v) {
                Ok(Object(v))
            } else {
                Err(FieldError::Mistyped)
            }
        })
    }
}

/// A raw JSON value (as [`json::members`] gives it) read strictly as an integer: only
/// `-?(0|[1-9][0-9]*)`; fractions, exponents, strings and other types are
/// [`FieldError::Mistyped`], integers beyond `i64` [`FieldError::OutOfRange`].
pub fn read_int(raw: &[u8]) -> Result<i64, FieldError> {
    let (negative, digits) = match raw {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, raw),
    };
    match digits {
        [] => return Err(FieldError::Mistyped),
        [b'0', _, ..] => return Err(FieldError::Mistyped),
        _ if !digits.iter().all(u8::is_ascii_digit) => return Err(FieldError::Mistyped),
        _ => {}
    }
    // Accumulate towards the sign so that i64::MIN is reachable.
    let mut n: i64 = 0;
    for &d in digits {
        let d = i64::from(d - b'0');
        n = n
            .checked_mul(10)
            .and_then(|n| {
                if negative {
                    n.checked_sub(d)
                } else {
                    n.checked_add(d)
                }
            })
            .ok_or(FieldError::OutOfRange)?;
    }
    Ok(n)
}

/// [`read_int`] limited to `min..=max` ([`FieldError::OutOfRange`] outside).
pub fn read_int_in(raw: &[u8], min: i64, max: i64) -> Result<i64, FieldError> {
    let n = read_int(raw)?;
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(FieldError::OutOfRange)
    }
}

/// A raw JSON value read as a boolean: exactly `true` or `false`.
pub fn read_bool(raw: &[u8]) -> Result<bool, FieldError> {
    match raw {
        b"true" => Ok(true),
        b"false" => Ok(false),
        _ => Err(FieldError::Mistyped),
    }
}

/// A raw JSON value read as a string borrowed from it: [`FieldError::Mistyped`] for other types
/// and non-UTF-8, [`FieldError::Escaped`] when it contains escapes.
pub fn read_str(raw: &[u8]) -> Result<&str, FieldError> {
    let contents = json::string_contents(raw).ok_or(FieldError::Mistyped)?;
    if contents.contains(&b'\\') {
        return Err(FieldError::Escaped);
    }
    core::str::from_utf8(contents).map_err(|_| FieldError::Mistyped)
}

/// A raw JSON value checked to be a string, returned as its raw contents (escapes not decoded).
pub fn read_raw_str(raw: &[u8]) -> Result<&[u8], FieldError> {
    json::string_contents(raw).ok_or(FieldError::Mistyped)
}

/// Test helper: `parse` on every prefix and on byte mutations of `payload` returns without
/// panicking (the result itself is not checked).
#[cfg(test)]
pub(crate) fn never_panics(payload: &[u8], parse: impl Fn(&[u8])) {
    for n in 0..=payload.len() {
        parse(&payload[..n]);
    }
    let mut m = payload.to_vec();
    let mut x: u32 = 0x1234_5678;
    for i in 0..payload.len() {
        for b in [b'"', b'\\', b'{', b'}', b'-', b'0', b'9', b'.', 0, 0xff] {
            m[i] = b;
            parse(&m);
        }
        // xorshift for a few arbitrary bytes too
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        m[i] = x as u8;
        parse(&m);
        m[i] = payload[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        for (raw, want) in [
            (&b"0"[..], Ok(0)),
            (b"-0", Ok(0)),
            (b"5", Ok(5)),
            (b"-100", Ok(-100)),
            (b"9223372036854775807", Ok(i64::MAX)),
            (b"-9223372036854775808", Ok(i64::MIN)),
            (b"9223372036854775808", Err(FieldError::OutOfRange)),
            (b"-9223372036854775809", Err(FieldError::OutOfRange)),
            (b"99999999999999999999999999", Err(FieldError::OutOfRange)),
            (b"5.0", Err(FieldError::Mistyped)),
            (b"5.5", Err(FieldError::Mistyped)),
            (b"1e2", Err(FieldError::Mistyped)),
            (b"\"5\"", Err(FieldError::Mistyped)),
            (b"true", Err(FieldError::Mistyped)),
            (b"null", Err(FieldError::Mistyped)),
            (b"[5]", Err(FieldError::Mistyped)),
            (b"-", Err(FieldError::Mistyped)),
            (b"", Err(FieldError::Mistyped)),
            (b"05", Err(FieldError::Mistyped)),
            (b"+5", Err(FieldError::Mistyped)),
            (b" 5", Err(FieldError::Mistyped)),
            (b"--5", Err(FieldError::Mistyped)),
        ] {
            assert_eq!(read_int(raw), want, "{:?}", core::str::from_utf8(raw));
        }
        assert_eq!(read_int_in(b"100", 0, 100), Ok(100));
        assert_eq!(read_int_in(b"101", 0, 100), Err(FieldError::OutOfRange));
        assert_eq!(read_int_in(b"-1", 0, 100), Err(FieldError::OutOfRange));
        assert_eq!(read_int_in(b"1.0", 0, 100), Err(FieldError::Mistyped));
    }

    #[test]
    fn bools_and_strings() {
        assert_eq!(read_bool(b"true"), Ok(true));
        assert_eq!(read_bool(b"false"), Ok(false));
        for raw in [&b"1"[..], b"\"true\"", b"null", b"True", b"0"] {
            assert_eq!(read_bool(raw), Err(FieldError::Mistyped));
        }
        assert_eq!(read_str(b"\"ab\""), Ok("ab"));
        assert_eq!(read_str(b"\"a\\/b\""), Err(FieldError::Escaped));
        assert_eq!(read_str(b"\"\xff\""), Err(FieldError::Mistyped));
        assert_eq!(read_str(b"5"), Err(FieldError::Mistyped));
        assert_eq!(read_raw_str(b"\"a\\/b\""), Ok(&b"a\\/b"[..]));
        assert_eq!(read_raw_str(b"{}"), Err(FieldError::Mistyped));
    }

    #[test]
    fn objects() {
        assert!(Object::new(b" {\"a\":1} ").is_some());
        for bad in [&b"[]"[..], b"5", b"{", b"{} {}", b"", b"{\"a\":}"] {
            assert_eq!(Object::new(bad), None);
            assert_eq!(
                Object::payload(bad),
                Err(DirectiveError::Invalid(NOT_AN_OBJECT))
            );
        }
        let o = Object::new(br#"{"a":null,"b":1,"b":2,"c":{"d":true},"e":[]}"#).unwrap();
        assert_eq!(o.get("a"), None);
        assert_eq!(o.int_in("a", 0, 9), Err(FieldError::Missing));
        assert_eq!(o.int_in("b", 0, 9), Ok(1));
        assert_eq!(o.int_in("zz", 0, 9), Err(FieldError::Missing));
        assert_eq!(o.object("c").unwrap().bool("d"), Ok(true));
        assert_eq!(o.object("e"), Err(FieldError::Mistyped));
        assert_eq!(o.str("b"), Err(FieldError::Mistyped));
    }

    #[test]
    fn errors_map_to_exceptions() {
        assert_eq!(
            DirectiveError::Unsupported.exception_kind(),
            ExceptionKind::UnsupportedOperation
        );
        let e = DirectiveError::Invalid("payload.volume is missing");
        assert_eq!(
            e.exception_kind(),
            ExceptionKind::UnexpectedInformationReceived
        );
        assert_eq!(e.message(), "payload.volume is missing");
        assert_eq!(std::format!("{e}"), "payload.volume is missing");
        let m = field_messages!("volume", "an integer", "0..100");
        assert_eq!(m.pick(FieldError::Missing), "payload.volume is missing");
        assert_eq!(
            m.pick(FieldError::Mistyped),
            "payload.volume is not an integer"
        );
        assert_eq!(
            m.pick(FieldError::OutOfRange),
            "payload.volume is outside 0..100"
        );
        assert_eq!(
            m.pick(FieldError::Escaped),
            "payload.volume contains JSON escapes"
        );
    }
}
