//! What a node's log says about why it failed, for error messages people can read.
//!
//! A node that does not come up is reported by its cause, found in its log (for
//! example `broker 2 cannot bind localhost:39092: address already in use`), and where
//! the whole log is; only when no cause is recognisable do the log's last lines follow.
//! Detail goes on lines of its own: kcore prints them indented under the error line.

/// Lines of the log shown when no cause is recognised.
const TAIL_LINES: usize = 8;

/// Longest log line quoted, in characters.
const MAX_LINE: usize = 240;

/// The detail lines for a node that failed: its cause (or its log's last lines) and
/// `log`, where the full log is (a path, or the command that shows it).
pub fn failure_detail(node: &str, text: &str, log: &str) -> String {
    match cause(node, text) {
        Some(cause) => format!("{cause}\nfull log: {log}"),
        None => {
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = &lines[lines.len().saturating_sub(TAIL_LINES)..];
            if tail.is_empty() {
                return format!("its log is still empty\nfull log: {log}");
            }
            let quoted: Vec<String> = tail.iter().map(|l| format!("  {}", clip(l))).collect();
            format!("its log ends with:\n{}\nfull log: {log}", quoted.join("\n"))
        }
    }
}

/// True when the log says the node could not listen on one of its ports.
pub fn is_bind_failure(text: &str) -> bool {
    text.lines().any(|l| l.contains("Address already in use"))
}

/// The reason a node failed, in one line naming `node`, when its log shows one.
pub fn cause(node: &str, text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if let Some(at) = lines
        .iter()
        .rposition(|l| l.contains("Address already in use"))
    {
        // Kafka: "Socket server failed to bind to localhost:39092: Address already in use."
        // ZooKeeper names the address on the line itself or just before it.
        let window = &lines[at.saturating_sub(3)..=at];
        let address = window.iter().rev().find_map(|l| bound_address(l));
        return Some(match address {
            Some(address) => format!("{node} cannot bind {address}: address already in use"),
            None => format!("{node} cannot bind one of its ports: address already in use"),
        });
    }
    // The last error the node logged, else what the JVM said before exiting.
    let serious = lines.iter().rev().find(|l| {
        l.contains("] ERROR ")
            || l.contains("] FATAL ")
            || l.starts_with("Error: ")
            || l.starts_with("Exception in thread")
            || l.contains("Invalid maximum heap size")
    })?;
    Some(format!(
        "{node} failed: {}",
        clip(without_log_prefix(serious))
    ))
}

/// `host:port` after "bind to" or "binding to" (with its punctuation removed).
fn bound_address(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let at = [
        "failed to bind to ",
        "binding to port ",
        "binding to ",
        "bind to ",
        "listening to address ",
    ]
    .iter()
    .find_map(|marker| lower.find(marker).map(|i| i + marker.len()))?;
    let rest = &line[at..];
    let address: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ',')
        .collect();
    let address = address.trim_end_matches(['.', ':', ')']);
    // "0.0.0.0/0.0.0.0:2181" (Java's InetSocketAddress) reads better as "0.0.0.0:2181".
    let address = address.rsplit('/').next().unwrap_or(address);
    address
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()))
        .then(|| address.to_string())
}

/// A log4j line without its `[2026-12-01 10:00:00,123] ERROR ` prefix.
fn without_log_prefix(line: &str) -> &str {
    let line = line.trim();
    let rest = match line.strip_prefix('[') {
        Some(after) => after.split_once("] ").map_or(line, |(_, rest)| rest),
        None => line,
    };
    ["ERROR ", "FATAL ", "WARN ", "INFO "]
        .iter()
        .find_map(|level| rest.strip_prefix(level))
        .unwrap_or(rest)
}

fn clip(line: &str) -> String {
    let line = line.trim_end();
    if line.chars().count() <= MAX_LINE {
        line.to_string()
    } else {
        let cut: String = line.chars().take(MAX_LINE).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KAFKA_BIND: &str = "\
[2026-12-01 10:00:00,001] INFO Awaiting socket connections on localhost:39092. (kafka.network.DataPlaneAcceptor)
[2026-12-01 10:00:00,002] ERROR [KafkaRaftServer nodeId=2] Fatal error during broker startup. Prepare to shutdown (kafka.server.BrokerServer)
org.apache.kafka.common.KafkaException: Socket server failed to bind to localhost:39092: Address already in use.
\tat kafka.network.Acceptor.openServerSocket(SocketServer.scala:733)
Caused by: java.net.BindException: Address already in use
[2026-12-01 10:00:00,100] INFO [BrokerServer id=2] Transition from STARTING to STARTED (kafka.server.BrokerServer)
";

    #[test]
    fn a_bind_failure_names_the_address() {
        assert!(is_bind_failure(KAFKA_BIND));
        assert_eq!(
            cause("broker 2", KAFKA_BIND).unwrap(),
            "broker 2 cannot bind localhost:39092: address already in use"
        );
        let detail = failure_detail("broker 2", KAFKA_BIND, "/x/server.log");
        assert_eq!(
            detail,
            "broker 2 cannot bind localhost:39092: address already in use\nfull log: /x/server.log"
        );
    }

    #[test]
    fn zookeeper_bind_failures_are_found_too() {
        let text = "[2026-12-01 10:00:00,001] INFO binding to port 0.0.0.0/0.0.0.0:32181 (org.apache.zookeeper.server.NettyServerCnxnFactory)\n\
                    [2026-12-01 10:00:00,002] ERROR Unexpected exception, exiting abnormally (org.apache.zookeeper.server.quorum.QuorumPeerMain)\n\
                    java.net.BindException: Address already in use\n";
        assert_eq!(
            cause("ZooKeeper node 2", text).unwrap(),
            "ZooKeeper node 2 cannot bind 0.0.0.0:32181: address already in use"
        );
    }

    #[test]
    fn otherwise_the_last_error_is_the_cause() {
        let text = "[2026-12-01 10:00:00,001] INFO starting\n\
                    [2026-12-01 10:00:00,002] ERROR Exiting Kafka due to fatal exception (kafka.Kafka$)\n\
                    [2026-12-01 10:00:00,003] INFO shut down\n";
        assert_eq!(
            cause("broker 1", text).unwrap(),
            "broker 1 failed: Exiting Kafka due to fatal exception (kafka.Kafka$)"
        );
    }

    #[test]
    fn no_cause_shows_the_tail_indented() {
        let detail = failure_detail("broker 1", "a\nb\n", "/x/server.log");
        assert_eq!(
            detail,
            "its log ends with:\n  a\n  b\nfull log: /x/server.log"
        );
    }
}
