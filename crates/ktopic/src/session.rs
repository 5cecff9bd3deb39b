//! ktopic's side of the admin session (kcore's [`kcore::admin::session::Session`]): the
//! cluster's snapshot, waiting until every broker shows a change, and topic configs.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};

use kcore::admin::topics::ConfigEntry;
use kcore::{Connection, ConnectionArgs, Failure, QuietContext};

use crate::snapshot::Snapshot;

/// Pause between two metadata polls while waiting for a change to show.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The command's admin session, with what ktopic asks of it.
pub struct Session(kcore::admin::session::Session);

impl Deref for Session {
    type Target = kcore::admin::session::Session;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Session {
    pub fn open(args: &ConnectionArgs) -> Result<Session> {
        Ok(Session(kcore::admin::session::Session::open(
            args, "ktopic",
        )?))
    }

    /// Every broker and topic; exit 5 with one line when the brokers cannot be reached.
    pub fn snapshot(&self) -> Result<Snapshot> {
        Snapshot::fetch(self.client(), &self.connection)
    }

    /// Poll the metadata until `done` holds in every broker's answer, or `deadline`
    /// passes; the last snapshot either way, and whether `done` held, so callers can
    /// report what is missing.
    ///
    /// Every broker, not only the one this session talks to: each learns of a change
    /// from the controller at its own pace, and the next command (`ktopic create t &&
    /// kprod t`) may ask any of them.
    pub fn wait_for(
        &self,
        deadline: Instant,
        mut done: impl FnMut(&Snapshot) -> bool,
    ) -> Result<(Snapshot, bool)> {
        let snapshot = match poll_until(deadline, &mut done, || self.snapshot())? {
            (snapshot, true) => snapshot,
            not_yet => return Ok(not_yet),
        };
        // librdkafka, not us, picks the broker that answers (it may move a request off
        // the bootstrap connection it was sent on), so ask through a client bootstrapped
        // at each unconfirmed broker in turn and count each answer for whoever gave it.
        // Each broker's last answer that lacked the change, if any.
        let mut unconfirmed: BTreeMap<i32, Option<Snapshot>> = snapshot
            .addresses
            .keys()
            .filter(|id| **id != snapshot.answered_by)
            .map(|id| (*id, None))
            .collect();
        while !unconfirmed.is_empty() && Instant::now() < deadline {
            let ids: Vec<i32> = unconfirmed.keys().copied().collect();
            for id in ids {
                let Some(answer) = self.ask(&snapshot.addresses[&id], deadline) else {
                    // Not reachable from here (an address only the brokers' own network
                    // knows): no command run here can ask it either.
                    unconfirmed.remove(&id);
                    continue;
                };
                // -1: the bootstrap connection answered, which is the broker asked.
                let by = match answer.answered_by {
                    -1 => id,
                    by => by,
                };
                if done(&answer) {
                    unconfirmed.remove(&by);
                } else if let Some(last) = unconfirmed.get_mut(&by) {
                    *last = Some(answer);
                }
            }
            if !unconfirmed.is_empty() {
                std::thread::sleep(POLL_INTERVAL);
            }
        }
        // Brokers that never got to answer are given the benefit of the doubt; one that
        // answered without the change until the deadline is reported as it sees things.
        match unconfirmed.into_values().flatten().next() {
            Some(lagging) => Ok((lagging, false)),
            None => Ok((snapshot, true)),
        }
    }

    /// The metadata through a client bootstrapped at `address` alone; `None` if it does
    /// not answer within a couple of seconds (or before `deadline`).
    fn ask(&self, address: &str, deadline: Instant) -> Option<Snapshot> {
        let connection = Connection {
            brokers: address.to_string(),
            brokers_source: "the cluster's metadata",
            timeout: deadline
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(500), Duration::from_secs(2)),
            ..self.connection.clone()
        };
        let consumer = connection
            .create::<BaseConsumer<QuietContext>, _>(
                &[],
                QuietContext::new("ktopic", connection.verbose),
            )
            .ok()?;
        Snapshot::fetch(consumer.client(), &connection).ok()
    }

    /// Every config entry of each topic, sorted by key.
    pub fn topic_configs(&self, topics: &[&str]) -> Result<BTreeMap<String, Vec<ConfigEntry>>> {
        let described =
            kcore::admin::topics::describe_topic_configs(self.client(), topics, self.timeout())
                .map_err(|err| err.context("cannot read topic configs"))?;
        let mut configs = BTreeMap::new();
        for (topic, result) in described {
            let entries = result.map_err(|err| describe_failure(&topic, err.code))?;
            configs.insert(topic, entries);
        }
        Ok(configs)
    }
}

/// Take snapshots with `fetch` until `done` holds or `deadline` passes.
fn poll_until(
    deadline: Instant,
    done: &mut impl FnMut(&Snapshot) -> bool,
    mut fetch: impl FnMut() -> Result<Snapshot>,
) -> Result<(Snapshot, bool)> {
    loop {
        let snapshot = fetch()?;
        if done(&snapshot) {
            return Ok((snapshot, true));
        }
        if Instant::now() >= deadline {
            return Ok((snapshot, false));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn describe_failure(topic: &str, code: rdkafka::types::RDKafkaErrorCode) -> anyhow::Error {
    use rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition;
    if code == UnknownTopicOrPartition {
        Failure::not_found(format!("unknown topic '{topic}'")).into()
    } else {
        anyhow!("cannot read the config of topic '{topic}': {code}")
    }
}

/// The entries set on the topic itself, not inherited from the brokers' defaults.
pub fn is_override(entry: &ConfigEntry) -> bool {
    entry.is_override
}

/// A config entry's value as printed: null when the brokers hide it (sensitive) or have none.
pub fn shown_value(entry: &ConfigEntry) -> serde_json::Value {
    match &entry.value {
        Some(value) if !entry.is_sensitive => serde_json::Value::String(value.clone()),
        _ => serde_json::Value::Null,
    }
}

/// Split `key=value` (a `-c` or `--set` argument).
pub fn parse_key_value(raw: &str, flag: &str) -> Result<(String, String)> {
    match raw.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(Failure::usage(format!("bad {flag} '{raw}': expected key=value")).into()),
    }
}

/// Names in the order given, each once.
pub fn unique(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values() {
        assert_eq!(
            parse_key_value("retention.ms=1", "-c").unwrap(),
            ("retention.ms".into(), "1".into())
        );
        assert_eq!(
            parse_key_value("a=b=c", "-c").unwrap(),
            ("a".into(), "b=c".into())
        );
        assert_eq!(
            parse_key_value("a=", "-c").unwrap(),
            ("a".into(), String::new())
        );
        let err = parse_key_value("retention.ms", "--set").unwrap_err();
        assert_eq!(kcore::failure::exit_code_for(&err), kcore::ExitCode::Usage);
        assert!(
            err.to_string().contains("bad --set 'retention.ms'"),
            "{err}"
        );
        assert!(parse_key_value("=1", "-c").is_err());
    }

    #[test]
    fn unique_keeps_first_order() {
        let names = unique(["b", "a", "b", "c", "a"].map(String::from));
        assert_eq!(names, ["b", "a", "c"]);
    }
}
