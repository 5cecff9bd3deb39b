//! `kgroup reset`: plan new committed offsets for a group, and commit them with --execute.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use serde_json::json;

use kcore::admin::groups;
use kcore::admin::offsets::OffsetSpec;
use kcore::progress::Status;
use kcore::table::Table;
use kcore::Failure;

use crate::cli::ResetArgs;
use crate::offsets::{self, watermarks, Partition};
use crate::session::{admin_failure, failure, require_inactive, Session};
use crate::spec::{self, Bounds, Target};

pub fn reset(session: &Session, args: &ResetArgs) -> Result<()> {
    let group = args.group.as_str();
    let target = Target::parse(&args.to)?;
    // On a terminal, a spinner once this takes more than a second.
    let doing = if args.execute {
        "resetting"
    } else {
        "planning a reset of"
    };
    let spinner = Status::spinner("kgroup", format!("{doing} the offsets of group '{group}'"));
    let description = session.existing_group(group)?;
    // Checked for a plan too: it shows what --execute would do now, and that is nothing
    // while consumers are running.
    require_inactive(&description, "reset the offsets of")?;
    let doing = format!("cannot read the offsets of group '{group}'");
    let committed = groups::committed_offsets(session.client(), group, None, session.timeout())
        .map_err(|err| failure(err, &doing))?;
    if let Some(error) = committed.first_error() {
        return Err(admin_failure(error, &doing));
    }
    let committed: BTreeMap<Partition, i64> = committed
        .partitions
        .into_iter()
        .filter(|p| p.offset >= 0)
        .map(|p| ((p.topic, p.partition), p.offset))
        .collect();

    let partitions: Vec<Partition> = if args.all_topics {
        let topics: BTreeSet<String> = committed
            .keys()
            .map(|(topic, _)| topic.clone())
            .filter(|topic| session.topics.contains_key(topic))
            .collect();
        if topics.is_empty() {
            return Err(Failure::not_found(format!(
                "group '{group}' has no committed offsets in any existing topic; name topics with --topic"
            ))
            .into());
        }
        spec::partitions(session, &topics.into_iter().collect::<Vec<_>>())?
    } else {
        spec::partitions(session, &args.topics)?
    };

    let at_time = match target {
        Target::AtTime(ms) => Some(offsets::submit(
            session,
            &partitions,
            OffsetSpec::AtTime(ms),
        )?),
        _ => None,
    };
    let bounds = watermarks(session, &partitions)?;
    let at_time = at_time.map(offsets::read).transpose()?;

    let mut plan = Vec::with_capacity(partitions.len());
    for key in &partitions {
        let &(earliest, latest) = bounds
            .get(key)
            .ok_or_else(|| anyhow::anyhow!("no offsets for {}/{}", key.0, key.1))?;
        let found = at_time
            .as_ref()
            .and_then(|answers| answers.get(key).copied())
            .filter(|offset| *offset >= 0);
        let new = target.resolve(Bounds {
            earliest,
            latest,
            committed: committed.get(key).copied(),
            at_time: found,
        });
        plan.push((key.clone(), new, latest));
    }

    if args.execute {
        let offsets: Vec<(String, i32, i64)> = plan
            .iter()
            .map(|((topic, partition), offset, _)| (topic.clone(), *partition, *offset))
            .collect();
        let doing = format!("cannot reset the offsets of group '{group}'");
        let answer =
            groups::alter_committed_offsets(session.client(), group, &offsets, session.timeout())
                .map_err(|err| failure(err, &doing))?;
        if let Some(error) = answer.first_error() {
            return Err(admin_failure(error, &doing));
        }
    }

    let lines: Vec<_> = plan
        .iter()
        .map(|((topic, partition), offset, latest)| {
            json!({
                "group": group,
                "topic": topic,
                "partition": partition,
                "previous": committed.get(&(topic.clone(), *partition)),
                "offset": offset,
                "lag": latest - offset,
                "executed": args.execute,
            })
        })
        .collect();
    drop(spinner);
    let table = args.table.then(|| Table::from_json_lines(&lines));
    kcore::output::print(&lines, table)?;
    if !args.execute {
        kcore::report_warning(
            "kgroup",
            "dry run, nothing changed: add --execute to commit these offsets",
        );
    }
    Ok(())
}
