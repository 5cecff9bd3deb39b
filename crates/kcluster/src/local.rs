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

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use kcore::state::{process_marker, BackendKind, ClusterState, Mode, NodeState};
use kcore::Failure;

use crate::backend::{new_cluster_id, Backend};
use crate::budget::Budget;
use crate::cli::UpArgs;
use crate::distribution::{self, Distribution};
use crate::health::Liveness;
use crate::log_files::{copy_logs, log_file, log_text, LogMarks};
use crate::process::{spawn_detached, terminate};
use crate::wait::Watch;
use crate::{node_log, topology};
use kcore::state::Role;

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

fn new_state(
    name: &str,
    brokers: u32,
    mode: Mode,
    dist: &Distribution,
    heap: &str,
    secure: bool,
) -> Result<ClusterState> {
    let ports = topology::broker_ports(name, brokers)?;
    let kraft = mode == Mode::Kraft;
    Ok(ClusterState {
        name: name.to_string(),
        backend: BackendKind::Local,
        mode,
        kafka_version: Some(dist.version.clone()),
        cp_version: None,
        distribution: dist.home.clone(),
        // ZooKeeper mode: the brokers get their cluster id from ZooKeeper.
        cluster_id: if kraft {
            new_cluster_id()?
        } else {
            String::new()
        },
        brokers: ports
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
        secure,
        schema_registry: None,
        advertised: Default::default(),
        oauth_jwks: None,
    })
}

fn server_properties(state: &ClusterState, node: &NodeState, node_dir: &Path) -> Result<String> {
    if state.mode == Mode::Zookeeper {
        return zookeeper::broker_properties(state, node, node_dir);
    }
    // The nodes `up` made are brokers and controllers (their controller port is their
    // peer port); brokers `kcluster add` joins later are brokers only.
    let voters: Vec<String> = state
        .brokers
        .iter()
        .filter(|v| is_controller(v))
        .map(|v| format!("{}@{}:{}", v.id, v.host, v.peer_ports[0]))
        .collect();
    let replication = state.brokers.len().min(3);
    let listeners = if state.secure {
        crate::security::listener_properties(state, node)?
    } else if state.oauth_jwks.is_some() {
        crate::oauth::listener_properties(state, node)?
    } else {
        let controller_listener = node
            .peer_ports
            .first()
            .map(|cport| format!(",CONTROLLER://{}:{cport}", node.host))
            .unwrap_or_default();
        format!(
            "listeners=PLAINTEXT://{host}:{port}{controller_listener}\n\
             advertised.listeners=PLAINTEXT://{advertised}\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
             controller.listener.names=CONTROLLER\n\
             inter.broker.listener.name=PLAINTEXT\n",
            host = node.host,
            port = node.port,
            advertised = state.advertised_address(node),
        )
    };
    Ok(format!(
        "# Written by kcluster for cluster '{name}', node {id}. Regenerated at every start.\n\
         process.roles={roles}\n\
         node.id={id}\n\
         controller.quorum.voters={voters}\n\
         {listeners}\
         share.coordinator.state.topic.replication.factor={replication}\n\
         share.coordinator.state.topic.min.isr={min_isr}\n\
         {common}",
        name = state.name,
        id = node.id,
        roles = if is_controller(node) {
            "broker,controller"
        } else {
            "broker"
        },
        voters = voters.join(","),
        min_isr = state.brokers.len().min(2),
        common = common_broker_properties(state, node_dir),
    ))
}

/// A KRaft node that is also a controller (one of the quorum's voters): every node `up`
/// made; never a broker `kcluster add` joined later.
pub fn is_controller(node: &NodeState) -> bool {
    !node.peer_ports.is_empty()
}

/// `kcluster add`: a new broker for a running local cluster: the next id, a free port,
/// the cluster's mode and security; its config written and (KRaft) its storage formatted,
/// and the cluster's state saved with it. Starting it is the caller's.
pub fn add_broker(state: &mut ClusterState) -> Result<NodeState> {
    let id = state.brokers.iter().map(|n| n.id).max().unwrap_or(0) + 1;
    let taken: Vec<u16> = state
        .brokers
        .iter()
        .chain(&state.zookeepers)
        .flat_map(node_ports)
        .collect();
    let port = match topology::default_broker_ports(id).filter(|_| state.name == "default") {
        Some((port, _)) => port,
        None => loop {
            let port = topology::free_ports(1)?[0];
            if !taken.contains(&port) {
                break port;
            }
        },
    };
    let node = NodeState {
        id,
        host: "localhost".into(),
        port,
        peer_ports: Vec::new(),
    };
    let dir = Role::Broker.node_dir(state, id);
    fs::create_dir_all(dir.join("logs"))?;
    state.brokers.push(node.clone());
    let written = (|| -> Result<()> {
        crate::security::write_server_properties(
            state,
            &dir.join("server.properties"),
            &server_properties(state, &node, &dir)?,
        )?;
        if state.mode == Mode::Kraft {
            let dist = Distribution {
                home: state.distribution.clone(),
                version: state.kafka_version.clone().unwrap_or_default(),
            };
            let java = distribution::java()?;
            let tool = format_command(state, &dir);
            let what = format!("formatting storage of broker {id}");
            run_kafka_tool(&java, &dist, state, &dir.join("logs"), &tool, &what)?;
        }
        Ok(state.save()?)
    })();
    if let Err(err) = written {
        state.brokers.pop();
        let _ = fs::remove_dir_all(&dir);
        return Err(err);
    }
    Ok(node)
}

/// What every local broker gets, in either mode: its data, internal topics replicated
/// like the seed's my-topic (so one broker may fail), and a small footprint.
pub(crate) fn common_broker_properties(state: &ClusterState, node_dir: &Path) -> String {
    let replication = state.brokers.len().min(3);
    // Topics made without -r: as the seed's my-topic (3 copies, writes need 2), so that one
    // broker may fail without losing or refusing anything; 1 below 3 brokers.
    let topic_min_isr = if state.brokers.len() >= 3 { 2 } else { 1 };
    format!(
        "log.dirs={data}\n\
         default.replication.factor={replication}\n\
         min.insync.replicas={topic_min_isr}\n\
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
        min_isr = state.brokers.len().min(2),
    )
}

/// The Kafka version `up` runs when none is asked for: the last with ZooKeeper for that mode.
fn default_version(mode: Mode) -> &'static str {
    match mode {
        Mode::Kraft => distribution::DEFAULT_KAFKA_VERSION,
        Mode::Zookeeper => distribution::ZOOKEEPER_KAFKA_VERSION,
    }
}

/// A new local cluster: Java and a Kafka distribution are found (fetched when missing)
/// before anything is written; then each node's configuration, and in KRaft mode its
/// formatted storage; `cluster.json` last.
pub fn create(name: &str, args: &UpArgs, mode: Mode, note: Option<&str>) -> Result<ClusterState> {
    let java = distribution::java()?;
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
    let mut state = new_state(
        name,
        args.brokers.unwrap_or(3),
        mode,
        &dist,
        heap,
        args.secure,
    )?;
    state.advertised = crate::oauth::advertised(&args.advertise, state.brokers.len())?;
    state.oauth_jwks = args.oauth.clone();
    if let Some(note) = note {
        eprintln!("kcluster: {note}");
    }
    // Made once per distribution and Java (about 2 s), it saves every later node start.
    distribution::class_data::prepare(&dist, &java);
    write_nodes(&java, &state, &dist, args.disk_limit.as_deref())?;
    Ok(state)
}

/// Write configs (and, in KRaft mode, format storage) for every node of a new cluster.
fn write_nodes(
    java: &Path,
    state: &ClusterState,
    dist: &Distribution,
    disk_limit: Option<&str>,
) -> Result<()> {
    fs::create_dir_all(state.dir())
        .with_context(|| format!("creating {}", state.dir().display()))?;
    if state.oauth_jwks.is_some() {
        if let Err(err) = crate::oauth::prepare(state) {
            let _ = fs::remove_dir_all(state.dir());
            return Err(err);
        }
    }
    if state.secure {
        if let Err(err) = crate::security::prepare(state) {
            let _ = fs::remove_dir_all(state.dir());
            return Err(err);
        }
    }
    for node in &state.zookeepers {
        zookeeper::write_node(state, node)?;
    }
    // Storage formats: one small JVM per broker, all at once (each spends most of its
    // second starting up; one after another they took most of `up`'s first 3 s).
    let mut formats = Vec::new();
    for node in &state.brokers {
        let dir = Role::Broker.node_dir(state, node.id);
        fs::create_dir_all(dir.join("logs"))?;
        if let Some(size) = disk_limit {
            if let Err(err) = crate::faults::disk::mount(state, node.id, size) {
                let _ = crate::faults::disk::unmount_all(state);
                let _ = fs::remove_dir_all(state.dir());
                return Err(err);
            }
        }
        crate::security::write_server_properties(
            state,
            &dir.join("server.properties"),
            &server_properties(state, node, &dir)?,
        )?;
        if state.mode == Mode::Zookeeper {
            continue;
        }
        let mut tool = format_command(state, &dir);
        if state.secure {
            tool.extend(crate::security::scram_arguments(state)?);
        }
        formats.push((node.id, dir, tool));
    }
    let failed = std::thread::scope(|scope| {
        let running: Vec<_> = formats
            .iter()
            .map(|(id, dir, tool)| {
                scope.spawn(move || {
                    let what = format!("formatting storage of broker {id}");
                    run_kafka_tool(java, dist, state, &dir.join("logs"), tool, &what)
                })
            })
            .collect();
        let results: Vec<Result<()>> = running
            .into_iter()
            .map(|format| format.join().expect("a format thread does not panic"))
            .collect();
        results.into_iter().find_map(Result::err)
    });
    if let Some(err) = failed {
        let _ = fs::remove_dir_all(state.dir());
        return Err(err);
    }
    // cluster.json last: its presence means the cluster is complete.
    state.save()?;
    Ok(())
}

/// Kafka's storage tool formatting the KRaft node in `dir` for this cluster (idempotent).
fn format_command(state: &ClusterState, dir: &Path) -> Vec<String> {
    [
        "kafka.tools.StorageTool",
        "format",
        "--ignore-formatted",
        "-t",
        &state.cluster_id,
        "-c",
        &dir.join("server.properties").display().to_string(),
    ]
    .map(String::from)
    .into()
}

/// Run one of Kafka's command-line tools (`tool`: its main class and arguments) in a small
/// JVM. A secure cluster's arguments (passwords among them) go in an `@argfile`, never on
/// the command line, and never into the error.
fn run_kafka_tool(
    java: &Path,
    dist: &Distribution,
    state: &ClusterState,
    logs: &Path,
    tool: &[String],
    what: &str,
) -> Result<()> {
    let argfile = if state.secure {
        // One file per task: the brokers' storage is formatted by several tools at once.
        let task: String = what
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        Some(crate::security::ArgFile::write(
            state,
            &format!("{task}.args"),
            tool,
        )?)
    } else {
        None
    };
    let output = Command::new(java)
        .args(["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
        .args(distribution::class_data::jvm_flags(dist, java))
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            dist.tools_log4j2_config().display()
        ))
        .arg(format!("-Dkafka.logs.dir={}", logs.display()))
        .arg("-cp")
        .arg(dist.libs_classpath())
        .args(match &argfile {
            Some(file) => vec![file.argument()],
            None => tool.to_vec(),
        })
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running Kafka's {}", tool[0]))?;
    if !output.status.success() {
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        let last = text
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        return Err(anyhow::anyhow!(
            "{what} failed: {}",
            crate::security::redact(state, last)
        ));
    }
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
        let dir = role.node_dir(state, node.id);
        let logs = dir.join("logs");
        fs::create_dir_all(&logs)?;
        // Configs are regenerated so a cluster created by an older kcluster picks up current settings.
        let (heap, main_class, config) = match role {
            Role::Broker => {
                crate::security::write_server_properties(
                    state,
                    &dir.join("server.properties"),
                    &server_properties(state, node, &dir)?,
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
        let mut command = Command::new(&self.java);
        command
            .arg(format!("-Xms{heap}"))
            .arg(format!("-Xmx{heap}"))
            .args(JVM_FLAGS)
            .args(distribution::class_data::jvm_flags(&self.dist, &self.java))
            .arg(process_marker(&dir))
            .args(crate::oauth::jvm_flags(state, role))
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
            .arg(config);
        let what = format!("{} {}", role.label(), node.id);
        let child = spawn_detached(&mut command, &dir, &logs.join("kafka.out"), &what)?;
        // Its own cgroup before it opens a socket: what `kcluster isolate` matches.
        crate::faults::network::enter_cgroup(state, role, node.id, child.id());
        Ok(child)
    }
}

/// A local cluster, and the nodes this kcluster call launched (watched while it waits).
pub struct Local {
    state: ClusterState,
    /// Made at the first launch: only starting a node needs Java and the distribution.
    launcher: Option<Launcher>,
    budget: Budget,
    children: Vec<Launched>,
    relaunches: u32,
}

/// A node this call launched: its process, and where its logs stood at launch, so that
/// what this run of it wrote can be told from earlier runs.
struct Launched {
    role: Role,
    id: u32,
    child: Child,
    logs_from: LogMarks,
}

impl Local {
    pub fn open(state: ClusterState) -> Local {
        Local {
            state,
            launcher: None,
            budget: Budget::new(0.0),
            children: Vec::new(),
            relaunches: 0,
        }
    }

    fn launcher(&mut self) -> Result<&Launcher> {
        if self.launcher.is_none() {
            let dist = Distribution {
                home: self.state.distribution.clone(),
                version: self.state.kafka_version.clone().unwrap_or_default(),
            };
            if !dist.home.join("libs").is_dir() {
                let name = &self.state.name;
                return Err(Failure::environment(format!(
                    "cluster '{name}' was created with Kafka in {}, which is gone: `kcluster down --name {name}` and `up` again",
                    dist.home.display()
                ))
                .into());
            }
            self.launcher = Some(Launcher {
                java: distribution::java()?,
                dist,
                heap: heap_of(&self.state),
            });
        }
        Ok(self.launcher.as_ref().expect("just made"))
    }

    /// Start a node once its ports can be listened on (see [`topology::wait_until_free`]).
    fn launch_node(&mut self, role: Role, node: &NodeState) -> Result<Launched> {
        self.launcher()?;
        let label = format!("{} {}", role.label(), node.id);
        topology::wait_until_free(&label, &node_ports(node), self.budget)?;
        let logs_from = LogMarks::now(&self.state, role, node.id);
        let launcher = self.launcher.as_ref().expect("made above");
        let child = launcher.start(&self.state, role, node)?;
        Ok(Launched {
            role,
            id: node.id,
            child,
            logs_from,
        })
    }
}

impl Backend for Local {
    fn state(&self) -> &ClusterState {
        &self.state
    }

    fn liveness(&self) -> HashMap<(Role, u32), Liveness> {
        let mut live = HashMap::new();
        for role in [Role::Zookeeper, Role::Broker] {
            for node in role.nodes(&self.state) {
                let pid = self.state.running_pid(role.prefix(), node.id);
                live.insert(
                    (role, node.id),
                    Liveness {
                        running: pid.is_some(),
                        pid,
                        container: None,
                    },
                );
            }
        }
        live
    }

    fn launch(&mut self, role: Role, nodes: &[NodeState], budget: Budget) -> Result<()> {
        self.budget = budget;
        // ZooKeeper mode: a secure cluster's users live in ZooKeeper, and the brokers need
        // theirs to talk to each other: made once, before the first broker starts.
        let secure_zookeeper = self.state.secure && self.state.mode == Mode::Zookeeper;
        if role == Role::Broker && !nodes.is_empty() && secure_zookeeper {
            self.launcher()?;
            let launcher = self.launcher.as_ref().expect("made above");
            let state = &self.state;
            crate::security::create_zookeeper_users(state, |tool, what| {
                let logs = Role::Broker.node_dir(state, nodes[0].id).join("logs");
                run_kafka_tool(&launcher.java, &launcher.dist, state, &logs, tool, what)
            })?;
        }
        for node in nodes {
            // A node this call launched before and that was killed since (`kcluster chaos`):
            // its old process is reaped and no longer watched.
            for old in self.children.iter_mut() {
                if old.role == role && old.id == node.id {
                    let _ = old.child.kill();
                    let _ = old.child.wait();
                }
            }
            self.children
                .retain(|l| !(l.role == role && l.id == node.id));
            let launched = self.launch_node(role, node)?;
            self.children.push(launched);
        }
        Ok(())
    }

    fn undo_launch(&mut self) {
        for launched in &mut self.children {
            let _ = launched.child.kill();
            let _ = launched.child.wait();
        }
    }

    fn stop_node(
        &self,
        role: Role,
        node: &NodeState,
        graceful: bool,
        grace: Duration,
    ) -> Result<bool> {
        let Some(pid) = self.state.running_pid(role.prefix(), node.id) else {
            return Ok(false);
        };
        let signal = if graceful {
            libc::SIGTERM
        } else {
            libc::SIGKILL
        };
        terminate(pid, &role.node_dir(&self.state, node.id), signal, grace);
        Ok(true)
    }

    fn logs(&self, role: Role, ids: &[u32], follow: bool) -> Result<()> {
        copy_logs(&self.state, role, ids, follow)
    }

    fn teardown(&self, keep: bool) -> Result<(&'static str, &'static str)> {
        crate::schema_registry::stop(&self.state);
        stop_all(&self.state, keep);
        Ok(("", "its data"))
    }

    fn supports_faults(&self) -> Result<()> {
        Ok(())
    }

    fn watch(&mut self) -> &mut dyn Watch {
        self
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

impl Watch for Local {
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
            let written = launched.logs_from.written_since(&self.state, role, id);
            let label = format!("{} {id}", role.label());
            let may_relaunch = self.relaunches < MAX_RELAUNCHES && !self.budget.expired();
            // Another socket took one of the node's ports between the check before launch
            // and the JVM's bind (seconds later): wait until it is free, launch again.
            if node_log::is_bind_failure(&written) && may_relaunch {
                self.relaunches += 1;
                let cause = node_log::cause(&label, &written).unwrap_or_default();
                eprintln!("kcluster: {cause}; launching it again once the port is free");
                let node = role.node(&self.state, id).expect("a launched node").clone();
                self.children[i] = self.launch_node(role, &node)?;
                continue;
            }
            // ZooKeeper mode, after a crash: the broker's old registration outlives it until its
            // session expires, and a broker started too early exits. Start it again, a few times.
            if role == Role::Broker && zookeeper::stale_registration(&written) && may_relaunch {
                self.relaunches += 1;
                std::thread::sleep(Duration::from_secs(1));
                let node = role.node(&self.state, id).expect("a launched node").clone();
                self.children[i] = self.launch_node(role, &node)?;
                continue;
            }
            let detail = node_log::failure_detail(
                &label,
                &written,
                &log_file(&self.state, role, id).display().to_string(),
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
            .map(|l| l.logs_from.written_since(&self.state, role, id))
            .unwrap_or_else(|| log_text(&self.state, role, id));
        node_log::failure_detail(
            &label,
            &written,
            &log_file(&self.state, role, id).display().to_string(),
        )
    }
}

/// The heap the cluster's nodes run with.
fn heap_of(state: &ClusterState) -> String {
    state.heap.clone().unwrap_or_else(|| DEFAULT_HEAP.into())
}

/// Stop every node, brokers first. With `keep`, cleanly (SIGTERM), so the data is
/// consistent for a later `up`.
fn stop_all(state: &ClusterState, keep: bool) {
    // With --keep, a clean shutdown so the data is consistent; without, the data is
    // deleted anyway, so SIGKILL saves the brokers' controlled-shutdown dance.
    let (signal, grace) = if keep {
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
                    .running_pid(role.prefix(), n.id)
                    .map(|pid| (pid, role.node_dir(state, n.id)))
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
}
