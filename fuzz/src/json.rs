//! The `json` target: `avs_core::json` (validator, value spans, object members, unescaping) and
//! `avs_core::message::{parse_directive, parse_exception}` against serde_json on the same input.
//!
//! What is compared, and where ours deliberately differs from a full JSON parser:
//! - Validity is syntax (RFC 8259 grammar), as serde_json checks it when it skips a value
//!   (`IgnoredAny`): neither checks that strings are UTF-8, that `\u` escapes pair up as UTF-16
//!   surrogates, or that numbers fit a float. Ours is syntax-only by design (payloads are passed
//!   on verbatim) and says so; serde_json's value parsing would reject those.
//! - Ours refuses nesting deeper than [`MAX_DEPTH`] (64) with `TooDeep`; serde_json's skipping
//!   has no limit. So: serde_json valid and depth <= 64 ⇔ ours valid; deeper ⇔ `TooDeep`.
//! - Member keys are compared decoded (`"dir\u0065ctive"` is `directive`); a header's string
//!   values are the raw contents between the quotes, escapes not decoded, and `parse_directive`
//!   refuses a header string with escapes (`EscapedString`) while `parse_exception` passes them
//!   on raw. A repeated member: the first one counts. A `null` header member counts as absent.
//! - Inputs that are not UTF-8 are checked for validity as bytes; the structural comparisons run
//!   on their lossy UTF-8 form (serde_json's raw values are `str`s).

use avs_core::json::{self, MAX_DEPTH};
use avs_core::message::{parse_directive, parse_exception, MessageError};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use MessageError::*;

/// Deepest nesting of arrays and objects in a document serde_json accepted.
fn depth(s: &[u8]) -> usize {
    let (mut d, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for &c in s {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => {
                d += 1;
                max = max.max(d);
            }
            b']' | b'}' => d -= 1,
            _ => {}
        }
    }
    max
}

/// What serde_json makes of `s` as one JSON document: `Ok` when valid and at most `MAX_DEPTH`
/// deep, the error ours must give otherwise (`Malformed` standing for "any syntax error").
fn expected_validity(s: &[u8]) -> Result<(), MessageError> {
    if serde_json::from_slice::<IgnoredAny>(s).is_err() {
        Err(Malformed)
    } else if depth(s) > MAX_DEPTH {
        Err(TooDeep)
    } else {
        Ok(())
    }
}

fn assert_validity(what: &str, s: &[u8], ours: Result<(), MessageError>) {
    match expected_validity(s) {
        // A document that is both malformed and too deep may fail either way, depending on which
        // comes first.
        Err(Malformed) => assert!(
            matches!(ours, Err(Malformed | TooDeep)),
            "{what}: serde_json rejects {:?}, ours gives {ours:?}",
            String::from_utf8_lossy(s)
        ),
        want => assert_eq!(ours, want, "{what}: {:?}", String::from_utf8_lossy(s)),
    }
}

/// An object's members in document order, repeats kept, values as raw spans.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Entries<'a>, M::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry::<String, &'de RawValue>()? {
                    v.push(e);
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The members of the object `raw`, or `None` when serde_json cannot decode a key (a lone
/// surrogate escape) — ours then just never matches that key; nothing to compare.
fn entries(raw: &str) -> Option<Vec<(String, &RawValue)>> {
    serde_json::from_str::<Entries>(raw).ok().map(|e| e.0)
}

fn first<'a>(entries: &[(String, &'a RawValue)], key: &str) -> Option<&'a str> {
    entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.get())
}

fn is_object(v: &str) -> bool {
    v.starts_with('{')
}

/// The raw contents of a string value (escapes not decoded); `Ok(None)` for null or absent;
/// `WrongType` for any other value.
fn string_member<'a>(
    entries: &[(String, &'a RawValue)],
    key: &str,
) -> Result<Option<&'a str>, MessageError> {
    match first(entries, key) {
        None | Some("null") => Ok(None),
        Some(v) if v.starts_with('"') => Ok(Some(&v[1..v.len() - 1])),
        Some(_) => Err(WrongType),
    }
}

const HEADER_KEYS: [&str; 6] = [
    "namespace",
    "name",
    "messageId",
    "dialogRequestId",
    "correlationToken",
    "payloadVersion",
];

/// The six header strings, after every known member's type is checked (in document order of
/// first occurrences: a wrong type wins over a missing member).
fn header_strings(header: &str) -> Option<Result<[Option<&str>; 6], MessageError>> {
    let e = entries(header)?;
    let mut out = [None; 6];
    let mut order: Vec<(usize, usize)> = HEADER_KEYS
        .iter()
        .enumerate()
        .filter_map(|(k, key)| e.iter().position(|(name, _)| name == key).map(|at| (at, k)))
        .collect();
    order.sort();
    for (_, k) in order {
        match string_member(&e, HEADER_KEYS[k]) {
            Ok(v) => out[k] = v,
            Err(err) => return Some(Err(err)),
        }
    }
    Some(Ok(out))
}

/// What `parse_directive` must return, per its documentation: `(namespace, name, messageId,
/// dialogRequestId, correlationToken, payloadVersion, payload span, endpoint span)`; `None`
/// when serde_json cannot decode a key on the way (see [`entries`]).
#[allow(clippy::type_complexity)]
fn reference_directive(
    s: &str,
) -> Option<Result<([Option<&str>; 6], &str, Option<&str>), MessageError>> {
    let top = entries(s)?;
    let Some(directive) = first(&top, "directive") else {
        return Some(Err(MissingDirective));
    };
    if !is_object(directive) {
        return Some(Err(WrongType));
    }
    let d = entries(directive)?;
    let (header, payload, endpoint) = (
        first(&d, "header"),
        first(&d, "payload"),
        first(&d, "endpoint"),
    );
    let Some(header) = header else {
        return Some(Err(MissingHeader));
    };
    let Some(payload) = payload else {
        return Some(Err(MissingPayload));
    };
    if !is_object(header) || !is_object(payload) || endpoint.is_some_and(|e| !is_object(e)) {
        return Some(Err(WrongType));
    }
    let h = match header_strings(header)? {
        Ok(h) => h,
        Err(e) => return Some(Err(e)),
    };
    let missing = [MissingNamespace, MissingName, MissingMessageId];
    for (k, v) in h.iter().enumerate() {
        match v {
            None if k < 3 => return Some(Err(missing[k])),
            Some(v) if v.contains('\\') => return Some(Err(EscapedString)),
            _ => {}
        }
    }
    Some(Ok((h, payload, endpoint)))
}

/// What `parse_exception` must return: `(code, description, messageId)`.
#[allow(clippy::type_complexity)]
fn reference_exception(s: &str) -> Option<Result<(&str, &str, Option<&str>), MessageError>> {
    let top = entries(s)?;
    let mut message_id = None;
    if let Some(header) = first(&top, "header") {
        if !is_object(header) {
            return Some(Err(WrongType));
        }
        let h = match header_strings(header)? {
            Ok(h) => h,
            Err(e) => return Some(Err(e)),
        };
        if h[0] != Some("System") || h[1] != Some("Exception") {
            return Some(Err(NotAnException));
        }
        message_id = h[2];
    }
    let Some(payload) = first(&top, "payload") else {
        return Some(Err(MissingPayload));
    };
    if !is_object(payload) {
        return Some(Err(WrongType));
    }
    let p = entries(payload)?;
    let mut fields = [None, None];
    let mut order: Vec<(usize, usize)> = ["code", "description"]
        .iter()
        .enumerate()
        .filter_map(|(k, key)| p.iter().position(|(name, _)| name == key).map(|at| (at, k)))
        .collect();
    order.sort();
    for (_, k) in order {
        match string_member(&p, ["code", "description"][k]) {
            Ok(v) => fields[k] = v,
            Err(e) => return Some(Err(e)),
        }
    }
    let Some(code) = fields[0] else {
        return Some(Err(MissingCode));
    };
    Some(Ok((code, fields[1].unwrap_or(""), message_id)))
}

/// Members, value spans and unescaping of one object against serde_json's.
fn check_members(obj: &str) {
    let Some(want) = entries(obj) else { return };
    let got: Vec<_> = json::members(obj.as_bytes())
        .expect("an object")
        .collect::<Result<Vec<_>, _>>()
        .expect("members of a valid object");
    assert_eq!(got.len(), want.len(), "member count of {obj:?}");
    let mut buf = vec![0u8; obj.len() * 4];
    for ((raw_key, value), (key, raw)) in got.iter().zip(&want) {
        assert_eq!(
            json::unescape(raw_key, &mut buf),
            Ok(key.as_str()),
            "key {:?}",
            String::from_utf8_lossy(raw_key)
        );
        assert!(
            json::key_eq(raw_key, key),
            "key_eq {:?} {key:?}",
            String::from_utf8_lossy(raw_key)
        );
        assert_eq!(*value, raw.get().as_bytes(), "value span of {key:?}");
        if is_object(raw.get()) {
            check_members(raw.get());
        }
    }
}

/// Validity of `s` as a document and as an object, for the validator and both parsers.
/// Returns whether `s` is a valid object (then the structure can be compared).
fn check_validity(s: &[u8]) -> bool {
    assert_validity("validate", s, json::validate(s));
    let want = match expected_validity(s) {
        Ok(()) if s.get(json::skip_ws(s, 0)) != Some(&b'{') => Err(NotAnObject),
        v => v,
    };
    let results = [
        (
            "validate_json_object",
            avs_core::message::validate_json_object(s),
        ),
        ("parse_directive", parse_directive(s).map(|_| ())),
        ("parse_exception", parse_exception(s).map(|_| ())),
    ];
    for (what, got) in results {
        match want {
            Ok(()) if what == "validate_json_object" => assert_eq!(got, Ok(()), "{what}"),
            Ok(()) => {} // compared member by member below
            Err(Malformed) => assert!(
                matches!(got, Err(Malformed | TooDeep)),
                "{what}: {got:?} for {:?}",
                String::from_utf8_lossy(s)
            ),
            Err(e) => assert_eq!(got, Err(e), "{what}: {:?}", String::from_utf8_lossy(s)),
        }
    }
    want.is_ok()
}

/// The `json` target.
pub fn check(data: &[u8]) {
    // On the bytes as they are (never a panic, whatever they hold)...
    let mut valid_object = check_validity(data);
    // ...and the structure on their lossy UTF-8 form (serde_json's raw values are `str`s).
    let text = String::from_utf8_lossy(data);
    if text.as_bytes() != data {
        valid_object = check_validity(text.as_bytes());
    }
    if !valid_object {
        return;
    }
    let s = text.as_bytes();
    let t = text.trim_matches([' ', '\t', '\n', '\r']);
    check_members(t);
    if let Some(want) = reference_directive(t) {
        let got = parse_directive(s).map(|d| {
            let h = d.header;
            (
                [
                    Some(h.namespace),
                    Some(h.name),
                    Some(h.message_id),
                    h.dialog_request_id,
                    h.correlation_token,
                    h.payload_version,
                ],
                d.payload,
                d.endpoint,
            )
        });
        let want = want.map(|(h, p, e)| (h, p.as_bytes(), e.map(str::as_bytes)));
        assert_eq!(got, want, "parse_directive {t:?}");
    }
    if let Some(want) = reference_exception(t) {
        let got = parse_exception(s).map(|x| (x.code, x.description, x.message_id));
        assert_eq!(got, want, "parse_exception {t:?}");
    }
}
