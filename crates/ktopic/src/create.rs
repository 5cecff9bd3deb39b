//! `ktopic create`: create topics and wait until every partition has a leader.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{anyhow, Result};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::json;

use kcore::admin::topics::{self as topic_admin, NewTopicSpec};
use kcore::admin::AdminError;
use kcore::progress::Status;
use kcore::{Failure, JsonLines};

use crate::cli::CreateArgs;
use crate::session::{parse_key_value, unique, Session};
use crate::snapshot::TopicState;
use kcore::outcome::Outcome;

/// librdkafka's "let the brokers decide" (their `default.replication.factor`).
const BROKER_DEFAULT: i32 = -1;

const MIN_ISR: &str = "min.insync.replicas";

pub fn create(session: &Session, args: &CreateArgs) -> Result<()> {
    let mut configs = args
        .configs
        .iter()
        .map(|raw| parse_key_value(raw, "-c"))
        .collect::<Result<Vec<_>>>()?;
    // One copy can never make two in-sync replicas: where the brokers' default asks for
    // more (kcluster's clusters: 2), such a topic would refuse every acks=all write.
    if args.replication_factor == Some(1) && !configs.iter().any(|(k, _)| k == MIN_ISR) {
        configs.push((MIN_ISR.to_string(), "1".to_string()));
    }
    let names = unique(args.topics.iter().cloned());
    if let Some(name) = names
        .iter()
        .find(|name| name.is_empty() || name.as_str() == "-")
    {
        return Err(Failure::usage(format!("bad topic name '{name}'")).into());
    }
    let before = session.snapshot()?;
    // The brokers would refuse too, but their message does not say how many brokers there are.
    if let Some(factor) = args.replication_factor {
        let live = before.brokers.len();
        if factor as usize > live {
            return Err(Failure::usage(format!(
                "replication factor {factor} is more than the {live} live brokers ({}): use -r {live} or less",
                kcore::table::join(&before.brokers)
            ))
            .into());
        }
    }

    let specs: Vec<NewTopicSpec> = names
        .iter()
        .map(|name| NewTopicSpec {
            name,
            partitions: args.partitions,
            replication_factor: args.replication_factor.unwrap_or(BROKER_DEFAULT),
            configs: &configs,
        })
        .collect();
    let deadline = Instant::now() + session.timeout();
    // On a terminal, a spinner once this takes more than a second.
    let spinner = Status::spinner(
        "ktopic",
        "creating, waiting until every partition has a leader on every broker",
    );
    let results: HashMap<String, Result<(), AdminError>> =
        topic_admin::create_topics(session.client(), &specs, session.timeout())?
            .into_iter()
            .collect();

    let mut outcome = Outcome::new("ktopic", "topics", "created", names.len());
    // (name, newly created) of each topic that exists now.
    let mut present: Vec<(&str, bool)> = Vec::new();
    for name in &names {
        match results.get(name) {
            Some(Ok(())) => present.push((name, true)),
            Some(Err(err))
                if err.code == RDKafkaErrorCode::TopicAlreadyExists && args.if_not_exists =>
            {
                present.push((name, false))
            }
            Some(Err(err)) => outcome.fail(create_failure(name, err)),
            None => outcome.fail(anyhow!(
                "cannot create topic '{name}': the brokers did not answer for it"
            )),
        }
    }

    // A new topic is ready once all its partitions have leaders; one that existed is
    // reported as it is, healthy or not.
    let ready =
        |topic: &TopicState, new: bool| !new || topic.is_ready(Some(args.partitions as usize));
    let (snapshot, _) = session.wait_for(deadline, |snapshot| {
        present
            .iter()
            .all(|(name, new)| snapshot.topics.get(*name).is_some_and(|t| ready(t, *new)))
    })?;
    drop(spinner);
    let mut out = JsonLines::stdout();
    for (name, new) in present {
        match snapshot.topics.get(name) {
            Some(topic) if ready(topic, new) => {
                if new && args.replication_factor.is_none() {
                    kcore::progress::suspend(|| {
                        eprintln!(
                            "ktopic: created '{name}' with replication factor {} (the brokers' default.replication.factor; -r sets it)",
                            topic.replication_factor()
                        )
                    });
                }
                out.emit(&json!({
                    "topic": name,
                    "partitions": topic.partitions.len(),
                    "replication_factor": topic.replication_factor(),
                    "created": new,
                }))?
            }
            _ => outcome.fail(Failure::unhealthy(format!(
                "topic '{name}' was created, but not every partition has a leader after {:.0?}",
                session.timeout()
            ))),
        }
    }
    out.flush()?;
    outcome.finish()
}

/// What a refusal means for the exit code: the command line's fault (2), or not (1).
fn create_failure(name: &str, err: &AdminError) -> anyhow::Error {
    use RDKafkaErrorCode::*;
    if err.is_not_authorized() {
        return Failure::denied(format!("cannot create topic '{name}'"), err).into();
    }
    match err.code {
        TopicAlreadyExists => {
            anyhow!("topic '{name}' already exists (--if-not-exists accepts that)")
        }
        InvalidConfig
        | InvalidReplicationFactor
        | InvalidPartitions
        | InvalidTopic
        | InvalidReplicaAssignment
        | PolicyViolation
        | InvalidRequest => Failure::usage(format!("cannot create topic '{name}': {err}")).into(),
        _ => anyhow!("cannot create topic '{name}': {err}"),
    }
}
