//! The access token: held once, in the client's own memory, and wiped wherever it was.

use crate::memory::Buf;
use crate::status::AvsStatus;

/// `Bearer ` + the longest token accepted. LWA access tokens are well under 1 KB.
pub const AUTH_HEADER_BYTES: usize = 2048;
const PREFIX: &[u8] = b"Bearer ";

pub use crate::memory::wipe;

/// Zeroes a string's bytes (its whole capacity) before it is dropped.
pub fn wipe_string(s: &mut String) {
    // SAFETY: zero bytes are valid UTF-8; the spare capacity is plain bytes.
    let v = unsafe { s.as_mut_vec() };
    let cap = v.capacity();
    // SAFETY: `cap` bytes are allocated; writing them through the raw pointer needs no init.
    wipe(unsafe { core::slice::from_raw_parts_mut(v.as_mut_ptr(), cap) });
    v.clear();
}

/// The `authorization` header value, in a fixed buffer carved at creation: replacing the token
/// overwrites it in place (no reallocation leaves the old one behind), and dropping wipes it.
pub struct AuthHeader {
    buf: Buf,
    len: usize,
}

impl AuthHeader {
    /// An empty header over `buf` (`AUTH_HEADER_BYTES` long).
    pub fn new(buf: Buf) -> Self {
        AuthHeader { buf, len: 0 }
    }

    /// Whether `token` is acceptable: non-empty, printable ASCII, and fits.
    pub fn check(token: &str) -> Result<(), AvsStatus> {
        if token.is_empty() || token.bytes().any(|b| !(0x20..0x7f).contains(&b)) {
            return Err(AvsStatus::InvalidArgument);
        }
        if PREFIX.len() + token.len() > AUTH_HEADER_BYTES {
            return Err(AvsStatus::TooLarge);
        }
        Ok(())
    }

    /// Replaces the token; the old one is wiped first.
    pub fn set(&mut self, token: &str) -> Result<(), AvsStatus> {
        Self::check(token)?;
        wipe(&mut self.buf[..self.len]);
        let n = PREFIX.len() + token.len();
        self.buf[..PREFIX.len()].copy_from_slice(PREFIX);
        self.buf[PREFIX.len()..n].copy_from_slice(token.as_bytes());
        self.len = n;
        Ok(())
    }

    /// `Bearer <token>`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The token alone (v3 reports carry it as their `scope`).
    pub fn token(&self) -> &str {
        // `set` took printable ASCII only.
        core::str::from_utf8(&self.buf[PREFIX.len().min(self.len)..self.len]).unwrap_or("")
    }
}

impl Drop for AuthHeader {
    fn drop(&mut self) {
        // Host memory outlives the client: leave no token in it.
        let n = self.len;
        wipe(&mut self.buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_overwrites_in_place_and_checks() {
        let mut h = AuthHeader::new(Buf::heap(AUTH_HEADER_BYTES));
        h.set("a-long-old-token").unwrap();
        h.set("new").unwrap();
        assert_eq!(h.as_bytes(), b"Bearer new");
        assert!(!h.buf.windows(6).any(|w| w == b"-token"), "the old token's tail is wiped too");
        assert_eq!(h.set(""), Err(AvsStatus::InvalidArgument));
        assert_eq!(h.set("bad\ntoken"), Err(AvsStatus::InvalidArgument));
        assert_eq!(h.set(&"x".repeat(AUTH_HEADER_BYTES)), Err(AvsStatus::TooLarge));
        assert_eq!(h.as_bytes(), b"Bearer new", "a refused token changes nothing");
    }

    #[test]
    fn wipe_string_zeroes_the_bytes() {
        let mut s = String::from("secret");
        let p = s.as_ptr();
        wipe_string(&mut s);
        // SAFETY: the allocation is still owned by `s` (cleared, not freed).
        assert_eq!(unsafe { core::slice::from_raw_parts(p, 6) }, &[0u8; 6]);
    }
}
