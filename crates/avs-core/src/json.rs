//! A small validating JSON scanner over byte slices (RFC 8259): no allocation, no recursion.
//!
//! It finds the raw byte span of values (a directive's `payload`, an `initiator` to echo back),
//! iterates object members and validates documents, so that payloads can be passed on verbatim
//! and serde-json-core only ever sees small, already-validated, shallow objects. Nesting deeper
//! than the limit given is refused with [`MessageError::TooDeep`] instead of being recursed into.

use super::message::MessageError;

/// Deepest nesting of arrays and objects accepted in a message (AVS payloads use well under 10).
pub const MAX_DEPTH: usize = 64;

/// Index of the first non-whitespace byte at or after `i` (or `s.len()`).
pub fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while matches!(s.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// Validates the JSON value that starts at `start` (after optional whitespace) and returns the
/// index just past it. Containers nested deeper than `max_depth` (at most 128) are refused.
pub fn value_end(s: &[u8], start: usize, max_depth: usize) -> Result<usize, MessageError> {
    let max_depth = max_depth.min(128);
    // Bit d is set when the container at depth d is an object, clear for an array.
    let mut stack: u128 = 0;
    let mut depth = 0usize;
    let mut i = skip_ws(s, start);
    loop {
        // A value starts at `i`.
        match s.get(i) {
            Some(&open @ (b'{' | b'[')) => {
                if depth == max_depth {
                    return Err(MessageError::TooDeep);
                }
                let object = open == b'{';
                i = skip_ws(s, i + 1);
                let close = if object { b'}' } else { b']' };
                if s.get(i) == Some(&close) {
                    i += 1;
                } else {
                    if object {
                        stack |= 1 << depth;
                        i = member_value_start(s, i)?;
                    } else {
                        stack &= !(1 << depth);
                    }
                    depth += 1;
                    continue;
                }
            }
            Some(b'"') => i = string_end(s, i)?.0,
            Some(b'-' | b'0'..=b'9') => i = number_end(s, i)?,
            Some(b't') => i = literal_end(s, i, b"true")?,
            Some(b'f') => i = literal_end(s, i, b"false")?,
            Some(b'n') => i = literal_end(s, i, b"null")?,
            _ => return Err(MessageError::Malformed),
        }
        // A value ended at `i`: close every container that ends here, or move to the next value.
        loop {
            if depth == 0 {
                return Ok(i);
            }
            i = skip_ws(s, i);
            let object = stack & (1 << (depth - 1)) != 0;
            match s.get(i) {
                Some(b',') => {
                    i = skip_ws(s, i + 1);
                    if object {
                        i = member_value_start(s, i)?;
                    }
                    break;
                }
                Some(b'}') if object => {
                    depth -= 1;
                    i += 1;
                }
                Some(b']') if !object => {
                    depth -= 1;
                    i += 1;
                }
                _ => return Err(MessageError::Malformed),
            }
        }
    }
}

/// Parses `"key" :` at `i` and returns where the member's value starts.
fn member_value_start(s: &[u8], i: usize) -> Result<usize, MessageError> {
    if s.get(i) != Some(&b'"') {
        return Err(MessageError::Malformed);
    }
    let j = skip_ws(s, string_end(s, i)?.0);
    if s.get(j) != Some(&b':') {
        return Err(MessageError::Malformed);
    }
    Ok(skip_ws(s, j + 1))
}

/// For the string whose opening quote is at `i`: the index past its closing quote, and whether
/// it contains escapes. Escapes are checked; raw control characters are refused.
pub fn string_end(s: &[u8], i: usize) -> Result<(usize, bool), MessageError> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        match s.get(j) {
            Some(b'"') => return Ok((j + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                match s.get(j + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j += 2,
                    Some(b'u') => {
                        let hex = s.get(j + 2..j + 6).ok_or(MessageError::Malformed)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(MessageError::Malformed);
                        }
                        j += 6;
                    }
                    _ => return Err(MessageError::Malformed),
                }
            }
            Some(&c) if c < 0x20 => return Err(MessageError::Malformed),
            Some(_) => j += 1,
            None => return Err(MessageError::Malformed),
        }
    }
}

fn number_end(s: &[u8], mut i: usize) -> Result<usize, MessageError> {
    let digits = |s: &[u8], mut i: usize| -> Result<usize, MessageError> {
        let start = i;
        while matches!(s.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == start {
            Err(MessageError::Malformed)
        } else {
            Ok(i)
        }
    };
    if s.get(i) == Some(&b'-') {
        i += 1;
    }
    // No leading zeros: "0" alone, or a digit 1-9 followed by digits.
    i = if s.get(i) == Some(&b'0') {
        i + 1
    } else {
        digits(s, i)?
    };
    if s.get(i) == Some(&b'.') {
        i = digits(s, i + 1)?;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(s, i)?;
    }
    Ok(i)
}

fn literal_end(s: &[u8], i: usize, literal: &[u8]) -> Result<usize, MessageError> {
    if s.get(i..i + literal.len()) == Some(literal) {
        Ok(i + literal.len())
    } else {
        Err(MessageError::Malformed)
    }
}

/// Validates that `s` is exactly one JSON value (surrounding whitespace allowed).
pub fn validate(s: &[u8]) -> Result<(), MessageError> {
    let end = value_end(s, 0, MAX_DEPTH)?;
    if skip_ws(s, end) == s.len() {
        Ok(())
    } else {
        Err(MessageError::Malformed)
    }
}

/// True when the raw value `v` (as returned by [`Members`]) is an object.
pub fn is_object(v: &[u8]) -> bool {
    v.first() == Some(&b'{')
}

/// The contents between the quotes of the raw value `v` when it is a string (escapes not
/// decoded), `None` for any other kind of value.
pub fn string_contents(v: &[u8]) -> Option<&[u8]> {
    match v {
        [b'"', inner @ .., b'"'] => Some(inner),
        _ => None,
    }
}

/// One object member: the raw key (without quotes, escapes not decoded) and the raw value span.
pub type Member<'a> = (&'a [u8], &'a [u8]);

/// Iterator over the members of a JSON object: `(raw key, raw value)`, the key without its
/// quotes and with escapes not decoded (compare it with [`key_eq`]), the value as its exact byte
/// span. Each value is validated as it is passed; a syntax error ends the iteration with `Err`.
pub struct Members<'a> {
    s: &'a [u8],
    i: usize,
    first: bool,
    done: bool,
}

/// Iterates over the members of the object `obj` (leading whitespace allowed).
/// Fails with [`MessageError::NotAnObject`] when `obj` does not start with `{`.
pub fn members(obj: &[u8]) -> Result<Members<'_>, MessageError> {
    let i = skip_ws(obj, 0);
    if obj.get(i) != Some(&b'{') {
        return Err(MessageError::NotAnObject);
    }
    Ok(Members {
        s: obj,
        i: i + 1,
        first: true,
        done: false,
    })
}

impl<'a> Members<'a> {
    fn step(&mut self) -> Result<Option<Member<'a>>, MessageError> {
        let s = self.s;
        let mut i = skip_ws(s, self.i);
        match (self.first, s.get(i)) {
            (_, Some(b'}')) if self.first => return Ok(None),
            (true, _) => {}
            (false, Some(b',')) => i = skip_ws(s, i + 1),
            (false, Some(b'}')) => return Ok(None),
            _ => return Err(MessageError::Malformed),
        }
        self.first = false;
        if s.get(i) != Some(&b'"') {
            return Err(MessageError::Malformed);
        }
        let key_end = string_end(s, i)?.0;
        let key = &s[i + 1..key_end - 1];
        let value_start = member_value_start(s, i)?;
        let value_end = value_end(s, value_start, MAX_DEPTH)?;
        self.i = value_end;
        Ok(Some((key, &s[value_start..value_end])))
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = Result<Member<'a>, MessageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step().transpose();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

/// The raw value of the first member named `key` in the object `obj`, or `None`.
pub fn find_member<'a>(obj: &'a [u8], key: &str) -> Result<Option<&'a [u8]>, MessageError> {
    for m in members(obj)? {
        let (k, v) = m?;
        if key_eq(k, key) {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// The contents of the string member `key` of `obj` (escapes not decoded); `None` when the member
/// is missing, not a string, or `obj` is not a well-formed object up to it.
pub fn find_string_member<'a>(obj: &'a [u8], key: &str) -> Option<&'a [u8]> {
    find_member(obj, key)
        .ok()
        .flatten()
        .and_then(string_contents)
}

/// Whether the raw string contents `raw` (escapes not decoded) spell `key`.
pub fn key_eq(raw: &[u8], key: &str) -> bool {
    if !raw.contains(&b'\\') {
        return raw == key.as_bytes();
    }
    let mut decoded = Unescape::new(raw);
    for &want in key.as_bytes() {
        match decoded.next() {
            Some(Ok(b)) if b == want => {}
            _ => return false,
        }
    }
    decoded.next().is_none()
}

/// Decodes the raw string contents `raw` (as from [`string_contents`]) into `out`.
/// Fails with [`MessageError::Malformed`] on a bad escape or a lone surrogate, and
/// [`MessageError::Overflow`] when `out` is too small.
pub fn unescape<'b>(raw: &[u8], out: &'b mut [u8]) -> Result<&'b str, MessageError> {
    let mut n = 0;
    for b in Unescape::new(raw) {
        *out.get_mut(n).ok_or(MessageError::Overflow)? = b?;
        n += 1;
    }
    core::str::from_utf8(&out[..n]).map_err(|_| MessageError::Malformed)
}

/// The bytes of a JSON string's contents with escapes decoded (to UTF-8).
struct Unescape<'a> {
    raw: &'a [u8],
    i: usize,
    pending: [u8; 4],
    pending_at: usize,
    pending_len: usize,
}

impl<'a> Unescape<'a> {
    fn new(raw: &'a [u8]) -> Self {
        Unescape {
            raw,
            i: 0,
            pending: [0; 4],
            pending_at: 0,
            pending_len: 0,
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let h = self.raw.get(at..at + 4)?;
        let s = core::str::from_utf8(h).ok()?;
        u32::from_str_radix(s, 16).ok()
    }

    fn escape(&mut self) -> Result<u8, MessageError> {
        let c = *self.raw.get(self.i + 1).ok_or(MessageError::Malformed)?;
        self.i += 2;
        let simple = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => return self.unicode(),
            _ => return Err(MessageError::Malformed),
        };
        Ok(simple)
    }

    fn unicode(&mut self) -> Result<u8, MessageError> {
        let hi = self.hex4(self.i).ok_or(MessageError::Malformed)?;
        self.i += 4;
        let code = if (0xD800..0xDC00).contains(&hi) {
            // A high surrogate must be followed by `\u` and a low one.
            if self.raw.get(self.i..self.i + 2) != Some(b"\\u") {
                return Err(MessageError::Malformed);
            }
            let lo = self.hex4(self.i + 2).ok_or(MessageError::Malformed)?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(MessageError::Malformed);
            }
            self.i += 6;
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        let ch = char::from_u32(code).ok_or(MessageError::Malformed)?;
        let len = ch.encode_utf8(&mut self.pending).len();
        self.pending_at = 1;
        self.pending_len = len;
        Ok(self.pending[0])
    }
}

impl Iterator for Unescape<'_> {
    type Item = Result<u8, MessageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pending_at < self.pending_len {
            self.pending_at += 1;
            return Some(Ok(self.pending[self.pending_at - 1]));
        }
        let b = *self.raw.get(self.i)?;
        if b == b'\\' {
            let r = self.escape();
            if r.is_err() {
                // Stop after the first error.
                self.i = self.raw.len();
            }
            Some(r)
        } else {
            self.i += 1;
            Some(Ok(b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_documents() {
        for doc in [
            &b"{}"[..],
            b" { } ",
            b"[]",
            b"0",
            b"-0.5e+10",
            b"1E5",
            b"\"a\\u00e9\\n\\\"\"",
            b"true",
            b"null",
            b"{\"a\":[1,2,{\"b\":null}],\"c\":{\"d\":\"}\"}}",
            b"[[[[[]]]]]",
            "\"h\u{e9}llo \u{1f600}\"".as_bytes(),
        ] {
            assert_eq!(validate(doc), Ok(()), "{:?}", core::str::from_utf8(doc));
        }
    }

    #[test]
    fn invalid_documents() {
        for doc in [
            &b""[..],
            b" ",
            b"{",
            b"{\"a\"}",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"[1,]",
            b"[1 2]",
            b"{1:2}",
            b"{\"a\":1]",
            b"[}",
            b"01",
            b"1.",
            b".5",
            b"-",
            b"1e",
            b"+1",
            b"tru",
            b"nul",
            b"\"abc",
            b"\"a\\x\"",
            b"\"\\u12\"",
            b"\"\\u12g4\"",
            b"\"tab\there\"",
            b"{} {}",
            b"{}x",
            b"'a'",
        ] {
            assert_eq!(
                validate(doc),
                Err(MessageError::Malformed),
                "{:?}",
                core::str::from_utf8(doc)
            );
        }
    }

    #[test]
    fn depth_limit_without_recursion() {
        let mut deep = [b'['; 100_000];
        assert_eq!(validate(&deep), Err(MessageError::TooDeep));
        deep[..3].copy_from_slice(b"{\"a");
        assert_eq!(validate(&deep), Err(MessageError::Malformed));
        let ok: std::string::String = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(validate(ok.as_bytes()), Ok(()));
        let over: std::string::String = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(validate(over.as_bytes()), Err(MessageError::TooDeep));
    }

    #[test]
    fn member_iteration_and_lookup() {
        let obj = br#" { "a" : 1 , "b\"}" : { "x" : [ "]" ] } , "c":"s\"t" , "a":2 } "#;
        let got: std::vec::Vec<_> = members(obj).unwrap().map(|m| m.unwrap()).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[1], (&br#"b\"}"#[..], &br#"{ "x" : [ "]" ] }"#[..]));
        assert_eq!(find_member(obj, "a"), Ok(Some(&b"1"[..])));
        assert_eq!(
            find_member(obj, "b\"}"),
            Ok(Some(&br#"{ "x" : [ "]" ] }"#[..]))
        );
        assert_eq!(find_member(obj, "zz"), Ok(None));
        assert_eq!(find_string_member(obj, "c"), Some(&br#"s\"t"#[..]));
        assert_eq!(find_string_member(obj, "a"), None);
        assert_eq!(find_member(b"[1]", "a"), Err(MessageError::NotAnObject));
        assert_eq!(
            find_member(b"{\"a\":1,\"b\":}", "b"),
            Err(MessageError::Malformed)
        );
        assert_eq!(find_member(b"{}", "b"), Ok(None));
        assert!(members(b"{\"a\":1").unwrap().any(|m| m.is_err()));
    }

    #[test]
    fn escapes_decode() {
        assert!(key_eq(br"na\u006de", "name"));
        assert!(!key_eq(br"na\u006de", "nam"));
        assert!(!key_eq(br"na\u006d", "name"));
        assert!(key_eq(b"plain", "plain"));
        let mut buf = [0u8; 32];
        assert_eq!(
            unescape(br#"a\"b\\c\/\n\u00e9\ud83d\ude00"#, &mut buf),
            Ok("a\"b\\c/\n\u{e9}\u{1f600}")
        );
        assert_eq!(unescape(br"\ud83d", &mut buf), Err(MessageError::Malformed));
        assert_eq!(unescape(br"\ude00", &mut buf), Err(MessageError::Malformed));
        assert_eq!(unescape(br"\q", &mut buf), Err(MessageError::Malformed));
        assert_eq!(
            unescape(b"toolong", &mut buf[..3]),
            Err(MessageError::Overflow)
        );
    }
}
