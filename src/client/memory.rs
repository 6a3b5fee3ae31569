//! The client's memory, decided at creation. Every buffer and both pools (nghttp2's, mbedTLS's)
//! are carved from one region: memory the host supplies (`avs_config.memory`), or one heap
//! allocation. [`Plan`] sizes each part from the configuration, so that the total can be reported
//! before anything is created, and creation takes exactly what the plan says.

use core::ptr::NonNull;

/// Carving granule and alignment (malloc's alignment on 64-bit targets; the pools need it).
pub const ALIGN: usize = 16;

fn round_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
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
    /// nghttp2's and mbedTLS's pools; mbedTLS's also holds the parsed CA certificates.
    pub http2_pool: usize,
    pub tls_pool: usize,
    pub ca_certificates: usize,
}

impl Plan {
    /// Sum of every part, each rounded to [`ALIGN`], plus the slack for aligning a host region.
    pub fn total(&self) -> usize {
        self.parts().iter().map(|&n| round_up(n)).sum::<usize>() + ALIGN - 1
    }

    fn parts(&self) -> [usize; 10] {
        [
            self.event_bodies,
            self.streams * round_up(self.directive_bytes),
            self.speech_head,
            self.attachment,
            self.audio_ring,
            self.context,
            self.scratch,
            self.rx,
            self.http2_pool,
            self.tls_pool + self.ca_certificates,
        ]
    }
}

/// The region parts are carved from. Outlives every [`Buf`] carved from it: the client holds it
/// as its last field.
pub struct Region {
    /// The heap allocation, when the host supplied no memory.
    _heap: Option<Box<[Unit]>>,
    next: *mut u8,
    end: *mut u8,
}

#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct Unit([u8; ALIGN]);

impl Region {
    /// A region of `bytes` on the heap (zeroed).
    pub fn heap(bytes: usize) -> Region {
        let mut units = vec![Unit([0; ALIGN]); bytes.div_ceil(ALIGN)].into_boxed_slice();
        let next = units.as_mut_ptr() as *mut u8;
        // SAFETY: one past the end of the same allocation.
        let end = unsafe { next.add(units.len() * ALIGN) };
        Region { _heap: Some(units), next, end }
    }

    /// A region over host memory, which is zeroed here.
    ///
    /// # Safety
    /// `base` must be valid for writes of `len` bytes, and neither used nor freed by anyone else
    /// while the client lives.
    pub unsafe fn host(base: *mut u8, len: usize) -> Region {
        core::ptr::write_bytes(base, 0, len);
        let aligned = (base as usize).next_multiple_of(ALIGN) - base as usize;
        let next = base.add(aligned.min(len));
        Region { _heap: None, next, end: base.add(len) }
    }

    /// Bytes not carved yet.
    pub fn remaining(&self) -> usize {
        self.end as usize - self.next as usize
    }

    /// Carves `len` bytes (zeroed, 16-aligned), or `None` when the region is too small.
    pub fn carve(&mut self, len: usize) -> Option<Buf> {
        let take = round_up(len);
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
        std::alloc::Layout::from_size_align(round_up(len.max(1)), ALIGN).expect("buffer size")
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
        let mut r = Region::heap(100);
        let mut a = r.carve(10).unwrap();
        let mut b = r.carve(33).unwrap();
        assert_eq!(a.as_ptr() as usize % ALIGN, 0);
        assert_eq!(b.as_ptr() as usize % ALIGN, 0);
        a.fill(1);
        b.fill(2);
        assert!(a.iter().all(|&x| x == 1) && b.iter().all(|&x| x == 2));
        assert_eq!(r.remaining(), 112 - 16 - 48);
        assert!(r.carve(49).is_none());
        assert!(r.carve(48).is_some());
    }

    #[test]
    fn a_host_region_is_aligned_and_bounded() {
        let mut mem = vec![0xAAu8; 300];
        let base = unsafe { mem.as_mut_ptr().add(3) };
        let mut r = unsafe { Region::host(base, 250) };
        let b = r.carve(200).unwrap();
        assert_eq!(b.as_ptr() as usize % ALIGN, 0);
        assert!(b.iter().all(|&x| x == 0), "zeroed");
        assert!(r.carve(64).is_none(), "only what the host gave");
        let plan = Plan { event_bodies: 200, ..Plan::default() };
        assert_eq!(plan.total(), 208 + ALIGN - 1);
    }
}
