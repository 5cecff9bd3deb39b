//! `ktopic elect`: give partitions' leadership back to their preferred replicas (after a
//! broker came back), or, unclean, to any live replica.

use std::time::Instant;

use anyhow::Result;
use rdkafka::types::RDKafkaErrorCode;
use serde_json::{json, Value};

use kcore::admin::leaders::{elect_leaders, Election};
use kcore::progress::Status;
use kcore::table::{join, Table};
use kcore::Failure;

use crate::cli::ElectArgs;
use crate::session::{unique, Session};
use crate::snapshot::{PartitionState, Snapshot};

pub fn elect(session: &Session, args: &ElectArgs) -> Result<()> {
    let election = if args.unclean {
        Election::Unclean
    } else {
        Election::Preferred
    };
    let before = session.snapshot()?;
    let wanted = chosen_partitions(
        &before,
        &unique(args.topics.iter().cloned()),
        &args.partitions,
    )?;

    let spinner = Status::spinner(
        "ktopic",
        format!("electing leaders of {} partitions", wanted.len()),
    );
    let deadline = Instant::now() + session.timeout();
    let results =
        elect_leaders(session.client(), election, &wanted, session.timeout()).map_err(|err| {
            match err.downcast_ref::<kcore::admin::AdminError>() {
                // librdkafka sends elections to the controller the metadata names; right after
                // a broker stops, the brokers may still name it for some seconds.
                Some(admin) if admin.is_timeout() => Failure::unreachable(format!(
                    "cannot elect leaders: no answer from the controller within {:.0?} ({admin}); \
                 a broker that just stopped may still be named controller: try again",
                    session.timeout()
                ))
                .into(),
                _ => refusal_or(err, "cannot elect leaders"),
            }
        })?;
    session.serve_events();

    // Each partition's verdict; those elected are checked in the metadata below.
    let mut verdicts = Vec::with_capacity(wanted.len());
    for (topic, partition) in &wanted {
        let answer = results
            .iter()
            .find(|r| &r.topic == topic && r.partition == *partition);
        let verdict = match answer.and_then(|r| r.error.as_ref()) {
            None => Verdict::Elected,
            Some(err) if err.code == RDKafkaErrorCode::ElectionNotNeeded => Verdict::NotNeeded,
            Some(err) if err.is_not_authorized() => {
                return Err(Failure::denied("cannot elect leaders", err).into())
            }
            Some(err) => Verdict::Failed(reason(err.code, &err.message)),
        };
        verdicts.push(verdict);
    }

    // Wait until the metadata shows each elected partition led by the replica that should
    // lead it, so that the lines (and the next command) see the new leaders.
    let (after, _) = session.wait_for(deadline, |snapshot| {
        wanted
            .iter()
            .zip(&verdicts)
            .all(|((topic, partition), verdict)| {
                *verdict != Verdict::Elected
                    || find(snapshot, topic, *partition).is_some_and(|p| match election {
                        Election::Preferred => p.leader == p.replicas.first().copied(),
                        Election::Unclean => p.leader.is_some(),
                    })
            })
    })?;
    drop(spinner);

    let mut lines = Vec::with_capacity(wanted.len());
    let mut failed = 0usize;
    for ((topic, partition), verdict) in wanted.iter().zip(&verdicts) {
        let now = find(&after, topic, *partition);
        let was = find(&before, topic, *partition).and_then(|p| p.leader);
        let (elected, why) = match verdict {
            Verdict::Elected => (true, None),
            Verdict::NotNeeded => (
                false,
                Some(
                    match election {
                        Election::Preferred => "already led by its preferred replica",
                        Election::Unclean => "it has a leader",
                    }
                    .to_string(),
                ),
            ),
            Verdict::Failed(why) => {
                failed += 1;
                (false, Some(why.clone()))
            }
        };
        lines.push(json!({
            "topic": topic,
            "partition": partition,
            "election": if args.unclean { "unclean" } else { "preferred" },
            "elected": elected,
            "leader": now.and_then(|p| p.leader),
            "previous_leader": was,
            "preferred_leader": now.and_then(|p| p.replicas.first().copied()),
            "replicas": now.map(|p| p.replicas.clone()).unwrap_or_default(),
            "isr": now.map(|p| p.isr.clone()).unwrap_or_default(),
            "reason": why,
        }));
    }
    write(&lines, args.table)?;
    if failed > 0 {
        return Err(Failure::unhealthy(format!(
            "{failed} of {} partitions could not be given the leader asked for (see \"reason\")",
            wanted.len()
        ))
        .into());
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Elected,
    NotNeeded,
    Failed(String),
}

/// Why a partition got no new leader, in words an operator acts on.
fn reason(code: RDKafkaErrorCode, message: &str) -> String {
    match code {
        RDKafkaErrorCode::PreferredLeaderNotAvailable => {
            format!("its preferred replica is not alive or not in sync ({message})")
        }
        RDKafkaErrorCode::EligibleLeadersNotAvailable => {
            format!("no live replica can lead it ({message})")
        }
        RDKafkaErrorCode::UnknownTopicOrPartition => "no such partition".to_string(),
        _ => message.to_string(),
    }
}

/// The partitions asked for: every partition of the named topics (all topics when none
/// are named), only the given partition numbers when some are.
fn chosen_partitions(
    snapshot: &Snapshot,
    topics: &[String],
    partitions: &[i32],
) -> Result<Vec<(String, i32)>> {
    let mut chosen = Vec::new();
    let names: Vec<&String> = if topics.is_empty() {
        snapshot.topics.keys().collect()
    } else {
        topics.iter().collect()
    };
    for name in names {
        let topic = snapshot
            .topics
            .get(name)
            .ok_or_else(|| Failure::not_found(format!("unknown topic '{name}'")))?;
        for p in &topic.partitions {
            if partitions.is_empty() || partitions.contains(&p.id) {
                chosen.push((name.clone(), p.id));
            }
        }
    }
    for wanted in partitions {
        if !chosen.iter().any(|(_, p)| p == wanted) {
            return Err(
                Failure::not_found(format!("no partition {wanted} in the topics named")).into(),
            );
        }
    }
    Ok(chosen)
}

fn find<'a>(snapshot: &'a Snapshot, topic: &str, partition: i32) -> Option<&'a PartitionState> {
    snapshot
        .topics
        .get(topic)?
        .partitions
        .iter()
        .find(|p| p.id == partition)
}

/// An admin call's failure: a refusal by the ACLs is exit 10; anything else as it was.
pub fn refusal_or(err: anyhow::Error, doing: &str) -> anyhow::Error {
    match err.downcast_ref::<kcore::admin::AdminError>() {
        Some(admin) if admin.is_not_authorized() => Failure::denied(doing, admin).into(),
        _ => err.context(doing.to_string()),
    }
}

fn write(lines: &[Value], table: bool) -> Result<()> {
    kcore::output::print(lines, table.then(|| election_table(lines)))
}

fn election_table(lines: &[Value]) -> Table {
    {
        let mut out = Table::new([
            "TOPIC",
            "PARTITION",
            "ELECTED",
            "LEADER",
            "PREVIOUS",
            "REPLICAS",
            "REASON",
        ]);
        for line in lines {
            let number = |key: &str| line[key].as_i64().map_or("none".into(), |n| n.to_string());
            let replicas: Vec<i32> =
                serde_json::from_value(line["replicas"].clone()).unwrap_or_default();
            out.row([
                line["topic"].as_str().unwrap_or_default().to_string(),
                number("partition"),
                line["elected"].to_string(),
                number("leader"),
                number("previous_leader"),
                join(&replicas),
                line["reason"].as_str().unwrap_or("").to_string(),
            ]);
        }
        out
    }
}
