//! The `multipart` target: `avs_core::multipart::Decoder` fed arbitrary bytes in arbitrary
//! pieces must agree with [`reference`] — same parts, same order, same errors, same result —
//! whatever the split, and must deliver each part in the very piece that completes its
//! delimiter.

use avs_core::multipart::{Decoder, MultipartError, PartSink};

/// A 70-byte boundary (the longest RFC 2046 allows), used when the input asks for it.
pub const LONG_BOUNDARY: &[u8] =
    b"0123456789'()+_,-./:=?abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV";

/// What a decoder reports, binary pieces of one part joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Json(Vec<u8>),
    /// Content id and the whole data of a binary part (closed with `last`).
    Bin(Vec<u8>, Vec<u8>),
    Err(MultipartError),
}

/// Offset into the message at which an event is due: the end of the part's delimiter, or
/// `FINISH` when only `finish` can close it (a cut-off binary part).
pub const FINISH: usize = usize::MAX;

/// The reference's answer: events with the offset at which each is due (`None` for errors,
/// whose moment depends on how much the streaming decoder holds back), and `finish`'s result.
#[derive(Debug)]
pub struct Decoded {
    pub events: Vec<(Ev, Option<usize>)>,
    pub result: Result<(), MultipartError>,
}

// ---------------------------------------------------------------------------------------------
// Reference decoder: the whole message at once, one rule at a time, as the module documentation
// of avs_core::multipart states them (including its leniencies).

/// How a part's body is handled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Discard,
    Json,
    Binary,
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// JSON (`*/json`, `*+json`), text (`text/*`) or anything else, by the media type before `;`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CType {
    Json,
    Text,
    Other,
}

fn classify(value: &[u8]) -> CType {
    let media = trim(value.split(|&c| c == b';').next().unwrap_or(b"")).to_ascii_lowercase();
    if media.ends_with(b"/json") || media.ends_with(b"+json") {
        CType::Json
    } else if media.starts_with(b"text/") {
        CType::Text
    } else {
        CType::Other
    }
}

/// The `name` parameter of a Content-Disposition value (RFC 2045 §5.1 parameters after the
/// first `;`): quoted or not; a quoted value with a backslash escape counts as absent; an
/// unterminated quote ends the search with nothing.
fn param<'a>(value: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let semi = value.iter().position(|&c| c == b';')?;
    let mut rest = &value[semi + 1..];
    loop {
        let k = rest.iter().position(|&c| c == b'=' || c == b';')?;
        if rest[k] == b';' {
            rest = &rest[k + 1..]; // a parameter without a value
            continue;
        }
        let pname = trim(&rest[..k]);
        rest = &rest[k + 1..];
        while let [b' ' | b'\t', tail @ ..] = rest {
            rest = tail;
        }
        let (found, after) = if rest.first() == Some(&b'"') {
            let mut j = 1;
            let mut escaped = false;
            loop {
                match rest.get(j) {
                    None => return None,
                    Some(b'\\') => {
                        escaped = true;
                        j += 2;
                    }
                    Some(b'"') => break,
                    Some(_) => j += 1,
                }
            }
            ((!escaped).then(|| &rest[1..j]), &rest[j + 1..])
        } else {
            let k = rest.iter().position(|&c| c == b';').unwrap_or(rest.len());
            (Some(trim(&rest[..k])), &rest[k..])
        };
        if pname.eq_ignore_ascii_case(name) {
            return found;
        }
        let k = after.iter().position(|&c| c == b';')?;
        rest = &after[k + 1..];
    }
}

/// Where the reader is.
enum At {
    /// In a body from `pos`; `line_start`: `pos` counts as the start of a line.
    Body {
        kind: Kind,
        line_start: bool,
    },
    /// Right after a delimiter.
    AfterDelimiter,
    Headers,
}

/// Decodes `msg` whole. `cap` is the decoder's storage size: it bounds a JSON part, and a
/// header line plus the Content-ID kept before it.
pub fn reference(msg: &[u8], boundary: &[u8], cap: usize) -> Decoded {
    let dash_b: Vec<u8> = [b"--", boundary].concat(); // a delimiter at a line start
    let delim: Vec<u8> = [b"\r\n", &dash_b[..]].concat();
    let mut events = Vec::new();
    let mut started = false; // a delimiter has been seen
    let mut pos = 0;
    let mut at = At::Body {
        kind: Kind::Discard,
        line_start: true,
    };
    // The part being read.
    let mut id: Vec<u8> = Vec::new();
    let mut from_content_id = false;
    let mut ctype: Option<CType> = None;
    let result = loop {
        match at {
            At::Body { kind, line_start } => {
                let rest = &msg[pos..];
                let found = if line_start && rest.starts_with(&dash_b) {
                    Some((pos, pos + dash_b.len()))
                } else {
                    find(rest, &delim).map(|p| (pos + p, pos + p + delim.len()))
                };
                let Some((start, end)) = found else {
                    // The input ends inside this body.
                    if !started {
                        break Ok(());
                    }
                    match kind {
                        Kind::Binary => {
                            events.push((Ev::Bin(id.clone(), rest.to_vec()), Some(FINISH)))
                        }
                        Kind::Json => {
                            // The bytes that may still begin a delimiter are held back, never
                            // stored: the last CR (or the assumed one at a line start) and what
                            // follows, if that is a beginning of the delimiter.
                            let mut s = if line_start {
                                b"\r\n".to_vec()
                            } else {
                                Vec::new()
                            };
                            s.extend_from_slice(rest);
                            let held = match s.iter().rposition(|&c| c == b'\r') {
                                Some(r) if delim.starts_with(&s[r..]) => s.len() - r,
                                _ => 0,
                            };
                            if rest.len() - held.min(rest.len()) > cap {
                                events.push((Ev::Err(MultipartError::PartTooLarge), None));
                            }
                        }
                        Kind::Discard => {}
                    }
                    break Err(MultipartError::Truncated);
                };
                let body = &msg[pos..start];
                match kind {
                    Kind::Json if body.len() > cap => {
                        events.push((Ev::Err(MultipartError::PartTooLarge), None))
                    }
                    Kind::Json if !body.is_empty() => {
                        events.push((Ev::Json(body.to_vec()), Some(end)))
                    }
                    Kind::Binary => events.push((Ev::Bin(id.clone(), body.to_vec()), Some(end))),
                    _ => {}
                }
                started = true;
                pos = end;
                at = At::AfterDelimiter;
            }
            At::AfterDelimiter => {
                // `--` closes; anything else is the rest of the delimiter line.
                if msg[pos..].starts_with(b"--") {
                    break Ok(());
                }
                match msg[pos..].iter().position(|&c| c == b'\n') {
                    None => break Err(MultipartError::Truncated),
                    Some(k) => {
                        pos += k + 1;
                        id.clear();
                        from_content_id = false;
                        ctype = None;
                        at = At::Headers;
                    }
                }
            }
            At::Headers => {
                let rest = &msg[pos..];
                if rest.starts_with(&dash_b) {
                    started = true;
                    pos += dash_b.len();
                    at = At::AfterDelimiter;
                    continue;
                }
                if dash_b.starts_with(rest) {
                    break Err(MultipartError::Truncated); // maybe a delimiter, cut off
                }
                let (line, complete) = match rest.iter().position(|&c| c == b'\n') {
                    Some(k) => (&rest[..=k], true),
                    None => (rest, false),
                };
                if line.len() > cap - id.len() {
                    events.push((Ev::Err(MultipartError::HeadersTooLarge), None));
                    at = At::Body {
                        kind: Kind::Discard,
                        line_start: false,
                    };
                    continue;
                }
                if !complete {
                    break Err(MultipartError::Truncated);
                }
                pos += line.len();
                let mut l = line.strip_suffix(b"\n").unwrap();
                l = l.strip_suffix(b"\r").unwrap_or(l);
                if l.is_empty() {
                    let kind = match ctype {
                        Some(CType::Json) => Kind::Json,
                        _ if from_content_id => Kind::Binary,
                        None | Some(CType::Text) => Kind::Json,
                        Some(CType::Other) => Kind::Binary,
                    };
                    if kind == Kind::Json {
                        id.clear();
                    }
                    at = At::Body {
                        kind,
                        line_start: true,
                    };
                } else if l[0] == b' ' || l[0] == b'\t' {
                    // A continuation line: ignored.
                } else if let Some(colon) = l.iter().position(|&c| c == b':') {
                    let name = trim(&l[..colon]).to_ascii_lowercase();
                    let value = trim(&l[colon + 1..]);
                    if name == b"content-type" {
                        ctype = Some(classify(value));
                    } else if name == b"content-id" {
                        let v = if value.len() >= 2
                            && value[0] == b'<'
                            && value[value.len() - 1] == b'>'
                        {
                            &value[1..value.len() - 1]
                        } else {
                            value
                        };
                        id = v.to_vec();
                        from_content_id = true;
                    } else if name == b"content-disposition" && !from_content_id {
                        if let Some(n) = param(value, b"name") {
                            id = n.to_vec();
                        }
                    }
                } else {
                    events.push((Ev::Err(MultipartError::MalformedHeaders), None));
                    at = At::Body {
                        kind: Kind::Discard,
                        line_start: true,
                    };
                }
            }
        }
    };
    Decoded { events, result }
}

// ---------------------------------------------------------------------------------------------
// The streaming decoder under test.

/// What a streamed decode gave: events with the input range of the `feed` call that produced
/// them (see [`Rec`]), and `finish`'s result.
pub type Streamed = (
    Vec<(Ev, Option<(usize, usize)>)>,
    Result<(), MultipartError>,
);

/// Records events as [`Ev`]s, with the input range of the `feed` call in which each JSON part
/// and each binary close happened (`(FINISH, FINISH)` for `finish`); checks the sink contract.
#[derive(Default)]
struct Rec {
    events: Vec<(Ev, Option<(usize, usize)>)>,
    /// A binary part is open (a piece went out without `last`).
    open: bool,
    piece: (usize, usize),
}

impl PartSink for Rec {
    fn on_json_part(&mut self, body: &[u8]) {
        assert!(!self.open, "JSON part inside a binary part");
        assert!(!body.is_empty(), "empty JSON part delivered");
        self.events
            .push((Ev::Json(body.to_vec()), Some(self.piece)));
    }
    fn on_binary_part(&mut self, id: &[u8], data: &[u8], last: bool) {
        if self.open {
            match self.events.last_mut() {
                Some((Ev::Bin(open_id, acc), when)) => {
                    assert_eq!(open_id.as_slice(), id, "id changed inside a part");
                    acc.extend_from_slice(data);
                    if last {
                        *when = Some(self.piece);
                    }
                }
                other => panic!("open binary part but last event {other:?}"),
            }
        } else {
            let when = last.then_some(self.piece);
            self.events
                .push((Ev::Bin(id.to_vec(), data.to_vec()), when));
        }
        self.open = !last;
    }
    fn on_part_error(&mut self, error: MultipartError) {
        assert!(!self.open, "part error inside a binary part");
        self.events.push((Ev::Err(error), None));
    }
}

/// Feeds `msg` in pieces ending at `cuts` (then the rest), then finishes.
pub fn stream(msg: &[u8], boundary: &[u8], cap: usize, cuts: &[usize]) -> Streamed {
    let mut d = Decoder::new(vec![0u8; cap]);
    d.reset(boundary).expect("valid boundary");
    let mut rec = Rec::default();
    let mut from = 0;
    for &c in cuts.iter().chain(std::iter::once(&msg.len())) {
        rec.piece = (from, c);
        d.feed(&msg[from..c], &mut rec)
            .expect("feed after a successful reset");
        from = c;
    }
    rec.piece = (FINISH, FINISH);
    let r = d.finish(&mut rec);
    assert!(!rec.open, "finish left a binary part open");
    (rec.events, r)
}

/// Compares a streamed decode with the reference: events, result, and that every JSON part and
/// binary close went out in the piece that completed its delimiter.
fn agree(what: &str, msg: &[u8], reference: &Decoded, got: &Streamed) {
    let want: Vec<&Ev> = reference.events.iter().map(|(e, _)| e).collect();
    let have: Vec<&Ev> = got.0.iter().map(|(e, _)| e).collect();
    assert_eq!(
        have,
        want,
        "{what}: events differ from the reference for {:?}",
        String::from_utf8_lossy(msg)
    );
    assert_eq!(got.1, reference.result, "{what}: finish result differs");
    for ((ev, due), (_, when)) in reference.events.iter().zip(&got.0) {
        let Some(due) = *due else { continue };
        let (a, b) = when.expect("a part delivered by the decoder has its moment");
        if due == FINISH {
            assert_eq!(
                (a, b),
                (FINISH, FINISH),
                "{what}: {ev:?} closed before finish"
            );
        } else {
            assert!(
                a < due && due <= b,
                "{what}: {ev:?} due when byte {} arrives, delivered in the piece {a}..{b}",
                due - 1
            );
        }
    }
}

/// xorshift64*: split points from the input's own bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Boundaries picked by a flag: an AVS-like UUID, the longest allowed, one with a dash.
pub const FIXED_BOUNDARIES: [&[u8]; 3] = [
    b"b6f3c2a0-1d2e-4f5a-9b8c-7d6e5f4a3b2c",
    LONG_BOUNDARY,
    b"bo-und",
];

/// The `multipart` target. Input: `[flags, cap, max_piece, seed, boundary..., message...]`:
/// with `flags & 0x80` the boundary is `FIXED_BOUNDARIES[(flags & 0x7f) % 3]`, else the next
/// `(flags % 70) + 1` bytes; the storage is `cap` bytes; pieces are 1..=`max_piece % 64 + 1`
/// bytes long, drawn from `seed`.
pub fn check(data: &[u8]) {
    let [flags, cap, max_piece, seed, rest @ ..] = data else {
        return;
    };
    let (boundary, msg) = if flags & 0x80 != 0 {
        (FIXED_BOUNDARIES[usize::from(flags & 0x7f) % 3], rest)
    } else {
        let n = usize::from(*flags) % 70 + 1;
        if rest.len() < n {
            return;
        }
        rest.split_at(n)
    };
    let cap = usize::from(*cap);
    if boundary.iter().any(|&c| c == b'\r' || c == b'\n') {
        let mut d = Decoder::new([0u8; 8]);
        assert_eq!(d.reset(boundary), Err(MultipartError::BadBoundary));
        assert_eq!(
            d.feed(msg, &mut Rec::default()),
            Err(MultipartError::BadBoundary)
        );
        return;
    }
    let reference = reference(msg, boundary, cap);
    agree("whole", msg, &reference, &stream(msg, boundary, cap, &[]));
    let max = u64::from(*max_piece % 64) + 1;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (u64::from(*seed) << 32 | u64::from(*max_piece)));
    let mut cuts = Vec::new();
    let mut at = 0;
    loop {
        at += 1 + (rng.next() % max) as usize;
        if at >= msg.len() {
            break;
        }
        cuts.push(at);
    }
    agree("split", msg, &reference, &stream(msg, boundary, cap, &cuts));
}
