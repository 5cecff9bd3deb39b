//! Advertised listeners explained: the bootstrap servers answer, but the brokers they
//! advertise (each broker's `advertised.listeners`) cannot be reached from this machine.
//!
//! A client uses the bootstrap address once, for the cluster's metadata; everything after
//! goes to the addresses the brokers advertise. A broker in a container advertising its
//! container name (the seed tutorial's own mistake), or a port mapped differently outside,
//! makes every tool wait out its timeout with librdkafka's connection errors of brokers
//! the user never named. After the first metadata, each advertised address that is not one
//! of the bootstrap addresses (those are known to work, or are the user's own) is resolved
//! and connected to, all at once and within `--timeout`. None reachable: the tool stops at
//! once with one line naming the bootstrap that answered, each address and why, and what to
//! change. Some unreachable: the tool goes on, and if it fails the line is added under its
//! error. A cluster whose brokers advertise the addresses the user gave costs nothing.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Result;
use rdkafka::metadata::Metadata;

use crate::connection::Connection;
use crate::failure::Failure;

/// Why an advertised address cannot be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    DoesNotResolve(String),
    Refused,
    TimedOut,
    Other(String),
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::DoesNotResolve(detail) => write!(f, "does not resolve ({detail})"),
            Why::Refused => f.write_str("refused the connection"),
            Why::TimedOut => f.write_str("timed out"),
            Why::Other(detail) => f.write_str(detail),
        }
    }
}

/// One advertised broker this machine cannot reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    pub broker: i32,
    pub address: String,
    pub why: Why,
}

/// The note for a tool's error when only some advertised brokers are unreachable.
static PARTIAL: Mutex<Option<String>> = Mutex::new(None);
/// The check runs once a run (tools that fetch metadata again need not repeat it).
static CHECKED: OnceLock<()> = OnceLock::new();

/// The broker a librdkafka log line is about, when it is one the cluster advertised:
/// `broker-1.example:9092/1: Failed to resolve ...` gives `("broker-1.example:9092", 1)`;
/// a bootstrap broker (`.../bootstrap: ...`) gives None.
pub fn advertised_broker(message: &str) -> Option<(String, i32)> {
    // Log lines and errors may begin with the thread's name: `[thrd:NAME]: NAME: ...`.
    let message = match message.strip_prefix("[thrd:") {
        Some(rest) => rest.split_once("]: ").map_or(rest, |(_, after)| after),
        None => message,
    };
    let (name, _) = message.split_once(": ")?;
    let (address, id) = name.rsplit_once('/')?;
    let id: i32 = id.parse().ok()?;
    let address = address.split_once("://").map_or(address, |(_, rest)| rest);
    Some((address.to_string(), id))
}

/// While the metadata cannot be had: when brokers the cluster advertised (so the
/// bootstrap answered) failed to connect, probe them (within what is left of `deadline`);
/// if none can be reached, the error that says so.
pub fn explain_failures(
    conn: &Connection,
    failures: &[(String, i32)],
    deadline: Instant,
) -> Option<anyhow::Error> {
    let bootstrap = bootstrap_addresses(conn);
    let mut to_check: Vec<(i32, String)> = failures
        .iter()
        .filter(|(address, _)| !bootstrap.contains(&address.to_ascii_lowercase()))
        .map(|(address, id)| (*id, address.clone()))
        .collect();
    if to_check.is_empty() {
        return None;
    }
    to_check.sort();
    let left = deadline.saturating_duration_since(Instant::now());
    let unreachable = probe(&to_check, left.max(Duration::from_millis(100)));
    if unreachable.len() < to_check.len() {
        return None;
    }
    let answered = if bootstrap.len() == 1 {
        conn.brokers.clone()
    } else {
        format!("among {}", conn.brokers)
    };
    Some(Failure::unreachable(explain(&answered, &unreachable, true)).into())
}

fn bootstrap_addresses(conn: &Connection) -> Vec<String> {
    conn.brokers
        .split(',')
        .map(|entry| {
            let entry = entry.split_once("://").map_or(entry, |(_, rest)| rest);
            entry.to_ascii_lowercase()
        })
        .collect()
}

/// The note on unreachable advertised brokers, when some were found (see module docs).
pub fn partial_note() -> Option<String> {
    PARTIAL.lock().ok().and_then(|note| note.clone())
}

/// Check the advertised brokers of `metadata` (see module docs): exit 5 when none of them
/// can be reached.
pub fn check(conn: &Connection, metadata: &Metadata) -> Result<()> {
    if CHECKED.set(()).is_err() {
        return Ok(());
    }
    let bootstrap = bootstrap_addresses(conn);
    let advertised: Vec<(i32, String)> = metadata
        .brokers()
        .iter()
        .map(|b| (b.id(), format!("{}:{}", b.host(), b.port())))
        .collect();
    let to_check: Vec<(i32, String)> = advertised
        .iter()
        .filter(|(_, address)| !bootstrap.contains(&address.to_ascii_lowercase()))
        .cloned()
        .collect();
    if to_check.is_empty() {
        return Ok(());
    }
    let unreachable = probe(&to_check, conn.timeout);
    if unreachable.is_empty() {
        return Ok(());
    }
    // librdkafka names the broker that answered `host:port/bootstrap` (or `/ID`).
    let answered = metadata.orig_broker_name();
    let answered = answered.rsplit_once('/').map_or(answered, |(name, _)| name);
    let all = unreachable.len() == advertised.len();
    let line = explain(answered, &unreachable, all);
    if all {
        return Err(Failure::unreachable(line).into());
    }
    if let Ok(mut note) = PARTIAL.lock() {
        *note = Some(line);
    }
    Ok(())
}

/// The one line that says what is wrong and what to change.
pub fn explain(answered: &str, unreachable: &[Unreachable], all: bool) -> String {
    let list: Vec<String> = unreachable
        .iter()
        .map(|u| format!("broker {} at {} {}", u.broker, u.address, u.why))
        .collect();
    let which = if all { "the brokers" } else { "some brokers" };
    format!(
        "the bootstrap server {answered} answered, but {which} it advertises cannot be reached from this machine: {}; \
         set advertised.listeners on {} to a host:port that clients reach (the bootstrap address works from here)",
        list.join("; "),
        if unreachable.len() == 1 { "that broker" } else { "those brokers" }
    )
}

/// Resolve and connect to each address, all at once; what fails and why. Whatever has not
/// answered within `timeout` timed out.
fn probe(addresses: &[(i32, String)], timeout: Duration) -> Vec<Unreachable> {
    let deadline = Instant::now() + timeout;
    let (tx, rx) = mpsc::channel();
    for (broker, address) in addresses {
        let (tx, broker, address) = (tx.clone(), *broker, address.clone());
        // Detached: a lookup that hangs must not hold the tool past its deadline.
        std::thread::spawn(move || {
            let why = reach(&address, deadline);
            let _ = tx.send((broker, address, why));
        });
    }
    drop(tx);
    let mut answered: Vec<(i32, String, Option<Why>)> = Vec::new();
    while answered.len() < addresses.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(result) => answered.push(result),
            Err(_) => break,
        }
    }
    let mut unreachable: Vec<Unreachable> = addresses
        .iter()
        .filter_map(|(broker, address)| {
            let why = match answered
                .iter()
                .find(|(b, a, _)| b == broker && a == address)
            {
                Some((_, _, why)) => why.clone()?,
                None => Why::TimedOut,
            };
            Some(Unreachable {
                broker: *broker,
                address: address.clone(),
                why,
            })
        })
        .collect();
    unreachable.sort_by_key(|u| u.broker);
    unreachable
}

/// `None` when `address` resolves and some address of it accepts a TCP connection.
fn reach(address: &str, deadline: Instant) -> Option<Why> {
    let addrs = match address.to_socket_addrs() {
        Ok(addrs) => addrs.collect::<Vec<_>>(),
        Err(err) => return Some(Why::DoesNotResolve(lookup_error(&err))),
    };
    if addrs.is_empty() {
        return Some(Why::DoesNotResolve("no address".into()));
    }
    let mut why = Why::TimedOut;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(_) => return None,
            Err(err) => {
                why = match err.kind() {
                    std::io::ErrorKind::ConnectionRefused => Why::Refused,
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Why::TimedOut,
                    _ => Why::Other(err.to_string()),
                }
            }
        }
    }
    Some(why)
}

/// The resolver's own words, without Rust's prefix.
fn lookup_error(err: &std::io::Error) -> String {
    let text = err.to_string();
    text.trim_start_matches("failed to lookup address information: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn advertised_brokers_are_told_from_bootstrap_ones() {
        assert_eq!(
            advertised_broker(
                "broker-1.kpipes.invalid:9092/1: Failed to resolve 'x': Name or service not known"
            ),
            Some(("broker-1.kpipes.invalid:9092".into(), 1))
        );
        assert_eq!(
            advertised_broker(
                "sasl_ssl://b:9093/12: Connect to ipv4#1.2.3.4:9093 failed: Connection refused"
            ),
            Some(("b:9093".into(), 12))
        );
        assert_eq!(
            advertised_broker("localhost:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed"),
            None
        );
        assert_eq!(
            advertised_broker(
                "[thrd:b:1/2]: b:1/2: Connect to ipv4#127.0.0.1:1 failed: Connection refused"
            ),
            Some(("b:1".into(), 2))
        );
    }

    #[test]
    fn each_address_gets_its_reason() {
        // A port that refuses: bound, then let go.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let found = probe(
            &[
                (1, "broker-1.kpipes.invalid:9092".into()),
                (2, closed.to_string()),
                (3, open.local_addr().unwrap().to_string()),
            ],
            Duration::from_secs(5),
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(matches!(found[0].why, Why::DoesNotResolve(_)), "{found:?}");
        assert_eq!(found[1].why, Why::Refused);
        let line = explain("localhost:1", &found, false);
        assert!(
            line.contains("broker 1 at broker-1.kpipes.invalid:9092 does not resolve"),
            "{line}"
        );
        assert!(
            line.contains("refused the connection") && line.contains("advertised.listeners"),
            "{line}"
        );
    }
}
