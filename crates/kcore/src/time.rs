//! Points in time as people write them, for every option that takes one (`kcons -o` and
//! `--until`, `ktopic offsets --at`, `kgroup reset --to`): one parser, so every tool reads
//! the same forms the same way.
//!
//! - RFC 3339 with a zone: `2024-05-01T10:00:00Z`, `2024-05-01T10:00:00.250+02:00`
//!   (also with a space for the `T`, and with a bracketed zone name: `[Europe/Paris]`);
//! - the same without a zone, `2024-05-01T10:00` or `2024-05-01 10:00:00`: **local time**, in
//!   the zone `TZ` names (else the system's);
//! - a date alone, `2024-05-01`: local midnight at its start;
//! - relative to now: `-1h`, `-30m`, `-2d`, `-1h30m`, `-90s`, `-1w` (calendar units in
//!   local time: `-2d` is the same clock time two days ago, across a DST change too);
//! - `now`;
//! - milliseconds since 1970 (UTC), `1700000000000`, or `@1700000000000` as in `kcons -o`.
//!
//! A leading `@` is accepted before any form (`-o @2024-05-01`). Times are kept to the
//! millisecond (Kafka's resolution); finer digits are dropped.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};

/// What works, for error messages.
pub const EXAMPLES: &str = "2024-05-01T10:00:00Z, 2024-05-01T10:00 (local time), 2024-05-01, \
-1h, -30m, -2d, now, or 1700000000000 (ms since 1970)";

/// A time as milliseconds since 1970, or a one-line reason with examples of what works.
/// As a clap `value_parser`, an unparseable time is a usage error (exit 2).
pub fn parse_time(text: &str) -> Result<i64, String> {
    parse_time_at(text, &Zoned::now())
}

/// [`parse_time`] with "now" given (for tests, and so one command line uses one now).
pub fn parse_time_at(text: &str, now: &Zoned) -> Result<i64, String> {
    let trimmed = text.trim();
    let form = trimmed.strip_prefix('@').unwrap_or(trimmed);
    parse_form(form, now).ok_or_else(|| format!("bad time '{text}': expected e.g. {EXAMPLES}"))
}

fn parse_form(text: &str, now: &Zoned) -> Option<i64> {
    if text.is_empty() {
        return None;
    }
    if text == "now" {
        return Some(now.timestamp().as_millisecond());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok();
    }
    if let Some(ago) = text.strip_prefix('-') {
        // jiff's friendly spans ("1h30m", "2d", "90s"); a unit is required, so "-5"
        // (an offset elsewhere) is never a time.
        if !ago.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let span: Span = ago.parse().ok()?;
        return now
            .checked_sub(span)
            .ok()
            .map(|then| then.timestamp().as_millisecond());
    }
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    // With a zone: an offset (Z, +02:00) or a bracketed name.
    if let Ok(at) = text.parse::<Timestamp>() {
        return Some(at.as_millisecond());
    }
    if let Ok(at) = text.parse::<Zoned>() {
        return Some(at.timestamp().as_millisecond());
    }
    // Without a zone: local time.
    let local = TimeZone::system();
    if let Ok(at) = text.parse::<DateTime>() {
        return at
            .to_zoned(local)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    if let Ok(day) = text.parse::<Date>() {
        return day
            .to_zoned(local)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    None
}

/// A length of time as people write it: `1s`, `500ms`, `2m`, `1m30s` (jiff's friendly
/// format; ISO 8601's `PT1S` too). Zero or negative is refused.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("bad duration '{text}': expected e.g. 1s, 500ms, 2m or 1m30s");
    let parsed: jiff::SignedDuration = text.trim().parse().map_err(|_| bad())?;
    match std::time::Duration::try_from(parsed) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => Err(bad()),
    }
}

/// A millisecond timestamp as RFC 3339 in UTC, for messages.
pub fn format_ms(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(at) => at.to_string(),
        Err(_) => format!("{ms} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-05-01T12:00:00Z, in a zone 5h30 east of UTC (as `TZ=XST-5:30` would be).
    fn now() -> Zoned {
        let tz = TimeZone::fixed(jiff::tz::offset(5));
        "2024-05-01T12:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .to_zoned(tz)
    }

    fn ms(rfc3339: &str) -> i64 {
        rfc3339.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn zoned_and_epoch_forms() {
        let now = now();
        let at = |t: &str| parse_time_at(t, &now).unwrap();
        assert_eq!(at("2024-05-01T10:00:00Z"), ms("2024-05-01T10:00:00Z"));
        assert_eq!(at("2024-05-01T10:00:00+02:00"), ms("2024-05-01T08:00:00Z"));
        assert_eq!(
            at("2024-05-01 10:00:00.250Z"),
            ms("2024-05-01T10:00:00.250Z")
        );
        assert_eq!(
            at("2024-05-01T10:00:00.2509Z"),
            ms("2024-05-01T10:00:00.250Z")
        );
        assert_eq!(
            at("2024-05-01T10:00:00+02:00[Europe/Paris]"),
            ms("2024-05-01T08:00:00Z")
        );
        assert_eq!(at("1700000000000"), 1_700_000_000_000);
        assert_eq!(at("@1700000000000"), 1_700_000_000_000);
        assert_eq!(at("0"), 0);
        assert_eq!(at("now"), ms("2024-05-01T12:00:00Z"));
        assert_eq!(at("@now"), ms("2024-05-01T12:00:00Z"));
    }

    #[test]
    fn relative_forms() {
        let now = now();
        let at = |t: &str| parse_time_at(t, &now).unwrap();
        let noon = ms("2024-05-01T12:00:00Z");
        assert_eq!(at("-1h"), noon - 3_600_000);
        assert_eq!(at("-30m"), noon - 1_800_000);
        assert_eq!(at("-90s"), noon - 90_000);
        assert_eq!(at("-2d"), noon - 2 * 86_400_000);
        assert_eq!(at("-1h30m"), noon - 5_400_000);
        assert_eq!(at("@-1h"), noon - 3_600_000);
    }

    #[test]
    fn local_time_without_a_zone() {
        // The system zone, whatever it is here: the civil time read in it.
        let local = |civil: &str| {
            civil
                .parse::<DateTime>()
                .unwrap()
                .to_zoned(TimeZone::system())
                .unwrap()
                .timestamp()
                .as_millisecond()
        };
        let now = now();
        assert_eq!(
            parse_time_at("2024-05-01T10:00", &now),
            Ok(local("2024-05-01T10:00"))
        );
        assert_eq!(
            parse_time_at("2024-05-01 10:00:05", &now),
            Ok(local("2024-05-01T10:00:05"))
        );
        assert_eq!(
            parse_time_at("2024-05-01", &now),
            Ok(local("2024-05-01T00:00"))
        );
    }

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        for bad in ["", "0s", "-1s", "1", "soon"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_the_rest_with_examples() {
        let now = now();
        for bad in [
            "",
            "@",
            "x",
            "-5",
            "--1h",
            "-h",
            "+1h",
            "1h",
            "yesterday",
            "2024-13-01",
            "2024-05-01T25:00",
            "1.5",
            "@-1",
            "99999999999999999999",
            "10:00",
        ] {
            let err = parse_time_at(bad, &now).expect_err(bad);
            assert!(
                err.contains("2024-05-01T10:00:00Z") && err.contains("-1h"),
                "{err}"
            );
        }
    }
}
