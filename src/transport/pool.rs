//! A fixed memory pool: one arena, carved from the client's memory when it is created, that
//! nghttp2 (through `nghttp2_mem`) or mbedTLS (through its calloc/free hooks) draws from. After
//! set-up neither makes heap calls, and a session that would exceed the budget gets an
//! allocation failure (an error), never more memory.
//!
//! First fit over an address-ordered free list, split on allocation, coalesced on free: simple,
//! and enough for nghttp2's few dozen live blocks.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::memory::Buf;

/// Allocation granule and alignment (malloc's alignment on 64-bit targets).
const UNIT: usize = 16;
const MAGIC_USED: u32 = 0xA110_C8ED;
const NONE: u32 = u32::MAX;

#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Unit([u8; UNIT]);

/// Block header, one unit in front of every block: its size in units, and the next free block
/// (free) or a marker (in use).
#[repr(C)]
#[derive(Clone, Copy)]
struct Header {
    units: u32,
    next: u32,
}

/// Counters of a pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Bytes handed out and not yet freed.
    pub live: usize,
    /// The most `live` has been.
    pub peak: usize,
    /// Allocation calls served (malloc, calloc and growing reallocs).
    pub allocs: u64,
    /// Allocation calls refused for lack of room.
    pub failures: u64,
    /// Arena size in bytes.
    pub capacity: usize,
    /// Bytes from the arena's start to the end of the highest block ever handed out, headers
    /// included: what a fresh pool needs to replay the same allocations (first fit is
    /// deterministic).
    pub high_water: usize,
}

/// The pool.
pub struct Pool {
    /// The arena (16-aligned), `units` long.
    arena: Buf,
    units: usize,
    free: u32,
    stats: PoolStats,
}

// SAFETY: the pool is exclusive access to its arena, like a Box.
unsafe impl Send for Pool {}

impl Pool {
    /// A pool of `bytes` (rounded up to 16, at least 32) on the heap.
    pub fn new(bytes: usize) -> Self {
        Self::in_buf(Buf::heap(bytes.max(2 * UNIT))).expect("a heap buffer of two units or more")
    }

    /// A pool over `buf` (16-aligned, as every [`Buf`] is), or `None` when it holds fewer than
    /// two units.
    pub fn in_buf(buf: Buf) -> Option<Self> {
        let units = (buf.len() / UNIT).min(NONE as usize - 1);
        if units < 2 || buf.raw() as usize % core::mem::align_of::<Unit>() != 0 {
            return None;
        }
        Some(Self::init(Pool { arena: buf, units, free: 0, stats: PoolStats::default() }))
    }

    fn init(mut pool: Pool) -> Pool {
        pool.stats.capacity = pool.units * UNIT;
        pool.set_header(0, Header { units: pool.units as u32, next: NONE });
        pool
    }

    /// The header slot of unit `at` (a header is 8 bytes at the start of a 16-aligned unit).
    fn header_ptr(&self, at: u32) -> *mut Header {
        assert!((at as usize) < self.units, "pool header out of range");
        // SAFETY: in bounds (checked); the arena lives as long as the pool.
        unsafe { (self.arena.raw() as *mut Unit).add(at as usize) as *mut Header }
    }

    /// The counters.
    pub fn stats(&self) -> PoolStats {
        self.stats
    }

    fn header(&self, at: u32) -> Header {
        // SAFETY: aligned and in bounds (header_ptr); plain integers, any bit pattern is valid.
        unsafe { self.header_ptr(at).read() }
    }

    fn set_header(&mut self, at: u32, h: Header) {
        // SAFETY: as in `header`; `&mut self` makes the write exclusive.
        unsafe { self.header_ptr(at).write(h) }
    }

    fn base(&self) -> *const u8 {
        self.arena.raw() as *const u8
    }

    /// The unit index of a block handed out by this pool, if `p` is one.
    fn block_of(&self, p: *const u8) -> Option<u32> {
        let off = (p as usize).checked_sub(self.base() as usize)?;
        if off % UNIT != 0 || off == 0 || off >= self.units * UNIT {
            return None;
        }
        let at = (off / UNIT - 1) as u32;
        (self.header(at).next == MAGIC_USED).then_some(at)
    }

    /// Whether `p` points into this pool's arena.
    pub fn owns(&self, p: *const u8) -> bool {
        let start = self.base() as usize;
        (p as usize) >= start && (p as usize) < start + self.units * UNIT
    }

    /// Allocates `size` bytes (16-byte aligned), or `None` when the pool has no room.
    pub fn alloc(&mut self, size: usize) -> Option<NonNull<u8>> {
        let need = 1 + size.max(1).div_ceil(UNIT);
        let mut prev = NONE;
        let mut at = self.free;
        while at != NONE {
            let h = self.header(at);
            if h.units as usize >= need {
                let rest = h.units as usize - need;
                let next = if rest >= 2 {
                    // Split: the tail stays free, in the same place in the list.
                    let tail = at + need as u32;
                    self.set_header(tail, Header { units: rest as u32, next: h.next });
                    self.set_header(at, Header { units: need as u32, next: MAGIC_USED });
                    tail
                } else {
                    self.set_header(at, Header { units: h.units, next: MAGIC_USED });
                    h.next
                };
                if prev == NONE {
                    self.free = next;
                } else {
                    let ph = self.header(prev);
                    self.set_header(prev, Header { units: ph.units, next });
                }
                let units = self.header(at).units as usize;
                self.stats.high_water = self.stats.high_water.max((at as usize + units) * UNIT);
                self.stats.allocs += 1;
                self.stats.live += (units - 1) * UNIT;
                self.stats.peak = self.stats.peak.max(self.stats.live);
                // SAFETY: the block lies inside the arena.
                return NonNull::new(unsafe { self.base().add((at as usize + 1) * UNIT) as *mut u8 });
            }
            prev = at;
            at = h.next;
        }
        self.stats.failures += 1;
        None
    }

    /// Returns a block to the pool, wiped: blocks hold secrets (nghttp2's copies of the
    /// `authorization` header, TLS plaintext) that must not outlive their use. Pointers the pool
    /// did not hand out are ignored (false).
    pub fn free(&mut self, p: *const u8) -> bool {
        let Some(at) = self.block_of(p) else { return false };
        let units = self.header(at).units;
        let bytes = (units as usize - 1) * UNIT;
        // SAFETY: the block's bytes lie in the arena (block_of checked its header, and a block's
        // units never run past the arena), 16-aligned and a multiple of 16 long; `&mut self`
        // makes the write exclusive. Volatile, so that a wipe of memory nobody reads before
        // reusing it is never optimised away.
        unsafe {
            let start = self.base().add((at as usize + 1) * UNIT) as *mut u64;
            for i in 0..bytes / 8 {
                core::ptr::write_volatile(start.add(i), 0);
            }
        }
        self.stats.live -= bytes;
        // Insert in address order, then merge with the neighbours it touches.
        let mut prev = NONE;
        let mut next = self.free;
        while next != NONE && next < at {
            prev = next;
            next = self.header(next).next;
        }
        self.set_header(at, Header { units, next });
        if next != NONE && at + units == next {
            let nh = self.header(next);
            self.set_header(at, Header { units: units + nh.units, next: nh.next });
        }
        if prev == NONE {
            self.free = at;
        } else {
            let ph = self.header(prev);
            if prev + ph.units == at {
                let h = self.header(at);
                self.set_header(prev, Header { units: ph.units + h.units, next: h.next });
            } else {
                self.set_header(prev, Header { units: ph.units, next: at });
            }
        }
        true
    }

    /// The usable size of a block handed out by this pool.
    pub fn size_of(&self, p: *const u8) -> Option<usize> {
        self.block_of(p).map(|at| (self.header(at).units as usize - 1) * UNIT)
    }
}

/// Every live [`PoolBox`] (their addresses), so that a block freed outside its client's scope
/// still finds its pool. The lock also serialises every operation on a shared pool ([`with_pool`]):
/// mbedTLS's process-wide free hook may return a block to a pool another thread is using.
static LIVE: Mutex<Vec<usize>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<usize>> {
    // A panic while holding the lock leaves the list itself intact (pushes and removes only).
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f` on the pool at `pool` under the lock of the live pools.
///
/// # Safety
/// `pool` must be alive (a [`PoolBox`]'s, or one no other thread can reach).
pub unsafe fn with_pool<R>(pool: NonNull<Pool>, f: impl FnOnce(&mut Pool) -> R) -> R {
    let _lock = live();
    // SAFETY: alive (the caller's contract); every access to a shared pool holds the lock.
    f(unsafe { &mut *pool.as_ptr() })
}

/// Gives `p` back to the live pool whose arena holds it, trying `first` (the caller's current
/// pool, may be null) before the others. True when a pool's arena holds `p` (freed, or ignored
/// when it is not a block in use there): such a pointer must never reach another allocator.
pub fn free_to_owner(first: *mut Pool, p: *const u8, counters: &Counters) -> bool {
    let live = live();
    let owner = core::iter::once(first as usize)
        .filter(|&a| a != 0)
        .chain(live.iter().copied())
        // SAFETY: `first` is the caller's live pool; the others are live while listed, and the
        // lock keeps them listed (and their owners out) for now.
        .find(|&a| unsafe { &*(a as *const Pool) }.owns(p));
    match owner {
        Some(a) => {
            // SAFETY: as above; the lock makes this the only access.
            counters.free(unsafe { &mut *(a as *mut Pool) }, p);
            true
        }
        None => false,
    }
}

/// The arenas (start, length) of the live pools that lie inside `[start, start + len)`: for
/// tests that inspect what a client's pools hold.
#[doc(hidden)]
pub fn live_arenas_within(start: usize, len: usize) -> Vec<(usize, usize)> {
    live()
        .iter()
        .map(|&a| {
            // SAFETY: listed, hence alive; only the arena's bounds are read.
            let pool = unsafe { &*(a as *const Pool) };
            (pool.base() as usize, pool.units * UNIT)
        })
        .filter(|&(s, l)| s >= start && s + l <= start.saturating_add(len))
        .collect()
}

/// A pool at a fixed address for as long as it lives: nghttp2 sessions and mbedTLS hold raw
/// pointers to it, so it is owned through one, never through a reference that moves. Listed
/// among the live pools while it lives.
pub struct PoolBox(NonNull<Pool>);

impl PoolBox {
    pub fn new(pool: Pool) -> Self {
        let p = NonNull::from(Box::leak(Box::new(pool)));
        live().push(p.as_ptr() as usize);
        PoolBox(p)
    }

    /// The pool, for nghttp2's `mem_user_data` and mbedTLS's scope.
    pub fn ptr(&self) -> NonNull<Pool> {
        self.0
    }

    /// The pool's counters.
    pub fn stats(&self) -> PoolStats {
        // SAFETY: alive until drop.
        unsafe { with_pool(self.0, |p| p.stats()) }
    }
}

impl Drop for PoolBox {
    fn drop(&mut self) {
        {
            let mut live = live();
            if let Some(i) = live.iter().position(|&a| a == self.0.as_ptr() as usize) {
                live.swap_remove(i);
            }
        }
        // SAFETY: leaked from a Box in `new`, dropped once here, no longer listed.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) })
    }
}

/// Process-wide counters over the pools one library draws from (every client's): for the
/// benchmarks, and failure injection in tests.
pub struct Counters {
    live: AtomicUsize,
    peak: AtomicUsize,
    calls: AtomicUsize,
    /// Allocation call (counted from 1 by `calls`) that fails; 0 = none.
    fail_at: AtomicU64,
}

impl Counters {
    pub const fn new() -> Self {
        Counters { live: AtomicUsize::new(0), peak: AtomicUsize::new(0), calls: AtomicUsize::new(0), fail_at: AtomicU64::new(0) }
    }

    /// Bytes held now, the high-water mark, and the allocation calls so far.
    pub fn stats(&self) -> (usize, usize, usize) {
        (self.live.load(Relaxed), self.peak.load(Relaxed), self.calls.load(Relaxed))
    }

    /// Resets the high-water mark to the current level.
    pub fn reset_peak(&self) {
        self.peak.store(self.live.load(Relaxed), Relaxed);
    }

    /// Failure injection: the allocation call whose number (see [`Counters::stats`]) is `call`
    /// fails as if the pool were exhausted. `None` turns it off.
    pub fn fail_allocation_at(&self, call: Option<usize>) {
        self.fail_at.store(call.map(|c| c as u64).unwrap_or(0), Relaxed);
    }

    /// Allocates `size` bytes from `pool`, counted; `None` when the pool has no room or this is
    /// the call chosen to fail.
    pub fn alloc(&self, pool: &mut Pool, size: usize) -> Option<NonNull<u8>> {
        let call = self.calls.fetch_add(1, Relaxed) as u64 + 1;
        if self.fail_at.load(Relaxed) == call {
            return None;
        }
        let p = pool.alloc(size)?;
        let got = pool.size_of(p.as_ptr()).unwrap_or(size);
        let live = self.live.fetch_add(got, Relaxed) + got;
        self.peak.fetch_max(live, Relaxed);
        Some(p)
    }

    /// Returns a block to `pool`; false (and nothing done) when the pool did not hand it out.
    pub fn free(&self, pool: &mut Pool, p: *const u8) -> bool {
        let Some(size) = pool.size_of(p) else { return false };
        // Saturating: a block another counter handed out must not wrap this one.
        let _ = self.live.fetch_update(Relaxed, Relaxed, |l| Some(l.saturating_sub(size)));
        pool.free(p)
    }
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_frees_coalesces_and_refuses_when_full() {
        let mut p = Pool::new(1024);
        let a = p.alloc(100).unwrap();
        let b = p.alloc(200).unwrap();
        let c = p.alloc(300).unwrap();
        assert_eq!(a.as_ptr() as usize % 16, 0);
        assert!(p.alloc(1024).is_none(), "more than the arena");
        assert_eq!(p.stats().failures, 1);
        assert!(p.free(b.as_ptr()));
        assert!(!p.free(b.as_ptr()), "double free is ignored");
        assert!(p.free(a.as_ptr()));
        assert!(p.free(c.as_ptr()));
        assert_eq!(p.stats().live, 0);
        // Everything merged back: one block as large as the arena minus its header fits again.
        assert!(p.alloc(1024 - 16).is_some());
        assert!(!p.free(core::ptr::null()));
    }

    #[test]
    fn a_freed_block_is_wiped() {
        let mut p = Pool::new(1024);
        let a = p.alloc(100).unwrap();
        let b = p.alloc(40).unwrap();
        unsafe { core::ptr::write_bytes(a.as_ptr(), 0xA5, 100) };
        unsafe { core::ptr::write_bytes(b.as_ptr(), 0x5A, 40) };
        assert!(p.free(a.as_ptr()));
        let wiped = unsafe { core::slice::from_raw_parts(a.as_ptr(), 112) };
        assert!(wiped.iter().all(|&x| x == 0), "{wiped:?}");
        let kept = unsafe { core::slice::from_raw_parts(b.as_ptr(), 40) };
        assert!(kept.iter().all(|&x| x == 0x5A), "a live neighbour untouched");
    }

    #[test]
    fn random_workload_keeps_blocks_disjoint_and_returns_to_empty() {
        let mut p = Pool::new(64 * 1024);
        let mut live: Vec<(usize, usize, u8)> = Vec::new();
        let mut rng = 0x1234_5678u32;
        for i in 0..20_000u32 {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            if rng % 3 != 0 || live.is_empty() {
                let size = (rng as usize >> 8) % 2000 + 1;
                if let Some(ptr) = p.alloc(size) {
                    let tag = i as u8;
                    unsafe { core::ptr::write_bytes(ptr.as_ptr(), tag, size) };
                    live.push((ptr.as_ptr() as usize, size, tag));
                }
            } else {
                let (ptr, size, tag) = live.swap_remove(rng as usize % live.len());
                let bytes = unsafe { core::slice::from_raw_parts(ptr as *const u8, size) };
                assert!(bytes.iter().all(|&b| b == tag), "a block was overwritten");
                assert!(p.free(ptr as *const u8));
            }
        }
        for (ptr, ..) in live.drain(..) {
            assert!(p.free(ptr as *const u8));
        }
        assert_eq!(p.stats().live, 0);
        assert!(p.alloc(64 * 1024 - 16).is_some(), "fully coalesced");
    }
}
