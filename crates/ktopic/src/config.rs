//! `ktopic config`: print a topic's configuration, or change some keys of it.
//!
//! Changes go through IncrementalAlterConfigs (see `kcore::admin::topics`), which touches only the
//! named keys: the plain AlterConfigs that rdkafka offers would reset every other key
//! of the topic to its default.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{anyhow, Result};
use kcore::admin::topics::ConfigEntry;
use rdkafka::types::RDKafkaErrorCode;
use serde_json::{json, Map, Value};

use kcore::admin::topics::{self as topic_admin, ConfigChange};
use kcore::admin::AdminError;
use kcore::progress::Status;
use kcore::{Failure, JsonLines};

use crate::cli::ConfigArgs;
use crate::session::{is_override, parse_key_value, shown_value, Session};

/// Pause between two reads of the config while waiting for a change to show.
const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

pub fn config(session: &Session, args: &ConfigArgs) -> Result<()> {
    let topic = args.topic.as_str();
    let changes = changes(&args.set, &args.unset)?;
    let before = session.snapshot()?;
    if !before.topics.contains_key(topic) {
        return Err(Failure::not_found(format!("unknown topic '{topic}'")).into());
    }

    let entries = if changes.is_empty() {
        read(session, topic)?
    } else {
        let deadline = Instant::now() + session.timeout();
        let _spinner = Status::spinner(
            "ktopic",
            format!("changing the config of '{topic}', waiting until the brokers show it"),
        );
        topic_admin::alter_topic_config(session.client(), topic, &changes, session.timeout())
            .map_err(|err| alter_failure(topic, err))?;
        // The controller has the change; the broker that answers the next read may not
        // have applied it yet. Read until it shows, so what we print is the new config.
        loop {
            let entries = read(session, topic)?;
            if changes.iter().all(|change| shows(&entries, change)) {
                break entries;
            }
            if Instant::now() >= deadline {
                kcore::report_warning(
                    "ktopic",
                    "the change is made, but the brokers do not show it yet",
                );
                break entries;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    };

    let configs: Map<String, Value> = entries
        .iter()
        .filter(|entry| !args.overrides || is_override(entry))
        .map(|entry| (entry.name.clone(), shown_value(entry)))
        .collect();
    let mut out = JsonLines::stdout();
    out.emit(&json!({"topic": topic, "configs": configs}))?;
    out.flush()
}

fn read(session: &Session, topic: &str) -> Result<Vec<ConfigEntry>> {
    Ok(session
        .topic_configs(&[topic])?
        .remove(topic)
        .unwrap_or_default())
}

/// `--set` and `--unset` as changes; a key may appear once.
fn changes(set: &[String], unset: &[String]) -> Result<Vec<ConfigChange>> {
    let mut keys = BTreeSet::new();
    let mut changes = Vec::new();
    for raw in set {
        let (key, value) = parse_key_value(raw, "--set")?;
        if !keys.insert(key.clone()) {
            return Err(Failure::usage(format!("--set names '{key}' twice")).into());
        }
        changes.push(ConfigChange::Set(key, value));
    }
    for key in unset {
        let key = key.trim().to_string();
        if key.is_empty() {
            return Err(Failure::usage("--unset needs a key").into());
        }
        if !keys.insert(key.clone()) {
            return Err(Failure::usage(format!("'{key}' is both set and unset")).into());
        }
        changes.push(ConfigChange::Delete(key));
    }
    Ok(changes)
}

/// Whether a read config already reflects `change`.
fn shows(entries: &[ConfigEntry], change: &ConfigChange) -> bool {
    match change {
        ConfigChange::Set(key, value) => entries.iter().any(|e| {
            &e.name == key
                && is_override(e)
                && (e.is_sensitive || e.value.as_deref() == Some(value))
        }),
        ConfigChange::Delete(key) => !entries.iter().any(|e| &e.name == key && is_override(e)),
    }
}

fn alter_failure(topic: &str, err: anyhow::Error) -> anyhow::Error {
    use RDKafkaErrorCode::*;
    let Some(admin) = err.downcast_ref::<AdminError>() else {
        return err;
    };
    if admin.is_not_authorized() {
        return Failure::denied(
            format!("cannot change the config of topic '{topic}'"),
            admin,
        )
        .into();
    }
    match admin.code {
        UnknownTopicOrPartition => Failure::not_found(format!("unknown topic '{topic}'")).into(),
        InvalidConfig | InvalidRequest | PolicyViolation => Failure::usage(format!(
            "cannot change the config of topic '{topic}': {admin}"
        ))
        .into(),
        _ => anyhow!("cannot change the config of topic '{topic}': {admin}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, value: &str, is_override: bool) -> ConfigEntry {
        ConfigEntry {
            name: name.into(),
            value: Some(value.into()),
            is_sensitive: false,
            is_override,
        }
    }

    #[test]
    fn set_and_unset_become_changes() {
        let changes = changes(&["a=1".into(), "b=x=y".into()], &["c".into()]).unwrap();
        assert_eq!(
            changes,
            [
                ConfigChange::Set("a".into(), "1".into()),
                ConfigChange::Set("b".into(), "x=y".into()),
                ConfigChange::Delete("c".into())
            ]
        );
        assert!(super::changes(&["a=1".into()], &["a".into()])
            .unwrap_err()
            .to_string()
            .contains("both set and unset"));
        assert!(super::changes(&["a".into()], &[]).is_err());
    }

    #[test]
    fn a_change_shows_once_the_topic_carries_it() {
        let entries = vec![
            entry("retention.ms", "12345", true),
            entry("cleanup.policy", "delete", false),
        ];
        assert!(shows(
            &entries,
            &ConfigChange::Set("retention.ms".into(), "12345".into())
        ));
        assert!(!shows(
            &entries,
            &ConfigChange::Set("retention.ms".into(), "1".into())
        ));
        assert!(!shows(
            &entries,
            &ConfigChange::Delete("retention.ms".into())
        ));
        assert!(shows(
            &entries,
            &ConfigChange::Delete("cleanup.policy".into())
        ));
        assert!(!shows(
            &entries,
            &ConfigChange::Set("cleanup.policy".into(), "delete".into())
        ));
    }
}
