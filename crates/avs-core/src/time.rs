//! ISO-8601 UTC timestamps (`2017-02-03T16:20:50.520Z`) from Unix milliseconds.
//!
//! v3 properties carry a `timeOfSample` and alerts a `scheduledTime`; the host supplies wall-clock
//! time as Unix milliseconds and this turns it into text without a date library or `core::fmt`.

use crate::{put_all, Overflow};

/// Length of every timestamp [`write_iso8601_utc`] writes.
pub const ISO8601_LEN: usize = 24;

/// `9999-12-31T23:59:59.999Z` in Unix milliseconds: the latest time four year digits can hold.
pub const MAX_UNIX_MS: u64 = 253_402_300_799_999;

/// Writes `unix_ms` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (always three fraction digits, always
/// [`ISO8601_LEN`] bytes) and returns the length. Times after [`MAX_UNIX_MS`] are clamped to it.
/// Writes nothing when `out` is too small.
pub fn write_iso8601_utc(unix_ms: u64, out: &mut [u8]) -> Result<usize, Overflow> {
    let ms = unix_ms.min(MAX_UNIX_MS);
    let days = ms / 86_400_000;
    let in_day = ms % 86_400_000;
    let (year, month, day) = civil_from_days(days);
    let mut b = *b"0000-00-00T00:00:00.000Z";
    digits(&mut b[0..4], year);
    digits(&mut b[5..7], month);
    digits(&mut b[8..10], day);
    digits(&mut b[11..13], in_day / 3_600_000);
    digits(&mut b[14..16], in_day / 60_000 % 60);
    digits(&mut b[17..19], in_day / 1000 % 60);
    digits(&mut b[20..23], in_day % 1000);
    let mut pos = 0;
    put_all(out, &mut pos, &[&b])?;
    Ok(pos)
}

/// Writes the low `dst.len()` decimal digits of `n`, zero-padded.
fn digits(dst: &mut [u8], mut n: u64) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// (year, month 1..=12, day 1..=31) of the day `days` after 1970-01-01 (proleptic Gregorian),
/// after Howard Hinnant's `civil_from_days`, for non-negative day numbers only.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so that the leap day ends each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year, 0..=365
    let mp = (5 * doy + 2) / 153; // March = 0 .. February = 11
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(ms: u64) -> std::string::String {
        let mut buf = [0u8; 32];
        let n = write_iso8601_utc(ms, &mut buf).unwrap();
        assert_eq!(n, ISO8601_LEN);
        std::string::String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn known_dates() {
        for (ms, s) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (1, "1970-01-01T00:00:00.001Z"),
            (86_399_999, "1970-01-01T23:59:59.999Z"),
            (1_486_138_850_520, "2017-02-03T16:20:50.520Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (951_868_799_999, "2000-02-29T23:59:59.999Z"),
            (951_868_800_000, "2000-03-01T00:00:00.000Z"),
            (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
            (1_735_689_599_999, "2024-12-31T23:59:59.999Z"),
            (1_735_689_600_000, "2025-01-01T00:00:00.000Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"), // 2100 is not a leap year
            (4_107_456_000_000, "2100-02-28T00:00:00.000Z"),
            (68_169_600_000, "1972-02-29T00:00:00.000Z"),
            (MAX_UNIX_MS, "9999-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(iso(ms), s, "{ms}");
        }
    }

    #[test]
    fn clamped_beyond_9999() {
        for ms in [MAX_UNIX_MS + 1, u64::MAX / 2, u64::MAX] {
            assert_eq!(iso(ms), "9999-12-31T23:59:59.999Z");
        }
    }

    /// Every day from 1970 to 2400 against a day-by-day calendar walk.
    #[test]
    fn every_day_matches_a_calendar_walk() {
        let leap = |y: u64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let (mut y, mut m, mut d) = (1970u64, 1u64, 1u64);
        for days in 0..(430 * 366) {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let month_len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > month_len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn overflow() {
        let mut buf = [0u8; ISO8601_LEN];
        for len in 0..ISO8601_LEN {
            assert_eq!(write_iso8601_utc(0, &mut buf[..len]), Err(Overflow));
        }
        crate::jsonw::check_every_length(|out| write_iso8601_utc(1_486_138_850_520, out));
    }
}
