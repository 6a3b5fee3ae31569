//! Channel mapping and sample-rate conversion of 16-bit interleaved PCM, for when the playback
//! device cannot be opened at the MP3's own rate and channel count.
//!
//! Channels: mono is copied to every output channel; several channels are averaged into mono;
//! otherwise channel `c` goes to channel `c` and extra output channels are silent. Rate: linear
//! interpolation, streaming (state carries over between calls). That is plain but adequate for
//! speech; ALSA's own `plug` converter is better where a device offers it, which is why the player
//! asks ALSA for the MP3's format first.

/// Most channels handled (ALSA devices with more are rare for speech output).
pub const MAX_CHANNELS: usize = 8;

/// Fixed-point unit of the interpolation phase.
const ONE: u64 = 1 << 32;

/// A streaming converter from one rate/channel layout to another.
pub struct Converter {
    in_channels: usize,
    out_channels: usize,
    in_rate: u32,
    out_rate: u32,
    /// Input frames advanced per output frame, in units of `ONE`.
    step: u64,
    /// Position of the next output frame after `prev`, in units of `ONE` (< `ONE` once drained).
    phase: u64,
    prev: [i32; MAX_CHANNELS],
    primed: bool,
    out: Vec<i16>,
}

impl Converter {
    /// A converter for input frames of `in_channels` at `in_rate` to `out_channels` at
    /// `out_rate`, with room for inputs of up to `max_in_samples` interleaved samples per call.
    /// Channel counts are clamped to 1..=[`MAX_CHANNELS`], rates to at least 1.
    pub fn new(in_rate: u32, in_channels: u32, out_rate: u32, out_channels: u32, max_in_samples: usize) -> Self {
        let in_channels = (in_channels as usize).clamp(1, MAX_CHANNELS);
        let out_channels = (out_channels as usize).clamp(1, MAX_CHANNELS);
        let in_rate = in_rate.max(1);
        let out_rate = out_rate.max(1);
        let max_in_frames = max_in_samples / in_channels + 1;
        let max_out_frames = (max_in_frames as u64 * out_rate as u64 / in_rate as u64) as usize + 2;
        Converter {
            in_channels,
            out_channels,
            in_rate,
            out_rate,
            step: ((in_rate as u64) << 32) / out_rate as u64,
            phase: 0,
            prev: [0; MAX_CHANNELS],
            primed: false,
            out: Vec::with_capacity(max_out_frames * out_channels),
        }
    }

    /// Whether input passes through unchanged.
    pub fn is_identity(&self) -> bool {
        self.in_channels == self.out_channels && self.in_rate == self.out_rate
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// Forgets the interpolation state (a new stream starts).
    pub fn reset(&mut self) {
        self.phase = 0;
        self.primed = false;
    }

    fn map_frame(&self, frame: &[i16], out: &mut [i32; MAX_CHANNELS]) {
        if self.out_channels == 1 {
            let sum: i32 = frame.iter().map(|&s| s as i32).sum();
            out[0] = sum / frame.len() as i32;
        } else if self.in_channels == 1 {
            out[..self.out_channels].iter_mut().for_each(|o| *o = frame[0] as i32);
        } else {
            for (c, o) in out[..self.out_channels].iter_mut().enumerate() {
                *o = frame.get(c).map_or(0, |&s| s as i32);
            }
        }
    }

    /// Converts `input` (interleaved, whole frames) and returns the output, valid until the next
    /// call. Does not allocate for inputs within the size given to [`new`](Self::new).
    pub fn process(&mut self, input: &[i16]) -> &[i16] {
        self.out.clear();
        let mut cur = [0i32; MAX_CHANNELS];
        let oc = self.out_channels;
        for frame in input.chunks_exact(self.in_channels) {
            self.map_frame(frame, &mut cur);
            if self.in_rate == self.out_rate {
                self.out.extend(cur[..oc].iter().map(|&s| s as i16));
                continue;
            }
            if !self.primed {
                self.prev = cur;
                self.primed = true;
                continue;
            }
            // Output frames that fall between `prev` (phase 0) and `cur` (phase ONE).
            while self.phase < ONE {
                let f = (self.phase >> 16) as i64; // 16-bit fraction
                for (&a, &b) in self.prev[..oc].iter().zip(&cur[..oc]) {
                    let (a, b) = (a as i64, b as i64);
                    self.out.push((a + (((b - a) * f) >> 16)) as i16);
                }
                self.phase += self.step;
            }
            self.phase -= ONE;
            self.prev = cur;
        }
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_passes_through() {
        let mut c = Converter::new(24000, 1, 24000, 1, 1152);
        assert!(c.is_identity());
        let input: Vec<i16> = (0..576).map(|i| i as i16).collect();
        assert_eq!(c.process(&input), &input[..]);
    }

    #[test]
    fn mono_to_stereo_duplicates_and_stereo_to_mono_averages() {
        let mut up = Converter::new(16000, 1, 16000, 2, 8);
        assert_eq!(up.process(&[1, -2, 3]), &[1, 1, -2, -2, 3, 3]);
        let mut down = Converter::new(16000, 2, 16000, 1, 8);
        assert_eq!(down.process(&[10, 20, -4, -6]), &[15, -5]);
    }

    #[test]
    fn rate_conversion_keeps_length_and_shape() {
        // 1 s of a 200 Hz sine at 22050 Hz, fed in MP3-sized pieces, to 48000 Hz.
        let input: Vec<i16> =
            (0..22050).map(|i| ((i as f64 * 200.0 * 2.0 * std::f64::consts::PI / 22050.0).sin() * 10000.0) as i16).collect();
        let mut c = Converter::new(22050, 1, 48000, 1, 1152);
        let mut out = Vec::new();
        for piece in input.chunks(576) {
            out.extend_from_slice(c.process(piece));
        }
        assert!((out.len() as i64 - 48000).abs() <= 3, "{} output frames", out.len());
        // Compare with the ideal sine at the output rate.
        let mut err = 0.0f64;
        for (i, &s) in out.iter().enumerate().skip(10) {
            let t = i as f64 / 48000.0;
            let want = (t * 200.0 * 2.0 * std::f64::consts::PI).sin() * 10000.0;
            err = err.max((s as f64 - want).abs());
        }
        assert!(err < 150.0, "max error {err}");
    }

    #[test]
    fn does_not_grow_its_buffer() {
        let mut c = Converter::new(8000, 2, 48000, 2, 2304);
        let cap = c.out.capacity();
        let input = vec![100i16; 2304];
        for _ in 0..10 {
            let _ = c.process(&input);
        }
        assert_eq!(c.out.capacity(), cap);
    }
}
