//! `ktopic reassign`: move partitions' replicas to other brokers (KIP-455 through
//! kcore's direct broker link, since librdkafka has no call for it): a balanced plan
//! over a set of brokers or an explicit one, printed unless `--execute`; then, with
//! `--execute`, a line per partition as it finishes and a preferred-leader election for
//! those whose new first replica does not lead yet. `--list` and `--cancel` for moves in
//! progress.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};

use kcore::admin::leaders::{elect_leaders, Election};
use kcore::progress::Status;
use kcore::reassignments::{self, Move, Ongoing};
use kcore::table::Table;
use kcore::{Failure, JsonLines};

use crate::cli::ReassignArgs;
use crate::session::{unique, Session};
use crate::snapshot::{is_internal, Snapshot};

/// One partition of the plan.
#[derive(Debug, Clone)]
struct Planned {
    topic: String,
    partition: i32,
    current: Vec<i32>,
    target: Vec<i32>,
}

impl Planned {
    /// The request that puts this partition where the plan wants it.
    fn to_move(&self) -> Move {
        Move {
            topic: self.topic.clone(),
            partition: self.partition,
            replicas: Some(self.target.clone()),
        }
    }

    fn moves(&self) -> bool {
        self.current != self.target
    }

    fn line(&self) -> Value {
        let adding: Vec<i32> = self
            .target
            .iter()
            .filter(|b| !self.current.contains(b))
            .copied()
            .collect();
        let removing: Vec<i32> = self
            .current
            .iter()
            .filter(|b| !self.target.contains(b))
            .copied()
            .collect();
        json!({
            "topic": self.topic,
            "partition": self.partition,
            "replicas": self.current,
            "target": self.target,
            "adding": adding,
            "removing": removing,
            "moves": self.moves(),
        })
    }
}

pub fn reassign(session: &Session, args: &ReassignArgs) -> Result<()> {
    let snapshot = session.snapshot()?;
    let controller = controller_address(session, &snapshot)?;
    let named = unique(args.topics.iter().cloned());
    for name in &named {
        if !snapshot.topics.contains_key(name) {
            return Err(Failure::not_found(format!("unknown topic '{name}'")).into());
        }
    }
    if args.list {
        let ongoing = reassignments::list(
            &session.connection,
            &controller,
            wanted(&snapshot, &named).as_ref(),
        )?;
        return write(
            &ongoing.iter().map(ongoing_line).collect::<Vec<_>>(),
            args.table,
        );
    }
    if args.cancel {
        return cancel(session, &controller, &snapshot, &named, args);
    }
    let plan = plan(&snapshot, &named, args)?;
    if !args.execute {
        if args.kafka_json {
            println!("{}", kafka_json(&plan));
        } else {
            write(
                &plan
                    .iter()
                    .map(|p| {
                        let mut line = p.line();
                        line["dry_run"] = json!(true);
                        line
                    })
                    .collect::<Vec<_>>(),
                args.table,
            )?;
        }
        let moving = plan.iter().filter(|p| p.moves()).count();
        eprintln!(
            "ktopic: a plan only: {moving} of {} partitions would move (--execute moves them)",
            plan.len()
        );
        return Ok(());
    }
    execute(session, &controller, plan, args)
}

/// Where to send reassignment requests: the controller the metadata names.
fn controller_address(session: &Session, snapshot: &Snapshot) -> Result<String> {
    let id = kcore::admin::controller_id(session.client(), session.timeout())
        .ok_or_else(|| Failure::unreachable("the brokers named no controller in time"))?;
    snapshot
        .addresses
        .get(&id)
        .cloned()
        .ok_or_else(|| anyhow!("the controller, broker {id}, is not in the metadata's broker list"))
}

/// The named topics' partitions (None: every topic), for the listing request.
fn wanted(snapshot: &Snapshot, named: &[String]) -> Option<BTreeMap<String, Vec<i32>>> {
    (!named.is_empty()).then(|| {
        named
            .iter()
            .map(|t| {
                (
                    t.clone(),
                    snapshot.topics[t].partitions.iter().map(|p| p.id).collect(),
                )
            })
            .collect()
    })
}

fn plan(snapshot: &Snapshot, named: &[String], args: &ReassignArgs) -> Result<Vec<Planned>> {
    if let Some(path) = &args.plan {
        return plan_from_file(snapshot, path);
    }
    if !args.replicas.is_empty() {
        let [topic] = named else {
            return Err(Failure::usage("--replicas needs exactly one topic named").into());
        };
        return explicit(snapshot, topic, &args.replicas);
    }
    let mut brokers: Vec<i32> = if args.onto.is_empty() {
        snapshot.brokers.clone()
    } else {
        args.onto.clone()
    };
    for id in &brokers {
        if !snapshot.brokers.contains(id) {
            return Err(Failure::not_found(format!(
                "no broker {id} in the cluster (brokers: {})",
                kcore::table::join(&snapshot.brokers)
            ))
            .into());
        }
    }
    brokers.retain(|b| !args.exclude.contains(b));
    if brokers.is_empty() {
        return Err(Failure::usage("no broker left to place replicas on").into());
    }
    let topics: Vec<&String> = if named.is_empty() {
        snapshot.topics.keys().filter(|t| !is_internal(t)).collect()
    } else {
        named.iter().collect()
    };
    let mut planned = Vec::new();
    for topic in topics {
        let state = &snapshot.topics[topic];
        let current: Vec<Vec<i32>> = state
            .partitions
            .iter()
            .map(|p| p.replicas.clone())
            .collect();
        let target = kcore::placement::balanced(
            &current,
            &brokers,
            args.replication_factor.map(usize::from),
        )
        .with_context(|| format!("planning topic '{topic}'"))?;
        for (p, target) in state.partitions.iter().zip(target) {
            planned.push(Planned {
                topic: topic.clone(),
                partition: p.id,
                current: p.replicas.clone(),
                target,
            });
        }
    }
    Ok(planned)
}

fn explicit(snapshot: &Snapshot, topic: &str, specs: &[String]) -> Result<Vec<Planned>> {
    let mut planned = Vec::new();
    for spec in specs {
        let bad = || {
            Failure::usage(format!(
                "bad --replicas '{spec}': expected PARTITION=BROKER,BROKER,... e.g. 0=1,2,3"
            ))
        };
        let (partition, ids) = spec.split_once('=').ok_or_else(bad)?;
        let partition: i32 = partition.trim().parse().map_err(|_| bad())?;
        let target: Vec<i32> = ids
            .split(',')
            .map(|id| id.trim().parse())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad())?;
        planned.push(checked(snapshot, topic, partition, target)?);
    }
    Ok(planned)
}

fn plan_from_file(snapshot: &Snapshot, path: &std::path::Path) -> Result<Vec<Planned>> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| Failure::usage(format!("cannot read plan {}: {err}", path.display())))?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|err| Failure::usage(format!("plan {} is not JSON: {err}", path.display())))?;
    let entries = doc["partitions"].as_array().ok_or_else(|| {
        Failure::usage(format!(
            "plan {} has no \"partitions\" list",
            path.display()
        ))
    })?;
    let mut planned = Vec::new();
    for entry in entries {
        let bad = || Failure::usage(format!("plan {}: bad entry {entry}", path.display()));
        let topic = entry["topic"].as_str().ok_or_else(bad)?;
        let partition = entry["partition"].as_i64().ok_or_else(bad)? as i32;
        let target: Vec<i32> =
            serde_json::from_value(entry["replicas"].clone()).map_err(|_| bad())?;
        planned.push(checked(snapshot, topic, partition, target)?);
    }
    Ok(planned)
}

/// An explicit target for an existing partition: existing brokers, each once.
fn checked(snapshot: &Snapshot, topic: &str, partition: i32, target: Vec<i32>) -> Result<Planned> {
    let current = snapshot
        .topics
        .get(topic)
        .ok_or_else(|| Failure::not_found(format!("unknown topic '{topic}'")))?
        .partitions
        .iter()
        .find(|p| p.id == partition)
        .ok_or_else(|| Failure::not_found(format!("topic '{topic}' has no partition {partition}")))?
        .replicas
        .clone();
    let distinct: BTreeSet<&i32> = target.iter().collect();
    if target.is_empty() || distinct.len() != target.len() {
        return Err(Failure::usage(format!(
            "{topic}/{partition}: replicas must be distinct brokers, at least one"
        ))
        .into());
    }
    if let Some(missing) = target.iter().find(|b| !snapshot.brokers.contains(b)) {
        return Err(Failure::not_found(format!(
            "{topic}/{partition}: no broker {missing} in the cluster"
        ))
        .into());
    }
    Ok(Planned {
        topic: topic.to_string(),
        partition,
        current,
        target,
    })
}

fn execute(
    session: &Session,
    controller: &str,
    plan: Vec<Planned>,
    args: &ReassignArgs,
) -> Result<()> {
    let moving: Vec<Planned> = plan.into_iter().filter(Planned::moves).collect();
    let mut out = JsonLines::stdout();
    if moving.is_empty() {
        eprintln!("ktopic: nothing to move: every partition is where the plan puts it");
        return Ok(());
    }
    let moves: Vec<Move> = moving.iter().map(Planned::to_move).collect();
    let throttled = match args.throttle {
        Some(rate) => Some(Throttle::apply(session, &moving, rate)?),
        None => None,
    };
    let verdicts = reassignments::alter(&session.connection, controller, &moves)?;
    let mut refused = Vec::new();
    let mut pending: Vec<Planned> = Vec::new();
    for p in moving {
        match verdicts.get(&(p.topic.clone(), p.partition)) {
            Some(Some(why)) => refused.push(format!("{}/{}: {why}", p.topic, p.partition)),
            _ => pending.push(p),
        }
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.wait.max(0.0));
    let total = pending.len();
    let done_count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let spinner = {
        let done_count = done_count.clone();
        Status::start(
            "ktopic",
            kcore::progress::Mode::terminal(),
            move |elapsed| {
                let done = done_count.load(std::sync::atomic::Ordering::Relaxed);
                format!(
                    "moving partitions: {done} of {total} done ({})",
                    kcore::progress::duration(elapsed)
                )
            },
        )
    };
    let mut finished: Vec<Planned> = Vec::new();
    let waiting: Vec<Move> = pending.iter().map(Planned::to_move).collect();
    let left = reassignments::wait_for(
        &session.connection,
        session.client(),
        controller,
        waiting,
        deadline,
        |m| {
            let p = pending
                .iter()
                .find(|p| p.topic == m.topic && p.partition == m.partition)
                .expect("a planned move");
            out.emit(&json!({
                "topic": p.topic, "partition": p.partition, "replicas": p.target,
                "previous": p.current, "done": true,
                "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            }))?;
            out.flush()?;
            finished.push(p.clone());
            done_count.store(finished.len(), std::sync::atomic::Ordering::Relaxed);
            Ok(())
        },
    )?;
    pending.retain(|p| {
        left.iter()
            .any(|m| m.topic == p.topic && m.partition == p.partition)
    });
    drop(spinner);
    elect_new_leaders(session, &finished)?;
    if let Some(throttle) = throttled {
        if pending.is_empty() {
            throttle.remove(session)?;
        } else {
            eprintln!(
                "ktopic: the replication throttle stays while partitions move; `ktopic reassign --cancel` removes it"
            );
        }
    }
    if !pending.is_empty() {
        return Err(Failure::unhealthy(format!(
            "{} of {total} partitions were still moving after {:.0}s (they go on: `ktopic reassign --list` shows them, --cancel stops them)",
            pending.len(),
            args.wait
        ))
        .into());
    }
    if !refused.is_empty() {
        return Err(Failure::delivery(format!(
            "{} partitions were not moved: {}",
            refused.len(),
            refused.join("; ")
        ))
        .into());
    }
    Ok(())
}

/// Partitions whose new first replica is not their leader yet get a preferred election,
/// so leaders end where the plan put them (Kafka itself waits for its periodic check).
fn elect_new_leaders(session: &Session, finished: &[Planned]) -> Result<()> {
    let snapshot = session.snapshot()?;
    let to_elect: Vec<(String, i32)> = finished
        .iter()
        .filter(|p| {
            snapshot
                .topics
                .get(&p.topic)
                .and_then(|t| t.partitions.iter().find(|s| s.id == p.partition))
                .is_some_and(|s| s.leader != p.target.first().copied())
        })
        .map(|p| (p.topic.clone(), p.partition))
        .collect();
    if to_elect.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + session.timeout();
    elect_leaders(
        session.client(),
        Election::Preferred,
        &to_elect,
        session.timeout(),
    )?;
    session.wait_for(deadline, |s| {
        to_elect.iter().all(|(topic, partition)| {
            s.topics
                .get(topic)
                .and_then(|t| t.partitions.iter().find(|p| p.id == *partition))
                .is_some_and(|p| p.leader == p.replicas.first().copied())
        })
    })?;
    Ok(())
}

fn cancel(
    session: &Session,
    controller: &str,
    snapshot: &Snapshot,
    named: &[String],
    args: &ReassignArgs,
) -> Result<()> {
    let ongoing = reassignments::list(
        &session.connection,
        controller,
        wanted(snapshot, named).as_ref(),
    )?;
    let moves: Vec<Move> = ongoing
        .iter()
        .map(|o| Move {
            topic: o.topic.clone(),
            partition: o.partition,
            replicas: None,
        })
        .collect();
    let verdicts = reassignments::alter(&session.connection, controller, &moves)?;
    // What a throttled move set up goes with it: the topics' throttled replicas, and the
    // brokers' throttle rates.
    let topics: BTreeSet<String> = ongoing.iter().map(|o| o.topic.clone()).collect();
    Throttle {
        brokers: snapshot.brokers.clone(),
        topics: topics.into_iter().collect(),
    }
    .remove(session)?;
    let lines: Vec<Value> = ongoing
        .iter()
        .map(|o| {
            let why = verdicts.get(&(o.topic.clone(), o.partition)).cloned().flatten();
            json!({"topic": o.topic, "partition": o.partition, "cancelled": why.is_none(), "reason": why})
        })
        .collect();
    write(&lines, args.table)?;
    if lines.is_empty() {
        eprintln!("ktopic: no move in progress");
    }
    Ok(())
}

/// Kafka's replication throttle for a set of moves: a rate on every broker involved,
/// and, on each topic, which replicas it applies to (the current ones as leaders, the
/// added ones as followers).
struct Throttle {
    brokers: Vec<i32>,
    topics: Vec<String>,
}

const THROTTLE_RATES: [&str; 2] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
];
const THROTTLED_REPLICAS: [&str; 2] = [
    "leader.replication.throttled.replicas",
    "follower.replication.throttled.replicas",
];

impl Throttle {
    fn apply(session: &Session, moving: &[Planned], rate: u64) -> Result<Throttle> {
        use kcore::admin::topics::{alter_config, ConfigChange, ConfigTarget};
        let mut brokers = BTreeSet::new();
        let mut by_topic: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for p in moving {
            let (leaders, followers) = by_topic.entry(&p.topic).or_default();
            for b in &p.current {
                leaders.push(format!("{}:{b}", p.partition));
                brokers.insert(*b);
            }
            for b in p.target.iter().filter(|b| !p.current.contains(b)) {
                followers.push(format!("{}:{b}", p.partition));
                brokers.insert(*b);
            }
        }
        let throttle = Throttle {
            brokers: brokers.into_iter().collect(),
            topics: by_topic.keys().map(|t| t.to_string()).collect(),
        };
        for broker in &throttle.brokers {
            let changes: Vec<ConfigChange> = THROTTLE_RATES
                .iter()
                .map(|key| ConfigChange::Set(key.to_string(), rate.to_string()))
                .collect();
            alter_config(
                session.client(),
                ConfigTarget::Broker(*broker),
                &changes,
                session.timeout(),
            )
            .map_err(|err| {
                crate::elect::refusal_or(err, &format!("cannot throttle broker {broker}"))
            })?;
        }
        for (topic, (leaders, followers)) in &by_topic {
            let changes = vec![
                ConfigChange::Set(THROTTLED_REPLICAS[0].into(), leaders.join(",")),
                ConfigChange::Set(THROTTLED_REPLICAS[1].into(), followers.join(",")),
            ];
            alter_config(
                session.client(),
                ConfigTarget::Topic(topic),
                &changes,
                session.timeout(),
            )
            .map_err(|err| {
                crate::elect::refusal_or(err, &format!("cannot throttle topic '{topic}'"))
            })?;
        }
        Ok(throttle)
    }

    fn remove(&self, session: &Session) -> Result<()> {
        use kcore::admin::topics::{alter_config, ConfigChange, ConfigTarget};
        let unset = |keys: &[&str]| -> Vec<ConfigChange> {
            keys.iter()
                .map(|k| ConfigChange::Delete(k.to_string()))
                .collect()
        };
        for broker in &self.brokers {
            alter_config(
                session.client(),
                ConfigTarget::Broker(*broker),
                &unset(&THROTTLE_RATES),
                session.timeout(),
            )
            .map_err(|err| {
                crate::elect::refusal_or(err, &format!("cannot remove broker {broker}'s throttle"))
            })?;
        }
        for topic in &self.topics {
            alter_config(
                session.client(),
                ConfigTarget::Topic(topic),
                &unset(&THROTTLED_REPLICAS),
                session.timeout(),
            )
            .map_err(|err| {
                crate::elect::refusal_or(err, &format!("cannot remove topic '{topic}''s throttle"))
            })?;
        }
        Ok(())
    }
}

fn ongoing_line(o: &Ongoing) -> Value {
    json!({
        "topic": o.topic, "partition": o.partition, "replicas": o.replicas,
        "adding": o.adding, "removing": o.removing,
    })
}

/// The plan as kafka-reassign-partitions reads it (`--reassignment-json-file`).
fn kafka_json(plan: &[Planned]) -> Value {
    json!({
        "version": 1,
        "partitions": plan.iter().map(|p| json!({
            "topic": p.topic, "partition": p.partition, "replicas": p.target,
        })).collect::<Vec<_>>(),
    })
}

/// JSON lines, or with `--table` one row per line.
fn write(lines: &[Value], table: bool) -> Result<()> {
    kcore::output::print(lines, table.then(|| Table::from_json_lines(lines)))
}
