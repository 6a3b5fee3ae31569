//! Streaming MP3 decoding with minimp3 (through the `rmp3` crate's raw bindings).
//!
//! Bytes arrive in pieces of any size ([`Mp3Decoder::push`]); frames come out one at a time
//! ([`Mp3Decoder::next_frame`]). minimp3 decodes one frame from a byte slice, but it resets its
//! state (bit reservoir, MDCT overlap) whenever it is handed a slice that ends inside a frame, so
//! the decoder only calls it once enough bytes are buffered to hold a whole frame plus the next
//! frame's header — or at the end of the stream, when the tail is decoded as it is.
//!
//! Memory is fixed at creation: the input buffer, minimp3's state and one frame of PCM.

use rmp3::ffi;

/// Input bytes buffered for decoding; also the most [`Mp3Decoder::push`] takes at once.
pub const INPUT_CAPACITY: usize = 16 * 1024;
/// Most interleaved samples one frame decodes to (1152 frames × 2 channels).
pub const MAX_SAMPLES_PER_FRAME: usize = ffi::MINIMP3_MAX_SAMPLES_PER_FRAME as usize;
/// Largest MPEG audio frame minimp3 handles (free-format frames included), plus a header.
const MAX_FRAME_BYTES: usize = 2304 + 4;
/// Bytes needed before decoding mid-stream: a whole frame and the header after it.
const DECODE_MIN: usize = 2 * MAX_FRAME_BYTES;

// The bindings are minimp3's own structs: fail the build, not the device, if they change.
const _: () = assert!(core::mem::size_of::<ffi::mp3dec_frame_info_t>() == 24);
const _: () = assert!(MAX_SAMPLES_PER_FRAME == 2304);

/// One decoded frame.
#[derive(Debug)]
pub struct Mp3Frame<'a> {
    /// Interleaved 16-bit samples, `channels` per frame.
    pub samples: &'a [i16],
    /// Channels (1 or 2).
    pub channels: u32,
    /// Sample rate in Hz (8000 to 48000).
    pub rate: u32,
}

/// A streaming MP3 decoder for one stream at a time ([`reset`](Self::reset) between streams).
pub struct Mp3Decoder {
    dec: Box<ffi::mp3dec_t>,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    pcm: Box<[i16]>,
    /// No frame has been decoded since the last reset (a Xing/Info tag frame is skipped).
    first: bool,
    skipped: u64,
    frames: u64,
}

impl Default for Mp3Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Mp3Decoder {
    /// A decoder with its buffers allocated.
    pub fn new() -> Self {
        // SAFETY: mp3dec_t is plain C data (floats, ints, bytes); all-zero is a valid value and
        // mp3dec_init sets up what it needs.
        let mut dec: Box<ffi::mp3dec_t> = Box::new(unsafe { core::mem::zeroed() });
        // SAFETY: `dec` points at a live mp3dec_t.
        unsafe { ffi::mp3dec_init(&mut *dec) };
        Mp3Decoder {
            dec,
            buf: vec![0u8; INPUT_CAPACITY].into_boxed_slice(),
            start: 0,
            end: 0,
            pcm: vec![0i16; MAX_SAMPLES_PER_FRAME].into_boxed_slice(),
            first: true,
            skipped: 0,
            frames: 0,
        }
    }

    /// Forgets buffered bytes and decoder state: the next bytes start a new stream.
    pub fn reset(&mut self) {
        // SAFETY: `dec` points at a live mp3dec_t.
        unsafe { ffi::mp3dec_init(&mut *self.dec) };
        self.start = 0;
        self.end = 0;
        self.first = true;
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// How many bytes [`push`](Self::push) would take now.
    pub fn space(&self) -> usize {
        INPUT_CAPACITY - self.buffered()
    }

    /// Bytes skipped as not being MP3 audio (tags, garbage, frames lost to a resync).
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// Audio frames decoded since creation.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Appends as much of `data` as fits and returns how many bytes that was.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.space());
        if self.end + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        self.buf[self.end..self.end + n].copy_from_slice(&data[..n]);
        self.end += n;
        n
    }

    /// Decodes the next frame. Mid-stream (`end_of_stream` false) it returns `None` until enough
    /// bytes are buffered; at the end of the stream it decodes what is left and then drops any
    /// undecodable tail. Bytes that are not MP3 audio are skipped.
    pub fn next_frame(&mut self, end_of_stream: bool) -> Option<Mp3Frame<'_>> {
        loop {
            let avail = self.end - self.start;
            if avail == 0 || (!end_of_stream && avail < DECODE_MIN) {
                return None;
            }
            let src = &self.buf[self.start..self.end];
            // SAFETY: zero is a valid mp3dec_frame_info_t (plain ints).
            let mut info: ffi::mp3dec_frame_info_t = unsafe { core::mem::zeroed() };
            // SAFETY: `src` is valid for `avail` bytes (≤ INPUT_CAPACITY, fits in c_int), `pcm`
            // holds MINIMP3_MAX_SAMPLES_PER_FRAME samples, `dec` and `info` are live.
            let samples = unsafe {
                ffi::mp3dec_decode_frame(&mut *self.dec, src.as_ptr(), avail as libc::c_int, self.pcm.as_mut_ptr(), &mut info)
            };
            let used = (info.frame_bytes.max(0) as usize).min(avail);
            if samples > 0 {
                let channels = info.channels.clamp(1, 2) as u32;
                let count = (samples as usize * channels as usize).min(MAX_SAMPLES_PER_FRAME);
                let offset = (info.frame_offset.max(0) as usize).min(used);
                let tag = self.first && is_vbr_tag_frame(&src[offset..used]);
                self.skipped += offset as u64;
                self.start += used;
                self.first = false;
                if tag {
                    // A Xing/Info frame carries the encoder's tag, not audio: it decodes to
                    // silence that was never in the original.
                    continue;
                }
                self.frames += 1;
                return Some(Mp3Frame { samples: &self.pcm[..count], channels, rate: info.hz.max(0) as u32 });
            }
            if used == 0 {
                if end_of_stream {
                    // A partial frame at the very end: nothing more can come of it.
                    self.skipped += avail as u64;
                    self.start = self.end;
                    return None;
                }
                // minimp3 found a frame it cannot complete from a full window: resync past it.
                self.skipped += 1;
                self.start += 1;
                continue;
            }
            if !end_of_stream && used == avail && avail > MAX_FRAME_BYTES {
                // No frame found anywhere: keep the tail, which may hold the start of one.
                let drop = avail - MAX_FRAME_BYTES;
                self.skipped += drop as u64;
                self.start += drop;
                return None;
            }
            // Garbage or tags before a frame, or a frame that decoded to nothing (its bit
            // reservoir was lost with the bytes before it).
            self.skipped += used as u64;
            self.start += used;
        }
    }
}

/// Whether `frame` (one whole MPEG audio frame, header first) is a Xing/Info/VBRI tag frame.
fn is_vbr_tag_frame(frame: &[u8]) -> bool {
    if frame.len() < 4 {
        return false;
    }
    let mpeg1 = frame[1] & 0x08 != 0;
    let mono = frame[3] >> 6 == 3;
    let crc = if frame[1] & 0x01 == 0 { 2 } else { 0 };
    let side_info = match (mpeg1, mono) {
        (true, true) => 17,
        (true, false) => 32,
        (false, true) => 9,
        (false, false) => 17,
    };
    let at = 4 + crc + side_info;
    let tag = |o: usize| frame.get(o..o + 4);
    matches!(tag(at), Some(b"Xing") | Some(b"Info")) || tag(4 + 32) == Some(b"VBRI")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_decodes_to_nothing_and_is_skipped() {
        let mut d = Mp3Decoder::new();
        let junk: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8 & 0xEF).collect();
        let mut fed = 0;
        while fed < junk.len() {
            fed += d.push(&junk[fed..]);
            while d.next_frame(false).is_some() {}
        }
        while d.next_frame(true).is_some() {}
        assert_eq!(d.buffered(), 0);
        assert_eq!(d.frames(), 0);
    }

    #[test]
    fn push_takes_at_most_the_space() {
        let mut d = Mp3Decoder::new();
        let big = vec![0u8; INPUT_CAPACITY + 10];
        assert_eq!(d.push(&big), INPUT_CAPACITY);
        assert_eq!(d.space(), 0);
        assert_eq!(d.push(&big), 0);
    }

    #[test]
    fn info_frame_is_recognised() {
        // MPEG-2 layer III mono header (0xFF 0xF3 ..., mode bits 11) followed by 9 bytes of side info.
        let mut f = vec![0xFF, 0xF3, 0x44, 0xC4];
        f.extend_from_slice(&[0; 9]);
        f.extend_from_slice(b"Info");
        f.resize(144, 0);
        assert!(is_vbr_tag_frame(&f));
        f[13] = b'X';
        assert!(!is_vbr_tag_frame(&f));
    }
}
