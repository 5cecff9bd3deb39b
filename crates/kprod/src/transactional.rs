//! `--transactional`: the records are produced in Kafka transactions, one per
//! `--commit-interval`, and with `--commit-group G` each transaction also commits G's
//! offsets for the source records it holds (each line's `topic`, `partition` and `offset`,
//! as kcons prints them: the next offset to read, per source partition). The records and
//! the offsets become visible together or not at all, so that
//! `kcons -g G --no-commit a | FILTER | kprod --json --transactional --commit-group G b`
//! restarted after a crash anywhere resumes exactly after what b holds.
//!
//! librdkafka's transactional calls go through `rdkafka::bindings`: rdkafka offers
//! `send_offsets_to_transaction` only with the metadata of a consumer of its own, and has
//! no way to make that metadata from a group id alone (`rd_kafka_consumer_group_metadata_new`).

use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use anyhow::Result;
use kcore::record::Loose;
use kcore::signals::Interrupt;
use kcore::{ExitCode, Failure};
use rdkafka::bindings as rdsys;
use rdkafka::producer::{BaseProducer, Producer, PurgeConfig};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::cli::{Cli, OnError};
use crate::delivery::{DeliveryContext, Tally};
use crate::input::{self, Chunk};
use crate::status::Counters;
use kcore::schema_registry::Encoder;

use crate::Rejected;
use crate::{base_record, complete, deliver_queued, json_parts, send, send_and_serve, serve_ready};
use crate::{FullQueueNudge, Source, POLL_SLICE};

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

/// A failed transactional call, classified as librdkafka classifies it.
struct TxnError {
    code: RDKafkaErrorCode,
    text: String,
    retriable: bool,
    abortable: bool,
    fatal: bool,
}

impl TxnError {
    /// Take ownership of a librdkafka error; Ok for none.
    fn check(error: *mut rdsys::rd_kafka_error_t) -> Result<(), TxnError> {
        if error.is_null() {
            return Ok(());
        }
        // SAFETY: a non-null error librdkafka handed over to us; destroyed once read.
        unsafe {
            let text = CStr::from_ptr(rdsys::rd_kafka_error_string(error))
                .to_string_lossy()
                .into_owned();
            let found = TxnError {
                code: rdsys::rd_kafka_error_code(error).into(),
                text,
                retriable: rdsys::rd_kafka_error_is_retriable(error) != 0,
                abortable: rdsys::rd_kafka_error_txn_requires_abort(error) != 0,
                fatal: rdsys::rd_kafka_error_is_fatal(error) != 0,
            };
            rdsys::rd_kafka_error_destroy(error);
            Err(found)
        }
    }

    /// The failure to exit with when nothing more can be done.
    fn failure(&self, doing: &str) -> Failure {
        let message = format!("{doing}: {}", self.text);
        match self.code {
            code if kcore::failure::is_authorization_code(code) => {
                Failure::denied(doing, &self.text)
            }
            RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch => Failure::delivery(format!(
                "{message} (another kprod with the same transactional id took over)"
            )),
            _ => Failure::delivery(message),
        }
    }
}

/// `rd_kafka_consumer_group_metadata_t` of a group id alone (no member, generation -1):
/// the brokers accept transactional offset commits of it for a group without members, as
/// `kcons --no-commit` leaves it.
struct GroupMetadata(*mut rdsys::rd_kafka_consumer_group_metadata_t);

impl GroupMetadata {
    fn new(group: &str) -> Result<GroupMetadata> {
        let id = CString::new(group).map_err(|_| Failure::usage("bad --commit-group"))?;
        // SAFETY: a valid C string; librdkafka copies it.
        let ptr = unsafe { rdsys::rd_kafka_consumer_group_metadata_new(id.as_ptr()) };
        anyhow::ensure!(!ptr.is_null(), "librdkafka made no group metadata");
        Ok(GroupMetadata(ptr))
    }
}

impl Drop for GroupMetadata {
    fn drop(&mut self) {
        // SAFETY: made by rd_kafka_consumer_group_metadata_new, destroyed once.
        unsafe { rdsys::rd_kafka_consumer_group_metadata_destroy(self.0) }
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
    producer: &BaseProducer<DeliveryContext>,
    deadline: Instant,
    stuck: (kcore::ExitCode, &str),
    call: impl FnOnce() -> T,
) -> T {
    let done = AtomicBool::new(false);
    let give_up = deadline + STUCK_GRACE;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                producer.poll(POLL_SLICE);
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

fn millis(duration: Duration) -> i32 {
    duration.as_millis().min(i32::MAX as u128) as i32
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

/// What the source fields of a `--commit-group` record must be; the position, or what is wrong.
fn source_position<'s>(source: &'s Source<'_>) -> Result<(&'s str, i32, i64), String> {
    let topic = match &source.topic {
        Loose::Text(topic) if !topic.is_empty() => Some(topic.as_ref()),
        _ => None,
    };
    let offset = match source.offset {
        Loose::Int(offset) if offset >= 0 => Some(offset),
        _ => None,
    };
    match (topic, source.partition, offset) {
        (Some(topic), Some(partition), Some(offset)) => Ok((topic, partition, offset)),
        (topic, partition, offset) => {
            let missing: Vec<&str> = [
                ("\"topic\" (a string)", topic.is_none()),
                ("\"partition\"", partition.is_none()),
                ("\"offset\" (an integer, 0 or more)", offset.is_none()),
            ]
            .iter()
            .filter(|(_, missing)| *missing)
            .map(|(name, _)| *name)
            .collect();
            Err(format!(
                "no source position: --commit-group needs each record's \"topic\", \"partition\" \
                 and \"offset\" as kcons prints them (missing or wrong: {}); nothing is committed for this line",
                missing.join(", ")
            ))
        }
    }
}

/// Everything the transactional copy needs from `run`.
pub(crate) struct Copy<'a> {
    pub producer: &'a BaseProducer<DeliveryContext>,
    pub cli: &'a Cli,
    pub topic: &'a str,
    pub partitions: usize,
    pub record_limit: Option<usize>,
    pub fixed_headers: &'a [(String, Vec<u8>)],
    pub message_max_bytes: usize,
    pub delivery_timeout: Duration,
    pub interrupt: &'a Interrupt,
    pub counters: &'a Counters,
    pub encoder: Option<&'a Encoder>,
}

/// Counts of what was committed, for the messages.
#[derive(Default)]
struct Committed {
    records: u64,
    transactions: u64,
    /// The group's offsets committed so far: (source topic, partition, next offset).
    offsets: Vec<(String, i32, i64)>,
}

impl Copy<'_> {
    /// How long one transactional step may take, retries included.
    fn step_deadline(&self) -> Instant {
        Instant::now() + self.delivery_timeout + Duration::from_secs(5)
    }

    pub(crate) fn run(
        &self,
        settings: &Settings,
        chunks: Receiver<Chunk>,
        tally: &mut Tally,
    ) -> Result<()> {
        let producer = self.producer;
        let native = producer.client().native_ptr();
        let group = settings
            .group
            .as_deref()
            .map(GroupMetadata::new)
            .transpose()?;
        // Fences any earlier producer with the same id, aborting what it left open.
        let deadline = self.step_deadline();
        let stuck = format!(
            "initializing transactions (transactional id '{}') did not end within {} s \
             (librdkafka never answered); nothing was produced",
            settings.transactional_id,
            self.stuck_after().as_secs()
        );
        serving(producer, deadline, (ExitCode::Unreachable, &stuck), || {
            retrying(deadline, |left| {
                // SAFETY: a live producer handle.
                TxnError::check(unsafe { rdsys::rd_kafka_init_transactions(native, millis(left)) })
            })
        })
        .map_err(|err| {
            if err.code == RDKafkaErrorCode::OperationTimedOut {
                Failure::unreachable(format!(
                    "initializing transactions (transactional id '{}'): {}",
                    settings.transactional_id, err.text
                ))
            } else {
                err.failure(&format!(
                    "initializing transactions (transactional id '{}')",
                    settings.transactional_id
                ))
            }
        })?;

        let cli = self.cli;
        let mut open: Option<Open> = None;
        let mut committed = Committed::default();
        let mut full_queue = FullQueueNudge::new();
        let (mut lines_read, mut bytes_read) = (0u64, 0u64);
        let mut interrupted = false;
        let mut stop = false;
        'input: while !stop {
            if self.interrupt.requested() {
                interrupted = true;
                break;
            }
            if open
                .as_ref()
                .is_some_and(|o| o.since.elapsed() >= settings.interval)
            {
                let done = open.take().expect("an open transaction");
                self.commit(done, settings, group.as_ref(), tally, &mut committed)?;
            }
            let next = match chunks.try_recv() {
                Ok(chunk) => Ok(chunk),
                Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) if tally.sent > producer.context().reports() => {
                    // The input pauses: what is queued goes out now.
                    send_and_serve(producer, POLL_SLICE);
                    continue;
                }
                Err(TryRecvError::Empty) => {
                    let wait = open.as_ref().map_or(Duration::from_millis(100), |o| {
                        settings.interval.saturating_sub(o.since.elapsed())
                    });
                    chunks.recv_timeout(
                        wait.clamp(Duration::from_millis(1), Duration::from_millis(100)),
                    )
                }
            };
            let (data, first_line) = match next {
                Ok(Chunk::Lines { data, first_line }) => (data, first_line),
                Ok(Chunk::TooLong { line, bytes }) => {
                    (lines_read, bytes_read) = (line, bytes_read + bytes);
                    tally.bad_line(line, &format!("line of {bytes} bytes is longer than any record the producer may send (message.max.bytes={})", self.message_max_bytes));
                    stop = cli.on_error == OnError::Stop;
                    continue;
                }
                Ok(Chunk::Failed(err)) => {
                    // What was read is whole lines: commit them, then fail.
                    if let Some(done) = open.take() {
                        self.commit(done, settings, group.as_ref(), tally, &mut committed)?;
                    }
                    return Err(anyhow::Error::new(err).context("reading stdin"));
                }
                Err(RecvTimeoutError::Timeout) => {
                    producer.poll(Duration::ZERO);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            bytes_read += data.len() as u64;
            for (line_no, line) in input::lines(&data, first_line) {
                lines_read = line_no;
                if self.interrupt.requested() {
                    interrupted = true;
                    break 'input;
                }
                let checked =
                    json_parts(line, cli, self.partitions, self.encoder).and_then(|parts| {
                        let position = match &settings.group {
                            Some(_) => Some(
                                source_position(&parts.source)
                                    .map(|(t, p, o)| (t.to_string(), p, o))?,
                            ),
                            None => None,
                        };
                        let parts = complete(
                            parts,
                            cli,
                            self.fixed_headers,
                            self.record_limit,
                            self.topic,
                        )?;
                        Ok((parts, position))
                    });
                let (mut parts, position) = match checked {
                    Ok(checked) => checked,
                    Err(why) => {
                        tally.bad_line(line_no, &why);
                        if cli.on_error == OnError::Stop {
                            stop = true;
                            break;
                        }
                        continue;
                    }
                };
                if open.is_none() {
                    // SAFETY: a live producer handle.
                    TxnError::check(unsafe { rdsys::rd_kafka_begin_transaction(native) })
                        .map_err(|err| err.failure("beginning a transaction"))?;
                    open = Some(Open {
                        since: Instant::now(),
                        first_line: line_no,
                        last_line: line_no,
                        records: 0,
                        sent_before: tally.sent,
                        failed_before: producer.context().failed(),
                        offsets: Vec::new(),
                    });
                }
                let txn = open.as_mut().expect("an open transaction");
                let record = base_record(self.topic, line_no, &mut parts, cli.partition);
                tally.sent += 1;
                match send(
                    producer,
                    record,
                    (&mut full_queue, tally.sent),
                    self.interrupt,
                    self.message_max_bytes,
                ) {
                    Ok(()) => {
                        txn.records += 1;
                        txn.last_line = line_no;
                        if let Some((topic, partition, offset)) = &position {
                            txn.note(topic, *partition, *offset);
                        }
                    }
                    Err(rejection) => {
                        tally.sent -= 1;
                        match rejection {
                            Rejected::Input(why) => {
                                tally.bad_line(line_no, &why);
                                if cli.on_error == OnError::Stop {
                                    stop = true;
                                    break;
                                }
                            }
                            Rejected::Failed(why) => {
                                let done = open.take().expect("an open transaction");
                                let why = format!("line {line_no}: not sent: {why}");
                                return Err(self.abort(done, &why, settings, tally, &committed));
                            }
                            Rejected::Interrupted => {
                                interrupted = true;
                                break 'input;
                            }
                        }
                    }
                }
            }
            self.counters.publish(lines_read, bytes_read, tally.sent);
            serve_ready(producer);
        }
        self.counters.publish(lines_read, bytes_read, tally.sent);
        if let Some(done) = open.take() {
            self.commit(done, settings, group.as_ref(), tally, &mut committed)?;
        }
        tally.absorb(producer.context());
        if committed.transactions > 0 {
            self.settle(settings, &committed)?;
        }
        if interrupted {
            return Err(Failure::interrupted(format!(
                "interrupted after {} records, all committed{}; the rest of the input was not read",
                kcore::progress::count(committed.records),
                settings
                    .group
                    .as_deref()
                    .map(|g| format!(" with the offsets of group '{g}'"))
                    .unwrap_or_default()
            ))
            .into());
        }
        tally.conclude(false)
    }

    /// Wait for every record of the transaction, commit the group's offsets in it and
    /// commit it; on failure abort it, and the error says so.
    fn commit(
        &self,
        txn: Open,
        settings: &Settings,
        group: Option<&GroupMetadata>,
        tally: &mut Tally,
        committed: &mut Committed,
    ) -> Result<()> {
        let producer = self.producer;
        let native = producer.client().native_ptr();
        // Every record delivered (or failed) first: a failed one dooms the transaction.
        let deadline = self.step_deadline();
        deliver_queued(producer, deadline, || {
            producer.context().reports() >= tally.sent
        });
        let failed = producer.context().failed() - txn.failed_before;
        if failed > 0 {
            let why = format!("{failed} of its records not delivered (reasons above)");
            return Err(self.abort(txn, &why, settings, tally, committed));
        }
        let missing = tally.sent.saturating_sub(producer.context().reports());
        if missing > 0 {
            let why =
                format!("{missing} of its records still undelivered after the delivery timeout");
            return Err(self.abort(txn, &why, settings, tally, committed));
        }
        if let (Some(group), false) = (group, txn.offsets.is_empty()) {
            let mut offsets = TopicPartitionList::with_capacity(txn.offsets.len());
            for (topic, partition, next) in &txn.offsets {
                offsets.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
            }
            let deadline = self.step_deadline();
            let stuck = self.stuck(
                "is not committed: committing the group's offsets",
                &txn,
                settings,
                committed,
            );
            let sent = serving(producer, deadline, (ExitCode::Delivery, &stuck), || {
                retrying(deadline, |left| {
                    // SAFETY: live handles; librdkafka copies the list and the metadata.
                    TxnError::check(unsafe {
                        rdsys::rd_kafka_send_offsets_to_transaction(
                            native,
                            offsets.ptr(),
                            group.0,
                            millis(left),
                        )
                    })
                })
            });
            if let Err(err) = sent {
                return Err(self.failed_step(
                    txn,
                    err,
                    "committing the group's offsets",
                    settings,
                    tally,
                    committed,
                ));
            }
        }
        let deadline = self.step_deadline();
        // Its end may have reached the coordinator: whether it commits is not known.
        let stuck = self.stuck(
            "may or may not be committed: committing it",
            &txn,
            settings,
            committed,
        );
        let done = serving(producer, deadline, (ExitCode::Delivery, &stuck), || {
            retrying(deadline, |left| {
                // SAFETY: a live producer handle.
                TxnError::check(unsafe { rdsys::rd_kafka_commit_transaction(native, millis(left)) })
            })
        });
        if let Err(err) = done {
            return Err(self.failed_step(
                txn,
                err,
                "committing the transaction",
                settings,
                tally,
                committed,
            ));
        }
        debug_assert_eq!(tally.sent - txn.sent_before, txn.records);
        committed.records += txn.records;
        committed.transactions += 1;
        for (topic, partition, next) in txn.offsets {
            match (committed.offsets.iter_mut()).find(|(t, p, _)| *p == partition && *t == topic) {
                Some(entry) => entry.2 = entry.2.max(next),
                None => committed.offsets.push((topic, partition, next)),
            }
        }
        producer.context().release_held();
        Ok(())
    }

    /// Wait until what was committed is visible: the brokers answer a commit once the
    /// transaction coordinator has logged it, and only then write its markers into the
    /// partitions (and the group's offsets), so a read_committed reader started right
    /// after the commit could still miss it. Once this returns, `kcons b -e` sees every
    /// committed record (each partition's last stable offset is past them) and the group's
    /// offsets read as committed. Polled, within one step's deadline.
    fn settle(&self, settings: &Settings, committed: &Committed) -> Result<()> {
        const AGAIN_AFTER: Duration = Duration::from_millis(20);
        let client = self.producer.client();
        let deadline = self.step_deadline();
        let mut records = self.producer.context().written();
        let mut offsets = match &settings.group {
            Some(_) => committed.offsets.clone(),
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
                    records_text(committed),
                    (self.delivery_timeout + Duration::from_secs(5)).as_secs()
                ))
                .into());
            }
            // The last stable offset (a producer asks with read_committed): past the
            // records once no transaction holding them is still open.
            let mut pending = Vec::new();
            for &(partition, end) in &records {
                match client.fetch_watermarks(self.topic, partition, left) {
                    Ok((_, stable)) if stable >= end => {}
                    Ok((_, stable)) => {
                        why = format!(
                            "{}/{partition}: last stable offset {stable}, records up to offset {}",
                            self.topic,
                            end - 1
                        );
                        pending.push((partition, end));
                    }
                    Err(err) => {
                        why = format!("{}/{partition}: {err}", self.topic);
                        pending.push((partition, end));
                    }
                }
            }
            records = pending;
            if let (Some(group), false) = (&settings.group, offsets.is_empty()) {
                let asked: Vec<(String, i32)> =
                    offsets.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
                match kcore::admin::groups::committed_offsets(client, group, Some(&asked), left) {
                    Ok(found) => offsets.retain(|(topic, partition, next)| {
                        let now = found
                            .partitions
                            .iter()
                            .find(|e| e.partition == *partition && e.topic == *topic)
                            .map_or(-1, |e| e.offset);
                        if now < *next {
                            why = format!(
                                "group '{group}': {topic}/{partition} at {now}, committed {next}"
                            );
                        }
                        now < *next
                    }),
                    Err(err) => why = format!("group '{group}': {err}"),
                }
            }
            if !records.is_empty() || !offsets.is_empty() {
                std::thread::sleep(AGAIN_AFTER);
            }
        }
        Ok(())
    }

    /// A transactional step failed: abort if librdkafka says the transaction can be, else
    /// give up (a fatal error: fenced, not authorized...); the error to exit with.
    fn failed_step(
        &self,
        txn: Open,
        err: TxnError,
        doing: &str,
        settings: &Settings,
        tally: &mut Tally,
        committed: &Committed,
    ) -> anyhow::Error {
        if err.abortable || !err.fatal {
            return self.abort(
                txn,
                &format!("{doing}: {}", err.text),
                settings,
                tally,
                committed,
            );
        }
        self.producer.context().discard_held();
        tally.absorb(self.producer.context());
        let failure = err.failure(doing);
        Failure::new(
            failure.code,
            format!(
                "{}; the transaction of {} ({}) is not committed: \
                 read_committed readers never see it{}",
                failure.message,
                txn.lines(),
                records(txn.records),
                self.resume_hint(settings, committed)
            ),
        )
        .into()
    }

    /// Abort the transaction (its records are never visible to read_committed readers,
    /// the group's offsets do not move); the error to exit with, naming it.
    fn abort(
        &self,
        txn: Open,
        why: &str,
        settings: &Settings,
        tally: &mut Tally,
        committed: &Committed,
    ) -> anyhow::Error {
        let producer = self.producer;
        let native = producer.client().native_ptr();
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
            return self.failed_step(txn, err, "producing", settings, tally, committed);
        }
        producer.purge(PurgeConfig::default().queue().inflight());
        let deadline = self.step_deadline();
        let stuck = self.stuck(
            &format!("is not committed: aborting it ({why})"),
            &txn,
            settings,
            committed,
        );
        let aborted = serving(producer, deadline, (ExitCode::Delivery, &stuck), || {
            retrying(deadline, |left| {
                // SAFETY: a live producer handle.
                TxnError::check(unsafe { rdsys::rd_kafka_abort_transaction(native, millis(left)) })
            })
        });
        producer.context().discard_held();
        tally.absorb(producer.context());
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
            self.resume_hint(settings, committed)
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
    fn stuck(&self, what: &str, txn: &Open, settings: &Settings, committed: &Committed) -> String {
        format!(
            "the transaction of {} ({}) {what} did not end within {} s (librdkafka never \
             answered, after a broker or coordinator change?); read_committed readers see \
             it only if it commits{}",
            txn.lines(),
            records(txn.records),
            self.stuck_after().as_secs(),
            self.resume_hint(settings, committed)
        )
    }

    fn resume_hint(&self, settings: &Settings, committed: &Committed) -> String {
        let group = settings.group.as_deref();
        match (committed.transactions, group) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

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
    fn a_source_position_needs_topic_partition_and_offset() {
        let full = Source {
            topic: Loose::Text(Cow::Borrowed("a")),
            partition: Some(2),
            offset: Loose::Int(41),
        };
        assert_eq!(source_position(&full), Ok(("a", 2, 41)));
        let none = Source::default();
        let why = source_position(&none).unwrap_err();
        assert!(
            why.contains("\"topic\" (a string), \"partition\", \"offset\""),
            "{why}"
        );
        let wrong = Source {
            topic: Loose::Text(Cow::Borrowed("")),
            partition: Some(0),
            offset: Loose::Int(-1),
        };
        let why = source_position(&wrong).unwrap_err();
        assert!(
            why.contains(
                "(missing or wrong: \"topic\" (a string), \"offset\" (an integer, 0 or more))"
            ),
            "{why}"
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
