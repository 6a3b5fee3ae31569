//! Exponential back-off with jitter, for reconnects and for events the server asked to retry.

/// Delays grow as `base·2ⁿ` up to `max`; each is drawn from `[d/2, d]` ("equal jitter") so that a
/// fleet of devices does not reconnect in lock-step, while each delay still grows.
pub struct Backoff {
    base_ms: u32,
    max_ms: u32,
    failures: u32,
    rng: u64,
}

impl Backoff {
    /// A back-off starting at `base_ms`, capped at `max_ms`, jittered from `seed`.
    pub fn new(base_ms: u32, max_ms: u32, seed: u64) -> Self {
        Backoff { base_ms: base_ms.max(1), max_ms: max_ms.max(base_ms.max(1)), failures: 0, rng: seed | 1 }
    }

    /// The delay before the next attempt, counting one more failure.
    pub fn next_delay_ms(&mut self) -> u32 {
        let exp = self.failures.min(20);
        self.failures = self.failures.saturating_add(1);
        let ceiling = (u64::from(self.base_ms) << exp).min(u64::from(self.max_ms));
        let half = ceiling / 2;
        // xorshift64: good enough for jitter, no allocation, no OS call.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (half + self.rng % (ceiling - half + 1)) as u32
    }

    /// Failures counted since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Success: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_within_jitter_bounds_and_cap() {
        let mut b = Backoff::new(100, 1600, 42);
        for n in 0..8u32 {
            let ceiling = (100u32 << n).min(1600);
            let d = b.next_delay_ms();
            assert!(d >= ceiling / 2 && d <= ceiling, "attempt {n}: {d} not in [{}, {ceiling}]", ceiling / 2);
        }
        b.reset();
        assert!(b.next_delay_ms() <= 100);
    }
}
