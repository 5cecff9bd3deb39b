//! kprod: stdin to Kafka, with every record's fate accounted for.

pub mod cli;
pub mod delivery;
pub mod input;
pub mod limits;
pub mod status;
pub mod transactional;
pub mod wakeup;

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use kcore::record::{parse_json_record, Loose};
use kcore::schema_registry::Encoder;
use kcore::signals::Interrupt;
use kcore::Failure;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, PurgeConfig};

use cli::{Cli, OnError};
use delivery::{DeliveryContext, Tally};
use input::Chunk;
use status::Counters;

/// How long one wait for delivery reports lasts. rdkafka's `poll` always waits out its
/// timeout (and spins through its last millisecond), so: short, but not too short.
const POLL_SLICE: Duration = Duration::from_millis(5);

/// Producer settings kprod starts from; any `-X` overrides them.
fn producer_defaults(delivery_timeout: Duration) -> Vec<(&'static str, String)> {
    // librdkafka refuses a linger that is not below the delivery timeout.
    let linger = LINGER.min(delivery_timeout / 2);
    vec![
        // Safe: every in-sync replica has the record, and retries never duplicate it.
        ("acks", "all".into()),
        ("enable.idempotence", "true".into()),
        (
            "message.timeout.ms",
            delivery_timeout.as_millis().to_string(),
        ),
        // Batches are sent when full, or at once when kprod asks (see `send_now`).
        ("linger.ms", linger.as_millis().to_string()),
        ("batch.num.messages", "10000".into()),
        // Bounded memory however large the input: the queue pushes back on the reader.
        ("queue.buffering.max.kbytes", "32768".into()),
        // At most 100,000 records (librdkafka's own default). Before kprod compressed, small
        // records needed more (1M x 100 B: 2.37 s at 100k, 1.63 s at 1M) and 250k cost up to
        // 85 MB (101 MB with --transactional); with lz4 batches 100k is as fast (1M x 100 B:
        // 0.61-0.81 s against 0.65-0.82 s at 250k) in 32-42 MB.
        ("queue.buffering.max.messages", "100000".into()),
        // Keyed records land where the Java client (and Kafka Streams) would put them.
        ("partitioner", "murmur2_random".into()),
        // Batches travel and are stored compressed: less for the brokers to write and
        // replicate. lz4 costs the producer little CPU. Delivery is unchanged, and every
        // Kafka client reads lz4. See README, kprod, "Performance" for the measured effect.
        ("compression.type", "lz4".into()),
    ]
}

/// How long librdkafka may hold a batch that is not full. Long on purpose: kprod itself
/// sends what is queued whenever its input pauses, at the end, and when the queue is full
/// (`send_now`). A short linger made librdkafka 2.12's broker threads spin: with idempotence a
/// partition has one request in flight, and the records queued behind it, older than the
/// linger, asked for a wake-up at once on every pass (10 KB records: 1.4-2.5 s of CPU at
/// linger.ms=5 against 0.5-0.7 s at 500 for 300 MB; a full 32 MB queue waits up to ~0.5 s).
const LINGER: Duration = Duration::from_millis(1000);

/// While the send queue is full, how often to send its batches whether full or not.
const FULL_QUEUE_NUDGE: Duration = Duration::from_millis(20);

/// Have librdkafka send every queued record now, full batch or not, and wait up to
/// `wait` (at least 1 ms) for them to be delivered.
fn send_now(producer: &BaseProducer<DeliveryContext>, wait: Duration) {
    // Not rdkafka's `flush`: it calls librdkafka's with a zero timeout, which drops the
    // "flushing" state before the broker threads it wakes get to look at it.
    // SAFETY: a live producer handle; rd_kafka_flush only reads and waits on it.
    unsafe {
        rdkafka::bindings::rd_kafka_flush(
            producer.client().native_ptr(),
            wait.as_millis().max(1) as i32,
        );
    }
}

/// Send what is queued now ([`send_now`]) and serve the reports that are ready, waiting
/// up to `wait` for some if none are: it returns as soon as a report arrives.
fn send_and_serve(producer: &BaseProducer<DeliveryContext>, wait: Duration) {
    // A millisecond is enough for the broker threads to see the "flushing" state.
    send_now(producer, Duration::from_millis(1));
    if !serve_ready(producer) {
        producer.context().wait_for_reports(wait);
        serve_ready(producer);
    }
}

/// Send everything queued and serve the reports until `done()` or `deadline`. One thread
/// holds librdkafka's flush for the whole wait, so that every batch goes out at once, also
/// to a leader whose connection comes up meanwhile (a flush wakes only the brokers already
/// connected, and only while it lasts), while this thread serves each report as it comes.
fn deliver_queued(
    producer: &BaseProducer<DeliveryContext>,
    deadline: Instant,
    done: impl Fn() -> bool,
) {
    if done() {
        return;
    }
    // A raw pointer is not Send; the handle outlives the scope, and librdkafka's flush
    // may run beside this thread's polls (it only waits for the reports to be served).
    let native = producer.client().native_ptr() as usize;
    let flush_ms = deadline
        .saturating_duration_since(Instant::now())
        .as_millis()
        .clamp(1, i32::MAX as u128) as i32;
    std::thread::scope(|scope| {
        // SAFETY: see above.
        scope.spawn(move || unsafe {
            rdkafka::bindings::rd_kafka_flush(native as *mut _, flush_ms);
        });
        while !done() && Instant::now() < deadline {
            if !serve_ready(producer) {
                producer.context().wait_for_reports(POLL_SLICE);
            }
        }
        // The flush ends once every record's report is served, or at the deadline.
    });
}

/// While the send queue stays full, sends its batches now and then whether full or not:
/// with many partitions sharing the queue, each partition's batch may stay small.
struct FullQueueNudge {
    /// Records handed to librdkafka at the last nudge, and when.
    sent_then: u64,
    at: Instant,
}

impl FullQueueNudge {
    fn new() -> Self {
        FullQueueNudge {
            sent_then: 0,
            at: Instant::now(),
        }
    }

    fn nudge_if_due(&mut self, producer: &BaseProducer<DeliveryContext>, sent: u64) {
        if sent > self.sent_then && self.at.elapsed() >= FULL_QUEUE_NUDGE {
            send_now(producer, Duration::from_millis(1));
            self.sent_then = sent;
            self.at = Instant::now();
        }
    }
}

/// librdkafka's own default of `batch.size` and `message.max.bytes`.
const CLIENT_DEFAULT_MAX_BYTES: usize = 1_000_000;

/// How long delivery reports may wait in the buffer while input keeps coming.
const REPORT_INTERVAL: Duration = Duration::from_millis(100);

/// Upper bound of a line kept in memory, relative to the largest record the producer takes.
fn max_line_bytes(message_max_bytes: usize, json: bool) -> usize {
    // JSON with base64 inflates a value by 4/3, plus the record's other fields.
    if json {
        message_max_bytes / 3 * 4 + 1024 * 1024
    } else {
        message_max_bytes + 1024 * 1024
    }
}

/// Parse `-H name=value` flags once.
fn parse_headers(raw: &[String]) -> Result<Vec<(String, Vec<u8>)>> {
    raw.iter()
        .map(|h| match h.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                Ok((name.to_string(), value.as_bytes().to_vec()))
            }
            _ => Err(Failure::usage(format!("bad -H '{h}': expected NAME=VALUE")).into()),
        })
        .collect()
}

/// One record's parts, borrowed from the input line.
struct Parts<'a> {
    key: Option<Cow<'a, [u8]>>,
    value: Option<Cow<'a, [u8]>>,
    partition: Option<i32>,
    timestamp: Option<i64>,
    headers: Option<OwnedHeaders>,
    /// `--json`: where the record came from, as kcons printed it (`--commit-group`).
    source: Source<'a>,
}

/// A `--json` record's own `topic`, `partition` and `offset`, whatever `--ignore-partition` says.
#[derive(Default)]
struct Source<'a> {
    topic: Loose<'a>,
    partition: Option<i32>,
    offset: Loose<'a>,
}

pub fn run(cli: Cli) -> Result<()> {
    if let Some(what) = cli.generate {
        return kcore::generate::generate(cli::cli(), what);
    }
    let topic = cli.topic.clone().unwrap_or_default();
    let connection = cli.connection.resolve()?;
    if !(cli.delivery_timeout.is_finite() && cli.delivery_timeout >= 0.001) {
        return Err(
            Failure::usage("--delivery-timeout must be a positive number of seconds").into(),
        );
    }
    let delivery_timeout = Duration::from_secs_f64(cli.delivery_timeout);
    let fixed_headers = parse_headers(&cli.headers)?;
    if cli.key_delimiter.as_deref() == Some("") {
        return Err(Failure::usage("-K needs a non-empty delimiter").into());
    }

    let transactions = transactional::Settings::from_cli(&cli, &topic)?;
    // Settled before any input is read: a registry that is down stops kprod here (exit 5).
    let encoder = match cli.registry.resolve(&connection)? {
        Some(registry) if cli.json => Some(Encoder::new(registry, &topic, &cli.encode)?),
        Some(_) if cli.encode.any() => {
            return Err(Failure::usage(
                "the schema flags (--value-subject, --value-schema-id, ...) encode --json records: add --json",
            )
            .into())
        }
        None if cli.encode.any() => {
            return Err(Failure::usage(format!(
                "the schema flags (--value-subject, --value-schema-id, ...) need a schema registry: --schema-registry URL or {}",
                kcore::schema_registry::REGISTRY_VAR
            ))
            .into())
        }
        _ => None,
    };
    let interrupt = Interrupt::install()?;
    let counters = Arc::new(Counters::default());
    let mut defaults = producer_defaults(delivery_timeout);
    if let Some(settings) = &transactions {
        defaults.extend(settings.producer_defaults(delivery_timeout));
    }
    let create = |extra: &[(&'static str, String)]| -> Result<BaseProducer<DeliveryContext>> {
        let defaults: Vec<(&str, &str)> = defaults
            .iter()
            .chain(extra)
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        connection.create(
            &defaults,
            DeliveryContext::new(
                &topic,
                connection.verbose,
                !cli.quiet,
                Arc::clone(&counters),
            )
            .holding_reports(transactions.is_some()),
        )
    };
    let create = |extra: &[(&'static str, String)]| -> Result<BaseProducer<DeliveryContext>> {
        let producer = create(extra)?;
        producer.context().attach_wakeup(producer.client());
        Ok(producer)
    };
    let mut producer = create(&[])?;

    let metadata = kcore::metadata::fetch_interruptible(
        producer.client(),
        &connection,
        None,
        &|| producer.poll(Duration::ZERO),
        &interrupt,
    )?;
    let partitions = kcore::metadata::partition_count(&metadata, &topic)?;
    if let Some(p) = cli.partition {
        if p < 0 || p as usize >= partitions {
            return Err(Failure::usage(format!(
                "partition {p} is out of range: topic '{topic}' has {partitions} partition(s), 0-{}",
                partitions - 1
            ))
            .into());
        }
    }

    let message_max_bytes: usize = connection
        .property("message.max.bytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(CLIENT_DEFAULT_MAX_BYTES);
    // The brokers refuse a batch over the topic's limit, and with it every record in it:
    // keep batches within the limit, and refuse a record that alone exceeds it here, as
    // bad input with its line number, so that the others are still delivered.
    let topic_limit =
        limits::topic_max_message_bytes(producer.client(), &topic, connection.timeout);
    if let Some(limit) = topic_limit {
        if connection.property("batch.size").is_none() && limit < CLIENT_DEFAULT_MAX_BYTES {
            producer = create(&[("batch.size", limit.max(1).to_string())])?;
        }
    }
    // With a compression of the user's choice only the brokers can tell what fits (a
    // compressed batch is smaller than its records). With kprod's own default (lz4) records
    // are still held to the topic's limit uncompressed, as they were before it compressed:
    // what kprod refuses does not depend on how well the data compresses.
    let compressed = ["compression.type", "compression.codec"]
        .iter()
        .any(|key| connection.property(key).is_some_and(|v| v != "none"));
    let record_limit = topic_limit.filter(|_| !compressed);
    let chunks = input::spawn_reader(
        std::io::stdin(),
        max_line_bytes(message_max_bytes, cli.json),
    );
    let mut tally = Tally::default();
    let mut interrupted = false;
    let mut stop = false;
    let mut reported_at = Instant::now();
    let mut full_queue = FullQueueNudge::new();
    // Lines typed at the terminal, or reports printed on it, would be garbled by a line
    // redrawn under them: there progress shows only when asked for.
    let data_on_terminal =
        std::io::stdin().is_terminal() || (!cli.quiet && std::io::stdout().is_terminal());
    let progress = status::start(cli.progress.mode(data_on_terminal), &counters);
    let (mut lines_read, mut bytes_read) = (0u64, 0u64);
    if let Some(settings) = transactions {
        let copy = transactional::Copy {
            producer: &producer,
            cli: &cli,
            topic: &topic,
            partitions,
            record_limit,
            fixed_headers: &fixed_headers,
            message_max_bytes,
            delivery_timeout,
            interrupt: &interrupt,
            counters: &counters,
            encoder: encoder.as_ref(),
        };
        let outcome = copy.run(&settings, chunks, &mut tally);
        progress.finish(|elapsed| status::summary(&counters, elapsed));
        return outcome;
    }

    'input: while !stop {
        if interrupt.requested() {
            interrupted = true;
            break;
        }
        let next = loop {
            match chunks.try_recv() {
                Ok(chunk) => break Ok(chunk),
                Err(TryRecvError::Disconnected) => break Err(RecvTimeoutError::Disconnected),
                // The input pauses with records not yet delivered: they go out now, not at
                // linger, while kprod waits for more input.
                Err(TryRecvError::Empty)
                    if tally.sent > producer.context().reports() && !interrupt.requested() =>
                {
                    send_and_serve(&producer, POLL_SLICE);
                    // Some records may take long (retries): the others' reports go out.
                    if reported_at.elapsed() >= REPORT_INTERVAL {
                        producer.context().flush_reports();
                        reported_at = Instant::now();
                    }
                }
                Err(TryRecvError::Empty) => {
                    producer.context().flush_reports();
                    break chunks.recv_timeout(Duration::from_millis(100));
                }
            }
        };
        let chunk = match next {
            Ok(chunk) => chunk,
            Err(RecvTimeoutError::Timeout) => {
                producer.poll(Duration::ZERO);
                producer.context().flush_reports();
                reported_at = Instant::now();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let (data, first_line) = match chunk {
            Chunk::Lines { data, first_line } => (data, first_line),
            Chunk::TooLong { line, bytes } => {
                (lines_read, bytes_read) = (line, bytes_read + bytes);
                counters.publish(lines_read, bytes_read, tally.sent);
                tally.bad_line(line, &format!("line of {bytes} bytes is longer than any record the producer may send (message.max.bytes={message_max_bytes})"));
                stop = cli.on_error == OnError::Stop;
                continue;
            }
            Chunk::Failed(err) => {
                producer.poll(Duration::ZERO);
                finish(&producer, &mut tally, delivery_timeout);
                return Err(anyhow::Error::new(err).context("reading stdin"));
            }
        };
        bytes_read += data.len() as u64;
        for (line_no, line) in input::lines(&data, first_line) {
            lines_read = line_no;
            if interrupt.requested() {
                interrupted = true;
                break 'input;
            }
            let parts = if cli.json {
                match json_parts(line, &cli, partitions, encoder.as_ref()) {
                    Ok(parts) => parts,
                    Err(why) => {
                        tally.bad_line(line_no, &why);
                        if cli.on_error == OnError::Stop {
                            stop = true;
                            break;
                        }
                        continue;
                    }
                }
            } else {
                line_parts(line, &cli)
            };
            let mut parts = match complete(parts, &cli, &fixed_headers, record_limit, &topic) {
                Ok(parts) => parts,
                Err(why) => {
                    tally.bad_line(line_no, &why);
                    if cli.on_error == OnError::Stop {
                        stop = true;
                        break;
                    }
                    continue;
                }
            };
            let record = base_record(&topic, line_no, &mut parts, cli.partition);
            tally.sent += 1;
            if let Err(rejection) = send(
                &producer,
                record,
                (&mut full_queue, tally.sent),
                &interrupt,
                message_max_bytes,
            ) {
                tally.sent -= 1;
                match rejection {
                    Rejected::Input(why) => {
                        tally.bad_line(line_no, &why);
                        if cli.on_error == OnError::Stop {
                            stop = true;
                            break;
                        }
                    }
                    Rejected::Failed(why) => tally.not_sent(line_no, &why),
                    Rejected::Interrupted => {
                        interrupted = true;
                        break 'input;
                    }
                }
            }
        }
        counters.publish(lines_read, bytes_read, tally.sent);
        serve_ready(&producer);
        // Input that keeps coming must not hold the reports back (`kprod t | jq` is live).
        if reported_at.elapsed() >= REPORT_INTERVAL {
            producer.context().flush_reports();
            reported_at = Instant::now();
        }
    }

    counters.publish(lines_read, bytes_read, tally.sent);
    finish(&producer, &mut tally, delivery_timeout);
    progress.finish(|elapsed| status::summary(&counters, elapsed));
    if let Some(denied) = tally.denied.take() {
        tally.denied =
            Some(Failure::denied(format!("cannot write to topic '{topic}'"), denied).message);
    }
    // Every record has its verdict and every report is written: destroying the producer
    // now (joining librdkafka's threads, closing connections) would only delay the exit,
    // by about 4 ms for one record, 1/4 of its run. The system reclaims it all at exit.
    std::mem::forget(producer);
    tally.conclude(interrupted)
}

/// A record's parts with the `-H` headers added and `-Z` applied, or why the topic would
/// refuse it (larger than its `max.message.bytes`).
fn complete<'a>(
    mut parts: Parts<'a>,
    cli: &Cli,
    fixed_headers: &[(String, Vec<u8>)],
    record_limit: Option<usize>,
    topic: &str,
) -> Result<Parts<'a>, String> {
    parts.headers = match (parts.headers.take(), fixed_headers.is_empty()) {
        (Some(headers), _) => Some(with_fixed_headers(headers, fixed_headers)),
        (None, false) => Some(with_fixed_headers(OwnedHeaders::new(), fixed_headers)),
        (None, true) => None,
    };
    if cli.null_empty && parts.value.as_deref().is_some_and(<[u8]>::is_empty) {
        parts.value = None;
    }
    if let Some(limit) = record_limit {
        let header_sizes = parts
            .headers
            .iter()
            .flat_map(|h| h.iter())
            .map(|h| (h.key, h.value.map_or(0, <[u8]>::len)));
        let size = limits::record_batch_bytes(
            parts.key.as_deref().map_or(0, <[u8]>::len),
            parts.value.as_deref().map_or(0, <[u8]>::len),
            header_sizes,
        );
        if size > limit {
            return Err(format!("record too large: about {size} bytes with its framing, topic '{topic}' takes at most {limit} (max.message.bytes)"));
        }
    }
    Ok(parts)
}

/// The record to hand to librdkafka (its headers taken from `parts`), its opaque being the
/// input line number; `-p` wins over the record's own partition.
fn base_record<'a>(
    topic: &'a str,
    line_no: u64,
    parts: &'a mut Parts<'_>,
    fixed_partition: Option<i32>,
) -> BaseRecord<'a, [u8], [u8], usize> {
    let Parts {
        key,
        value,
        partition,
        timestamp,
        headers,
        ..
    } = parts;
    let mut record: BaseRecord<'a, [u8], [u8], usize> =
        BaseRecord::with_opaque_to(topic, line_no as usize);
    record.headers = headers.take();
    let (key, value): (&'a _, &'a _) = (key, value);
    record.key = key.as_deref();
    record.payload = value.as_deref();
    record.partition = fixed_partition.or(*partition);
    record.timestamp = *timestamp;
    record
}

/// Split a plain line into key and value as the flags say.
fn line_parts<'a>(line: &'a [u8], cli: &'a Cli) -> Parts<'a> {
    let (key, value) = match &cli.key_delimiter {
        Some(delim) => match memchr::memmem::find(line, delim.as_bytes()) {
            Some(at) => (Some(&line[..at]), &line[at + delim.len()..]),
            None => (None, line),
        },
        None => (cli.key.as_deref().map(str::as_bytes), line),
    };
    Parts {
        key: key.map(Cow::Borrowed),
        value: Some(Cow::Borrowed(value)),
        partition: None,
        timestamp: None,
        headers: None,
        source: Source::default(),
    }
}

/// What a `--json` line that is not a record is told (a JSON document meant as the value).
pub const NOT_A_RECORD: &str = "--json reads records as kcons prints them \
({\"key\":...,\"value\":\"...\"}); to send each line (a JSON document) as the value, leave out --json";

/// How a `--json` record's partition the topic does not have begins (they are counted,
/// and told once: see [`delivery::Tally::bad_line`]).
pub const NO_SUCH_PARTITION: &str = "the topic has no partition ";

/// Decode a `--json` line, or say what is wrong with it.
fn json_parts<'a>(
    line: &'a [u8],
    cli: &Cli,
    partitions: usize,
    encoder: Option<&Encoder>,
) -> Result<Parts<'a>, String> {
    let record = match encoder {
        Some(encoder) => encoder.parse_record(line)?,
        None => parse_json_record(line).map_err(|why| {
            // A JSON document meant as the value, not a record as kcons prints it.
            if why.starts_with("invalid JSON") {
                why
            } else {
                format!("{why}: {NOT_A_RECORD}")
            }
        })?,
    };
    let partition = if cli.ignore_partition {
        None
    } else {
        record.partition
    };
    if let Some(p) = partition {
        if p as usize >= partitions {
            return Err(format!(
                "{NO_SUCH_PARTITION}{p}: the topic has {partitions} partition(s), 0-{}",
                partitions - 1
            ));
        }
    }
    let headers = record.headers.map(|list| {
        list.iter()
            .fold(OwnedHeaders::new_with_capacity(list.len()), |headers, h| {
                headers.insert(Header {
                    key: &h.key,
                    value: h.value.as_deref(),
                })
            })
    });
    let source = Source {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
    };
    Ok(Parts {
        key: record.key.0,
        value: record.value.0,
        source,
        partition,
        timestamp: if cli.ignore_timestamp {
            None
        } else {
            record.timestamp
        },
        headers,
    })
}

/// Headers from the record (or none) followed by the `-H` ones.
fn with_fixed_headers(headers: OwnedHeaders, fixed: &[(String, Vec<u8>)]) -> OwnedHeaders {
    fixed.iter().fold(headers, |headers, (name, value)| {
        headers.insert(Header {
            key: name,
            value: Some(value.as_slice()),
        })
    })
}

enum Rejected {
    /// The record itself cannot be sent (too large, no such partition): bad input.
    Input(String),
    /// librdkafka refused it for another reason (e.g. a fatal producer error).
    Failed(String),
    Interrupted,
}

/// Queue one record (the `sent`th), waiting (and serving delivery reports) while the
/// queue is full.
fn send(
    producer: &BaseProducer<DeliveryContext>,
    mut record: BaseRecord<'_, [u8], [u8], usize>,
    nudging: (&mut FullQueueNudge, u64),
    interrupt: &Interrupt,
    message_max_bytes: usize,
) -> Result<(), Rejected> {
    let (full_queue, sent) = nudging;
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                if interrupt.requested() {
                    return Err(Rejected::Interrupted);
                }
                record = back;
                full_queue.nudge_if_due(producer, sent);
                // Delivery reports free queue space; when none are ready yet, wait for
                // the next (rdkafka's own poll would wait out a whole timeout).
                if !serve_ready(producer) {
                    producer
                        .context()
                        .wait_for_reports(Duration::from_millis(1));
                }
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), back)) => {
                let size = back.payload.map_or(0, <[u8]>::len) + back.key.map_or(0, <[u8]>::len);
                return Err(Rejected::Input(format!(
                    "record too large: {size} bytes of key and value, the producer sends at most \
                     {message_max_bytes} with its framing (message.max.bytes; -X message.max.bytes=N raises it)"
                )));
            }
            Err((KafkaError::MessageProduction(code @ RDKafkaErrorCode::UnknownPartition), _)) => {
                return Err(Rejected::Input(format!("no such partition ({code})")));
            }
            Err((err, _)) => return Err(Rejected::Failed(err.to_string())),
        }
    }
}

/// Handle every delivery report that is ready, without waiting. True if there was any.
fn serve_ready(producer: &BaseProducer<DeliveryContext>) -> bool {
    let start = producer.context().reports();
    loop {
        let before = producer.context().reports();
        producer.poll(Duration::ZERO);
        if producer.context().reports() == before {
            return before != start;
        }
    }
}

/// Wait for every queued record's delivery report, bounded by the delivery timeout;
/// whatever is still without a report afterwards counts as not delivered.
fn finish(producer: &BaseProducer<DeliveryContext>, tally: &mut Tally, delivery_timeout: Duration) {
    // Not `producer.flush`: it polls in 100 ms slices that each last the full 100 ms, which
    // would add up to 100 ms to every run. Nor `in_flight_count`: librdkafka's out-queue
    // length also counts protocol requests (producer id, metadata), so it can stay above
    // zero after every record has its report. Our own count of reports is exact.
    let awaiting = |producer: &BaseProducer<DeliveryContext>| {
        tally.sent.saturating_sub(producer.context().reports())
    };
    let deadline = Instant::now() + delivery_timeout + Duration::from_secs(5);
    deliver_queued(producer, deadline, || awaiting(producer) == 0);
    if awaiting(producer) > 0 {
        // Still no verdict: give up on them, which yields a report naming each one's line.
        producer.purge(PurgeConfig::default().queue().inflight());
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while awaiting(producer) > 0 && std::time::Instant::now() < deadline {
            producer.poll(POLL_SLICE);
        }
    }
    serve_ready(producer);
    tally.absorb(producer.context());
    tally.still_queued = tally.sent.saturating_sub(tally.delivered + tally.failed);
    // The ACLs refused the producer (the idempotent producer's id needs a right to write).
    let fatal = producer.client().fatal_error();
    if let Some((code, why)) =
        fatal.filter(|(code, _)| kcore::failure::is_authorization_code(*code))
    {
        tally.denied.get_or_insert(format!("{code}: {why}"));
    }
}
