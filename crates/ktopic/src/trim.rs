//! `ktopic trim`: delete the records before an offset or a time (Kafka's DeleteRecords):
//! a plan by default, `--execute` to do it.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{json, Value};

use kcore::admin::offsets::{list_offsets, OffsetSpec};
use kcore::admin::records::delete_records;
use kcore::table::Table;
use kcore::Failure;

use crate::cli::TrimArgs;
use crate::elect::refusal_or;
use crate::session::Session;

pub fn trim(session: &Session, args: &TrimArgs) -> Result<()> {
    let topic = args.topic.as_str();
    let snapshot = session.snapshot()?;
    let state = snapshot
        .topics
        .get(topic)
        .ok_or_else(|| Failure::not_found(format!("unknown topic '{topic}'")))?;
    let partitions: Vec<(String, i32)> = state
        .partitions
        .iter()
        .filter(|p| args.partitions.is_empty() || args.partitions.contains(&p.id))
        .map(|p| (topic.to_string(), p.id))
        .collect();
    if let Some(missing) = args
        .partitions
        .iter()
        .find(|wanted| !partitions.iter().any(|(_, p)| p == *wanted))
    {
        return Err(
            Failure::not_found(format!("topic '{topic}' has no partition {missing}")).into(),
        );
    }

    let offsets = |spec| -> Result<BTreeMap<i32, i64>> {
        list_offsets(session.client(), &partitions, spec, session.timeout())
            .map_err(|err| refusal_or(err, &format!("cannot read the offsets of '{topic}'")))?
            .into_iter()
            .map(|answer| match answer.error {
                None => Ok((answer.partition, answer.offset)),
                Some(err) => Err(refusal_or(
                    err.into(),
                    &format!("cannot read the offsets of {topic}/{}", answer.partition),
                )),
            })
            .collect()
    };
    let low = offsets(OffsetSpec::Earliest)?;
    let high = offsets(OffsetSpec::Latest)?;
    let at_time = match args.before_time {
        Some(ms) => Some(offsets(OffsetSpec::AtTime(ms))?),
        None => None,
    };

    // Each partition's new start offset: never past the high watermark, never back.
    let mut plan = Vec::with_capacity(partitions.len());
    for (_, partition) in &partitions {
        let (low, high) = (low[partition], high[partition]);
        let before = match (&at_time, args.before) {
            // -1: no record is that recent, so every record is older than the time.
            (Some(found), _) => match found[partition] {
                offset if offset < 0 => high,
                offset => offset,
            },
            (None, Some(offset)) => offset,
            (None, None) => high, // --all
        };
        let new_low = before.clamp(low, high);
        plan.push((*partition, low, high, new_low));
    }

    let mut lines = Vec::with_capacity(plan.len());
    if !args.execute {
        for &(partition, low, high, new_low) in &plan {
            lines.push(json!({
                "topic": topic, "partition": partition, "low": low, "high": high,
                "new_low": new_low, "deleted": new_low - low, "dry_run": true,
            }));
        }
        write(&lines, args.table)?;
        eprintln!("ktopic: a plan only: nothing was deleted (--execute deletes the records)");
        return Ok(());
    }

    let requests: Vec<(String, i32, i64)> = plan
        .iter()
        .filter(|(_, low, _, new_low)| new_low > low)
        .map(|&(partition, _, _, new_low)| (topic.to_string(), partition, new_low))
        .collect();
    let answers = delete_records(session.client(), &requests, session.timeout())
        .map_err(|err| refusal_or(err, &format!("cannot delete records of '{topic}'")))?;
    let mut failed = Vec::new();
    for &(partition, low, high, _) in &plan {
        let answer = answers.iter().find(|a| a.partition == partition);
        if let Some(err) = answer.and_then(|a| a.error.as_ref()) {
            if err.is_not_authorized() {
                return Err(
                    Failure::denied(format!("cannot delete records of '{topic}'"), err).into(),
                );
            }
            failed.push(format!("{topic}/{partition}: {err}"));
            continue;
        }
        let new_low = answer.map_or(low, |a| a.offset);
        lines.push(json!({
            "topic": topic, "partition": partition, "low": new_low, "high": high,
            "previous_low": low, "deleted": new_low - low,
        }));
    }
    write(&lines, args.table)?;
    if !failed.is_empty() {
        return Err(Failure::delivery(format!(
            "records of {} partitions were not deleted: {}",
            failed.len(),
            failed.join("; ")
        ))
        .into());
    }
    Ok(())
}

/// JSON lines, or with `--table` one row per line.
fn write(lines: &[Value], table: bool) -> Result<()> {
    kcore::output::print(lines, table.then(|| Table::from_json_lines(lines)))
}
