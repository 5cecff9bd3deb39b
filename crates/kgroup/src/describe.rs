//! `kgroup describe`: per partition the committed offset, the end offset, the lag and
//! the member that owns it; per group a summary line with the total lag.
//!
//! Partitions shown: every partition of every topic the group has committed offsets for
//! or is assigned (so a partition nobody has read yet counts its whole log as lag, from
//! its first offset), plus committed partitions of topics deleted since.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use serde_json::{json, Value};

use kcore::admin::groups::{self, GroupDescription, Member};
use kcore::table::Table;

use crate::cli::DescribeArgs;
use crate::offsets::{watermarks, Partition};
use crate::session::{admin_failure, check_description, failure, unique, Session};
use kcore::outcome::Outcome;

/// One group's description and commits, gathered before any offset is asked for.
struct Gathered {
    description: GroupDescription,
    /// Committed offset per partition (only those with a commit).
    committed: BTreeMap<Partition, i64>,
    /// Every partition shown for this group, sorted.
    partitions: Vec<Partition>,
}

pub fn describe(session: &Session, args: &DescribeArgs) -> Result<()> {
    let names = unique(&args.groups);
    let mut outcome = Outcome::new("kgroup", "groups", "described", names.len());
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    // All requests that only need the group names go out together.
    let descriptions = groups::submit_describe_groups(session.client(), &refs, session.timeout())
        .map_err(|err| failure(err, "cannot describe groups"))?;
    let mut commits = Vec::with_capacity(names.len());
    for name in &names {
        commits.push(
            groups::submit_committed_offsets(session.client(), name, None, session.timeout())
                .map_err(|err| {
                    failure(err, &format!("cannot read the offsets of group '{name}'"))
                })?,
        );
    }
    let descriptions = descriptions
        .wait()
        .map_err(|err| failure(err, "cannot describe groups"))?;

    let mut gathered = Vec::new();
    for (name, pending) in names.iter().zip(commits) {
        let committed = pending.wait();
        let Some(description) = descriptions.iter().find(|d| &d.group == name).cloned() else {
            outcome.fail(anyhow::anyhow!(
                "the brokers did not describe group '{name}'"
            ));
            continue;
        };
        if let Err(err) = check_description(&description) {
            outcome.fail(err);
            continue;
        }
        let committed = match committed {
            Ok(answer) => answer,
            Err(err) => {
                outcome.fail(failure(
                    err,
                    &format!("cannot read the offsets of group '{name}'"),
                ));
                continue;
            }
        };
        if let Some(error) = committed.first_error() {
            outcome.fail(admin_failure(
                error,
                &format!("cannot read the offsets of group '{name}'"),
            ));
            continue;
        }
        let committed: BTreeMap<Partition, i64> = committed
            .partitions
            .into_iter()
            .filter(|p| p.offset >= 0)
            .map(|p| ((p.topic, p.partition), p.offset))
            .collect();
        let partitions = shown_partitions(session, &description, &committed);
        gathered.push(Gathered {
            description,
            committed,
            partitions,
        });
    }

    let every: BTreeSet<Partition> = gathered
        .iter()
        .flat_map(|g| g.partitions.iter().cloned())
        .filter(|(topic, _)| session.topics.contains_key(topic))
        .collect();
    let offsets = watermarks(session, &every.into_iter().collect::<Vec<_>>())?;

    let mut lines = Vec::new();
    for group in &gathered {
        lines.extend(group_lines(group, &offsets, args.members));
    }
    let table = args.table.then(|| table(&lines, args.members));
    kcore::output::print(&lines, table)?;
    outcome.finish()
}

fn shown_partitions(
    session: &Session,
    description: &GroupDescription,
    committed: &BTreeMap<Partition, i64>,
) -> Vec<Partition> {
    let mut shown: BTreeSet<Partition> = committed.keys().cloned().collect();
    shown.extend(
        description
            .members
            .iter()
            .flat_map(|m| m.assignment.iter().cloned()),
    );
    let topics: BTreeSet<String> = shown.iter().map(|(t, _)| t.clone()).collect();
    for topic in topics {
        if let Some(ids) = session.topics.get(&topic) {
            shown.extend(ids.iter().map(|id| (topic.clone(), *id)));
        }
    }
    shown.into_iter().collect()
}

/// The group's summary line, then one line per partition (or per member).
fn group_lines(
    group: &Gathered,
    offsets: &BTreeMap<Partition, (i64, i64)>,
    members_view: bool,
) -> Vec<Value> {
    let description = &group.description;
    let owner: BTreeMap<&Partition, &Member> = description
        .members
        .iter()
        .flat_map(|m| m.assignment.iter().map(move |p| (p, m)))
        .collect();
    let mut total_lag = 0i64;
    let mut partition_lines = Vec::with_capacity(group.partitions.len());
    for key in &group.partitions {
        let committed = group.committed.get(key).copied();
        let (end, lag) = match offsets.get(key) {
            Some(&(earliest, latest)) => {
                let lag = lag(committed, earliest, latest);
                total_lag += lag;
                (Some(latest), Some(lag))
            }
            // A topic deleted since the commit.
            None => (None, None),
        };
        partition_lines.push(json!({
            "kind": "partition",
            "group": description.group,
            "topic": key.0,
            "partition": key.1,
            "committed": committed,
            "end": end,
            "lag": lag,
            "member": owner.get(key).map(|m| json!({
                "member_id": m.member_id,
                "client_id": m.client_id,
                "host": m.host,
            })),
        }));
    }
    let mut lines = vec![json!({
        "kind": "group",
        "group": description.group,
        "state": description.state,
        "type": description.group_type,
        "assignor": description.assignor,
        "members": description.members.len(),
        "coordinator": description.coordinator.as_ref().map(|c| c.id),
        "partitions": group.partitions.len(),
        "lag": total_lag,
    })];
    if members_view {
        lines.extend(description.members.iter().map(|m| {
            json!({
                "kind": "member",
                "group": description.group,
                "member_id": m.member_id,
                "client_id": m.client_id,
                "host": m.host,
                "instance_id": m.instance_id,
                "partitions": m.assignment.iter()
                    .map(|(topic, partition)| json!({"topic": topic, "partition": partition}))
                    .collect::<Vec<_>>(),
            })
        }));
    } else {
        lines.extend(partition_lines);
    }
    lines
}

/// Records the group has yet to read in a partition: from its commit to the end, or the
/// whole log (from the first offset still kept) where it has none. A commit below the
/// first offset (records deleted since) counts from the first offset, where a consumer
/// would resume; never negative.
pub fn lag(committed: Option<i64>, earliest: i64, latest: i64) -> i64 {
    let from = committed.unwrap_or(earliest).max(earliest);
    (latest - from).max(0)
}

/// `--table`: one row per partition (or member), with the group's state and lag.
fn table(lines: &[Value], members_view: bool) -> Table {
    let cell = kcore::table::cell;
    let groups: BTreeMap<&str, &Value> = lines
        .iter()
        .filter(|l| l["kind"] == "group")
        .map(|l| (l["group"].as_str().unwrap_or_default(), l))
        .collect();
    if members_view {
        let mut table = Table::new([
            "GROUP",
            "STATE",
            "MEMBER-ID",
            "CLIENT-ID",
            "HOST",
            "PARTITIONS",
        ]);
        for line in lines.iter().filter(|l| l["kind"] == "member") {
            let group = &line["group"];
            let state = groups
                .get(group.as_str().unwrap_or_default())
                .map(|g| cell(&g["state"]));
            let partitions: Vec<String> = line["partitions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| format!("{}:{}", cell(&p["topic"]), p["partition"]))
                .collect();
            table.row([
                cell(group),
                state.unwrap_or_default(),
                cell(&line["member_id"]),
                cell(&line["client_id"]),
                cell(&line["host"]),
                partitions.join(","),
            ]);
        }
        return table;
    }
    let mut table = Table::new([
        "GROUP",
        "TOPIC",
        "PARTITION",
        "COMMITTED",
        "END",
        "LAG",
        "CLIENT-ID",
        "HOST",
        "MEMBER-ID",
    ]);
    for line in lines.iter().filter(|l| l["kind"] == "partition") {
        let member = &line["member"];
        table.row([
            cell(&line["group"]),
            cell(&line["topic"]),
            cell(&line["partition"]),
            cell(&line["committed"]),
            cell(&line["end"]),
            cell(&line["lag"]),
            cell(&member["client_id"]),
            cell(&member["host"]),
            cell(&member["member_id"]),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_from_the_commit_or_the_first_offset() {
        assert_eq!(lag(Some(40), 0, 100), 60);
        assert_eq!(lag(Some(100), 0, 100), 0);
        assert_eq!(lag(None, 30, 100), 70);
        assert_eq!(lag(Some(10), 30, 100), 70);
        assert_eq!(lag(Some(120), 0, 100), 0);
    }
}
