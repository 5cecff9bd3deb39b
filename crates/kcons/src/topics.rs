//! The TOPIC arguments: names, and regular expressions in librdkafka's (and kcat's) form, a
//! leading `^` (`'^orders-.*'`). With `-g` the patterns go to librdkafka as the subscription,
//! which matches topics created later too (at its metadata refresh); without `-g` they are
//! matched once, against the topics that exist at start. Kafka's internal topics
//! (`__consumer_offsets`, `__transaction_state`: names starting with `__`) never match a
//! pattern, as with the Java consumer.

use anyhow::Result;
use kcore::Failure;
use rdkafka::metadata::Metadata;
use regex::Regex;

/// A topic subscription that is a regular expression.
pub fn is_pattern(topic: &str) -> bool {
    topic.starts_with('^')
}

/// Internal topics: never matched by a pattern.
const INTERNAL_PREFIX: &str = "__";

/// How librdkafka is told to leave internal topics out of a pattern subscription.
pub const INTERNAL_TOPICS_PATTERN: &str = "^__.*";

/// Check the patterns before anything is asked of the cluster: a bad one is exit 2.
pub fn compile(topics: &[String]) -> Result<Vec<Regex>> {
    topics
        .iter()
        .filter(|t| is_pattern(t))
        .map(|pattern| {
            Regex::new(pattern).map_err(|err| {
                let first = err.to_string();
                let first = first.lines().last().unwrap_or_default().trim().to_string();
                Failure::usage(format!("bad topic pattern '{pattern}': {first}")).into()
            })
        })
        .collect()
}

/// The topics to read now: the names as given, then every existing topic a pattern matches
/// (in name order), each once.
pub fn resolve(topics: &[String], patterns: &[Regex], metadata: &Metadata) -> Vec<String> {
    let mut resolved: Vec<String> = Vec::new();
    for topic in topics.iter().filter(|t| !is_pattern(t)) {
        if !resolved.contains(topic) {
            resolved.push(topic.clone());
        }
    }
    let mut matched: Vec<&str> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| t.name())
        .filter(|name| !name.starts_with(INTERNAL_PREFIX))
        .filter(|name| patterns.iter().any(|p| p.is_match(name)))
        .collect();
    matched.sort_unstable();
    for name in matched {
        if !resolved.iter().any(|t| t == name) {
            resolved.push(name.to_string());
        }
    }
    resolved
}
