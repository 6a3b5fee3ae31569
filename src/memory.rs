//! The client's memory, decided at creation. Every buffer and both pools (nghttp2's, mbedTLS's)
//! are carved from one region: memory the host supplies (`avs_config.memory`), or one heap
//! allocation. [`Plan`] sizes each part from the configuration, so that the total can be reported
//! before anything is created, and creation takes exactly what the plan says.

use core::ptr::NonNull;

/// Zeroes `bytes` in a way the compiler may not drop as a dead store (secrets: tokens, the
/// client secret, device codes).
pub fn wipe(bytes: &mut [u8]) {
    for b in bytes.iter_mut() {
        // SAFETY: `b` is a valid, exclusive reference.
        unsafe { core::ptr::write_volatile(b, 0) };
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// Replaces `buf[at..at + old]` (inside the `len` bytes in use) with `new_len` bytes that `fill`
/// writes, moving what follows; returns the new length, or `None` when it does not fit.
pub fn replace_range(buf: &mut [u8], len: usize, at: usize, old: usize, new_len: usize, fill: impl FnOnce(&mut [u8])) -> Option<usize> {
    let end = at.checked_add(old).filter(|&e| e <= len)?;
    let total = (len - old).checked_add(new_len).filter(|&t| t <= buf.len())?;
    buf.copy_within(end..len, at + new_len);
    fill(&mut buf[at..at + new_len]);
    Some(total)
}

/// Carving granule and alignment (malloc's alignment on 64-bit targets; the pools need it).
pub const ALIGN: usize = 16;

fn round_up(n: usize) -> Option<usize> {
    n.checked_next_multiple_of(ALIGN)
}

/// The byte size of every part of a client's memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Bodies of the queued events, one per slot.
    pub event_bodies: usize,
    /// Per-stream JSON part buffers (directive decoding), `streams` of `directive_bytes`.
    pub streams: usize,
    pub directive_bytes: usize,
    /// The Recognize metadata part.
    pub speech_head: usize,
    /// Speak audio that arrives before its directive.
    pub attachment: usize,
    /// Microphone audio.
    pub audio_ring: usize,
    /// Context JSON, event JSON scratch, and the receive buffer.
    pub context: usize,
    pub scratch: usize,
    pub rx: usize,
    /// The `authorization` header (the access token), in place.
    pub auth_header: usize,
    /// The interfaces' buffers: the correlationTokens of Alexa.Speaker answers waiting for a
    /// queue slot.
    pub v3_answers: usize,
    /// nghttp2's and mbedTLS's pools; mbedTLS's also holds the parsed CA certificates.
    pub http2_pool: usize,
    pub tls_pool: usize,
    pub ca_certificates: usize,
    /// Sign-in with Login with Amazon (0 without): mbedTLS's pool for the token endpoint's
    /// session, and the request, response and secret buffers.
    pub sign_in_pool: usize,
    pub sign_in_buffers: usize,
}

impl Plan {
    /// Sum of every part, each rounded to [`ALIGN`], plus the slack for aligning a host region;
    /// `None` when it does not fit the address space (capacities too large for a 32-bit target).
    pub fn total(&self) -> Option<usize> {
        let streams = self.streams.checked_mul(round_up(self.directive_bytes)?)?;
        let tls = self.tls_pool.checked_add(self.ca_certificates)?;
        let parts = [
            self.event_bodies,
            streams,
            self.speech_head,
            self.attachment,
            self.audio_ring,
            self.context,
            self.scratch,
            self.rx,
            self.auth_header,
            self.v3_answers,
            self.http2_pool,
            tls,
            self.sign_in_pool,
            self.sign_in_buffers,
        ];
        parts.iter().try_fold(ALIGN - 1, |sum, &n| sum.checked_add(round_up(n)?))
    }
}

/// The region parts are carved from. Outlives every [`Buf`] carved from it: the client holds it
/// as its last field.
pub(crate) struct Region {
    /// The heap allocation (freed on drop), when the host supplied no memory.
    heap: Option<(NonNull<u8>, std::alloc::Layout)>,
    next: *mut u8,
    end: *mut u8,
}

impl Drop for Region {
    fn drop(&mut self) {
        if let Some((p, layout)) = self.heap {
            // SAFETY: allocated in `Region::heap` with this layout; every Buf carved from it is
            // gone (the client drops the region last).
            unsafe { std::alloc::dealloc(p.as_ptr(), layout) }
        }
    }
}

impl Region {
    /// A region of `bytes` on the heap (zeroed); `None` when the heap has no room for it.
    pub(crate) fn heap(bytes: usize) -> Option<Region> {
        let layout = std::alloc::Layout::from_size_align(round_up(bytes.max(1))?, ALIGN).ok()?;
        // SAFETY: non-zero size. A raw allocation, so that pointers carved from it stay valid
        // however the Region value moves.
        let base = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })?;
        // SAFETY: one past the end of the same allocation.
        let end = unsafe { base.as_ptr().add(layout.size()) };
        Some(Region { heap: Some((base, layout)), next: base.as_ptr(), end })
    }

    /// A region over host memory, which is zeroed here.
    ///
    /// # Safety
    /// `base` must be valid for writes of `len` bytes, and neither used nor freed by anyone else
    /// while the client lives.
    pub(crate) unsafe fn host(base: *mut u8, len: usize) -> Region {
        core::ptr::write_bytes(base, 0, len);
        let aligned = (base as usize).next_multiple_of(ALIGN) - base as usize;
        let next = base.add(aligned.min(len));
        Region { heap: None, next, end: base.add(len) }
    }

    /// Bytes not carved yet.
    pub(crate) fn remaining(&self) -> usize {
        self.end as usize - self.next as usize
    }

    /// Carves `len` bytes (zeroed, 16-aligned), or `None` when the region is too small.
    ///
    /// # Safety
    /// The Buf must not be used after the region is dropped.
    pub(crate) unsafe fn carve(&mut self, len: usize) -> Option<Buf> {
        let take = round_up(len)?;
        if take > self.remaining() {
            return None;
        }
        let ptr = NonNull::new(self.next)?;
        // SAFETY: within the region (checked above).
        self.next = unsafe { self.next.add(take) };
        Some(Buf { ptr, len, heap: false })
    }
}

/// A zeroed, 16-aligned byte buffer: carved from a [`Region`] (and freed with it), or a heap
/// allocation of its own ([`Buf::heap`], for parts used outside a client).
pub struct Buf {
    ptr: NonNull<u8>,
    len: usize,
    /// Allocated by [`Buf::heap`]: freed on drop.
    heap: bool,
}

impl Buf {
    fn layout(len: usize) -> std::alloc::Layout {
        let size = round_up(len.max(1)).expect("a heap buffer fits the address space");
        std::alloc::Layout::from_size_align(size, ALIGN).expect("buffer size")
    }

    /// A buffer of its own on the heap.
    pub fn heap(len: usize) -> Buf {
        let layout = Self::layout(len);
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) }).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        Buf { ptr, len, heap: true }
    }

    /// The first byte, for access that must not go through a reference (a ring shared by two
    /// threads).
    pub fn raw(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if self.heap {
            // SAFETY: allocated by `Buf::heap` with this layout.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), Self::layout(self.len)) }
        }
    }
}

impl Default for Buf {
    /// An empty buffer (owns nothing).
    fn default() -> Self {
        Buf { ptr: NonNull::dangling(), len: 0, heap: false }
    }
}

// SAFETY: a Buf is exclusive access to its bytes, like a Box<[u8]>.
unsafe impl Send for Buf {}
unsafe impl Sync for Buf {}

impl core::ops::Deref for Buf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` bytes of the region, exclusively this Buf's, alive as long as the region.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl core::ops::DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for Buf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for Buf {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carves_aligned_disjoint_buffers_and_refuses_past_the_end() {
        let mut r = Region::heap(100).unwrap();
        let (mut a, mut b) = unsafe { (r.carve(10).unwrap(), r.carve(33).unwrap()) };
        assert_eq!(a.as_ptr() as usize % ALIGN, 0);
        assert_eq!(b.as_ptr() as usize % ALIGN, 0);
        a.fill(1);
        b.fill(2);
        assert!(a.iter().all(|&x| x == 1) && b.iter().all(|&x| x == 2));
        assert_eq!(r.remaining(), 112 - 16 - 48);
        unsafe {
            assert!(r.carve(49).is_none());
            assert!(r.carve(usize::MAX - 3).is_none(), "a length that overflows when rounded");
            assert!(r.carve(48).is_some());
        }
    }

    #[test]
    fn a_host_region_is_aligned_and_bounded() {
        let mut mem = vec![0xAAu8; 300];
        let base = unsafe { mem.as_mut_ptr().add(3) };
        let mut r = unsafe { Region::host(base, 250) };
        let b = unsafe { r.carve(200) }.unwrap();
        assert_eq!(b.as_ptr() as usize % ALIGN, 0);
        assert!(b.iter().all(|&x| x == 0), "zeroed");
        assert!(unsafe { r.carve(64) }.is_none(), "only what the host gave");
        let plan = Plan { event_bodies: 200, ..Plan::default() };
        assert_eq!(plan.total(), Some(208 + ALIGN - 1));
        let huge = Plan { streams: 11, directive_bytes: usize::MAX / 8, ..Plan::default() };
        assert_eq!(huge.total(), None, "sizes that overflow are refused");
        assert_eq!(Plan { directive_bytes: usize::MAX - 3, streams: 1, ..Plan::default() }.total(), None);
    }
}
