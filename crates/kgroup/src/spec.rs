//! What `reset --to` and `--topic TOPIC[:P,...]` mean.

use anyhow::Result;
use kcore::Failure;

use crate::session::Session;

/// Where `reset` moves a group's offset in each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Earliest,
    Latest,
    /// This offset.
    Offset(i64),
    /// This many records before the end.
    BeforeEnd(i64),
    /// The first record at or after this time (ms since 1970).
    AtTime(i64),
    /// This many records after (negative: before) the committed offset.
    Shift(i64),
}

/// The first and end offset of a partition, and the group's commit in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub earliest: i64,
    pub latest: i64,
    pub committed: Option<i64>,
    /// For [`Target::AtTime`]: the broker's answer (None when no record is that recent).
    pub at_time: Option<i64>,
}

impl Target {
    pub fn parse(raw: &str) -> Result<Target> {
        let bad = || {
            Failure::usage(format!(
                "bad --to '{raw}': expected earliest, latest, N, -N, +N, committed+N, committed-N or a time \
                 (e.g. {})",
                kcore::time::EXAMPLES
            ))
        };
        let count = |digits: &str| -> Result<i64> {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad().into());
            }
            digits.parse::<i64>().map_err(|_| bad().into())
        };
        let text = raw.trim();
        Ok(match text {
            "earliest" | "beginning" => Target::Earliest,
            "latest" | "end" => Target::Latest,
            _ => {
                if text.starts_with('@') {
                    Target::AtTime(kcore::time::parse_time(text).map_err(|_| bad())?)
                } else if let Some(rest) = text.strip_prefix("committed+") {
                    Target::Shift(count(rest)?)
                } else if let Some(rest) = text.strip_prefix("committed-") {
                    Target::Shift(-count(rest)?)
                } else if let Some(rest) = text.strip_prefix('+') {
                    Target::Shift(count(rest)?)
                } else if let Some(rest) = text
                    .strip_prefix('-')
                    .filter(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
                {
                    Target::BeforeEnd(count(rest)?)
                } else if text.bytes().all(|b| b.is_ascii_digit()) {
                    Target::Offset(count(text)?)
                } else {
                    // -1h, 2024-05-01T10:00:00Z, now: a time (digits alone are an offset).
                    Target::AtTime(kcore::time::parse_time(text).map_err(|_| bad())?)
                }
            }
        })
    }

    /// The new offset, always within the partition's first and end offset, as a consumer
    /// can only start there. A shift without a commit starts from the first offset, where
    /// a group without one reads from (kcons' default).
    pub fn resolve(self, bounds: Bounds) -> i64 {
        let Bounds {
            earliest, latest, ..
        } = bounds;
        let wanted = match self {
            Target::Earliest => earliest,
            Target::Latest => latest,
            Target::Offset(offset) => offset,
            Target::BeforeEnd(count) => latest.saturating_sub(count),
            Target::AtTime(_) => bounds.at_time.unwrap_or(latest),
            Target::Shift(by) => bounds.committed.unwrap_or(earliest).saturating_add(by),
        };
        wanted.clamp(earliest, latest.max(earliest))
    }
}

/// `--topic` values as `(topic, partition)` pairs, every partition of a topic given
/// without a list; exit 6 for an unknown topic, 2 for a partition it does not have.
pub fn partitions(session: &Session, specs: &[String]) -> Result<Vec<(String, i32)>> {
    let mut chosen = Vec::new();
    for spec in specs {
        let (topic, list) = match spec.rsplit_once(':') {
            Some((topic, list)) => (topic, Some(list)),
            None => (spec.as_str(), None),
        };
        if topic.is_empty() {
            return Err(Failure::usage(format!("bad --topic '{spec}': no topic name")).into());
        }
        let existing = session.partitions_of(topic)?;
        let wanted: Vec<i32> = match list {
            None => existing.to_vec(),
            Some(list) => parse_partition_list(list).ok_or_else(|| {
                Failure::usage(format!(
                    "bad --topic '{spec}': expected TOPIC or TOPIC:P,P,... with partition numbers"
                ))
            })?,
        };
        for partition in wanted {
            if !existing.contains(&partition) {
                return Err(Failure::usage(format!(
                    "topic '{topic}' has no partition {partition} (it has {})",
                    existing.len()
                ))
                .into());
            }
            let pair = (topic.to_string(), partition);
            if !chosen.contains(&pair) {
                chosen.push(pair);
            }
        }
    }
    Ok(chosen)
}

fn parse_partition_list(list: &str) -> Option<Vec<i32>> {
    list.split(',')
        .map(|p| p.trim().parse::<i32>().ok().filter(|p| *p >= 0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(committed: Option<i64>) -> Bounds {
        Bounds {
            earliest: 10,
            latest: 100,
            committed,
            at_time: None,
        }
    }

    #[test]
    fn targets_parse() {
        assert_eq!(Target::parse("earliest").unwrap(), Target::Earliest);
        assert_eq!(Target::parse("beginning").unwrap(), Target::Earliest);
        assert_eq!(Target::parse("end").unwrap(), Target::Latest);
        assert_eq!(Target::parse("42").unwrap(), Target::Offset(42));
        assert_eq!(Target::parse("-5").unwrap(), Target::BeforeEnd(5));
        assert_eq!(Target::parse("+5").unwrap(), Target::Shift(5));
        assert_eq!(Target::parse("committed+7").unwrap(), Target::Shift(7));
        assert_eq!(Target::parse("committed-7").unwrap(), Target::Shift(-7));
        assert_eq!(
            Target::parse("@1700000000000").unwrap(),
            Target::AtTime(1_700_000_000_000)
        );
        let hour_ago = Target::parse("-1h").unwrap();
        assert!(
            matches!(hour_ago, Target::AtTime(ms) if (kcore::time::parse_time("now").unwrap() - ms - 3_600_000).abs() < 60_000),
            "{hour_ago:?}"
        );
        assert_eq!(
            Target::parse("2024-05-01T10:00:00Z").unwrap(),
            Target::AtTime(1_714_557_600_000)
        );
        assert_eq!(
            Target::parse("@2024-05-01T10:00:00Z").unwrap(),
            Target::AtTime(1_714_557_600_000)
        );
        for bad in [
            "",
            "x",
            "-1x",
            "@yesterday",
            "-",
            "+",
            "@",
            "1.5",
            "--3",
            "@-1",
            "committed",
            "stored",
        ] {
            let err = Target::parse(bad).unwrap_err();
            assert_eq!(
                kcore::failure::exit_code_for(&err),
                kcore::ExitCode::Usage,
                "{bad}"
            );
        }
    }

    #[test]
    fn targets_stay_within_the_partition() {
        assert_eq!(Target::Earliest.resolve(bounds(Some(50))), 10);
        assert_eq!(Target::Latest.resolve(bounds(Some(50))), 100);
        assert_eq!(Target::Offset(42).resolve(bounds(None)), 42);
        assert_eq!(Target::Offset(5).resolve(bounds(None)), 10);
        assert_eq!(Target::Offset(500).resolve(bounds(None)), 100);
        assert_eq!(Target::BeforeEnd(30).resolve(bounds(None)), 70);
        assert_eq!(Target::BeforeEnd(300).resolve(bounds(None)), 10);
        assert_eq!(Target::Shift(5).resolve(bounds(Some(50))), 55);
        assert_eq!(Target::Shift(-5).resolve(bounds(Some(50))), 45);
        assert_eq!(Target::Shift(5).resolve(bounds(None)), 15);
        assert_eq!(Target::Shift(-500).resolve(bounds(Some(50))), 10);
        let at = |found| Bounds {
            at_time: found,
            ..bounds(None)
        };
        assert_eq!(Target::AtTime(1).resolve(at(Some(60))), 60);
        assert_eq!(Target::AtTime(1).resolve(at(None)), 100);
    }

    #[test]
    fn partition_lists() {
        assert_eq!(parse_partition_list("0,2, 3"), Some(vec![0, 2, 3]));
        assert_eq!(parse_partition_list("x"), None);
        assert_eq!(parse_partition_list("-1"), None);
        assert_eq!(parse_partition_list(""), None);
    }
}
