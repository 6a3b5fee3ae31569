//! ISO-8601 timestamps and Unix milliseconds, both ways, without a date library or `core::fmt`.
//!
//! v3 properties carry a `timeOfSample` and alerts a `scheduledTime`; the host supplies wall-clock
//! time as Unix milliseconds. [`write_iso8601_utc`] turns it into text (`2017-02-03T16:20:50.520Z`);
//! [`parse_iso8601`] reads the times AVS sends (`2017-08-01T11:30:00+0000`, with any offset).
//!
//! [`write_iso8601_utc`]: crate::time::write_iso8601_utc
//! [`parse_iso8601`]: crate::time::parse_iso8601

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

/// Why [`parse_iso8601`] refused a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeParseError {
    /// Not of the form `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH[[:]MM])`: a missing or extra character,
    /// a non-digit, no offset, more than 9 fraction digits.
    Malformed,
    /// Well formed with a field outside its calendar range: month 0 or 13, February 30, hour 24,
    /// minute or second 60 (leap seconds are refused), an offset hour above 23 or minute above 59.
    InvalidField,
    /// A valid time before 1970-01-01T00:00:00Z or after [`MAX_UNIX_MS`] once the offset is
    /// applied (Unix milliseconds here are unsigned).
    OutOfRange,
}

/// Reads an ISO-8601 (RFC 3339 profile) date and time **with a UTC offset** into Unix
/// milliseconds: `YYYY-MM-DDTHH:MM:SS`, optional fraction `.f` of 1 to 9 digits (truncated to
/// milliseconds), then `Z`, `±HH`, `±HHMM` or `±HH:MM` (`-00:00` counts as UTC). AVS writes
/// `2017-08-01T11:30:00+0000`; all these are accepted:
/// `2017-08-01T12:30:00.250+01:00`, `2017-08-01T11:30:00Z`, `2017-08-01T06:30:00-05`.
///
/// Strict: the `T` and `Z` upper case, every field zero-padded to its width, no surrounding
/// whitespace, no local time without an offset (an alert time must not depend on the device's
/// time zone). See [`TimeParseError`] for what is refused.
pub fn parse_iso8601(s: &[u8]) -> Result<u64, TimeParseError> {
    use TimeParseError::*;
    // The fixed-width part: YYYY-MM-DDTHH:MM:SS.
    let head = s.get(..19).ok_or(Malformed)?;
    for (i, &c) in head.iter().enumerate() {
        let want = match i {
            4 | 7 => Some(b'-'),
            10 => Some(b'T'),
            13 | 16 => Some(b':'),
            _ => None,
        };
        let ok = match want {
            Some(w) => c == w,
            None => c.is_ascii_digit(),
        };
        if !ok {
            return Err(Malformed);
        }
    }
    let num = |r: core::ops::Range<usize>| {
        head[r]
            .iter()
            .fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'))
    };
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let (hour, minute, second) = (num(11..13), num(14..16), num(17..19));
    let mut rest = &s[19..];

    // The optional fraction: keep the first three digits.
    let mut millis = 0i64;
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return Err(Malformed);
        }
        for i in 0..3 {
            millis = millis * 10
                + tail
                    .get(i)
                    .filter(|_| i < n)
                    .map_or(0, |&d| i64::from(d - b'0'));
        }
        rest = &tail[n..];
    }

    // The offset, in minutes east of UTC.
    let offset_minutes = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), digits @ ..] => {
            let two = |d: &[u8]| -> Result<i64, TimeParseError> {
                match d {
                    [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                        Ok(i64::from(a - b'0') * 10 + i64::from(b - b'0'))
                    }
                    _ => Err(Malformed),
                }
            };
            let (h, m) = match digits.len() {
                2 => (two(digits)?, 0),
                4 => (two(&digits[..2])?, two(&digits[2..])?),
                5 if digits[2] == b':' => (two(&digits[..2])?, two(&digits[3..])?),
                _ => return Err(Malformed),
            };
            if h > 23 || m > 59 {
                return Err(InvalidField);
            }
            let m = h * 60 + m;
            if *sign == b'-' {
                -m
            } else {
                m
            }
        }
        _ => return Err(Malformed),
    };

    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_len = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(InvalidField),
    };
    if day < 1 || day > month_len || hour > 23 || minute > 59 || second > 59 {
        return Err(InvalidField);
    }
    let ms = days_from_civil(year, month, day) * 86_400_000
        + hour * 3_600_000
        + minute * 60_000
        + second * 1000
        + millis
        - offset_minutes * 60_000;
    if (0..=MAX_UNIX_MS as i64).contains(&ms) {
        Ok(ms as u64)
    } else {
        Err(OutOfRange)
    }
}

/// Days from 1970-01-01 to the valid date (`year` 0..=9999, `month` 1..=12, `day` in the month),
/// negative before it: the inverse of [`civil_from_days`] (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // 0..=399
    let mp = (month + 9) % 12; // March = 0 .. February = 11
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    fn parse(s: &str) -> Result<u64, TimeParseError> {
        parse_iso8601(s.as_bytes())
    }

    #[test]
    fn parses_offsets_and_fractions() {
        // 2017-08-01T11:30:00Z, the SetAlert example's time.
        let t = 1_501_587_000_000;
        for s in [
            "2017-08-01T11:30:00+0000",
            "2017-08-01T11:30:00+00:00",
            "2017-08-01T11:30:00+00",
            "2017-08-01T11:30:00-0000",
            "2017-08-01T11:30:00-00:00",
            "2017-08-01T11:30:00Z",
            "2017-08-01T11:30:00.000Z",
            "2017-08-01T11:30:00.0Z",
            "2017-08-01T11:30:00.000000000Z",
            "2017-08-01T12:30:00+01:00",
            "2017-08-01T12:30:00+0100",
            "2017-08-01T12:30:00+01",
            "2017-08-01T06:30:00-05:00",
            "2017-08-01T17:00:00+05:30",
            "2017-08-01T00:00:00-11:30",
            "2017-08-02T11:29:00+23:59",
            "2017-07-31T11:31:00-23:59",
        ] {
            assert_eq!(parse(s), Ok(t), "{s}");
        }
        assert_eq!(parse("2017-08-01T11:30:00.5Z"), Ok(t + 500));
        assert_eq!(parse("2017-08-01T11:30:00.05Z"), Ok(t + 50));
        assert_eq!(parse("2017-08-01T11:30:00.123Z"), Ok(t + 123));
        // Beyond milliseconds: truncated, never rounded up.
        assert_eq!(parse("2017-08-01T11:30:00.1239Z"), Ok(t + 123));
        assert_eq!(parse("2017-08-01T11:30:00.999999999+00:00"), Ok(t + 999));
        assert_eq!(parse("2017-02-03T16:20:50.520Z"), Ok(1_486_138_850_520));
    }

    #[test]
    fn round_trips_with_the_writer() {
        let mut ms = 0u64;
        while ms < MAX_UNIX_MS {
            assert_eq!(parse(&iso(ms)), Ok(ms), "{ms}");
            ms = ms * 3 + 86_399_999 + 7;
        }
        assert_eq!(parse(&iso(MAX_UNIX_MS)), Ok(MAX_UNIX_MS));
        // Every day from 1970 to beyond 2400, at one time of day.
        for days in 0..(430 * 366) {
            let ms = days * 86_400_000 + 45_296_789;
            assert_eq!(parse(&iso(ms)), Ok(ms));
        }
    }

    #[test]
    fn leap_years() {
        assert_eq!(parse("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
        assert_eq!(parse("2000-02-29T23:59:59.999Z"), Ok(951_868_799_999));
        assert_eq!(parse("1972-02-29T00:00:00+00:00"), Ok(68_169_600_000));
        assert_eq!(
            parse("2400-02-29T00:00:00Z").map(iso),
            Ok("2400-02-29T00:00:00.000Z".into())
        );
        for s in [
            "2023-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z", // divisible by 100, not by 400
            "1900-02-29T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2000-02-30T00:00:00Z",
        ] {
            assert_eq!(parse(s), Err(TimeParseError::InvalidField), "{s}");
        }
        // Crossing into a leap day through the offset.
        assert_eq!(parse("2024-02-28T23:00:00-01:00"), Ok(1_709_164_800_000));
        assert_eq!(parse("2024-03-01T00:30:00+00:30"), Ok(1_709_251_200_000));
    }

    #[test]
    fn invalid_fields() {
        for s in [
            "2017-00-01T00:00:00Z",
            "2017-13-01T00:00:00Z",
            "2017-01-00T00:00:00Z",
            "2017-01-32T00:00:00Z",
            "2017-04-31T00:00:00Z",
            "2017-06-31T00:00:00Z",
            "2017-09-31T00:00:00Z",
            "2017-11-31T00:00:00Z",
            "2017-01-01T24:00:00Z",
            "2017-01-01T99:00:00Z",
            "2017-01-01T00:60:00Z",
            "2017-01-01T00:00:60Z", // no leap seconds
            "2016-12-31T23:59:60Z",
            "2017-01-01T00:00:00+24:00",
            "2017-01-01T00:00:00+0060",
            "2017-01-01T00:00:00-99",
        ] {
            assert_eq!(parse(s), Err(TimeParseError::InvalidField), "{s}");
        }
        for s in [
            "2017-01-31T00:00:00Z",
            "2017-04-30T00:00:00Z",
            "2017-12-31T23:59:59Z",
        ] {
            assert!(parse(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn out_of_range() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse("1970-01-01T01:00:00+01:00"), Ok(0));
        assert_eq!(parse("9999-12-31T23:59:59.999Z"), Ok(MAX_UNIX_MS));
        assert_eq!(
            parse("9999-12-31T23:59:59.999+00:01"),
            Ok(MAX_UNIX_MS - 60_000)
        );
        for s in [
            "1969-12-31T23:59:59.999Z",
            "1970-01-01T00:59:59+01:00",
            "1970-01-01T00:00:00+00:01",
            "0000-01-01T00:00:00Z",
            "1900-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999-00:01",
            "9999-12-31T23:00:00-01:00",
        ] {
            assert_eq!(parse(s), Err(TimeParseError::OutOfRange), "{s}");
        }
    }

    #[test]
    fn malformed() {
        for s in [
            "",
            "2017",
            "2017-08-01",
            "2017-08-01T11:30:00", // no offset: local time is refused
            "2017-08-01T11:30",
            "2017-08-01T11:30Z",
            "2017-08-01 11:30:00Z",
            "2017-08-01t11:30:00Z",
            "2017-08-01T11:30:00z",
            "2017-8-01T11:30:00Z",
            "2017-08-1T11:30:00Z",
            "17-08-01T11:30:00Z",
            "+2017-08-01T11:30:00Z",
            "2017/08/01T11:30:00Z",
            "2017-08-01T11.30.00Z",
            "2017-08-01T11:30:00.Z",
            "2017-08-01T11:30:00.1234567890Z",
            "2017-08-01T11:30:00,5Z",
            "2017-08-01T11:30:00+",
            "2017-08-01T11:30:00+1",
            "2017-08-01T11:30:00+001",
            "2017-08-01T11:30:00+00:0",
            "2017-08-01T11:30:00+00:000",
            "2017-08-01T11:30:00+0000 ",
            " 2017-08-01T11:30:00+0000",
            "2017-08-01T11:30:00+00-00",
            "2017-08-01T11:30:00+0a00",
            "2017-08-01T11:30:00ZZ",
            "2017-08-01T11:30:00Z+00",
            "2017-08-01T11:30:00+00:00Z",
            "2017-08-01T11:30:00UTC",
            "2017-08-01T1a:30:00Z",
            "2017-0\u{661}-01T11:30:00Z",
            "\u{661}017-08-01T11:30:00Z",
        ] {
            assert_eq!(parse(s), Err(TimeParseError::Malformed), "{s:?}");
        }
    }

    #[test]
    fn never_panics() {
        crate::interfaces::never_panics(b"2017-08-01T11:30:00.123+01:00", |s| {
            let _ = parse_iso8601(s);
        });
        crate::interfaces::never_panics(b"2017-08-01T11:30:00Z", |s| {
            let _ = parse_iso8601(s);
        });
    }
}
