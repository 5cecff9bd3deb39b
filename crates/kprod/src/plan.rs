//! What a run will do, settled before any input is read: the flags checked, the encoder
//! (a schema registry that is down stops kprod here, exit 5), the producer's settings,
//! and then, once connected, what the topic itself allows ([`Plan::fit_to_topic`]).

use std::time::Duration;

use anyhow::Result;
use kcore::schema_registry::Encoder;
use kcore::{Connection, Failure};

use crate::cli::{Cli, OnError};

use crate::record::Rules;
use crate::transactional;

/// How long librdkafka may hold a batch that is not full. Long on purpose: kprod itself
/// sends what is queued whenever its input pauses, at the end, and when the queue is full
/// (`Sender::send_and_serve`). A short linger made librdkafka 2.12's broker threads spin:
/// with idempotence a partition has one request in flight, and the records queued behind
/// it, older than the linger, asked for a wake-up at once on every pass (BENCHMARKS.md,
/// "kprod: linger").
const LINGER: Duration = Duration::from_millis(1000);

/// librdkafka's own default of `batch.size` and `message.max.bytes`.
const CLIENT_DEFAULT_MAX_BYTES: usize = 1_000_000;

pub struct Plan {
    pub connection: Connection,
    pub delivery_timeout: Duration,
    /// `--transactional`, or None.
    pub transactions: Option<transactional::Settings>,
    pub encoder: Option<Encoder>,
    /// How lines become records (completed by [`Plan::fit_to_topic`]).
    pub rules: Rules,
    /// `-p`.
    pub fixed_partition: Option<i32>,
    pub on_error: OnError,
    /// Producer settings kprod starts from; any `-X` overrides them.
    pub producer_settings: Vec<(&'static str, String)>,
    /// The producer's `message.max.bytes`.
    pub message_max_bytes: usize,
}

impl Plan {
    /// Check the flags and settle the encoder and the producer's settings.
    pub fn settle(cli: &Cli) -> Result<Plan> {
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
        let transactions = transactional::Settings::from_cli(cli, &topic)?;
        let encoder = encoder(cli, &connection, &topic)?;
        let mut producer_settings = producer_defaults(delivery_timeout);
        if let Some(settings) = &transactions {
            producer_settings.extend(settings.producer_defaults(delivery_timeout));
        }
        let message_max_bytes: usize = connection
            .property("message.max.bytes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(CLIENT_DEFAULT_MAX_BYTES);
        let rules = Rules {
            json: cli.json,
            key_delimiter: cli.key_delimiter.clone(),
            key: cli.key.clone(),
            fixed_headers,
            null_empty: cli.null_empty,
            ignore_partition: cli.ignore_partition,
            ignore_timestamp: cli.ignore_timestamp,
            source_position: transactions.as_ref().is_some_and(|t| t.group.is_some()),
            topic,
            partitions: 0,
            record_limit: None,
        };
        Ok(Plan {
            connection,
            delivery_timeout,
            transactions,
            encoder,
            rules,
            fixed_partition: cli.partition,
            on_error: cli.on_error,
            producer_settings,
            message_max_bytes,
        })
    }

    /// The codec the user named (`-X compression.type=...`, or the older
    /// `compression.codec`); without one it is kprod's to pick ([`crate::compression`]).
    pub fn codec_named(&self) -> Option<&str> {
        ["compression.type", "compression.codec"]
            .iter()
            .find_map(|key| self.connection.property(key))
    }

    /// Upper bound of a line kept in memory, relative to the largest record the producer takes.
    pub fn max_line_bytes(&self) -> usize {
        // JSON with base64 inflates a value by 4/3, plus the record's other fields.
        if self.rules.json {
            self.message_max_bytes / 3 * 4 + 1024 * 1024
        } else {
            self.message_max_bytes + 1024 * 1024
        }
    }

    /// Take in the topic's partitions and its record size limit (`topic_limit`, as
    /// [`crate::limits::topic_max_message_bytes`] read it); true if the producer must be made
    /// again with the extra settings now in the plan (`batch.size` within the limit).
    pub fn fit_to_topic(&mut self, partitions: usize, topic_limit: Option<usize>) -> Result<bool> {
        let topic = &self.rules.topic;
        if let Some(p) = self.fixed_partition {
            kcore::metadata::check_partition(topic, p, partitions)?;
        }
        self.rules.partitions = partitions;
        // The brokers refuse a batch over the topic's limit, and with it every record in it:
        // keep batches within the limit, and refuse a record that alone exceeds it here, as
        // bad input with its line number, so that the others are still delivered.
        let connection = &self.connection;
        // With a compression of the user's choice only the brokers can tell what fits (a
        // compressed batch is smaller than its records). With kprod's own default (lz4)
        // records are still held to the topic's limit uncompressed, as they were before it
        // compressed: what kprod refuses does not depend on how well the data compresses.
        let compressed = self.codec_named().is_some_and(|codec| codec != "none");
        self.rules.record_limit = topic_limit.filter(|_| !compressed);
        match topic_limit {
            Some(limit)
                if connection.property("batch.size").is_none()
                    && limit < CLIENT_DEFAULT_MAX_BYTES =>
            {
                (self.producer_settings).push(("batch.size", limit.max(1).to_string()));
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// The encoder for `--json` records (a schema registry, local .proto files), if any.
fn encoder(cli: &Cli, connection: &Connection, topic: &str) -> Result<Option<Encoder>> {
    Encoder::from_args(
        cli.json,
        &cli.registry,
        &cli.proto,
        &cli.encode,
        connection,
        topic,
    )
}

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
        // Batches are sent when full, or at once when kprod asks (see `Sender`).
        ("linger.ms", linger.as_millis().to_string()),
        ("batch.num.messages", "10000".into()),
        // Bounded memory however large the input: the queue pushes back on the reader.
        ("queue.buffering.max.kbytes", "32768".into()),
        // At most 100,000 records (librdkafka's own default): with lz4 batches as fast as
        // more, in less memory (BENCHMARKS.md, "kprod: send queue").
        ("queue.buffering.max.messages", "100000".into()),
        // Keyed records land where the Java client (and Kafka Streams) would put them.
        ("partitioner", "murmur2_random".into()),
        // Batches travel and are stored compressed: less for the brokers to write and
        // replicate. lz4 costs the producer little CPU. Delivery is unchanged, and every
        // Kafka client reads lz4. See README, kprod, "Performance" for the measured effect.
        ("compression.type", "lz4".into()),
    ]
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
