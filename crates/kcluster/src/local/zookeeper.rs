//! ZooKeeper mode of the local backend: the seed tutorial's topology without Docker.
//!
//! Three ZooKeeper nodes form one ensemble (each `zookeeper-N/` holds `zoo.cfg`,
//! `data/myid`, `logs/` and `pid`), and Kafka 3.9 brokers register in it. Ports match
//! compose/zookeeper.yml for the default cluster: clients 22181/32181/42181, brokers
//! 29092/39092/49092; the quorum and election ports follow the same pattern
//! (22888/23888, ...). A named cluster gets free ports for all of them.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use kcore::state::{ClusterState, NodeState};
use kcore::Failure;

use crate::distribution::Distribution;
use kcore::state::Role;

/// Nodes in the ensemble: 3 tolerate one failure, as in the seed.
pub const ENSEMBLE_SIZE: u32 = 3;

/// The ensemble of a new cluster: client, quorum and election port per node.
pub fn ensemble(cluster: &str) -> Result<Vec<NodeState>> {
    let ports = crate::topology::zookeeper_ports(cluster, ENSEMBLE_SIZE)?;
    Ok(ports
        .into_iter()
        .zip(1..)
        .map(|((client, quorum, election), id)| NodeState {
            id,
            host: "localhost".into(),
            port: client,
            peer_ports: vec![quorum, election],
        })
        .collect())
}

/// ZooKeeper mode needs Kafka 3.x: Kafka 4 removed it.
pub fn check_version(version: &str) -> Result<()> {
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major >= 4 {
        return Err(Failure::usage(format!(
            "Kafka {version} has no ZooKeeper mode (Kafka 4 removed it): use --kafka-version 3.9.1, \
             the default for --mode zookeeper (or unset KAFKA_VERSION)"
        ))
        .into());
    }
    Ok(())
}

/// The distribution must carry ZooKeeper's server (Kafka 3.x's jars do).
pub fn check_distribution(dist: &Distribution) -> Result<()> {
    let has_zookeeper = fs::read_dir(dist.home.join("libs"))
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("zookeeper-"))
        })
        .unwrap_or(false);
    if has_zookeeper {
        Ok(())
    } else {
        Err(Failure::environment(format!(
            "the Kafka distribution in {} has no ZooKeeper jars (libs/zookeeper-*.jar): ZooKeeper mode needs Kafka 3.x",
            dist.home.display()
        ))
        .into())
    }
}

/// `zoo.cfg` of one node.
fn zoo_cfg(state: &ClusterState, node: &NodeState, node_dir: &Path) -> String {
    let servers: String = state
        .zookeepers
        .iter()
        .map(|z| {
            format!(
                "server.{}=127.0.0.1:{}:{}\n",
                z.id, z.peer_ports[0], z.peer_ports[1]
            )
        })
        .collect();
    format!(
        "# Written by kcluster for cluster '{name}', ZooKeeper node {id}. Regenerated at every start.\n\
         # The base time unit in ms; the limits below count ticks (as the seed's ZOOKEEPER_* settings).\n\
         tickTime=2000\n\
         # Ticks a follower may take to connect to and sync with the leader: 10 s.\n\
         initLimit=5\n\
         # Ticks a follower may lag behind the leader: 4 s.\n\
         syncLimit=2\n\
         dataDir={data}\n\
         clientPort={port}\n\
         clientPortAddress=127.0.0.1\n\
         # The ensemble (the seed's missing ZOOKEEPER_SERVERS): server.ID=host:quorum-port:election-port.\n\
         {servers}\
         # No admin web server (port 8080); `srvr` (kcluster's health probe) and `ruok` allowed.\n\
         admin.enableServer=false\n\
         4lw.commands.whitelist=srvr,ruok,mntr\n\
         # Keep only the last snapshots, so a long-lived cluster does not fill the disk.\n\
         autopurge.snapRetainCount=3\n\
         autopurge.purgeInterval=1\n",
        name = state.name,
        id = node.id,
        data = node_dir.join("data").display(),
        port = node.port,
    )
}

/// Logging of a ZooKeeper node (log4j 1, as Kafka 3.x ships it): `logs/server.log`, without
/// a line for every `srvr` probe kcluster sends.
const LOG4J_PROPERTIES: &str = "\
# Written by kcluster. Pass: -Dlog4j.configuration=file:<this file> -Dkafka.logs.dir=<dir>
log4j.rootLogger=INFO, server
log4j.appender.server=org.apache.log4j.RollingFileAppender
log4j.appender.server.File=${kafka.logs.dir}/server.log
log4j.appender.server.MaxFileSize=100MB
log4j.appender.server.MaxBackupIndex=3
log4j.appender.server.layout=org.apache.log4j.PatternLayout
log4j.appender.server.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.zookeeper.server.NIOServerCnxn=WARN
log4j.logger.org.apache.zookeeper.server.command=WARN
";

/// The log4j 1 configuration `write_node` puts in a ZooKeeper node's directory.
pub fn log4j_config(node_dir: &Path) -> PathBuf {
    node_dir.join("log4j.properties")
}

/// Write a ZooKeeper node's `zoo.cfg`, `data/myid` and `log4j.properties`.
pub fn write_node(state: &ClusterState, node: &NodeState) -> Result<()> {
    let dir = Role::Zookeeper.node_dir(state, node.id);
    fs::create_dir_all(dir.join("data")).with_context(|| format!("creating {}", dir.display()))?;
    fs::create_dir_all(dir.join("logs"))?;
    fs::write(dir.join("zoo.cfg"), zoo_cfg(state, node, &dir))?;
    fs::write(dir.join("data/myid"), format!("{}\n", node.id))?;
    fs::write(log4j_config(&dir), LOG4J_PROPERTIES)?;
    Ok(())
}

/// `server.properties` of a broker in ZooKeeper mode.
pub fn broker_properties(
    state: &ClusterState,
    node: &NodeState,
    node_dir: &Path,
) -> Result<String> {
    let connect: Vec<String> = state
        .zookeepers
        .iter()
        .map(|z| format!("127.0.0.1:{}", z.port))
        .collect();
    let listeners = if state.secure {
        crate::security::zookeeper_mode_listener_properties(state, node)?
    } else {
        format!(
            "listeners=PLAINTEXT://{host}:{port}\n\
             advertised.listeners=PLAINTEXT://{host}:{port}\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT\n\
             inter.broker.listener.name=PLAINTEXT\n",
            host = node.host,
            port = node.port,
        )
    };
    Ok(format!(
        "# Written by kcluster for cluster '{name}', broker {id} (ZooKeeper mode). Regenerated at every start.\n\
         broker.id={id}\n\
         # The whole ensemble, so the broker survives one ZooKeeper node failing.\n\
         zookeeper.connect={connect}\n\
         zookeeper.session.timeout.ms={session}\n\
         # How long to wait for the ensemble at start (it may still be electing a leader).\n\
         zookeeper.connection.timeout.ms=60000\n\
         {listeners}\
         {common}",
        name = state.name,
        id = node.id,
        connect = connect.join(","),
        session = crate::wait::ZOOKEEPER_SESSION_TIMEOUT_MS,
        common = super::common_broker_properties(state, node_dir),
    ))
}

/// True when a broker's log shows it exited because its old registration (from before a
/// crash) was still in ZooKeeper.
pub fn stale_registration(log_tail: &str) -> bool {
    log_tail.contains("NodeExistsException") || log_tail.contains("already registered")
}
