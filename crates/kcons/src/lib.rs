//! kcons: Kafka to stdout as JSON lines, committing only what was written out.

pub mod bad_batch;
pub mod cli;
pub mod ends;
pub mod key;
pub mod offset;
pub mod status;
pub mod topics;
pub mod watermarks;
pub mod window;
pub mod writer;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use kcore::signals::Interrupt;
use kcore::{Connection, Failure, QuietContext};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use cli::Cli;
use ends::EndTracker;
use offset::OffsetSpec;
use status::Observer;
use window::Window;
use writer::RecordWriter;

/// Output buffered before it is written out (and its offsets stored for commit).
const FLUSH_BYTES: usize = 256 * 1024;

/// The longest a record waits in the buffer, however steadily records keep coming
/// (`kcons t | jq` is live), and how often the end of each partition is checked.
const TICK: Duration = Duration::from_millis(100);

/// Whether kcons joins its group and commits what it wrote (`-g` without `--no-commit`).
fn commits(cli: &Cli) -> bool {
    cli.group.is_some() && !cli.no_commit
}

/// How often a group subscribed to a pattern looks for new topics that match (librdkafka's
/// default, 5 minutes, would leave a new topic unread that long).
const PATTERN_REFRESH_MS: &str = "2000";

/// The most (compressed) bytes one fetch brings of a partition, for the reader and the
/// bad-batch probe alike.
pub(crate) const FETCH_MAX_BYTES_PER_PARTITION: &str = "262144";

fn consumer_defaults<'a>(cli: &Cli, commit_interval_ms: &'a str) -> Vec<(&'static str, &'a str)> {
    let mut defaults = vec![
        // Offsets are stored by kcons itself, only once their records are written out.
        ("enable.auto.offset.store", "false"),
        ("allow.auto.create.topics", "false"),
        // Bounded memory: at most this much prefetched per partition (records, KB), however
        // fast stdout drains...
        ("queued.max.messages.kbytes", "16384"),
        ("queued.min.messages", "10000"),
        // ...and per partition at most this much (compressed) in one fetch: a compressed batch
        // is unpacked whole, each record then costs librdkafka a few hundred bytes, and one
        // fetch may overshoot the bounds above. 256 KB halves the memory of 512 KB on tiny
        // records (a 50M-record pipe stays under 100 MB); see BENCHMARKS.md, "kcons: fetch size".
        ("fetch.message.max.bytes", FETCH_MAX_BYTES_PER_PARTITION),
        // ...and once that is drained, fetch again within 1 ms: librdkafka's default backoff
        // of a whole second made reading a topic to its end 6x slower (measured, 1M records),
        // and with the smaller fetches above, 10 ms let a well-compressed topic's prefetch run
        // dry (1.7x slower). The price is a little CPU while stdout is the slower side.
        ("fetch.queue.backoff.ms", "1"),
        (
            "enable.partition.eof",
            if cli.exit_at_end { "true" } else { "false" },
        ),
        (
            "auto.offset.reset",
            if cli.offset == OffsetSpec::End {
                "latest"
            } else {
                "earliest"
            },
        ),
    ];
    if commits(cli) {
        // Commits the stored offsets (those of records written out) every --commit-interval
        // (1 s) and on close: a SIGKILL re-delivers about that much (README, "Finding records").
        defaults.push(("enable.auto.commit", "true"));
        defaults.push(("auto.commit.interval.ms", commit_interval_ms));
        if cli.topics.iter().any(|t| topics::is_pattern(t)) {
            defaults.push(("topic.metadata.refresh.interval.ms", PATTERN_REFRESH_MS));
            defaults.push(("topic.blacklist", topics::INTERNAL_TOPICS_PATTERN));
        }
    } else {
        defaults.push(("enable.auto.commit", "false"));
    }
    defaults
}

pub fn run(cli: Cli) -> Result<()> {
    let connection = cli.connection.resolve()?;
    validate(&cli)?;
    let patterns = topics::compile(&cli.topics)?;
    let key = wanted_key(&cli)?;
    // Asked before any record: a registry that is down stops kcons here (exit 5).
    let decoder =
        kcore::schema_registry::Decoder::from_args(&cli.registry, &cli.proto, &connection)?;
    let interrupt = Interrupt::install()?;

    let commit_interval_ms = cli.commit_interval.as_millis().max(1).to_string();
    let mut config = connection.client_config(&consumer_defaults(&cli, &commit_interval_ms));
    // librdkafka needs a group id even to assign partitions by hand; without -g it is
    // a private one that never commits anything.
    match &cli.group {
        Some(group) => config.set("group.id", group),
        None => config.set("group.id", format!("kcons-{}", std::process::id())),
    };
    let consumer = Closing::new(
        connection.create_from(config, QuietContext::new("kcons", connection.verbose))?,
        connection.timeout,
    );

    let metadata = kcore::metadata::fetch_interruptible(
        consumer.client(),
        &connection,
        None,
        &|| {
            let _ = consumer.poll(Duration::ZERO);
        },
        &interrupt,
    )?;
    let topic_names = topics::resolve(&cli.topics, &patterns, &metadata);
    if topic_names.is_empty() && !commits(&cli) {
        return Err(
            Failure::not_found(format!("no topic matches {}", cli.topics.join(" "))).into(),
        );
    }
    let mut partitions = Vec::new();
    for topic in &topic_names {
        let count = kcore::metadata::partition_count(&metadata, topic)? as i32;
        for &p in &cli.partitions {
            kcore::metadata::check_partition(topic, p, count as usize)?;
        }
        let key_partition = match &key {
            Some(key) if !cli.all_partitions => cli.partitioner.partition(key, count),
            _ => None,
        };
        let wanted: Vec<i32> = if let Some(p) = key_partition {
            vec![p]
        } else if cli.partitions.is_empty() {
            (0..count).collect()
        } else {
            cli.partitions.clone()
        };
        partitions.extend(wanted.into_iter().map(|p| (topic.clone(), p)));
    }

    let mut ends = EndTracker::new(cli.exit_at_end);
    let mut window = Window::new(cli.until);
    // -e needs every partition's end; `-o N` its range (an offset outside it is moved in).
    let marks = if cli.exit_at_end || matches!(cli.offset, OffsetSpec::At(_)) {
        watermarks::of(&consumer, &partitions, connection.timeout).map_err(|err| {
            Failure::unreachable(format!("reading the end offsets of the partitions: {err}"))
        })?
    } else {
        watermarks::Watermarks::new()
    };
    if cli.exit_at_end {
        for ((topic, p), (low, high)) in &marks {
            ends.expect(topic, *p, *low, *high);
        }
    }

    if commits(&cli) {
        let topics: Vec<&str> = cli.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|err| anyhow::anyhow!("subscribing to {topics:?}: {err}"))?;
    } else {
        let assignment = match &cli.group {
            // --no-commit: the group's committed offsets, read once; no membership.
            Some(group) => {
                committed_starts(&consumer, &connection, group, &partitions, cli.offset)?
            }
            None => start_offsets(&consumer, &connection, &partitions, cli.offset, &marks)?,
        };
        for (topic, p, start) in &assignment_starts(&assignment) {
            ends.starts_at(topic, *p, *start);
        }
        // -e: a partition already at its end is not assigned (nothing of it is fetched: a
        // fetch of partitions with nothing to give waits out the brokers' fetch wait), and
        // the others start at an offset, not at a position librdkafka must look up first.
        let assignment = ends.left_to_read(&assignment)?;
        window.look_up_stops(&consumer, &assignment, connection.timeout)?;
        consumer
            .assign(&assignment)
            .map_err(|err| anyhow::anyhow!("assigning partitions: {err}"))?;
    }

    let mut writer = RecordWriter::new(&topic_names, cli.values, commits(&cli), decoder);
    // Records printed on the terminal would be garbled by a line redrawn under them:
    // there progress shows only when asked for.
    let mode = cli.progress.mode(std::io::stdout().is_terminal());
    let counters = Arc::new(status::Counters::default());
    let mut observer = Observer::new(&counters, !mode.is_off(), cli.exit_at_end);
    observer.starting(&ends);
    let progress = status::start(mode, &counters, cli.exit_at_end, cli.count);
    let outcome = consume(
        &cli,
        &consumer,
        &mut writer,
        &mut ends,
        &mut window,
        key.as_deref(),
        &mut observer,
        &interrupt,
        connection.timeout,
    );
    // Whatever happened (a closed pipe included), commit what reached stdout.
    let flushed = writer.flush(&consumer);
    observer.written(&writer);
    if commits(&cli) {
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => {}
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(err) if outcome.is_ok() && flushed.is_ok() => {
                return Err(Failure::delivery(format!(
                    "committing the group's offsets failed: {err}"
                ))
                .into())
            }
            Err(_) => {}
        }
    }
    progress.finish(|elapsed| status::summary(&counters, elapsed));
    writer.report();
    let outcome = outcome.map_err(|err| match err.downcast_ref::<bad_batch::Undecodable>() {
        Some(bad_batch::Undecodable(code)) => {
            bad_batch::locate(&consumer, &connection, cli.group.as_deref(), *code).into()
        }
        None => err,
    });
    let interrupted = outcome?;
    flushed?;
    let finished = ends.all_done()
        || window.all_done(&consumer, |t, p| ends.is_done(t, p))
        || cli.count.is_some_and(|c| writer.records() >= c);
    if interrupted && (cli.exit_at_end || cli.count.is_some()) && !finished {
        let committed = if commits(&cli) {
            " (what was written is committed)"
        } else {
            ""
        };
        let records = writer.records();
        let plural = if records == 1 { "" } else { "s" };
        return Err(Failure::interrupted(format!(
            "interrupted after {} record{plural}{committed}",
            kcore::progress::count(records)
        ))
        .into());
    }
    Ok(())
}

/// The consumer, closed within a time bound when dropped. rdkafka's own drop closes it
/// and polls until librdkafka says it is closed, with no limit: a kcons that has written
/// everything but waits on a close (its group's coordinator lost with a broker) keeps its
/// stdout open, and a pipeline reading it never ends. Past the bound the handle is left to
/// the process's exit, with a warning: nothing of the output depends on the close (what
/// was written is committed before it).
struct Closing {
    consumer: std::mem::ManuallyDrop<BaseConsumer<QuietContext>>,
    timeout: Duration,
}

impl Closing {
    fn new(consumer: BaseConsumer<QuietContext>, timeout: Duration) -> Closing {
        Closing {
            consumer: std::mem::ManuallyDrop::new(consumer),
            timeout,
        }
    }
}

impl std::ops::Deref for Closing {
    type Target = BaseConsumer<QuietContext>;
    fn deref(&self) -> &Self::Target {
        &self.consumer
    }
}

impl Drop for Closing {
    fn drop(&mut self) {
        let deadline = Instant::now() + self.timeout;
        if self.consumer.close_queue().is_ok() {
            // Short polls: the close's end is no event a poll returns for, so each poll
            // waits out its whole slice (100 ms slices added 100 ms to every kcons run).
            while !self.consumer.closed() && Instant::now() < deadline {
                let _ = self.consumer.poll(Duration::from_millis(2));
            }
        }
        if self.consumer.closed() {
            // SAFETY: dropped once, here; never used again.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.consumer) }
        } else {
            kcore::report_warning(
                "kcons",
                &format!(
                    "the consumer did not close within {} s (a broker or the group's \
                     coordinator unreachable?); exiting without waiting for it",
                    self.timeout.as_secs_f64()
                ),
            );
        }
    }
}

fn validate(cli: &Cli) -> Result<()> {
    if cli.group.is_none() && cli.offset == OffsetSpec::Stored {
        return Err(Failure::usage("-o stored needs a consumer group (-g GROUP)").into());
    }
    if cli.group.is_some()
        && !matches!(
            cli.offset,
            OffsetSpec::Beginning | OffsetSpec::End | OffsetSpec::Stored
        )
    {
        return Err(Failure::usage(
            "with -g, -o takes beginning, end or stored (where the group has no committed offset yet)",
        )
        .into());
    }
    if cli.count == Some(0) {
        return Err(Failure::usage("-c needs a count of 1 or more").into());
    }
    if cli.all_partitions && cli.key.is_none() && cli.key_base64.is_none() {
        return Err(Failure::usage("--all-partitions goes with --key or --key-base64").into());
    }
    if cli.topics.iter().any(|t| topics::is_pattern(t)) && !cli.partitions.is_empty() {
        return Err(Failure::usage("-p takes topics by name, not a ^pattern").into());
    }
    Ok(())
}

/// `--key` or `--key-base64` as bytes.
fn wanted_key(cli: &Cli) -> Result<Option<Vec<u8>>> {
    use base64::Engine;
    if let Some(key) = &cli.key {
        return Ok(Some(key.as_bytes().to_vec()));
    }
    match &cli.key_base64 {
        None => Ok(None),
        Some(text) => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map(Some)
            .map_err(|err| Failure::usage(format!("bad --key-base64 '{text}': {err}")).into()),
    }
}

/// The assignment for `-o`, with timestamps resolved to offsets.
fn start_offsets(
    consumer: &BaseConsumer<QuietContext>,
    connection: &Connection,
    partitions: &[(String, i32)],
    spec: OffsetSpec,
    marks: &watermarks::Watermarks,
) -> Result<TopicPartitionList> {
    let mut tpl = TopicPartitionList::new();
    for (topic, p) in partitions {
        let offset = match spec {
            OffsetSpec::Beginning | OffsetSpec::Stored => Offset::Beginning,
            OffsetSpec::End => Offset::End,
            OffsetSpec::At(n) => {
                // Out of range, librdkafka would start over at the beginning: an offset past
                // the end means the end (wait for it), one before the first kept, the first.
                let (low, high) = marks.get(&(topic.clone(), *p)).copied().ok_or_else(|| {
                    Failure::unreachable(format!("no end offsets known for {topic}/{p}"))
                })?;
                Offset::Offset(n.clamp(low, high.max(low)))
            }
            OffsetSpec::FromEnd(n) => Offset::OffsetTail(n),
            OffsetSpec::Timestamp(ms) => Offset::Offset(ms),
        };
        tpl.add_partition_offset(topic, *p, offset)?;
    }
    if let OffsetSpec::Timestamp(_) = spec {
        // A partition with nothing at or after the time resolves to its end.
        tpl = consumer
            .offsets_for_times(tpl, connection.timeout)
            .map_err(|err| {
                Failure::unreachable(format!("looking up offsets for the timestamp: {err}"))
            })?;
    }
    Ok(tpl)
}

/// How long `--no-commit` waits for a group's offsets that a transaction is committing.
const UNSTABLE_OFFSETS_WAIT: Duration = Duration::from_secs(70);

/// `-g GROUP --no-commit`: every partition from the group's committed offset; where the group
/// has none, from where `-o` says (beginning, end; `stored` means the beginning).
fn committed_starts(
    consumer: &BaseConsumer<QuietContext>,
    connection: &Connection,
    group: &str,
    partitions: &[(String, i32)],
    spec: OffsetSpec,
) -> Result<TopicPartitionList> {
    let mut asked = TopicPartitionList::new();
    for (topic, p) in partitions {
        asked.add_partition(topic, *p);
    }
    // With read_committed (librdkafka's default) the brokers answer "unstable" for a
    // partition while a transaction commits offsets for the group (KIP-447), and librdkafka
    // asks again only a few times: ask until it settles (a killed transactional producer's
    // transaction is aborted by the next one with its id, or after its timeout, 60 s by
    // default). Such a partition never starts anywhere else.
    let deadline = Instant::now() + connection.timeout.max(UNSTABLE_OFFSETS_WAIT);
    let committed = loop {
        let committed = consumer
            .committed_offsets(asked.clone(), connection.timeout)
            .map_err(|err| {
                Failure::unreachable(format!(
                    "reading the committed offsets of group '{group}': {err}"
                ))
            })?;
        let unsettled = committed.elements().iter().find_map(|e| match e.error() {
            Ok(()) => None,
            Err(err) => Some(format!("{}/{}: {err}", e.topic(), e.partition())),
        });
        match unsettled {
            None => break committed,
            Some(why) if Instant::now() >= deadline => {
                return Err(Failure::unreachable(format!(
                    "reading the committed offsets of group '{group}': {why}"
                ))
                .into())
            }
            Some(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let mut tpl = TopicPartitionList::new();
    for element in committed.elements() {
        let offset = match element.offset() {
            Offset::Offset(n) if n >= 0 => Offset::Offset(n),
            _ if spec == OffsetSpec::End => Offset::End,
            _ => Offset::Beginning,
        };
        tpl.add_partition_offset(element.topic(), element.partition(), offset)?;
    }
    Ok(tpl)
}

fn assignment_starts(tpl: &TopicPartitionList) -> Vec<(String, i32, Offset)> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition(), e.offset()))
        .collect()
}

/// The poll loop. Ok(true) when a signal ended it.
#[allow(clippy::too_many_arguments)]
fn consume(
    cli: &Cli,
    consumer: &BaseConsumer<QuietContext>,
    writer: &mut RecordWriter,
    ends: &mut EndTracker,
    window: &mut Window,
    key: Option<&[u8]>,
    observer: &mut Observer,
    interrupt: &Interrupt,
    timeout: Duration,
) -> Result<bool> {
    let mut ticked = Instant::now();
    loop {
        if interrupt.requested() {
            return Ok(true);
        }
        if ends.all_done()
            || window.all_done(consumer, |t, p| ends.is_done(t, p))
            || cli.count.is_some_and(|c| writer.records() >= c)
        {
            return Ok(false);
        }
        let polled = consumer.poll(TICK);
        if polled.is_none() || ticked.elapsed() >= TICK {
            // Idle, or busy for a while: show what we have and store its offsets.
            ticked = Instant::now();
            writer.flush(consumer)?;
            if kcore::output::stdout_closed() {
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into());
            }
            if cli.exit_at_end {
                if commits(cli) {
                    ends.track_assignment(consumer, cli.offset == OffsetSpec::End, timeout);
                }
                ends.check_positions(consumer);
            }
            window.check(consumer);
            observer.tick(consumer, writer, ends);
        }
        match polled {
            None => {}
            Some(Ok(message)) => {
                let (topic, partition, offset) =
                    (message.topic(), message.partition(), message.offset());
                if !ends.wants(topic, partition, offset) {
                    continue;
                }
                let timestamp = message.timestamp().to_millis();
                if !window.wants(consumer, topic, partition, offset, timestamp) {
                    continue;
                }
                if key.is_some_and(|key| message.key() != Some(key)) {
                    ends.consumed(topic, partition, offset);
                    continue;
                }
                writer.append(&message)?;
                ends.consumed(topic, partition, offset);
                if writer.pending_bytes() >= FLUSH_BYTES {
                    writer.flush(consumer)?;
                }
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                // The position tells which topic's partition it is, and sees past a log
                // ending in transaction markers: no waiting for the next tick.
                ends.reached_eof(partition);
                ends.check_positions(consumer);
            }
            Some(Err(err)) => match err.rdkafka_error_code() {
                Some(
                    RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic,
                ) => {
                    return Err(Failure::not_found(format!("consuming: {err}")).into());
                }
                // Retrying cannot help: the ACLs refuse this client the topic or its group.
                Some(code) if kcore::failure::is_authorization_code(code) => {
                    return Err(Failure::denied("cannot consume", err).into());
                }
                // librdkafka would fetch it again forever: stop, and say where it is.
                Some(code) if bad_batch::is_undecodable(code) => {
                    return Err(bad_batch::Undecodable(code).into());
                }
                // Broker failures and the like are retried by librdkafka; -v shows them.
                _ => consumer.context().on_error(err, ""),
            },
        }
    }
}
