//! avs-core — the AVS wire protocol: multipart framing and the JSON message model.
//!
//! Everything here is `no_std` without `alloc` (it builds for Cortex-M, `thumbv7em-none-eabihf`): pure functions and state machines over byte
//! slices and caller-supplied buffers. Nothing below this module knows about sockets, TLS,
//! HTTP/2 or C.
//!
//! - [`multipart`]: the streaming `multipart/related` decoder for responses and the downchannel,
//!   and the `multipart/form-data` event encoder.
//! - [`message`]: directive and exception parsing, event writing, message ids.
//! - [`json`]: the small validating JSON scanner both of them rest on.
//! - [`jsonw`]: the JSON writer every event and context entry goes through.
//! - [`lwa`]: Login with Amazon's request bodies and answers, PKCE ([`sha256`]).
//! - [`http1`]: one HTTP/1.1 request and its response (for LWA's token endpoint), parsed in
//!   place.
//! - [`time`]: ISO-8601 timestamps for v3 properties and alerts.
//! - [`interfaces`]: each AVS interface's directives parsed into typed values, its events and
//!   context entries written.

#![no_std]

#[cfg(test)]
extern crate std;

pub mod http1;
/// The AVS interfaces' wire formats, apart from the client's state machines, so they can be
/// tested against the spec examples alone and built for Cortex-M.
pub mod interfaces;
pub mod json;
/// The one JSON writer (commas, escaping, nesting checked in one place), so no interface
/// concatenates JSON by hand.
pub mod jsonw;
pub mod lwa;
pub mod message;
pub mod multipart;
pub mod sha256;
/// Wall-clock timestamps as AVS writes them, without a date library.
pub mod time;

use core::fmt;

/// The output buffer is too small for what had to be written.
///
/// Writers that return it leave the buffer's contents unspecified (never out of bounds); the
/// caller retries with a bigger buffer or gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("output buffer too small")
    }
}

/// Appends `parts` to `out` at `*pos`, all or nothing.
///
/// Checking the total first means a failed write never leaves half a header behind.
pub(crate) fn put_all(out: &mut [u8], pos: &mut usize, parts: &[&[u8]]) -> Result<(), Overflow> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let end = pos.checked_add(total).ok_or(Overflow)?;
    if end > out.len() {
        return Err(Overflow);
    }
    for p in parts {
        out[*pos..*pos + p.len()].copy_from_slice(p);
        *pos += p.len();
    }
    Ok(())
}
