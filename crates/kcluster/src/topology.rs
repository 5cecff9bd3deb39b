//! Which ports each node of a cluster listens on, and whether a port can be taken.
//!
//! The `default` cluster uses the seed's ports, on both backends: broker N listens for
//! clients on 19092 + 10000·N (29092, 39092, 49092) and, in KRaft mode, for its fellow
//! controllers on the next port (29093, ...); ZooKeeper node N serves clients on
//! 12181 + 10000·N (22181, 32181, 42181) and talks to its ensemble on 12888 + 10000·N
//! (quorum) and 13888 + 10000·N (leader election).
//!
//! Named clusters get free ports, chosen once and kept in `cluster.json`, from *below*
//! the kernel's ephemeral port range (Linux: 32768-60999). A port inside that range can
//! be handed to any client as its source port while the node is down, and a broker
//! restarted then fails with "Address already in use" (see `kcore::self_connection`).
//! The seed's 39092 and 49092 lie inside it, so before a node is launched its ports
//! are checked ([`wait_until_free`]), and a node that still loses the race is
//! relaunched (local backend).

use std::fs;
use std::net::TcpListener;
use std::time::Duration;

use anyhow::{Context, Result};
use kcore::Failure;

use crate::budget::Budget;

/// The highest broker id the default cluster has ports for (59092 is the last below 65535).
pub const DEFAULT_MAX_BROKERS: u32 = 4;

/// Client port and controller port of broker `id` in the default cluster.
pub fn default_broker_ports(id: u32) -> Option<(u16, u16)> {
    (1..=DEFAULT_MAX_BROKERS)
        .contains(&id)
        .then(|| (19_092 + 10_000 * id) as u16)
        .map(|port| (port, port + 1))
}

/// Client, quorum and election port of ZooKeeper node `id` in the default cluster
/// (compose/zookeeper.yml publishes the same client ports).
pub fn default_zookeeper_ports(id: u32) -> (u16, u16, u16) {
    let base = (10_000 * id) as u16;
    (base + 12_181, base + 12_888, base + 13_888)
}

/// Client and controller port of every broker of a new cluster.
pub fn broker_ports(cluster: &str, brokers: u32) -> Result<Vec<(u16, u16)>> {
    if cluster == "default" {
        (1..=brokers)
            .map(|id| {
                default_broker_ports(id).ok_or_else(|| {
                    Failure::usage(format!(
                        "the default cluster has fixed ports for at most {DEFAULT_MAX_BROKERS} brokers; use --name for more"
                    ))
                    .into()
                })
            })
            .collect()
    } else {
        Ok(free_ports(2 * brokers as usize)?
            .chunks(2)
            .map(|pair| (pair[0], pair[1]))
            .collect())
    }
}

/// The default cluster's schema registry: HTTP and management port (below the ephemeral range).
pub const DEFAULT_REGISTRY_PORTS: (u16, u16) = (28_081, 28_082);

/// HTTP and management port of a new cluster's schema registry (`up --schema-registry`).
pub fn registry_ports(cluster: &str) -> Result<(u16, u16)> {
    if cluster == "default" {
        Ok(DEFAULT_REGISTRY_PORTS)
    } else {
        let ports = free_ports(2)?;
        Ok((ports[0], ports[1]))
    }
}

/// Client, quorum and election port of every ZooKeeper node of a new cluster.
pub fn zookeeper_ports(cluster: &str, nodes: u32) -> Result<Vec<(u16, u16, u16)>> {
    if cluster == "default" {
        Ok((1..=nodes).map(default_zookeeper_ports).collect())
    } else {
        Ok(free_ports(3 * nodes as usize)?
            .chunks(3)
            .map(|p| (p[0], p[1], p[2]))
            .collect())
    }
}

/// Every port of the default cluster, which named clusters never take.
fn is_default_port(port: u16) -> bool {
    port == DEFAULT_REGISTRY_PORTS.0
        || port == DEFAULT_REGISTRY_PORTS.1
        || (1..=DEFAULT_MAX_BROKERS).any(|id| {
            let (client, controller) = default_broker_ports(id).unwrap_or_default();
            let (zk, quorum, election) = default_zookeeper_ports(id);
            [client, controller, zk, quorum, election].contains(&port)
        })
}

/// Where free ports are looked for: below the ephemeral range if there is room, else above it.
fn port_search_range() -> Option<std::ops::Range<u16>> {
    const LOWEST: u16 = 10_000;
    let (low, high) = ephemeral_range().unwrap_or((32_768, 60_999));
    if low >= LOWEST + 1_000 {
        Some(LOWEST..low)
    } else if high <= 64_000 {
        Some(high + 1..u16::MAX)
    } else {
        None
    }
}

/// The kernel's ephemeral port range (`/proc/sys/net/ipv4/ip_local_port_range`).
pub fn ephemeral_range() -> Option<(u16, u16)> {
    let text = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut parts = text.split_whitespace().map(|p| p.parse::<u16>().ok());
    Some((parts.next()??, parts.next()??))
}

/// `count` distinct free loopback ports outside the ephemeral range (see the module doc).
pub fn free_ports(count: usize) -> Result<Vec<u16>> {
    // Hold every listener until all are chosen, so the same port is never handed out twice.
    let mut held = Vec::with_capacity(count);
    if let Some(range) = port_search_range() {
        let span = u32::from(range.end - range.start);
        // A different starting point each time, so that clusters made one after another
        // (and by parallel test runs) rarely try the same ports.
        let start = random_u32() % span;
        for step in 0..span {
            if held.len() == count {
                break;
            }
            let port = range.start + ((start + step) % span) as u16;
            if is_default_port(port) {
                continue;
            }
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
                held.push(listener);
            }
        }
    }
    // No room outside the ephemeral range (an unusual system setting): any free port.
    while held.len() < count {
        held.push(TcpListener::bind("127.0.0.1:0").context("finding free ports")?);
    }
    held.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

fn random_u32() -> u32 {
    kcore::random::u32().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        nanos ^ std::process::id()
    })
}

/// Who keeps a port from being listened on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortUse {
    /// Nothing: a server can bind it now.
    Free,
    /// Only connections (established, closing, or in TIME_WAIT for up to 60 s): they end by
    /// themselves.
    Connections,
    /// A server listens on it; the program, where it can be found.
    Listener(Option<String>),
}

/// Whether a server could listen on `127.0.0.1:port` now, as a broker does (with
/// SO_REUSEADDR, which Rust's and Java's listeners both set), and if not, who holds it.
pub fn port_use(port: u16) -> PortUse {
    if TcpListener::bind(("127.0.0.1", port)).is_ok() {
        return PortUse::Free;
    }
    let sockets = tcp_sockets_on(port);
    match sockets.iter().find(|s| s.listening) {
        Some(listener) => PortUse::Listener(process_of_socket(listener.inode)),
        // Not in our view of the tables (another network namespace, or a race with its end):
        // treat it like a connection that will go.
        None => PortUse::Connections,
    }
}

struct TcpSocket {
    listening: bool,
    inode: u64,
}

/// The TCP sockets (IPv4 and IPv6) whose local port is `port`, from /proc/net/tcp{,6}.
fn tcp_sockets_on(port: u16) -> Vec<TcpSocket> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit_once(':')
                .and_then(|(_, hex)| u16::from_str_radix(hex, 16).ok());
            if local_port == Some(port) {
                found.push(TcpSocket {
                    listening: *state == "0A",
                    inode: inode.parse().unwrap_or(0),
                });
            }
        }
    }
    found
}

/// `name (pid N)` of the process holding socket `inode`, when this user may see it.
fn process_of_socket(inode: u64) -> Option<String> {
    if inode == 0 {
        return None;
    }
    let target = format!("socket:[{inode}]");
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == target.as_str())
        });
        if holds {
            let name = fs::read_to_string(entry.path().join("comm"))
                .map(|c| c.trim().to_string())
                .unwrap_or_else(|_| "a process".into());
            return Some(format!("{name} (pid {pid})"));
        }
    }
    None
}

/// Wait, within `budget`, until every port in `ports` can be listened on. A port held
/// only by connections is waited for (a TIME_WAIT ends within 60 s); a port another
/// server listens on is an error at once, naming the program where it can be found.
/// `node` names the node in messages ("broker 2").
pub fn wait_until_free(node: &str, ports: &[u16], budget: Budget) -> Result<()> {
    let mut said = false;
    let since = std::time::Instant::now();
    loop {
        let mut busy = None;
        for &port in ports {
            match port_use(port) {
                PortUse::Free => continue,
                PortUse::Listener(Some(holder)) => {
                    return Err(Failure::environment(format!(
                        "{node} cannot listen on port {port}: another program listens on it: \
                         {holder}; stop it, or run this cluster under another --name (named \
                         clusters get free ports)"
                    ))
                    .into());
                }
                // A listener of no process we can see: one that is exiting (a killed JVM
                // closes its files after its main thread is gone), or another user's. Wait;
                // the message at the deadline says what to look at.
                PortUse::Listener(None) | PortUse::Connections => {
                    busy = Some(port);
                    break;
                }
            }
        }
        let Some(port) = busy else {
            return Ok(());
        };
        // Quiet for the first second: a node killed a moment ago is still letting go.
        if !said && since.elapsed() >= Duration::from_secs(1) {
            eprintln!(
                "kcluster: port {port} of {node} is still in use (a closed connection keeps \
                 its port for up to 60 s); waiting for it"
            );
            said = true;
        }
        if budget.expired() {
            return Err(Failure::unhealthy(format!(
                "{node} cannot listen on port {port}: still in use after {:.0}s \
                 (raise --timeout; `ss -tanp | grep :{port}` shows by what)",
                budget.timeout.as_secs_f64()
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_are_the_seeds() {
        assert_eq!(default_broker_ports(1), Some((29_092, 29_093)));
        assert_eq!(default_broker_ports(3), Some((49_092, 49_093)));
        assert_eq!(default_broker_ports(5), None);
        assert_eq!(default_zookeeper_ports(2), (32_181, 32_888, 33_888));
    }

    #[test]
    fn free_ports_are_distinct_and_outside_the_ephemeral_range() {
        let ports = free_ports(12).unwrap();
        let mut unique = ports.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 12, "{ports:?}");
        if let Some((low, high)) = ephemeral_range() {
            if low >= 11_000 {
                assert!(
                    ports.iter().all(|p| *p < low || *p > high),
                    "{ports:?} inside {low}-{high}"
                );
            }
        }
        assert!(ports.iter().all(|p| !is_default_port(*p)));
    }

    #[test]
    fn a_listening_port_names_its_holder() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        match port_use(port) {
            PortUse::Listener(Some(holder)) => {
                assert!(
                    holder.contains(&format!("pid {}", std::process::id())),
                    "{holder}"
                )
            }
            other => panic!("expected a listener, got {other:?}"),
        }
        drop(listener);
        assert_eq!(port_use(port), PortUse::Free);
    }
}
