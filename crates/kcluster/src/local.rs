//! The local backend: real Apache Kafka brokers (and ZooKeeper nodes) as detached JVM processes.
//!
//! KRaft mode: every node is broker and controller, the voters are fixed in each
//! node's `server.properties`, and every node's storage is formatted with the one
//! cluster id kept in `cluster.json`.
//!
//! ZooKeeper mode ([`zookeeper`]): a 3-node ZooKeeper ensemble (`zookeeper-N/`) and
//! Kafka 3.9 brokers registered in it, the seed tutorial's topology. ZooKeeper comes
//! from the same Kafka distribution (its jars include ZooKeeper's server).

pub mod zookeeper;

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kcore::state::{process_marker, ClusterState, NodeState};
use kcore::Failure;

use crate::cli::{DownArgs, LogsArgs, Mode, NodeArgs, UpArgs};
use crate::distribution::{self, Distribution};
use crate::health::{self, Budget, Liveness, Role, Watch};

/// JVM options for a small, quick-starting node on a 2-core machine.
const JVM_FLAGS: &[&str] = &[
    "-server",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
];

/// Heap of a ZooKeeper node: it holds little for one small cluster.
const ZOOKEEPER_HEAP: &str = "128m";

/// Heap of each node unless `up --heap` says otherwise.
const DEFAULT_HEAP: &str = "512m";

/// Host ports of the default cluster: broker i listens on 19092 + 10000·i (29092, 39092, 49092…).
fn default_ports(id: u32) -> Option<(u16, u16)> {
    let port = 19_092 + 10_000 * id;
    (port < 65_000).then(|| (port as u16, port as u16 + 1))
}

/// Free loopback ports for a named cluster, chosen once and kept in cluster.json.
pub fn free_ports(count: usize) -> Result<Vec<u16>> {
    // Hold every listener until all are chosen, so the same port is never handed out twice.
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .context("finding free ports")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid form).
pub fn new_cluster_id() -> Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The broker ports of a new cluster: fixed for `default`, free ones otherwise.
pub fn broker_ports(name: &str, brokers: u32) -> Result<Vec<(u16, u16)>> {
    if name == "default" {
        (1..=brokers)
            .map(|id| {
                default_ports(id).ok_or_else(|| {
                    Failure::usage("the default cluster has fixed ports for at most 4 brokers; use --name for more").into()
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

fn new_state(
    name: &str,
    brokers: u32,
    mode: Mode,
    dist: &Distribution,
    heap: &str,
) -> Result<ClusterState> {
    let ports = broker_ports(name, brokers)?;
    let kraft = mode == Mode::Kraft;
    Ok(ClusterState {
        name: name.to_string(),
        backend: "local".into(),
        mode: mode.as_str().into(),
        kafka_version: dist.version.clone(),
        distribution: dist.home.clone(),
        // ZooKeeper mode: the brokers get their cluster id from ZooKeeper.
        cluster_id: if kraft {
            new_cluster_id()?
        } else {
            String::new()
        },
        nodes: ports
            .into_iter()
            .zip(1..)
            .map(|((port, controller), id)| NodeState {
                id,
                host: "localhost".into(),
                port,
                peer_ports: if kraft { vec![controller] } else { Vec::new() },
            })
            .collect(),
        zookeepers: if kraft {
            Vec::new()
        } else {
            zookeeper::ensemble(name)?
        },
        heap: Some(heap.to_string()),
    })
}

fn server_properties(state: &ClusterState, node: &NodeState, node_dir: &Path) -> String {
    if state.mode == "zookeeper" {
        return zookeeper::broker_properties(state, node, node_dir);
    }
    let voters: Vec<String> = state
        .nodes
        .iter()
        .map(|v| format!("{}@{}:{}", v.id, v.host, v.peer_ports[0]))
        .collect();
    let replication = state.nodes.len().min(3);
    format!(
        "# Written by kcluster for cluster '{name}', node {id}. Regenerated at every start.\n\
         process.roles=broker,controller\n\
         node.id={id}\n\
         controller.quorum.voters={voters}\n\
         listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}\n\
         advertised.listeners=PLAINTEXT://{host}:{port}\n\
         listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
         controller.listener.names=CONTROLLER\n\
         inter.broker.listener.name=PLAINTEXT\n\
         share.coordinator.state.topic.replication.factor={replication}\n\
         share.coordinator.state.topic.min.isr={min_isr}\n\
         {common}",
        name = state.name,
        id = node.id,
        voters = voters.join(","),
        host = node.host,
        port = node.port,
        cport = node.peer_ports[0],
        min_isr = state.nodes.len().min(2),
        common = common_broker_properties(state, node_dir),
    )
}

/// What every local broker gets, in either mode: its data, internal topics replicated
/// like the seed's my-topic (so one broker may fail), and a small footprint.
pub(crate) fn common_broker_properties(state: &ClusterState, node_dir: &Path) -> String {
    let replication = state.nodes.len().min(3);
    format!(
        "log.dirs={data}\n\
         offsets.topic.replication.factor={replication}\n\
         transaction.state.log.replication.factor={replication}\n\
         transaction.state.log.min.isr={min_isr}\n\
         offsets.topic.num.partitions=10\n\
         group.initial.rebalance.delay.ms=0\n\
         # A small footprint for laptops and CI: few threads, a small cleaner buffer.\n\
         num.network.threads=2\n\
         num.io.threads=4\n\
         log.cleaner.dedupe.buffer.size=16777216\n",
        data = node_dir.join("data").display(),
        min_isr = state.nodes.len().min(2),
    )
}

/// The Kafka version `up` runs when none is asked for: the last with ZooKeeper for that mode.
fn default_version(mode: Mode) -> &'static str {
    match mode {
        Mode::Kraft => distribution::DEFAULT_KAFKA_VERSION,
        Mode::Zookeeper => distribution::ZOOKEEPER_KAFKA_VERSION,
    }
}

/// `kcluster up` on the local backend. `note` (which backend `auto` chose) is printed once the
/// cluster is about to be created, after every prerequisite was found.
pub fn up(name: &str, args: &UpArgs, mode: Mode, note: Option<&str>) -> Result<()> {
    let budget = Budget::new(args.timeout);
    let java = distribution::java()?;
    let mut state = match ClusterState::load(name) {
        Some(state) => {
            if let Some(wanted) = args.brokers.filter(|&b| b as usize != state.nodes.len()) {
                return Err(Failure::usage(format!(
                    "cluster '{name}' already has {} brokers, not {wanted}: `kcluster down --name {name}` first to change it",
                    state.nodes.len()
                ))
                .into());
            }
            state
        }
        None => {
            let version = args
                .kafka_version
                .as_deref()
                .unwrap_or(default_version(mode));
            if mode == Mode::Zookeeper {
                zookeeper::check_version(version)?;
            }
            let dist = distribution::locate(version, args.kafka_home.as_deref(), true)?;
            if mode == Mode::Zookeeper {
                zookeeper::check_distribution(&dist)?;
            }
            let heap = args.heap.as_deref().unwrap_or(DEFAULT_HEAP);
            let state = new_state(name, args.brokers.unwrap_or(3), mode, &dist, heap)?;
            if let Some(note) = note {
                eprintln!("kcluster: {note}");
            }
            create(&java, &state)?;
            state
        }
    };
    let dist = Distribution {
        home: state.distribution.clone(),
        version: state.kafka_version.clone(),
    };
    if !dist.home.join("libs").is_dir() {
        return Err(Failure::environment(format!(
            "cluster '{name}' was created with Kafka in {}, which is gone: `kcluster down --name {name}` and `up` again",
            dist.home.display()
        ))
        .into());
    }

    // A heap given to `up` again is kept for the nodes it starts, and for `start` later.
    if let Some(heap) = args
        .heap
        .as_ref()
        .filter(|h| state.heap.as_ref() != Some(*h))
    {
        state.heap = Some(heap.clone());
        state.save()?;
    }
    let state = state;
    let launcher = Launcher {
        java,
        dist,
        heap: heap_of(&state),
    };
    let mut watch = LocalWatch {
        state: &state,
        launcher: &launcher,
        children: Vec::new(),
        respawns: 0,
    };
    if let Err(err) = start_all(&mut watch, args.no_wait, budget) {
        // Leave nothing half-started behind: the nodes this call started go down again.
        watch.kill_children();
        return Err(err);
    }
    let started = watch.children.len();
    if started > 0 {
        let total = state.nodes.len() + state.zookeepers.len();
        let what = if args.no_wait {
            "started (not waiting for them)"
        } else {
            "started"
        };
        eprintln!(
            "kcluster: {started} of {total} nodes {what}, cluster '{name}' ({} mode) ready in {:.1}s",
            state.mode,
            budget.started.elapsed().as_secs_f64()
        );
    }
    health::print(&state, &statuses(&state))
}

/// Start every node that is down, ZooKeeper first; wait for each group unless `no_wait`.
fn start_all(watch: &mut LocalWatch, no_wait: bool, budget: Budget) -> Result<()> {
    let state = watch.state;
    let mut zk_ids = Vec::new();
    for node in &state.zookeepers {
        if state.running_pid(Role::Zookeeper.kind(), node.id).is_none() {
            let child = watch.launcher.start(state, Role::Zookeeper, node)?;
            watch.children.push((Role::Zookeeper, node.id, child));
        }
        zk_ids.push(node.id);
    }
    if !no_wait && !zk_ids.is_empty() {
        health::wait_zookeepers(state, &zk_ids, budget, watch)?;
    }
    let down: Vec<&NodeState> = state
        .nodes
        .iter()
        .filter(|n| state.running_pid(Role::Broker.kind(), n.id).is_none())
        .collect();
    if state.mode == "zookeeper" && down.len() < state.nodes.len() {
        for node in &down {
            health::wait_deregistered(state, node.id, zookeeper::deregistration_wait());
        }
    }
    for node in down {
        let child = watch.launcher.start(state, Role::Broker, node)?;
        watch.children.push((Role::Broker, node.id, child));
    }
    if !no_wait {
        let ids: Vec<u32> = state.nodes.iter().map(|n| n.id).collect();
        health::wait_brokers(state, &ids, budget, watch)?;
    }
    Ok(())
}

/// Write configs (and, in KRaft mode, format storage) for every node of a new cluster.
fn create(java: &Path, state: &ClusterState) -> Result<()> {
    fs::create_dir_all(state.dir())
        .with_context(|| format!("creating {}", state.dir().display()))?;
    let dist = Distribution {
        home: state.distribution.clone(),
        version: state.kafka_version.clone(),
    };
    for node in &state.zookeepers {
        zookeeper::write_node(state, node)?;
    }
    for node in &state.nodes {
        let dir = state.node_dir(Role::Broker.kind(), node.id);
        fs::create_dir_all(dir.join("logs"))?;
        fs::write(
            dir.join("server.properties"),
            server_properties(state, node, &dir),
        )?;
        if state.mode == "zookeeper" {
            continue;
        }
        let output = Command::new(java)
            .args(["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                dist.tools_log4j2_config().display()
            ))
            .arg(format!("-Dkafka.logs.dir={}", dir.join("logs").display()))
            .arg("-cp")
            .arg(dist.libs_classpath())
            .args([
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                &state.cluster_id,
                "-c",
            ])
            .arg(dir.join("server.properties"))
            .stdin(Stdio::null())
            .output()
            .context("running Kafka's storage format tool")?;
        if !output.status.success() {
            let _ = fs::remove_dir_all(state.dir());
            return Err(anyhow::anyhow!(
                "formatting storage of broker {} failed: {}",
                node.id,
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .chain(String::from_utf8_lossy(&output.stdout).lines())
                    .rfind(|l| !l.trim().is_empty())
                    .unwrap_or("no output")
            ));
        }
    }
    // cluster.json last: its presence means the cluster is complete.
    state.save()?;
    Ok(())
}

/// What starting a node's JVM needs.
struct Launcher {
    java: PathBuf,
    dist: Distribution,
    heap: String,
}

impl Launcher {
    /// Start one node's JVM, detached in its own session so a Ctrl-C at the terminal spares it.
    fn start(&self, state: &ClusterState, role: Role, node: &NodeState) -> Result<Child> {
        let dir = state.node_dir(role.kind(), node.id);
        let logs = dir.join("logs");
        fs::create_dir_all(&logs)?;
        // Configs are regenerated so a cluster created by an older kcluster picks up current settings.
        let (heap, main_class, config) = match role {
            Role::Broker => {
                fs::write(
                    dir.join("server.properties"),
                    server_properties(state, node, &dir),
                )?;
                (
                    self.heap.as_str(),
                    "kafka.Kafka",
                    dir.join("server.properties"),
                )
            }
            Role::Zookeeper => {
                zookeeper::write_node(state, node)?;
                (
                    ZOOKEEPER_HEAP,
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                    dir.join("zoo.cfg"),
                )
            }
        };
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(logs.join("kafka.out"))?;
        let mut command = Command::new(&self.java);
        command
            .arg(format!("-Xms{heap}"))
            .arg(format!("-Xmx{heap}"))
            .args(JVM_FLAGS)
            .arg(process_marker(&dir))
            .arg(format!("-Dkafka.logs.dir={}", logs.display()));
        if role == Role::Zookeeper {
            // No admin web server (it would want port 8080); no log4j JMX beans.
            command.args([
                "-Dzookeeper.admin.enableServer=false",
                "-Dzookeeper.jmx.log4j.disable=true",
            ]);
        }
        if let Some(config) = self.dist.log4j2_config() {
            command.arg(format!("-Dlog4j2.configurationFile={}", config.display()));
        } else if role == Role::Zookeeper {
            command.arg(format!(
                "-Dlog4j.configuration=file:{}",
                zookeeper::log4j_config(&dir).display()
            ));
        } else if let Some(config) = self.dist.log4j1_config() {
            command.arg(format!("-Dlog4j.configuration=file:{}", config.display()));
        }
        command
            .arg("-cp")
            .arg(self.dist.libs_classpath())
            .arg(main_class)
            .arg(config)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {} {}", role.label(), node.id))?;
        fs::write(dir.join("pid"), format!("{}\n", child.id()))?;
        Ok(child)
    }
}

/// The nodes one kcluster call started, watched while it waits for them.
struct LocalWatch<'a> {
    state: &'a ClusterState,
    launcher: &'a Launcher,
    children: Vec<(Role, u32, Child)>,
    respawns: u32,
}

impl LocalWatch<'_> {
    fn kill_children(&mut self) {
        for (_, _, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Watch for LocalWatch<'_> {
    fn check(&mut self, role: Role) -> Result<()> {
        for i in 0..self.children.len() {
            let (child_role, id, child) = &mut self.children[i];
            if *child_role != role {
                continue;
            }
            let id = *id;
            let Some(status) = child.try_wait()? else {
                continue;
            };
            let tail = log_tail(self.state, role, id, 30);
            // ZooKeeper mode, after a crash: the broker's old registration outlives it until its
            // session expires, and a broker started too early exits. Start it again, a few times.
            if role == Role::Broker && zookeeper::stale_registration(&tail) && self.respawns < 20 {
                self.respawns += 1;
                std::thread::sleep(Duration::from_secs(1));
                let node = node(self.state, Role::Broker, id)?;
                self.children[i].2 = self.launcher.start(self.state, Role::Broker, node)?;
                continue;
            }
            return Err(Failure::unhealthy(format!(
                "{} {id} exited ({status}) while starting; its log ends with:\n{tail}",
                role.label()
            ))
            .into());
        }
        Ok(())
    }

    fn log_tail(&self, role: Role, id: u32) -> String {
        log_tail(self.state, role, id, 30)
    }
}

/// The last `lines` lines of a node's log, for error messages.
fn log_tail(state: &ClusterState, role: Role, id: u32, lines: usize) -> String {
    let path = log_file(state, role, id);
    let text = fs::read_to_string(&path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    format!("{}\n(full log: {})", tail, path.display())
}

/// A node's main log: log4j's server.log, else the JVM's captured stdout.
fn log_file(state: &ClusterState, role: Role, id: u32) -> PathBuf {
    let logs = state.node_dir(role.kind(), id).join("logs");
    let server_log = logs.join("server.log");
    if server_log.is_file() {
        server_log
    } else {
        logs.join("kafka.out")
    }
}

/// A node of the cluster by role and id, or exit 6.
pub fn node(state: &ClusterState, role: Role, id: u32) -> Result<&NodeState> {
    let nodes = role.nodes(state);
    nodes.iter().find(|n| n.id == id).ok_or_else(|| {
        let range = if nodes.is_empty() {
            "none: not a zookeeper-mode cluster".to_string()
        } else {
            format!("1..{}", nodes.len())
        };
        Failure::not_found(format!(
            "cluster '{}' has no {} {id} (ids are {range})",
            state.name,
            role.label()
        ))
        .into()
    })
}

fn liveness(state: &ClusterState, role: Role, id: u32) -> Liveness {
    let pid = state.running_pid(role.kind(), id);
    Liveness {
        running: pid.is_some(),
        pid,
        container: None,
    }
}

fn statuses(state: &ClusterState) -> Vec<health::NodeStatus> {
    health::statuses(state, &|role, id| liveness(state, role, id))
}

/// `kcluster status`.
pub fn status(state: &ClusterState) -> Result<()> {
    health::report(state, &statuses(state))
}

/// `kcluster stop N` (graceful) and `kcluster kill N` (SIGKILL).
pub fn stop(state: &ClusterState, args: &NodeArgs, graceful: bool) -> Result<()> {
    let role = Role::of_flag(args.zookeeper);
    let node = node(state, role, args.id)?;
    let dir = state.node_dir(role.kind(), node.id);
    match state.running_pid(role.kind(), node.id) {
        None => eprintln!(
            "kcluster: {} {} of '{}' is not running",
            role.label(),
            node.id,
            state.name
        ),
        Some(pid) => {
            let signal = if graceful {
                libc::SIGTERM
            } else {
                libc::SIGKILL
            };
            terminate(pid, &dir, signal, Duration::from_secs_f64(args.timeout));
            let what = if graceful { "stopped" } else { "killed" };
            eprintln!(
                "kcluster: {} {} ({}) {what}",
                role.label(),
                node.id,
                node.address()
            );
        }
    }
    health::print(state, &statuses(state))
}

/// Send `signal`, wait up to `grace` for the process to go, then SIGKILL it.
fn terminate(pid: i32, dir: &Path, signal: i32, grace: Duration) {
    // SAFETY: plain kill(2) on a pid we verified carries this node's marker.
    unsafe { libc::kill(pid, signal) };
    let deadline = Instant::now() + grace;
    while kcore::state::pid_is_node(pid, dir) {
        if Instant::now() >= deadline {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The heap the cluster's nodes run with.
fn heap_of(state: &ClusterState) -> String {
    state.heap.clone().unwrap_or_else(|| DEFAULT_HEAP.into())
}

/// `kcluster start N`.
pub fn start(state: &ClusterState, args: &NodeArgs) -> Result<()> {
    let role = Role::of_flag(args.zookeeper);
    let node = node(state, role, args.id)?;
    let budget = Budget::new(args.timeout);
    let java = distribution::java()?;
    let dist = Distribution {
        home: state.distribution.clone(),
        version: state.kafka_version.clone(),
    };
    let launcher = Launcher {
        java,
        dist,
        heap: heap_of(state),
    };
    let mut watch = LocalWatch {
        state,
        launcher: &launcher,
        children: Vec::new(),
        respawns: 0,
    };
    if state.running_pid(role.kind(), node.id).is_none() {
        if role == Role::Broker && state.mode == "zookeeper" {
            health::wait_deregistered(state, node.id, zookeeper::deregistration_wait());
        }
        watch
            .children
            .push((role, node.id, launcher.start(state, role, node)?));
    }
    match role {
        Role::Broker => health::wait_brokers(state, &[node.id], budget, &mut watch)?,
        Role::Zookeeper => health::wait_zookeepers(state, &[node.id], budget, &mut watch)?,
    }
    health::print(state, &statuses(state))
}

/// `kcluster down [--keep]`.
pub fn down(state: &ClusterState, args: &DownArgs) -> Result<()> {
    // With --keep, a clean shutdown so the data is consistent; without, the data is
    // deleted anyway, so SIGKILL saves the brokers' controlled-shutdown dance.
    let (signal, grace) = if args.keep {
        (libc::SIGTERM, Duration::from_secs(60))
    } else {
        (libc::SIGKILL, Duration::from_secs(10))
    };
    // Brokers before ZooKeeper: a broker's clean shutdown needs the ensemble.
    for role in [Role::Broker, Role::Zookeeper] {
        let running: Vec<(i32, PathBuf)> = role
            .nodes(state)
            .iter()
            .filter_map(|n| {
                state
                    .running_pid(role.kind(), n.id)
                    .map(|pid| (pid, state.node_dir(role.kind(), n.id)))
            })
            .collect();
        for (pid, _) in &running {
            // SAFETY: plain kill(2) on pids that carry this cluster's node markers.
            unsafe { libc::kill(*pid, signal) };
        }
        for (pid, dir) in &running {
            terminate(*pid, dir, signal, grace);
        }
    }
    crate::stopped(state, args.keep, "", "its data")
}

/// `kcluster logs [N] [-f]`.
pub fn logs(state: &ClusterState, args: &LogsArgs) -> Result<()> {
    let role = Role::of_flag(args.zookeeper);
    let ids: Vec<u32> = match args.id {
        Some(id) => vec![node(state, role, id)?.id],
        None => role.nodes(state).iter().map(|n| n.id).collect(),
    };
    let prefix = ids.len() > 1;
    let mut readers: Vec<(u32, BufReader<File>)> = Vec::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for id in &ids {
        let path = log_file(state, role, *id);
        let Ok(file) = File::open(&path) else {
            continue;
        };
        readers.push((*id, BufReader::new(file)));
    }
    loop {
        let mut any = false;
        for (id, reader) in &mut readers {
            let mut line = String::new();
            while reader.read_line(&mut line)? > 0 {
                if !line.ends_with('\n') {
                    // A partial line: read the rest later.
                    let back = line.len() as i64;
                    reader.seek(SeekFrom::Current(-back))?;
                    break;
                }
                any = true;
                if prefix {
                    write!(out, "{} | ", role.service(*id))?;
                }
                out.write_all(line.as_bytes())?;
                line.clear();
            }
        }
        out.flush()?;
        if !args.follow {
            return Ok(());
        }
        if !any {
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}
