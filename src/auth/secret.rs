//! A secret (refresh token, client secret, device code, authorization code, PKCE verifier) in a
//! fixed buffer carved at creation: replacing it overwrites the old one in place, clearing and
//! dropping wipe it.

use crate::memory::{wipe, Buf};
use crate::status::AvsStatus;

pub struct Secret {
    buf: Buf,
    len: usize,
}

impl Secret {
    /// An empty secret over `buf` (its capacity).
    pub fn new(buf: Buf) -> Self {
        Secret { buf, len: 0 }
    }

    /// Replaces the value: printable ASCII (what LWA's tokens, codes and URIs are) that fits.
    /// A refused value changes nothing.
    pub fn set(&mut self, value: &[u8]) -> Result<(), AvsStatus> {
        if value.iter().any(|b| !(0x20..0x7f).contains(b)) {
            return Err(AvsStatus::InvalidArgument);
        }
        if value.len() > self.buf.len() {
            return Err(AvsStatus::TooLarge);
        }
        self.clear();
        self.buf[..value.len()].copy_from_slice(value);
        self.len = value.len();
        Ok(())
    }

    /// Wipes the value.
    pub fn clear(&mut self) {
        let n = self.len;
        wipe(&mut self.buf[..n]);
        self.len = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The value as text (`set` took printable ASCII only).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The value, `None` when empty.
    pub fn get(&self) -> Option<&str> {
        (!self.is_empty()).then(|| self.as_str())
    }

    /// Capacity.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Host memory outlives the client: leave no secret in it.
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_in_place_and_wiped() {
        let mut s = Secret::new(Buf::heap(16));
        s.set(b"Atzr|long-secret").unwrap();
        s.set(b"short").unwrap();
        assert_eq!(s.as_str(), "short");
        assert!(!s.buf.windows(6).any(|w| w == b"secret"), "the old value's tail is wiped");
        assert_eq!(s.set(b"x".repeat(17).as_slice()), Err(AvsStatus::TooLarge));
        assert_eq!(s.set(b"a\nb"), Err(AvsStatus::InvalidArgument));
        assert_eq!(s.as_str(), "short", "a refused value changes nothing");
        s.clear();
        assert!(s.buf.iter().all(|&b| b == 0) && s.get().is_none());
    }
}
