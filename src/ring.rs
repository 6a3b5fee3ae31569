//! Lock-free single-producer single-consumer byte ring for microphone audio: the host's audio
//! thread (or interrupt) writes, the thread that polls the client reads. Fixed capacity, set at
//! creation; a write that does not fit is refused whole, so the stream never has a silent gap.

use crate::memory::Buf;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::{Acquire, Relaxed, Release}};

/// Why a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// No turn is capturing audio now.
    NotCapturing,
    /// Not enough room: nothing was written.
    Full,
    /// Longer than the ring's whole capacity: it could never fit.
    Oversized,
    /// Another producer is writing at this moment (the ring takes one producer at a time);
    /// nothing was written.
    Busy,
}

/// The ring. `write` may run on one other thread concurrently with `read`/`discard`/
/// `set_capturing` on the owning thread.
pub struct AudioRing {
    /// Accessed only through `buf.raw()`, never through a reference: two threads use it at once.
    buf: Buf,
    cap: usize,
    /// Total bytes ever written / read; their difference is the fill level. 64-bit so that they
    /// never wrap, also on 32-bit targets (4 GiB of audio is only about 37 hours).
    written: AtomicU64,
    read: AtomicU64,
    capturing: AtomicBool,
    /// A producer is inside `write`: a second one at the same time is refused, not raced.
    producing: AtomicBool,
    /// Writes refused because the ring was full, for diagnostics.
    overruns: AtomicU64,
}

// SAFETY: the producer only writes bytes in [written, read + cap) and the consumer only reads
// bytes in [read, written); the indices are published with release/acquire ordering, so the two
// threads never touch the same byte at the same time.
unsafe impl Sync for AudioRing {}
unsafe impl Send for AudioRing {}

impl AudioRing {
    /// A ring holding up to `capacity` bytes, on the heap.
    pub fn new(capacity: usize) -> Self {
        Self::in_buf(Buf::heap(capacity.max(1)))
    }

    /// A ring over `buf` (at least one byte).
    pub fn in_buf(buf: Buf) -> Self {
        assert!(!buf.is_empty(), "an audio ring needs room");
        AudioRing {
            cap: buf.len(),
            buf,
            written: AtomicU64::new(0),
            read: AtomicU64::new(0),
            capturing: AtomicBool::new(false),
            producing: AtomicBool::new(false),
            overruns: AtomicU64::new(0),
        }
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Producer: appends all of `data`, or nothing. One producer at a time: a write that
    /// overlaps another is refused with [`WriteError::Busy`].
    pub fn write(&self, data: &[u8]) -> Result<(), WriteError> {
        if data.len() > self.cap {
            return Err(WriteError::Oversized);
        }
        if self.producing.swap(true, Acquire) {
            return Err(WriteError::Busy);
        }
        let result = self.write_exclusive(data);
        self.producing.store(false, Release);
        result
    }

    fn write_exclusive(&self, data: &[u8]) -> Result<(), WriteError> {
        if !self.capturing.load(Acquire) {
            return Err(WriteError::NotCapturing);
        }
        let w = self.written.load(Relaxed);
        let r = self.read.load(Acquire);
        let cap = self.cap;
        if cap - ((w - r) as usize) < data.len() {
            self.overruns.fetch_add(1, Relaxed);
            return Err(WriteError::Full);
        }
        let start = (w % cap as u64) as usize;
        let first = data.len().min(cap - start);
        // SAFETY: these bytes are outside the consumer's readable range (see the Sync impl).
        unsafe {
            let base = self.buf.raw();
            core::ptr::copy_nonoverlapping(data.as_ptr(), base.add(start), first);
            core::ptr::copy_nonoverlapping(data.as_ptr().add(first), base, data.len() - first);
        }
        self.written.store(w + data.len() as u64, Release);
        Ok(())
    }

    /// Consumer: bytes ready to read.
    pub fn len(&self) -> usize {
        (self.written.load(Acquire) - self.read.load(Relaxed)) as usize
    }

    /// Consumer: whether nothing is ready.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Consumer: moves up to `out.len()` bytes out; returns how many.
    pub fn read(&self, out: &mut [u8]) -> usize {
        let r = self.read.load(Relaxed);
        let n = ((self.written.load(Acquire) - r) as usize).min(out.len());
        let cap = self.cap;
        let start = (r % cap as u64) as usize;
        let first = n.min(cap - start);
        // SAFETY: these bytes are inside the readable range, which the producer does not touch.
        unsafe {
            let base = self.buf.raw() as *const u8;
            core::ptr::copy_nonoverlapping(base.add(start), out.as_mut_ptr(), first);
            core::ptr::copy_nonoverlapping(base, out.as_mut_ptr().add(first), n - first);
        }
        self.read.store(r + n as u64, Release);
        n
    }

    /// Consumer: drops everything buffered (after StopCapture nothing more is sent).
    pub fn discard(&self) {
        self.read.store(self.written.load(Acquire), Release);
    }

    /// Consumer: opens or closes the ring to the producer.
    pub fn set_capturing(&self, on: bool) {
        self.capturing.store(on, Release);
    }

    /// Whether the producer's writes are accepted now.
    pub fn is_capturing(&self) -> bool {
        self.capturing.load(Acquire)
    }

    /// Writes refused as full since creation.
    pub fn overruns(&self) -> u64 {
        self.overruns.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn full_is_refused_whole_and_nothing_is_lost() {
        let r = AudioRing::new(8);
        assert_eq!(r.write(b"abc"), Err(WriteError::NotCapturing));
        r.set_capturing(true);
        r.write(b"abcdef").unwrap();
        assert_eq!(r.write(b"ghi"), Err(WriteError::Full));
        assert_eq!(r.overruns(), 1);
        let mut out = [0u8; 4];
        assert_eq!(r.read(&mut out), 4);
        assert_eq!(&out, b"abcd");
        r.write(b"ghij").unwrap(); // wraps
        let mut rest = [0u8; 8];
        assert_eq!(r.read(&mut rest), 6);
        assert_eq!(&rest[..6], b"efghij");
        r.write(b"xy").unwrap();
        r.discard();
        assert!(r.is_empty());
    }

    #[test]
    fn oversized_is_its_own_error() {
        let r = AudioRing::new(8);
        r.set_capturing(true);
        assert_eq!(r.write(&[0; 9]), Err(WriteError::Oversized));
        assert_eq!(r.write(&[0; 8]), Ok(()));
        assert_eq!(r.write(&[0; 1]), Err(WriteError::Full));
    }

    /// Two producers at once (a misuse the header forbids) are refused, not raced: every frame
    /// that was accepted arrives whole, and the refusals are reported.
    #[test]
    fn a_second_concurrent_producer_is_refused_not_raced() {
        use std::sync::atomic::{AtomicBool, AtomicUsize};
        let r = Arc::new(AudioRing::new(64 * 320));
        r.set_capturing(true);
        let min_frames = 20_000u32;
        // Producers go on until an overlap has been seen (bounded in time), so that the refusal
        // is exercised however the threads get scheduled (e.g. under qemu-user).
        let saw_busy = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicUsize::new(0));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let producers: Vec<_> = (0..2u8)
            .map(|who| {
                let (p, saw_busy, finished) = (r.clone(), saw_busy.clone(), finished.clone());
                std::thread::spawn(move || {
                    let mut sent = 0u32;
                    while (sent < min_frames || !saw_busy.load(Relaxed)) && std::time::Instant::now() < deadline {
                        // A frame: who, then its sequence number repeated.
                        let mut frame = [0u8; 320];
                        for (i, b) in frame.iter_mut().enumerate() {
                            *b = if i == 0 { who } else { (sent % 251) as u8 };
                        }
                        match p.write(&frame) {
                            Ok(()) => sent += 1,
                            Err(WriteError::Busy) => saw_busy.store(true, Relaxed),
                            Err(_) => std::thread::yield_now(),
                        }
                    }
                    finished.fetch_add(1, Release);
                    sent
                })
            })
            .collect();
        let mut next = [0u32; 2];
        let mut frame = [0u8; 320];
        let mut filled = 0;
        while finished.load(Acquire) < 2 || !r.is_empty() {
            filled += r.read(&mut frame[filled..]);
            if filled < 320 {
                continue;
            }
            filled = 0;
            let who = frame[0] as usize;
            assert!(who < 2, "a frame starts with its producer");
            let want = (next[who] % 251) as u8;
            assert!(frame[1..].iter().all(|&b| b == want), "frame {} of producer {who} arrived whole", next[who]);
            next[who] += 1;
        }
        let sent: Vec<u32> = producers.into_iter().map(|p| p.join().unwrap()).collect();
        assert_eq!(next.to_vec(), sent, "every accepted frame arrived, once");
        assert!(saw_busy.load(Relaxed), "overlapping writes were seen and refused");
    }

    #[test]
    fn concurrent_producer_and_consumer_keep_every_byte_in_order() {
        let r = Arc::new(AudioRing::new(1000));
        r.set_capturing(true);
        let p = r.clone();
        let producer = std::thread::spawn(move || {
            let mut next = 0u32;
            while next < 200_000 {
                let chunk: Vec<u8> = (next..next + 320).map(|i| (i % 251) as u8).collect();
                if p.write(&chunk).is_ok() {
                    next += 320;
                }
            }
        });
        let mut got = 0u32;
        let mut buf = [0u8; 300];
        while got < 200_000 {
            let n = r.read(&mut buf);
            for &b in &buf[..n] {
                assert_eq!(b, (got % 251) as u8);
                got += 1;
            }
        }
        producer.join().unwrap();
    }
}
