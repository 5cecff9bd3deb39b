//! `-o/--offset`: where consumption starts.

use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    Beginning,
    End,
    /// The consumer group's committed offset (beginning where there is none).
    Stored,
    /// An absolute offset.
    At(i64),
    /// This many records before the end of each partition.
    FromEnd(i64),
    /// The first record whose timestamp is at or after this many ms since the epoch
    /// (`@MS`, or any time `kcore::time` reads: `-1h`, `2024-05-01T10:00:00Z`, ...).
    Timestamp(i64),
}

impl FromStr for OffsetSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "bad offset '{text}': expected beginning, end, stored, N, -N or a time (e.g. {})",
                kcore::time::EXAMPLES
            )
        };
        match text {
            "beginning" | "earliest" => return Ok(OffsetSpec::Beginning),
            "end" | "latest" => return Ok(OffsetSpec::End),
            "stored" => return Ok(OffsetSpec::Stored),
            _ => {}
        }
        let digits = |s: &str| -> Result<i64, String> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse::<i64>().map_err(|_| bad())
        };
        let time = || {
            kcore::time::parse_time(text)
                .map(OffsetSpec::Timestamp)
                .map_err(|_| bad())
        };
        if text.starts_with('@') {
            return time();
        }
        if let Some(n) = text.strip_prefix('-') {
            if n.starts_with(|c: char| c.is_ascii_digit()) && !n.bytes().all(|b| b.is_ascii_digit())
            {
                // -1h, -30m: a time; -N (digits only) stays N records before the end.
                return time();
            }
            return match digits(n)? {
                0 => Ok(OffsetSpec::End),
                n => Ok(OffsetSpec::FromEnd(n)),
            };
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return digits(text).map(OffsetSpec::At);
        }
        // 2024-05-01T10:00:00Z, 2024-05-01, now: a time.
        time()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("beginning".parse(), Ok(OffsetSpec::Beginning));
        assert_eq!("end".parse(), Ok(OffsetSpec::End));
        assert_eq!("stored".parse(), Ok(OffsetSpec::Stored));
        assert_eq!("42".parse(), Ok(OffsetSpec::At(42)));
        assert_eq!("0".parse(), Ok(OffsetSpec::At(0)));
        assert_eq!("-5".parse(), Ok(OffsetSpec::FromEnd(5)));
        assert_eq!("-0".parse(), Ok(OffsetSpec::End));
        assert_eq!(
            "@1700000000000".parse(),
            Ok(OffsetSpec::Timestamp(1_700_000_000_000))
        );
        assert_eq!(
            "@2024-05-01T10:00:00Z".parse(),
            Ok(OffsetSpec::Timestamp(1_714_557_600_000))
        );
        assert_eq!(
            "2024-05-01T10:00:00Z".parse(),
            Ok(OffsetSpec::Timestamp(1_714_557_600_000))
        );
        assert!(matches!(
            "-1h".parse::<OffsetSpec>(),
            Ok(OffsetSpec::Timestamp(_))
        ));
        assert!(matches!(
            "now".parse::<OffsetSpec>(),
            Ok(OffsetSpec::Timestamp(_))
        ));
    }

    #[test]
    fn rejects_the_rest() {
        for bad in [
            "",
            "x",
            "@",
            "@-1",
            "--1",
            "+1",
            "1.5",
            "99999999999999999999",
            "- 1",
            "@x",
        ] {
            assert!(
                bad.parse::<OffsetSpec>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
