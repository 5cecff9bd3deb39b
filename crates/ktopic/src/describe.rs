//! `ktopic describe` and `ktopic list`: what the metadata says about each topic.

use std::time::Duration;

use anyhow::Result;
use serde_json::{json, Map, Value};

use kcore::table::{join, Table};
use kcore::watch::{Rows, Watch};
use kcore::{Failure, JsonLines};

use crate::cli::{DescribeArgs, ListArgs};
use crate::session::{is_override, shown_value, unique, Session};
use crate::snapshot::{is_internal, PartitionState, Snapshot, TopicState};
use kcore::admin::topics::TopicIdsRequest;
use kcore::outcome::Outcome;

pub fn describe(session: &Session, args: &DescribeArgs) -> Result<()> {
    if args.watch {
        return watch(session, args);
    }
    let named = unique(args.topics.iter().cloned());
    // Topic ids need a request of their own (DescribeTopics). Named topics are asked for
    // at once, so that its round trip overlaps the metadata request's; every topic
    // (no names) once the metadata has listed them. A broker too old for it, or refusing
    // it, costs the ids (null) but not the description.
    let wants_ids = !args.table;
    let early_ids = (wants_ids && !named.is_empty()).then(|| {
        let names: Vec<&str> = named.iter().map(String::as_str).collect();
        TopicIdsRequest::submit(session.client(), &names, session.timeout())
    });
    let snapshot = session.snapshot()?;
    let mut outcome = Outcome::new("ktopic", "topics", "described", named.len());
    let topics = select(&snapshot, &named, args.all, &mut outcome);
    let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();

    let configs = if args.configs {
        Some(session.topic_configs(&names)?)
    } else {
        None
    };
    // The settings made on each topic itself, as `--configs` shows them.
    let overrides = |name: &str| -> Map<String, Value> {
        configs
            .as_ref()
            .and_then(|configs| configs.get(name))
            .into_iter()
            .flatten()
            .filter(|entry| is_override(entry))
            .map(|entry| (entry.name.clone(), shown_value(entry)))
            .collect()
    };

    if args.table {
        let mut table = Table::new(["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR", "STATUS"]);
        for topic in &topics {
            for p in &topic.partitions {
                let status = status(p);
                let leader = p.leader.map_or("none".to_string(), |l| l.to_string());
                table.row([
                    topic.name.clone(),
                    p.id.to_string(),
                    leader,
                    join(&p.replicas),
                    join(&p.isr),
                    status.into(),
                ]);
            }
        }
        let mut out = std::io::stdout().lock();
        table.write(&mut out)?;
        // --configs: a second table, one row per setting made on a topic.
        if configs.is_some() {
            let mut settings = Table::new(["TOPIC", "CONFIG", "VALUE"]);
            for topic in &topics {
                let set = overrides(&topic.name);
                if set.is_empty() {
                    settings.row([topic.name.as_str(), "-", "(only the brokers' defaults)"]);
                }
                for (key, value) in set {
                    settings.row([topic.name.clone(), key, kcore::table::cell(&value)]);
                }
            }
            use std::io::Write;
            writeln!(out)?;
            settings.write(&mut out)?;
        }
        return outcome.finish();
    }

    let ids = early_ids
        .unwrap_or_else(|| TopicIdsRequest::submit(session.client(), &names, session.timeout()))
        .and_then(TopicIdsRequest::wait)
        .unwrap_or_default();
    let mut out = JsonLines::stdout();
    for topic in &topics {
        let mut line = topic.description(ids.get(&topic.name).map(String::as_str));
        if configs.is_some() {
            line["configs"] = Value::Object(overrides(&topic.name));
        }
        out.emit(&line)?;
    }
    out.flush()?;
    outcome.finish()
}

/// `describe --watch`: one row per partition, polled until Ctrl-C.
fn watch(session: &Session, args: &DescribeArgs) -> Result<()> {
    let interrupt = kcore::signals::Interrupt::install()?;
    let named = unique(args.topics.iter().cloned());
    // Named topics must exist when the watch starts; later they may come and go.
    let first = session.snapshot()?;
    let mut outcome = Outcome::new("ktopic", "topics", "watched", named.len());
    select(&first, &named, args.all, &mut outcome);
    outcome.finish()?;
    let watch = Watch {
        tool: "ktopic",
        interval: Duration::from_secs_f64(args.interval.max(0.05)),
        table: args
            .table
            .then(|| vec!["topic", "partition", "leader", "replicas", "isr", "status"]),
    };
    watch.run(&interrupt, || {
        let snapshot = session.snapshot()?;
        session.serve_events();
        let mut ignored = Outcome::new("ktopic", "topics", "watched", 0);
        let mut rows = Rows::new();
        for topic in select(&snapshot, &named, args.all, &mut ignored) {
            for p in &topic.partitions {
                let row = json!({
                    "topic": topic.name,
                    "partition": p.id,
                    "leader": p.leader,
                    "replicas": p.replicas,
                    "isr": sorted(&p.isr),
                    "status": status(p),
                });
                let Value::Object(row) = row else {
                    unreachable!()
                };
                rows.insert(format!("{}\0{:010}", topic.name, p.id), row);
            }
        }
        Ok(rows)
    })
}

/// The ISR in a stable order: brokers report it in the order replicas joined, which
/// changes without anything else changing.
fn sorted(isr: &[i32]) -> Vec<i32> {
    let mut isr = isr.to_vec();
    isr.sort_unstable();
    isr
}

fn status(p: &PartitionState) -> &'static str {
    if p.offline() {
        "offline"
    } else if p.under_replicated() {
        "under-replicated"
    } else {
        "ok"
    }
}

pub fn list(session: &Session, args: &ListArgs) -> Result<()> {
    let snapshot = session.snapshot()?;
    let lines: Vec<Value> = snapshot
        .topics
        .values()
        .filter(|t| args.all || !is_internal(&t.name))
        .map(TopicState::summary)
        .collect();
    let table = args.table.then(|| Table::from_json_lines(&lines));
    kcore::output::print(&lines, table)
}

/// The named topics in the order given (unknown ones become failures), or with no names
/// every topic sorted by name, internal ones only with `all`.
fn select<'a>(
    snapshot: &'a Snapshot,
    names: &[String],
    all: bool,
    outcome: &mut Outcome,
) -> Vec<&'a TopicState> {
    if names.is_empty() {
        return snapshot
            .topics
            .values()
            .filter(|t| all || !is_internal(&t.name))
            .collect();
    }
    let mut topics = Vec::new();
    for name in names {
        match snapshot.topics.get(name) {
            Some(topic) => topics.push(topic),
            None => outcome.fail(Failure::not_found(format!("unknown topic '{name}'"))),
        }
    }
    topics
}
