//! `--transactional`: the records are produced in Kafka transactions, one per
//! `--commit-interval`, and with `--commit-group G` each transaction also commits G's
//! offsets for the source records it holds (each line's `topic`, `partition` and `offset`,
//! as kcons prints them: the next offset to read, per source partition). The records and
//! the offsets become visible together or not at all, so that
//! `kcons -g G --no-commit a | FILTER | kprod --json --transactional --commit-group G b`
//! restarted after a crash anywhere resumes exactly after what b holds.
//!
//! librdkafka's transactional calls are kcore's ([`kcore::transactions`]); this module
//! decides when to make them and what a failure means for the run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use kcore::transactions::{self, GroupMetadata, TxnError};
use kcore::{ExitCode, Failure};
use rdkafka::producer::{Producer, PurgeConfig};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::cli::Cli;
use crate::input_loop::Delivery;
use crate::producer::{Sender, POLL_SLICE};
use crate::record::Record;
use crate::reports::Tally;

/// How long a transaction stays open unless `--commit-interval` says otherwise.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// What `--transactional` and its companions ask for.
pub struct Settings {
    pub transactional_id: String,
    pub group: Option<String>,
    pub interval: Duration,
}

impl Settings {
    /// None without `--transactional`.
    pub fn from_cli(cli: &Cli, topic: &str) -> Result<Option<Settings>> {
        if !cli.transactional {
            return Ok(None);
        }
        let interval = match cli.commit_interval {
            None => DEFAULT_INTERVAL,
            Some(s) if (0.001..=3600.0).contains(&s) => Duration::from_secs_f64(s),
            Some(_) => {
                return Err(Failure::usage(
                    "--commit-interval must be a number of seconds from 0.001 to 3600",
                )
                .into())
            }
        };
        let group = cli.commit_group.clone();
        if group
            .as_deref()
            .is_some_and(|g| g.is_empty() || g.contains('\0'))
        {
            return Err(Failure::usage("--commit-group needs a group name").into());
        }
        let transactional_id = match (&cli.transactional_id, &group) {
            (Some(id), _) => id.clone(),
            (None, Some(group)) => format!("kprod-{group}-{topic}"),
            (None, None) => format!("kprod-{topic}"),
        };
        if transactional_id.is_empty() || transactional_id.contains('\0') {
            return Err(Failure::usage("--transactional-id needs a name").into());
        }
        Ok(Some(Settings {
            transactional_id,
            group,
            interval,
        }))
    }

    /// Producer properties of the mode (any `-X` still wins over them).
    pub fn producer_defaults(&self, delivery_timeout: Duration) -> Vec<(&'static str, String)> {
        // librdkafka wants message.timeout.ms <= transaction.timeout.ms; the brokers allow
        // at most their transaction.max.timeout.ms (15 min by default).
        let transaction_timeout = delivery_timeout.max(Duration::from_secs(60));
        vec![
            ("transactional.id", self.transactional_id.clone()),
            (
                "transaction.timeout.ms",
                transaction_timeout.as_millis().to_string(),
            ),
        ]
    }
}

/// How long past its own deadline a transactional call may still take before kprod gives
/// up on it.
const STUCK_GRACE: Duration = Duration::from_secs(15);

/// Run a blocking transactional call while another thread serves the producer's events:
/// librdkafka's commit and abort wait for every delivery report to be taken, which only
/// polling does (kprod uses no background thread of librdkafka's).
///
/// The call is given `deadline` (each attempt its time left); librdkafka does not always
/// keep it: `rd_kafka_send_offsets_to_transaction` waits for its reply with no limit of its
/// own, and once a broker died mid-copy a reply never came (kprod, and the pipeline feeding
/// it, hung for good). Should the call still run `STUCK_GRACE` past the deadline, the
/// serving thread ends kprod: `stuck` says what was not done (exit 4). Nothing else can be
/// done with the producer then (any other transactional call conflicts with the one in
/// progress, and destroying it would wait on it too); the open transaction is aborted by
/// the next kprod with the same transactional id, or by the brokers once it times out.
fn serving<T>(
    sender: &Sender,
    deadline: Instant,
    stuck: (kcore::ExitCode, &str),
    call: impl FnOnce() -> T,
) -> T {
    let done = AtomicBool::new(false);
    let give_up = deadline + STUCK_GRACE;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                sender.producer.poll(POLL_SLICE);
                if Instant::now() > give_up && !done.load(Ordering::Relaxed) {
                    kcore::report_error("kprod", stuck.1);
                    std::process::exit(stuck.0.code());
                }
            }
        });
        let result = call();
        done.store(true, Ordering::Relaxed);
        result
    })
}

/// Call `attempt` with the time left until `deadline`, again while it fails with an
/// error librdkafka calls retriable (a coordinator moving, a timeout) and time is left.
fn retrying(
    deadline: Instant,
    mut attempt: impl FnMut(Duration) -> Result<(), TxnError>,
) -> Result<(), TxnError> {
    loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        match attempt(left) {
            Err(err) if err.retriable && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

fn records(n: u64) -> String {
    if n == 1 {
        "1 record".into()
    } else {
        format!("{n} records")
    }
}

fn records_text(committed: &Committed) -> String {
    format!(
        "{} of {} transaction(s)",
        records(committed.records),
        committed.transactions
    )
}

/// The transaction being filled.
struct Open {
    since: Instant,
    first_line: u64,
    last_line: u64,
    records: u64,
    /// Records handed to librdkafka and failed reports before this transaction began.
    sent_before: u64,
    failed_before: u64,
    /// (source topic, partition, next offset): the highest offset seen + 1.
    offsets: Vec<(String, i32, i64)>,
}

impl Open {
    fn note(&mut self, topic: &str, partition: i32, offset: i64) {
        let next = offset.saturating_add(1);
        match self
            .offsets
            .iter_mut()
            .find(|(t, p, _)| *p == partition && t == topic)
        {
            Some(entry) => entry.2 = entry.2.max(next),
            None => self.offsets.push((topic.to_string(), partition, next)),
        }
    }

    fn lines(&self) -> String {
        if self.first_line == self.last_line {
            format!("line {}", self.first_line)
        } else {
            format!("lines {}-{}", self.first_line, self.last_line)
        }
    }
}

/// Counts of what was committed, for the messages.
#[derive(Default)]
struct Committed {
    records: u64,
    transactions: u64,
    /// The group's offsets committed so far: (source topic, partition, next offset).
    offsets: Vec<(String, i32, i64)>,
}

/// Transactional delivery: the records go out in transactions, each committed once every
/// record in it is delivered (with the group's offsets, with `--commit-group`).
pub struct Transactional {
    settings: Settings,
    group: Option<GroupMetadata>,
    topic: String,
    delivery_timeout: Duration,
    open: Option<Open>,
    committed: Committed,
}

impl Delivery for Transactional {
    fn tick(&mut self, sender: &Sender, tally: &mut Tally) -> Result<()> {
        if (self.open.as_ref()).is_some_and(|o| o.since.elapsed() >= self.settings.interval) {
            let done = self.open.take().expect("an open transaction");
            self.commit(sender, done, tally)?;
        }
        Ok(())
    }

    fn idle_wait(&self) -> Duration {
        self.open.as_ref().map_or(Duration::from_millis(100), |o| {
            self.settings.interval.saturating_sub(o.since.elapsed())
        })
    }

    fn before_send(&mut self, sender: &Sender, tally: &Tally, line_no: u64) -> Result<()> {
        if self.open.is_none() {
            transactions::begin(sender.producer.client())
                .map_err(|err| err.failure("beginning a transaction"))?;
            self.open = Some(Open {
                since: Instant::now(),
                first_line: line_no,
                last_line: line_no,
                records: 0,
                sent_before: tally.sent,
                failed_before: sender.context().failed(),
                offsets: Vec::new(),
            });
        }
        Ok(())
    }

    fn sent(&mut self, line_no: u64, record: &Record<'_>) {
        let txn = self.open.as_mut().expect("an open transaction");
        txn.records += 1;
        txn.last_line = line_no;
        if let Some((topic, partition, offset)) = &record.position {
            txn.note(topic, *partition, *offset);
        }
    }

    fn not_sent(
        &mut self,
        sender: &Sender,
        tally: &mut Tally,
        line_no: u64,
        why: &str,
    ) -> Result<()> {
        let done = self.open.take().expect("an open transaction");
        let why = format!("line {line_no}: not sent: {why}");
        Err(self.abort(sender, done, &why, tally))
    }

    fn input_failed(&mut self, sender: &Sender, tally: &mut Tally) -> Result<()> {
        // What was read is whole lines: commit them, then fail.
        if let Some(done) = self.open.take() {
            self.commit(sender, done, tally)?;
        }
        Ok(())
    }

    fn finish(mut self, sender: Sender, tally: &mut Tally, interrupted: bool) -> Result<()> {
        if let Some(done) = self.open.take() {
            self.commit(&sender, done, tally)?;
        }
        tally.absorb(sender.context());
        if self.committed.transactions > 0 {
            self.settle(&sender)?;
        }
        if interrupted {
            return Err(Failure::interrupted(format!(
                "interrupted after {} records, all committed{}; the rest of the input was not read",
                kcore::progress::count(self.committed.records),
                self.settings
                    .group
                    .as_deref()
                    .map(|g| format!(" with the offsets of group '{g}'"))
                    .unwrap_or_default()
            ))
            .into());
        }
        tally.conclude(false)
    }
}

impl Transactional {
    /// Initialise transactions on the producer: fences any earlier producer with the same
    /// id, aborting what it left open.
    pub fn start(
        sender: &Sender,
        settings: Settings,
        topic: &str,
        delivery_timeout: Duration,
    ) -> Result<Transactional> {
        let group = settings
            .group
            .as_deref()
            .map(GroupMetadata::new)
            .transpose()?;
        let this = Transactional {
            settings,
            group,
            topic: topic.to_string(),
            delivery_timeout,
            open: None,
            committed: Committed::default(),
        };
        let id = &this.settings.transactional_id;
        let deadline = this.step_deadline();
        let stuck = format!(
            "initializing transactions (transactional id '{id}') did not end within {} s \
             (librdkafka never answered); nothing was produced",
            this.stuck_after().as_secs()
        );
        let client = sender.producer.client();
        serving(sender, deadline, (ExitCode::Unreachable, &stuck), || {
            retrying(deadline, |left| transactions::init(client, left))
        })
        .map_err(|err| {
            let doing = format!("initializing transactions (transactional id '{id}')");
            if err.code == RDKafkaErrorCode::OperationTimedOut {
                Failure::unreachable(format!("{doing}: {}", err.text))
            } else {
                err.failure(&doing)
            }
        })?;
        Ok(this)
    }

    /// How long one transactional step may take, retries included.
    fn step_deadline(&self) -> Instant {
        Instant::now() + self.delivery_timeout + Duration::from_secs(5)
    }

    /// Wait for every record of the transaction, commit the group's offsets in it and
    /// commit it; on failure abort it, and the error says so.
    fn commit(&mut self, sender: &Sender, txn: Open, tally: &mut Tally) -> Result<()> {
        let client = sender.producer.client();
        // Every record delivered (or failed) first: a failed one dooms the transaction.
        let deadline = self.step_deadline();
        sender.deliver_queued(deadline, || sender.context().reports() >= tally.sent);
        let failed = sender.context().failed() - txn.failed_before;
        if failed > 0 {
            let why = format!("{failed} of its records not delivered (reasons above)");
            return Err(self.abort(sender, txn, &why, tally));
        }
        let missing = tally.sent.saturating_sub(sender.context().reports());
        if missing > 0 {
            let why =
                format!("{missing} of its records still undelivered after the delivery timeout");
            return Err(self.abort(sender, txn, &why, tally));
        }
        if let (Some(group), false) = (&self.group, txn.offsets.is_empty()) {
            let mut offsets = TopicPartitionList::with_capacity(txn.offsets.len());
            for (topic, partition, next) in &txn.offsets {
                offsets.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
            }
            let deadline = self.step_deadline();
            let stuck = self.stuck("is not committed: committing the group's offsets", &txn);
            let sent = serving(sender, deadline, (ExitCode::Delivery, &stuck), || {
                retrying(deadline, |left| {
                    transactions::send_offsets(client, &offsets, group, left)
                })
            });
            if let Err(err) = sent {
                let doing = "committing the group's offsets";
                return Err(self.failed_step(sender, txn, err, doing, tally));
            }
        }
        let deadline = self.step_deadline();
        // Its end may have reached the coordinator: whether it commits is not known.
        let stuck = self.stuck("may or may not be committed: committing it", &txn);
        let done = serving(sender, deadline, (ExitCode::Delivery, &stuck), || {
            retrying(deadline, |left| transactions::commit(client, left))
        });
        if let Err(err) = done {
            let doing = "committing the transaction";
            return Err(self.failed_step(sender, txn, err, doing, tally));
        }
        debug_assert_eq!(tally.sent - txn.sent_before, txn.records);
        let committed = &mut self.committed;
        committed.records += txn.records;
        committed.transactions += 1;
        for (topic, partition, next) in txn.offsets {
            match (committed.offsets.iter_mut()).find(|(t, p, _)| *p == partition && *t == topic) {
                Some(entry) => entry.2 = entry.2.max(next),
                None => committed.offsets.push((topic, partition, next)),
            }
        }
        sender.context().release_held();
        Ok(())
    }

    /// Wait until what was committed is visible: the brokers answer a commit once the
    /// transaction coordinator has logged it, and only then write its markers into the
    /// partitions (and the group's offsets), so a read_committed reader started right
    /// after the commit could still miss it. Once this returns, `kcons b -e` sees every
    /// committed record (each partition's last stable offset is past them) and the group's
    /// offsets read as committed. Polled, within one step's deadline.
    fn settle(&self, sender: &Sender) -> Result<()> {
        const AGAIN_AFTER: Duration = Duration::from_millis(20);
        let deadline = self.step_deadline();
        let mut records = sender.context().written();
        let mut offsets = match &self.settings.group {
            Some(_) => self.committed.offsets.clone(),
            None => Vec::new(),
        };
        let mut why = String::new();
        while !records.is_empty() || !offsets.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::delivery(format!(
                    "the {} of this run were committed, but are not yet visible to \
                     read_committed readers after {} s ({why}): the brokers make them visible \
                     once they have written the transactions' markers; do not send them again",
                    records_text(&self.committed),
                    (self.delivery_timeout + Duration::from_secs(5)).as_secs()
                ))
                .into());
            }
            records = self.unstable_records(sender, records, left, &mut why);
            if let (Some(group), false) = (&self.settings.group, offsets.is_empty()) {
                offsets = unsettled_offsets(sender, group, offsets, left, &mut why);
            }
            if !records.is_empty() || !offsets.is_empty() {
                std::thread::sleep(AGAIN_AFTER);
            }
        }
        Ok(())
    }

    /// Of (partition, end) pairs, those whose last stable offset (a producer asks with
    /// read_committed) is not yet past the records; `why` says of one of them.
    fn unstable_records(
        &self,
        sender: &Sender,
        records: Vec<(i32, i64)>,
        left: Duration,
        why: &mut String,
    ) -> Vec<(i32, i64)> {
        let client = sender.producer.client();
        let mut pending = Vec::new();
        for (partition, end) in records {
            match client.fetch_watermarks(&self.topic, partition, left) {
                Ok((_, stable)) if stable >= end => {}
                Ok((_, stable)) => {
                    *why = format!(
                        "{}/{partition}: last stable offset {stable}, records up to offset {}",
                        self.topic,
                        end - 1
                    );
                    pending.push((partition, end));
                }
                Err(err) => {
                    *why = format!("{}/{partition}: {err}", self.topic);
                    pending.push((partition, end));
                }
            }
        }
        pending
    }

    /// A transactional step failed: abort if librdkafka says the transaction can be, else
    /// give up (a fatal error: fenced, not authorized...); the error to exit with.
    fn failed_step(
        &self,
        sender: &Sender,
        txn: Open,
        err: TxnError,
        doing: &str,
        tally: &mut Tally,
    ) -> anyhow::Error {
        if err.abortable || !err.fatal {
            return self.abort(sender, txn, &format!("{doing}: {}", err.text), tally);
        }
        sender.context().discard_held();
        tally.absorb(sender.context());
        let failure = err.failure(doing);
        Failure::new(
            failure.code,
            format!(
                "{}; the transaction of {} ({}) is not committed: \
                 read_committed readers never see it{}",
                failure.message,
                txn.lines(),
                records(txn.records),
                self.resume_hint()
            ),
        )
        .into()
    }

    /// Abort the transaction (its records are never visible to read_committed readers,
    /// the group's offsets do not move); the error to exit with, naming it.
    fn abort(&self, sender: &Sender, txn: Open, why: &str, tally: &mut Tally) -> anyhow::Error {
        let producer = &sender.producer;
        // A fatal error (fenced by a newer kprod with the same id) fails every record and
        // every call: it, not its consequences, is what to name.
        if let Some((code, text)) = producer.client().fatal_error() {
            let err = TxnError {
                code,
                text,
                retriable: false,
                abortable: false,
                fatal: true,
            };
            return self.failed_step(sender, txn, err, "producing", tally);
        }
        producer.purge(PurgeConfig::default().queue().inflight());
        let deadline = self.step_deadline();
        let stuck = self.stuck(&format!("is not committed: aborting it ({why})"), &txn);
        let client = producer.client();
        let aborted = serving(sender, deadline, (ExitCode::Delivery, &stuck), || {
            retrying(deadline, |left| transactions::abort(client, left))
        });
        sender.context().discard_held();
        tally.absorb(sender.context());
        let outcome = match aborted {
            Ok(()) => "aborted".to_string(),
            // Unaborted, it is aborted by the brokers once it times out, or by the next
            // kprod with the same transactional id: never committed either way.
            Err(err) => format!("not committed (aborting it failed too: {})", err.text),
        };
        Failure::delivery(format!(
            "the transaction of {} ({}) was {outcome}: {why}; read_committed readers never see it{}",
            txn.lines(),
            records(txn.records),
            self.resume_hint()
        ))
        .into()
    }

    /// How long after a step's start kprod gives up on a transactional call that never
    /// returns (see [`serving`]).
    fn stuck_after(&self) -> Duration {
        self.delivery_timeout + Duration::from_secs(5) + STUCK_GRACE
    }

    /// The error kprod ends with when a step never returns: `what` is the transaction's
    /// fate and the step, as in "is not committed: committing the group's offsets".
    fn stuck(&self, what: &str, txn: &Open) -> String {
        format!(
            "the transaction of {} ({}) {what} did not end within {} s (librdkafka never \
             answered, after a broker or coordinator change?); read_committed readers see \
             it only if it commits{}",
            txn.lines(),
            records(txn.records),
            self.stuck_after().as_secs(),
            self.resume_hint()
        )
    }

    fn resume_hint(&self) -> String {
        let committed = &self.committed;
        match (committed.transactions, self.settings.group.as_deref()) {
            (0, None) => "; no transaction of this run was committed".to_string(),
            (0, Some(group)) => format!(
                "; nothing of this run was committed, nor any offset of group '{group}': \
                 re-running the pipeline starts where the group was"
            ),
            (n, None) => format!(
                "; the {} of the {n} transaction(s) before it are committed",
                records(committed.records)
            ),
            (n, Some(group)) => format!(
                "; the {} of the {n} transaction(s) before it are committed, with the \
                 offsets of group '{group}' for them alone: re-running the pipeline resumes \
                 right after them",
                records(committed.records)
            ),
        }
    }
}

/// Of the group's offsets, those not yet read back as committed; `why` says of one of them.
fn unsettled_offsets(
    sender: &Sender,
    group: &str,
    mut offsets: Vec<(String, i32, i64)>,
    left: Duration,
    why: &mut String,
) -> Vec<(String, i32, i64)> {
    let client = sender.producer.client();
    let asked: Vec<(String, i32)> = offsets.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
    match kcore::admin::groups::committed_offsets(client, group, Some(&asked), left) {
        Ok(found) => offsets.retain(|(topic, partition, next)| {
            let now = found
                .partitions
                .iter()
                .find(|e| e.partition == *partition && e.topic == *topic)
                .map_or(-1, |e| e.offset);
            if now < *next {
                *why = format!("group '{group}': {topic}/{partition} at {now}, committed {next}");
            }
            now < *next
        }),
        Err(err) => *why = format!("group '{group}': {err}"),
    }
    offsets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> Open {
        Open {
            since: Instant::now(),
            first_line: 1,
            last_line: 1,
            records: 0,
            sent_before: 0,
            failed_before: 0,
            offsets: Vec::new(),
        }
    }

    #[test]
    fn the_group_moves_past_the_highest_offset_seen_per_source_partition() {
        let mut txn = open();
        txn.note("a", 0, 4);
        txn.note("a", 1, 9);
        // A filter dropped offsets 5-11 of partition 0; a reordered record never moves it back.
        txn.note("a", 0, 12);
        txn.note("a", 0, 7);
        txn.note("b", 0, 0);
        assert_eq!(
            txn.offsets,
            [
                ("a".to_string(), 0, 13),
                ("a".to_string(), 1, 10),
                ("b".to_string(), 0, 1)
            ]
        );
    }

    #[test]
    fn the_transactional_id_is_the_pipelines_unless_given() {
        use clap::Parser;
        let settings = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["kprod", "--json"], args].concat()).unwrap();
            Settings::from_cli(&cli, "b").unwrap()
        };
        assert!(settings(&["b"]).is_none());
        let s = settings(&["--transactional", "--commit-group", "g", "b"]).unwrap();
        assert_eq!(
            (s.transactional_id.as_str(), s.interval),
            ("kprod-g-b", DEFAULT_INTERVAL)
        );
        let s = settings(&["--transactional", "b"]).unwrap();
        assert_eq!(s.transactional_id, "kprod-b");
        let s = settings(&[
            "--transactional",
            "--transactional-id",
            "x",
            "--commit-interval",
            "0.25",
            "b",
        ])
        .unwrap();
        assert_eq!(
            (s.transactional_id.as_str(), s.interval),
            ("x", Duration::from_millis(250))
        );
        for bad in [
            &["--transactional", "--commit-interval", "0", "b"][..],
            &["--transactional", "--commit-group", "", "b"],
        ] {
            let cli = Cli::try_parse_from([&["kprod", "--json"], bad].concat()).unwrap();
            assert!(Settings::from_cli(&cli, "b").is_err());
        }
        // The flags need their mode.
        assert!(Cli::try_parse_from(["kprod", "--commit-group", "g", "b"]).is_err());
        assert!(Cli::try_parse_from(["kprod", "--transactional", "b"]).is_err());
    }
}
