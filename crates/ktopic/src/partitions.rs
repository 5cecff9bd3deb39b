//! `ktopic partitions`: raise a topic's partition count.

use std::time::Instant;

use anyhow::{anyhow, Result};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::json;

use kcore::progress::Status;
use kcore::{Failure, JsonLines};

use crate::cli::PartitionsArgs;
use crate::session::Session;

pub fn partitions(session: &Session, args: &PartitionsArgs) -> Result<()> {
    let topic = args.topic.as_str();
    let before = session.snapshot()?;
    let current = before
        .topics
        .get(topic)
        .ok_or_else(|| Failure::not_found(format!("unknown topic '{topic}'")))?
        .partitions
        .len();
    let wanted = args.count as usize;
    if wanted <= current {
        return Err(Failure::usage(format!(
            "topic '{topic}' has {current} partitions; the new count must be more than that \
             (Kafka cannot remove partitions)"
        ))
        .into());
    }

    let deadline = Instant::now() + session.timeout();
    let spinner = Status::spinner(
        "ktopic",
        format!("adding partitions to '{topic}', waiting until each has a leader"),
    );
    let results = session.create_partitions(topic, wanted)?;
    for result in results {
        match result {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {
                return Err(Failure::not_found(format!("unknown topic '{topic}'")).into())
            }
            Err((
                _,
                code @ (RDKafkaErrorCode::InvalidPartitions | RDKafkaErrorCode::PolicyViolation),
            )) => {
                return Err(Failure::usage(format!(
                    "cannot add partitions to topic '{topic}': {code}"
                ))
                .into())
            }
            Err((_, code)) if kcore::failure::is_authorization_code(code) => {
                return Err(Failure::denied(
                    format!("cannot add partitions to topic '{topic}'"),
                    code,
                )
                .into())
            }
            Err((_, code)) => {
                return Err(anyhow!("cannot add partitions to topic '{topic}': {code}"))
            }
        }
    }

    let (_, ready) = session.wait_for(deadline, |snapshot| {
        snapshot
            .topics
            .get(topic)
            .is_some_and(|t| t.is_ready(Some(wanted)))
    })?;
    drop(spinner);
    if !ready {
        return Err(Failure::unhealthy(format!(
            "topic '{topic}' got {wanted} partitions, but not every one has a leader after {:.0?}",
            session.timeout()
        ))
        .into());
    }
    let mut out = JsonLines::stdout();
    out.emit(&json!({"topic": topic, "partitions": wanted, "previous": current}))?;
    out.flush()
}
