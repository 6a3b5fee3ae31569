//! A streaming JSON writer into a caller's buffer: no allocation, no recursion, no panics.
//!
//! Every event and context entry is written through it, so commas, key quoting and string
//! escaping live in one place instead of in hand-concatenated byte strings per interface.
//!
//! Errors are sticky: once a call fails (the buffer is full, or the call would make the output
//! something other than JSON), every later call does nothing and [`JsonWriter::finish`][finish]
//! returns [`Overflow`][Overflow]. So a writer function can make all its calls unconditionally
//! and check once. `finish` returning `Ok` therefore means the output is valid JSON: the writer
//! refuses a key outside an object, a value inside an object without its key, a close that does
//! not match the open container, nesting deeper than [`MAX_DEPTH`][MAX_DEPTH], a
//! [`JsonWriter::raw`][raw] value that is not exactly one JSON value, and unclosed containers at
//! `finish`. Those are programming errors, reported with the same `Overflow` because a writer
//! has only one way to fail: "this document could not be produced".
//!
//! At the top level successive values are separated by commas, so one writer can also produce
//! the contents of an array, such as the context items [`crate::message::write_event`] takes.
//!
//! [finish]: crate::jsonw::JsonWriter::finish
//! [raw]: crate::jsonw::JsonWriter::raw
//! [MAX_DEPTH]: crate::jsonw::MAX_DEPTH
//! [Overflow]: crate::Overflow

use crate::json;
use crate::message::write_json_string;
use crate::{put_all, Overflow};

/// Deepest nesting of arrays and objects the writer produces (AVS messages use under 10).
pub const MAX_DEPTH: usize = 32;

/// Writes JSON into `&mut [u8]`; see the module documentation.
#[derive(Debug)]
pub struct JsonWriter<'a> {
    out: &'a mut [u8],
    pos: usize,
    /// Open containers (0 = top level).
    depth: usize,
    /// Bit `d` set: the container at depth `d` (bit 0: the top level) has no element yet.
    first: u64,
    /// Bit `d` set: the container at depth `d` is an object (clear: an array).
    object: u64,
    /// A key was written and its value has not been.
    after_key: bool,
    failed: bool,
}

impl<'a> JsonWriter<'a> {
    /// A writer that starts at the beginning of `out`.
    pub fn new(out: &'a mut [u8]) -> Self {
        JsonWriter {
            out,
            pos: 0,
            depth: 0,
            first: 1,
            object: 0,
            after_key: false,
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

    /// False once a call has failed (see the module documentation).
    pub fn is_ok(&self) -> bool {
        !self.failed
    }

    /// Marks the writer failed, for helpers that find they cannot write a valid value.
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// The length of the document, or [`Overflow`] when any call failed or a container (or a
    /// key's value) is still open.
    pub fn finish(self) -> Result<usize, Overflow> {
        if self.failed || self.depth != 0 || self.after_key {
            Err(Overflow)
        } else {
            Ok(self.pos)
        }
    }

    fn in_object(&self) -> bool {
        self.object & (1 << self.depth) != 0
    }

    fn is_first(&self) -> bool {
        self.first & (1 << self.depth) != 0
    }

    fn put(&mut self, bytes: &[u8]) {
        if put_all(self.out, &mut self.pos, &[bytes]).is_err() {
            self.failed = true;
        }
    }

    /// Everything a value needs before it: checks the key rule and writes the comma. False when
    /// the value must not be written.
    fn begin_value(&mut self) -> bool {
        if self.failed {
            return false;
        }
        if self.in_object() {
            if !self.after_key {
                self.failed = true;
                return false;
            }
            self.after_key = false;
        } else {
            if !self.is_first() {
                self.put(b",");
            }
            self.first &= !(1 << self.depth);
        }
        !self.failed
    }

    fn open(&mut self, object: bool) {
        if !self.begin_value() {
            return;
        }
        if self.depth == MAX_DEPTH {
            self.failed = true;
            return;
        }
        self.put(if object { b"{" } else { b"[" });
        self.depth += 1;
        self.first |= 1 << self.depth;
        if object {
            self.object |= 1 << self.depth;
        } else {
            self.object &= !(1 << self.depth);
        }
    }

    fn close(&mut self, object: bool) {
        if self.failed {
            return;
        }
        if self.depth == 0 || self.in_object() != object || self.after_key {
            self.failed = true;
            return;
        }
        self.put(if object { b"}" } else { b"]" });
        self.depth -= 1;
    }

    /// Opens an object (as a value: after a key, in an array, or at the top level).
    pub fn begin_object(&mut self) {
        self.open(true);
    }

    /// Closes the innermost container, which must be an object with no key awaiting its value.
    pub fn end_object(&mut self) {
        self.close(true);
    }

    /// Opens an array (as a value).
    pub fn begin_array(&mut self) {
        self.open(false);
    }

    /// Closes the innermost container, which must be an array.
    pub fn end_array(&mut self) {
        self.close(false);
    }

    /// Writes a member's key in the innermost object, preceded by a comma unless it is the
    /// first: `"key":`. The next call must write its value.
    pub fn key(&mut self, key: &str) {
        if self.failed {
            return;
        }
        if !self.in_object() || self.after_key {
            self.failed = true;
            return;
        }
        if !self.is_first() {
            self.put(b",");
        }
        self.first &= !(1 << self.depth);
        self.string_bytes(key.as_bytes());
        self.put(b":");
        self.after_key = true;
    }

    fn string_bytes(&mut self, s: &[u8]) {
        if self.failed {
            return;
        }
        match self
            .out
            .get_mut(self.pos..)
            .map(|rest| write_json_string(rest, s))
        {
            Some(Ok(n)) => self.pos += n,
            _ => self.failed = true,
        }
    }

    /// A string value; the bytes are escaped as [`write_json_string`] does (invalid UTF-8
    /// becomes U+FFFD, so any bytes give valid JSON).
    pub fn string(&mut self, s: &[u8]) {
        if self.begin_value() {
            self.string_bytes(s);
        }
    }

    /// A string value.
    pub fn str(&mut self, s: &str) {
        self.string(s.as_bytes());
    }

    /// An unsigned integer value.
    pub fn uint(&mut self, n: u64) {
        if self.begin_value() {
            let mut buf = [0u8; 20];
            let digits = fmt_u64(n, &mut buf);
            self.put(digits);
        }
    }

    /// A signed integer value.
    pub fn int(&mut self, n: i64) {
        if self.begin_value() {
            if n < 0 {
                self.put(b"-");
            }
            let mut buf = [0u8; 20];
            let digits = fmt_u64(n.unsigned_abs(), &mut buf);
            self.put(digits);
        }
    }

    /// `true` or `false`.
    pub fn bool(&mut self, b: bool) {
        if self.begin_value() {
            self.put(if b { b"true" } else { b"false" });
        }
    }

    /// A JSON value written verbatim, e.g. a payload received earlier. It is checked to be
    /// exactly one JSON value (surrounding whitespace allowed, nested at most
    /// [`json::MAX_DEPTH`]); anything else fails the writer.
    pub fn raw(&mut self, value: &[u8]) {
        if self.failed {
            return;
        }
        if json::validate(value).is_err() {
            self.failed = true;
            return;
        }
        if self.begin_value() {
            self.put(value);
        }
    }
}

/// The decimal digits of `n`, in the tail of `buf`.
pub(crate) fn fmt_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Writes one AVS context entry, `{"header":{"namespace":N,"name":S},"payload":P}`, as the next
/// value (an array element of the context); `payload` writes the whole payload value `P`
/// (usually an object, e.g. with
/// [`crate::interfaces::speaker::write_volume_state`]).
///
/// One helper keeps the envelope of the context entries of every interface identical.
pub fn context_entry<'a>(
    w: &mut JsonWriter<'a>,
    namespace: &str,
    name: &str,
    payload: impl FnOnce(&mut JsonWriter<'a>),
) {
    w.begin_object();
    w.key("header");
    w.begin_object();
    w.key("namespace");
    w.str(namespace);
    w.key("name");
    w.str(name);
    w.end_object();
    w.key("payload");
    payload(w);
    w.end_object();
}

/// Test helper for every writer: output of `write` for each buffer length below the full one
/// is `Err(Overflow)` (and nothing panics), for the full length and more it is the same bytes.
#[cfg(test)]
pub(crate) fn check_every_length(
    write: impl Fn(&mut [u8]) -> Result<usize, Overflow>,
) -> std::vec::Vec<u8> {
    let mut big = std::vec![0u8; 1 << 16];
    let n = write(&mut big).expect("the full write fits 64 KiB");
    let full = big[..n].to_vec();
    for len in 0..n {
        let mut buf = std::vec![0u8; len];
        assert_eq!(write(&mut buf), Err(Overflow), "length {len} of {n}");
    }
    for extra in [0, 1, 7] {
        let mut buf = std::vec![0xAAu8; n + extra];
        assert_eq!(write(&mut buf), Ok(n));
        assert_eq!(&buf[..n], &full[..]);
    }
    full
}

/// Test helper: the bytes as a `serde_json::Value` (panics if they are not one JSON document).
#[cfg(test)]
pub(crate) fn as_json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", std::string::String::from_utf8_lossy(bytes)))
}

/// Test helper: `json` with the whitespace between tokens removed, so that a pretty-printed
/// spec example can be compared byte for byte (member order included) with compact output.
#[cfg(test)]
pub(crate) fn minify(json: &str) -> std::string::String {
    let mut out = std::string::String::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write_with(f: impl Fn(&mut JsonWriter<'_>)) -> Result<std::string::String, Overflow> {
        let mut buf = [0u8; 1024];
        let mut w = JsonWriter::new(&mut buf);
        f(&mut w);
        let n = w.finish()?;
        Ok(std::string::String::from_utf8(buf[..n].to_vec()).unwrap())
    }

    fn sample(w: &mut JsonWriter<'_>) {
        w.begin_object();
        w.key("a");
        w.uint(1);
        w.key("b\"q");
        w.begin_array();
        w.int(-5);
        w.bool(true);
        w.str("x\ny");
        w.begin_object();
        w.end_object();
        w.begin_array();
        w.end_array();
        w.raw(b" {\"r\":[1,2]} ");
        w.string(b"\xff");
        w.end_array();
        w.key("c");
        w.begin_object();
        w.key("d");
        w.bool(false);
        w.end_object();
        w.end_object();
    }

    #[test]
    fn commas_keys_and_values() {
        let s = write_with(sample).unwrap();
        assert_eq!(
            s,
            "{\"a\":1,\"b\\\"q\":[-5,true,\"x\\u000ay\",{},[], {\"r\":[1,2]} ,\"\\ufffd\"],\"c\":{\"d\":false}}"
        );
        assert_eq!(
            as_json(s.as_bytes()),
            json!({"a":1,"b\"q":[-5,true,"x\ny",{},[],{"r":[1,2]},"\u{fffd}"],"c":{"d":false}})
        );
        check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            sample(&mut w);
            w.finish()
        });
    }

    #[test]
    fn minify_keeps_strings() {
        assert_eq!(
            minify("{ \"a b\" : [ 1 , \"c \\\" d\" ] }\n"),
            "{\"a b\":[1,\"c \\\" d\"]}"
        );
    }

    #[test]
    fn integers() {
        for (n, s) in [
            (0i64, "0"),
            (-1, "-1"),
            (i64::MAX, "9223372036854775807"),
            (i64::MIN, "-9223372036854775808"),
        ] {
            assert_eq!(write_with(|w| w.int(n)).unwrap(), s);
        }
        for (n, s) in [(0u64, "0"), (10, "10"), (u64::MAX, "18446744073709551615")] {
            assert_eq!(write_with(|w| w.uint(n)).unwrap(), s);
        }
    }

    #[test]
    fn top_level_values_are_array_contents() {
        assert_eq!(write_with(|_| {}).unwrap(), "");
        let s = write_with(|w| {
            w.uint(1);
            w.begin_object();
            w.end_object();
            w.str("s");
        })
        .unwrap();
        assert_eq!(s, "1,{},\"s\"");
    }

    type Misuse = (&'static str, fn(&mut JsonWriter<'_>));

    #[test]
    fn misuse_fails() {
        let cases: [Misuse; 12] = [
            ("key at top level", |w| w.key("k")),
            ("key in array", |w| {
                w.begin_array();
                w.key("k");
            }),
            ("value without key", |w| {
                w.begin_object();
                w.uint(1);
            }),
            ("two keys", |w| {
                w.begin_object();
                w.key("a");
                w.key("b");
            }),
            ("key without value", |w| {
                w.begin_object();
                w.key("a");
                w.end_object();
            }),
            ("close at top", |w| w.end_object()),
            ("mismatched close", |w| {
                w.begin_array();
                w.end_object();
            }),
            ("mismatched close 2", |w| {
                w.begin_object();
                w.end_array();
            }),
            ("unclosed", |w| w.begin_array()),
            ("dangling key", |w| {
                w.begin_object();
                w.key("a");
            }),
            ("bad raw", |w| w.raw(b"{\"a\":}")),
            ("two raw values", |w| w.raw(b"1 2")),
        ];
        for (what, f) in cases {
            assert_eq!(write_with(f), Err(Overflow), "{what}");
        }
        // Sticky: nothing after a failure is written.
        let mut buf = [0u8; 64];
        let mut w = JsonWriter::new(&mut buf);
        w.begin_object();
        w.uint(1);
        let n = w.len();
        w.key("a");
        w.uint(2);
        w.end_object();
        assert_eq!(w.len(), n);
        assert!(!w.is_ok());
        assert_eq!(w.finish(), Err(Overflow));
        // fail() poisons.
        assert_eq!(write_with(|w| w.fail()), Err(Overflow));
    }

    #[test]
    fn depth_limit() {
        let nest = |depth: usize| {
            write_with(move |w| {
                for _ in 0..depth {
                    w.begin_array();
                }
                for _ in 0..depth {
                    w.end_array();
                }
            })
        };
        let ok = nest(MAX_DEPTH).unwrap();
        assert_eq!(ok.len(), 2 * MAX_DEPTH);
        assert_eq!(nest(MAX_DEPTH + 1), Err(Overflow));
        // Objects at the deepest level keep their own comma state.
        let s = write_with(|w| {
            for _ in 0..MAX_DEPTH - 1 {
                w.begin_array();
            }
            w.begin_object();
            w.key("a");
            w.uint(1);
            w.key("b");
            w.uint(2);
            w.end_object();
            w.begin_object();
            w.end_object();
            for _ in 0..MAX_DEPTH - 1 {
                w.end_array();
            }
        })
        .unwrap();
        assert!(s.contains("{\"a\":1,\"b\":2},{}"));
        as_json(s.as_bytes());
    }

    #[test]
    fn context_entries() {
        let s = write_with(|w| {
            w.begin_array();
            context_entry(w, "Speaker", "VolumeState", |w| {
                w.begin_object();
                w.key("volume");
                w.uint(50);
                w.key("muted");
                w.bool(false);
                w.end_object();
            });
            context_entry(w, "X", "Y", |w| w.raw(b"{}"));
            w.end_array();
        })
        .unwrap();
        assert_eq!(
            as_json(s.as_bytes()),
            json!([
                {"header":{"namespace":"Speaker","name":"VolumeState"},"payload":{"volume":50,"muted":false}},
                {"header":{"namespace":"X","name":"Y"},"payload":{}}
            ])
        );
        // A payload closure that writes nothing, or two values, fails the writer.
        assert_eq!(
            write_with(|w| context_entry(w, "X", "Y", |_| {})),
            Err(Overflow)
        );
        assert_eq!(
            write_with(|w| context_entry(w, "X", "Y", |w| {
                w.uint(1);
                w.uint(2);
            })),
            Err(Overflow)
        );
    }

    #[test]
    fn overflow_on_every_length_and_never_out_of_bounds() {
        check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            w.begin_array();
            context_entry(&mut w, "A\"", "B", |w| w.int(i64::MIN));
            w.raw(b"[true]");
            w.end_array();
            w.finish()
        });
    }
}
