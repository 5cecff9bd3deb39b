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
use crate::{node_log, topology};

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

/// A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid form).
pub fn new_cluster_id() -> Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn new_state(
    name: &str,
    brokers: u32,
    mode: Mode,
    dist: &Distribution,
    heap: &str,
) -> Result<ClusterState> {
    let ports = topology::broker_ports(name, brokers)?;
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
    let mut watch = LocalWatch::new(&state, &launcher, budget);
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
            watch.launch(Role::Zookeeper, node)?;
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
        watch.launch(Role::Broker, node)?;
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
    budget: Budget,
    children: Vec<Launched>,
    respawns: u32,
}

/// A node this call launched: its process, and where its logs stood at launch, so that
/// what this run of it wrote can be told from earlier runs.
struct Launched {
    role: Role,
    id: u32,
    child: Child,
    logs_from: LogMarks,
}

impl<'a> LocalWatch<'a> {
    fn new(state: &'a ClusterState, launcher: &'a Launcher, budget: Budget) -> Self {
        LocalWatch {
            state,
            launcher,
            budget,
            children: Vec::new(),
            respawns: 0,
        }
    }

    /// Start a node once its ports can be listened on (see [`topology::wait_until_free`]).
    fn launch(&mut self, role: Role, node: &NodeState) -> Result<()> {
        let launched = self.launch_node(role, node)?;
        self.children.push(launched);
        Ok(())
    }

    fn launch_node(&self, role: Role, node: &NodeState) -> Result<Launched> {
        let label = format!("{} {}", role.label(), node.id);
        topology::wait_until_free(&label, &node_ports(node), self.budget)?;
        let logs_from = LogMarks::now(self.state, role, node.id);
        let child = self.launcher.start(self.state, role, node)?;
        Ok(Launched {
            role,
            id: node.id,
            child,
            logs_from,
        })
    }

    fn kill_children(&mut self) {
        for launched in &mut self.children {
            let _ = launched.child.kill();
            let _ = launched.child.wait();
        }
    }
}

/// Every port a node listens on.
fn node_ports(node: &NodeState) -> Vec<u16> {
    std::iter::once(node.port)
        .chain(node.peer_ports.iter().copied())
        .collect()
}

/// Most relaunches of one call, whatever the reason: a node that keeps failing is reported.
const MAX_RELAUNCHES: u32 = 20;

impl Watch for LocalWatch<'_> {
    fn check(&mut self, role: Role) -> Result<()> {
        for i in 0..self.children.len() {
            let launched = &mut self.children[i];
            if launched.role != role {
                continue;
            }
            let id = launched.id;
            let Some(status) = launched.child.try_wait()? else {
                continue;
            };
            let written = launched.logs_from.written_since(self.state, role, id);
            let label = format!("{} {id}", role.label());
            let may_relaunch = self.respawns < MAX_RELAUNCHES && !self.budget.expired();
            // Another socket took one of the node's ports between the check before launch
            // and the JVM's bind (seconds later): wait until it is free, launch again.
            if node_log::is_bind_failure(&written) && may_relaunch {
                self.respawns += 1;
                let cause = node_log::cause(&label, &written).unwrap_or_default();
                eprintln!("kcluster: {cause}; launching it again once the port is free");
                let node = node(self.state, role, id)?;
                self.children[i] = self.launch_node(role, node)?;
                continue;
            }
            // ZooKeeper mode, after a crash: the broker's old registration outlives it until its
            // session expires, and a broker started too early exits. Start it again, a few times.
            if role == Role::Broker && zookeeper::stale_registration(&written) && may_relaunch {
                self.respawns += 1;
                std::thread::sleep(Duration::from_secs(1));
                let node = node(self.state, Role::Broker, id)?;
                self.children[i] = self.launch_node(role, node)?;
                continue;
            }
            let detail = node_log::failure_detail(
                &label,
                &written,
                &log_file(self.state, role, id).display().to_string(),
            );
            return Err(Failure::unhealthy(format!(
                "{label} exited ({status}) while starting\n{detail}"
            ))
            .into());
        }
        Ok(())
    }

    fn failure_detail(&self, role: Role, id: u32) -> String {
        let label = format!("{} {id}", role.label());
        let written = self
            .children
            .iter()
            .find(|l| l.role == role && l.id == id)
            .map(|l| l.logs_from.written_since(self.state, role, id))
            .unwrap_or_else(|| log_text(self.state, role, id));
        node_log::failure_detail(
            &label,
            &written,
            &log_file(self.state, role, id).display().to_string(),
        )
    }
}

/// How long a node's log files were when it was launched.
struct LogMarks {
    server_log: u64,
    console: u64,
}

impl LogMarks {
    fn now(state: &ClusterState, role: Role, id: u32) -> LogMarks {
        let logs = state.node_dir(role.kind(), id).join("logs");
        let len = |name: &str| fs::metadata(logs.join(name)).map_or(0, |m| m.len());
        LogMarks {
            server_log: len("server.log"),
            console: len("kafka.out"),
        }
    }

    /// What the node wrote to its log and to its console since then.
    fn written_since(&self, state: &ClusterState, role: Role, id: u32) -> String {
        let logs = state.node_dir(role.kind(), id).join("logs");
        let mut text = read_from(&logs.join("server.log"), self.server_log);
        text.push_str(&read_from(&logs.join("kafka.out"), self.console));
        text
    }
}

/// A file's content from byte `offset` on (at most its last 256 KB); empty if unreadable.
fn read_from(path: &Path, offset: u64) -> String {
    const MAX: u64 = 256 * 1024;
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    // A log that shrank was rotated: read it from its start.
    let start = if offset > len { 0 } else { offset }.max(len.saturating_sub(MAX));
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_ok() {
        let _ = file.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A node's main log, whole (at most its last 256 KB).
fn log_text(state: &ClusterState, role: Role, id: u32) -> String {
    read_from(&log_file(state, role, id), 0)
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
            terminate(
                pid,
                &dir,
                signal,
                Duration::from_secs_f64(args.stop_grace()),
            );
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
    let budget = Budget::new(args.start_budget());
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
    let mut watch = LocalWatch::new(state, &launcher, budget);
    if state.running_pid(role.kind(), node.id).is_none() {
        if role == Role::Broker && state.mode == "zookeeper" {
            health::wait_deregistered(state, node.id, zookeeper::deregistration_wait());
        }
        watch.launch(role, node)?;
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
