//! Cluster metadata with a bounded wait and a clear message when nobody answers.

use std::time::{Duration, Instant};

use anyhow::Result;
use rdkafka::client::Client;
use rdkafka::metadata::Metadata;

use crate::connection::Connection;
use crate::context::{QuietContext, Refusal};
use crate::failure::Failure;
use crate::signals::Interrupt;

/// Fetch metadata (for one topic, or all), failing with exit code 5 and one line
/// naming the brokers and librdkafka's last complaint when they cannot be reached.
pub fn fetch<C>(client: &Client<C>, conn: &Connection, topic: Option<&str>) -> Result<Metadata>
where
    C: rdkafka::ClientContext + AsRef<QuietContext>,
{
    fetch_serving(client, conn, topic, &|| {})
}

/// [`fetch`], calling `serve` between attempts: librdkafka delivers its log lines
/// and errors only when the client is polled, and the error message needs them.
pub fn fetch_serving<C>(
    client: &Client<C>,
    conn: &Connection,
    topic: Option<&str>,
    serve: &dyn Fn(),
) -> Result<Metadata>
where
    C: rdkafka::ClientContext + AsRef<QuietContext>,
{
    fetch_loop(client, conn, topic, serve, None)
}

/// [`fetch_serving`] that gives up at SIGINT or SIGTERM (exit 130), for the tools that
/// handle those signals themselves: a Ctrl-C while the brokers do not answer must not
/// wait out `--timeout`.
pub fn fetch_interruptible<C>(
    client: &Client<C>,
    conn: &Connection,
    topic: Option<&str>,
    serve: &dyn Fn(),
    interrupt: &Interrupt,
) -> Result<Metadata>
where
    C: rdkafka::ClientContext + AsRef<QuietContext>,
{
    fetch_loop(client, conn, topic, serve, Some(interrupt))
}

/// Polls of the client between two attempts: rdkafka's poll serves one queued event a
/// call, and with `-vv` librdkafka queues hundreds of lines in half a second. An empty
/// queue makes a poll return at once, so the spare calls cost next to nothing.
const SERVES_PER_ATTEMPT: usize = 1_000;

fn fetch_loop<C>(
    client: &Client<C>,
    conn: &Connection,
    topic: Option<&str>,
    serve: &dyn Fn(),
    interrupt: Option<&Interrupt>,
) -> Result<Metadata>
where
    C: rdkafka::ClientContext + AsRef<QuietContext>,
{
    let deadline = Instant::now() + conn.timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.fetch_metadata(topic, left.min(Duration::from_millis(500))) {
            Ok(metadata) => return Ok(metadata),
            Err(err) => {
                for _ in 0..SERVES_PER_ATTEMPT {
                    serve();
                }
                if interrupt.is_some_and(Interrupt::requested) {
                    return Err(Failure::interrupted(format!(
                        "interrupted while waiting for the brokers {} (from {})",
                        conn.brokers, conn.brokers_source
                    ))
                    .into());
                }
                let quiet: &QuietContext = AsRef::<QuietContext>::as_ref(&**client.context());
                // Refused TLS or credentials stay refused: say so at once.
                if let Some(refusal) = quiet.refusal() {
                    return Err(refused(conn, refusal));
                }
                if Instant::now() < deadline {
                    continue;
                }
                let why = quiet.last_error().unwrap_or_else(|| err.to_string());
                return Err(Failure::unreachable(format!(
                    "cannot reach the brokers {} (from {}) within {:.0?}: {}{}",
                    conn.brokers,
                    conn.brokers_source,
                    conn.timeout,
                    conn.redact(&why),
                    plaintext_hint(conn, &why)
                ))
                .into());
            }
        }
    }
}

/// The error for brokers that refused this client's TLS (exit 5: they cannot be reached
/// this way) or its SASL credentials (exit 10: not authorized).
fn refused(conn: &Connection, refusal: Refusal) -> anyhow::Error {
    match refusal {
        Refusal::Authentication(why) => Failure::not_authorized(format!(
            "authentication failed: the brokers {} (from {}) refused the user's credentials (sasl.username, sasl.password): {}",
            conn.brokers,
            conn.brokers_source,
            conn.redact(&why)
        ))
        .into(),
        Refusal::Tls(why) => Failure::unreachable(format!(
            "TLS handshake with the brokers {} (from {}) failed: {}",
            conn.brokers,
            conn.brokers_source,
            conn.redact(&why)
        ))
        .into(),
    }
}

/// A broker that hangs up on a plaintext client before answering its first request is
/// most often a TLS listener.
fn plaintext_hint(conn: &Connection, why: &str) -> &'static str {
    let plaintext = conn.property("security.protocol").is_none_or(|p| {
        p.eq_ignore_ascii_case("plaintext") || p.eq_ignore_ascii_case("sasl_plaintext")
    });
    if plaintext && why.contains("in state APIVERSION_QUERY") && why.contains("Disconnected") {
        " (the brokers hung up before answering: does the listener want TLS? -X security.protocol=ssl or sasl_ssl)"
    } else {
        ""
    }
}

/// The partition count of `topic`, from metadata of all topics (asking for one
/// topic by name can make a broker with auto-creation create it).
pub fn partition_count(metadata: &Metadata, topic: &str) -> Result<usize> {
    let found = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none());
    match found {
        Some(t) if !t.partitions().is_empty() => Ok(t.partitions().len()),
        _ => Err(Failure::not_found(format!(
            "topic '{topic}' does not exist (kpipes never creates topics: `ktopic create {topic}`)"
        ))
        .into()),
    }
}

/// Why `partition` is not one of the `partitions` of a topic (0 to partitions-1), or None
/// if it is; the topic is named when given.
pub fn partition_out_of_range(
    partition: i32,
    partitions: usize,
    topic: Option<&str>,
) -> Option<String> {
    if usize::try_from(partition).is_ok_and(|p| p < partitions) {
        return None;
    }
    let topic = topic.map_or_else(|| "the topic".to_string(), |t| format!("topic '{t}'"));
    Some(format!(
        "partition {partition} is out of range: {topic} has {partitions} partition(s), 0-{}",
        partitions.saturating_sub(1)
    ))
}

/// A partition asked for on the command line must be one of the topic's (exit 2).
pub fn check_partition(topic: &str, partition: i32, partitions: usize) -> Result<()> {
    match partition_out_of_range(partition, partitions, Some(topic)) {
        Some(why) => Err(Failure::usage(why).into()),
        None => Ok(()),
    }
}
