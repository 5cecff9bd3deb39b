//! The local backend: real Apache Kafka brokers as detached JVM processes.
//!
//! KRaft mode: every node is broker and controller, the voters are fixed in each
//! node's `server.properties`, and every node's storage is formatted with the one
//! cluster id kept in `cluster.json`.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kcore::state::{process_marker, ClusterState, NodeState};
use kcore::Failure;

use crate::cli::{DownArgs, LogsArgs, NodeArgs, UpArgs};
use crate::distribution::{self, Distribution};
use crate::health::{self, BrokerStatus, Progress};
use crate::lock::ClusterLock;

/// Node directory prefix for brokers (`node_dir("kafka", 1)` is `kafka-1/`).
const BROKER: &str = "kafka";

/// JVM options for a small, quick-starting broker on a 2-core machine.
const JVM_FLAGS: &[&str] = &[
    "-server",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
];

/// Host ports of the default cluster: broker i listens on 19092 + 10000·i (29092, 39092, 49092…).
fn default_ports(id: u32) -> Option<(u16, u16)> {
    let port = 19_092 + 10_000 * id;
    (port < 65_000).then(|| (port as u16, port as u16 + 1))
}

/// Free loopback ports for a named cluster, chosen once and kept in cluster.json.
fn free_ports(count: usize) -> Result<Vec<u16>> {
    // Hold every listener until all are chosen, so the same port is never handed out twice.
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .context("finding free ports")?;
    listeners.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

/// A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid form).
fn new_cluster_id() -> Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).context("reading /dev/urandom")?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn new_state(name: &str, brokers: u32, dist: &Distribution) -> Result<ClusterState> {
    let ports: Vec<(u16, u16)> = if name == "default" {
        (1..=brokers)
            .map(|id| {
                default_ports(id).ok_or_else(|| {
                    Failure::usage("the default cluster has fixed ports for at most 4 brokers; use --name for more")
                })
            })
            .collect::<Result<_, _>>()?
    } else {
        free_ports(2 * brokers as usize)?.chunks(2).map(|pair| (pair[0], pair[1])).collect()
    };
    Ok(ClusterState {
        name: name.to_string(),
        backend: "local".into(),
        mode: "kraft".into(),
        kafka_version: dist.version.clone(),
        distribution: dist.home.clone(),
        cluster_id: new_cluster_id()?,
        nodes: ports
            .into_iter()
            .zip(1..)
            .map(|((port, controller), id)| NodeState {
                id,
                host: "localhost".into(),
                port,
                peer_ports: vec![controller],
            })
            .collect(),
        zookeepers: Vec::new(),
    })
}

fn server_properties(state: &ClusterState, node: &NodeState, node_dir: &Path) -> String {
    let n = state.nodes.len();
    let voters: Vec<String> =
        state.nodes.iter().map(|v| format!("{}@{}:{}", v.id, v.host, v.peer_ports[0])).collect();
    let replication = n.min(3);
    let min_isr = n.min(2);
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
         log.dirs={data}\n\
         # Internal topics replicated like the seed's my-topic, so one broker may fail.\n\
         offsets.topic.replication.factor={replication}\n\
         transaction.state.log.replication.factor={replication}\n\
         transaction.state.log.min.isr={min_isr}\n\
         share.coordinator.state.topic.replication.factor={replication}\n\
         share.coordinator.state.topic.min.isr={min_isr}\n\
         offsets.topic.num.partitions=10\n\
         group.initial.rebalance.delay.ms=0\n\
         # A small footprint for laptops and CI: few threads, a small cleaner buffer.\n\
         num.network.threads=2\n\
         num.io.threads=4\n\
         log.cleaner.dedupe.buffer.size=16777216\n",
        name = state.name,
        id = node.id,
        voters = voters.join(","),
        host = node.host,
        port = node.port,
        cport = node.peer_ports[0],
        data = node_dir.join("data").display(),
    )
}

/// `kcluster up`.
pub fn up(name: &str, args: &UpArgs) -> Result<()> {
    let started = Instant::now();
    let _lock = ClusterLock::acquire(name)?;
    let java = distribution::java()?;
    let state = match ClusterState::load(name) {
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
            let dist = distribution::locate(&args.kafka_version, args.kafka_home.as_deref(), true)?;
            let state = new_state(name, args.brokers.unwrap_or(3), &dist)?;
            create(&java, &state)?;
            state
        }
    };
    let dist = Distribution { home: state.distribution.clone(), version: state.kafka_version.clone() };
    if !dist.home.join("libs").is_dir() {
        return Err(Failure::environment(format!(
            "cluster '{name}' was created with Kafka in {}, which is gone: `kcluster down --name {name}` and `up` again",
            dist.home.display()
        ))
        .into());
    }

    let mut children = Vec::new();
    for node in &state.nodes {
        if state.running_pid(BROKER, node.id).is_none() {
            children.push((node.id, start_node(&java, &dist, &state, node, &args.heap)?));
        }
    }
    let ids: Vec<u32> = state.nodes.iter().map(|n| n.id).collect();
    let timeout = Duration::from_secs_f64(args.timeout);
    if let Err(err) = wait_ready(&state, &ids, &mut children, timeout) {
        // Leave nothing half-started behind: the brokers this call started go down again.
        for (_, child) in &mut children {
            let _ = child.kill();
            let _ = child.wait();
        }
        return Err(err);
    }
    if !children.is_empty() {
        eprintln!(
            "kcluster: {} of {} brokers started, cluster '{name}' ready in {:.1}s",
            children.len(),
            ids.len(),
            started.elapsed().as_secs_f64()
        );
    }
    print_status(&state, &health::broker_statuses(&state, BROKER))
}

/// Write configs and format storage for every node of a new cluster.
fn create(java: &Path, state: &ClusterState) -> Result<()> {
    fs::create_dir_all(state.dir()).with_context(|| format!("creating {}", state.dir().display()))?;
    let dist = Distribution { home: state.distribution.clone(), version: state.kafka_version.clone() };
    for node in &state.nodes {
        let dir = state.node_dir(BROKER, node.id);
        fs::create_dir_all(dir.join("logs"))?;
        fs::write(dir.join("server.properties"), server_properties(state, node, &dir))?;
        let output = Command::new(java)
            .args(["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
            .arg(format!("-Dlog4j2.configurationFile={}", dist.tools_log4j2_config().display()))
            .arg(format!("-Dkafka.logs.dir={}", dir.join("logs").display()))
            .arg("-cp")
            .arg(dist.libs_classpath())
            .args(["kafka.tools.StorageTool", "format", "--ignore-formatted", "-t", &state.cluster_id, "-c"])
            .arg(dir.join("server.properties"))
            .stdin(Stdio::null())
            .output()
            .context("running Kafka's storage format tool")?;
        if !output.status.success() {
            let _ = fs::remove_dir_all(state.dir());
            return Err(anyhow::anyhow!(
                "formatting storage of broker {} failed: {}",
                node.id,
                String::from_utf8_lossy(&output.stderr).lines().chain(String::from_utf8_lossy(&output.stdout).lines()).filter(|l| !l.trim().is_empty()).last().unwrap_or("no output")
            ));
        }
    }
    // cluster.json last: its presence means the cluster is complete.
    let text = serde_json::to_string_pretty(state)?;
    fs::write(ClusterState::file(&state.name), text + "\n")?;
    Ok(())
}

/// Start one broker JVM, detached in its own session so a Ctrl-C at the terminal spares it.
fn start_node(java: &Path, dist: &Distribution, state: &ClusterState, node: &NodeState, heap: &str) -> Result<Child> {
    let dir = state.node_dir(BROKER, node.id);
    let logs = dir.join("logs");
    fs::create_dir_all(&logs)?;
    // Regenerated so a cluster created by an older kcluster picks up current settings.
    fs::write(dir.join("server.properties"), server_properties(state, node, &dir))?;
    let out = OpenOptions::new().create(true).append(true).open(logs.join("kafka.out"))?;
    let mut command = Command::new(java);
    command
        .arg(format!("-Xms{heap}"))
        .arg(format!("-Xmx{heap}"))
        .args(JVM_FLAGS)
        .arg(process_marker(&dir))
        .arg(format!("-Dkafka.logs.dir={}", logs.display()));
    if let Some(config) = dist.log4j2_config() {
        command.arg(format!("-Dlog4j2.configurationFile={}", config.display()));
    } else if let Some(config) = dist.log4j1_config() {
        command.arg(format!("-Dlog4j.configuration=file:{}", config.display()));
    }
    command
        .arg("-cp")
        .arg(dist.libs_classpath())
        .arg("kafka.Kafka")
        .arg(dir.join("server.properties"))
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
    let child = command.spawn().with_context(|| format!("starting broker {}", node.id))?;
    fs::write(dir.join("pid"), format!("{}\n", child.id()))?;
    Ok(child)
}

/// Wait until every id in `ids` is in the cluster metadata; fail early when a broker exits.
fn wait_ready(state: &ClusterState, ids: &[u32], children: &mut [(u32, Child)], timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let progress = Progress::new(ids.len());
    let probe = health::MetadataProbe::new(&state.bootstrap())?;
    loop {
        for (id, child) in children.iter_mut() {
            if let Some(status) = child.try_wait()? {
                progress.finish();
                return Err(Failure::unhealthy(format!(
                    "broker {id} exited ({status}) while starting; its log ends with:\n{}",
                    log_tail(state, *id, 30)
                ))
                .into());
            }
        }
        let present = probe.broker_ids(Duration::from_millis(1000));
        let ready = ids.iter().filter(|id| present.contains(id)).count();
        progress.update(ready);
        if ready == ids.len() {
            progress.finish();
            return Ok(());
        }
        if Instant::now() >= deadline {
            progress.finish();
            let missing: Vec<u32> = ids.iter().copied().filter(|id| !present.contains(id)).collect();
            let first = missing.first().copied().unwrap_or(ids[0]);
            return Err(Failure::unhealthy(format!(
                "broker(s) {missing:?} not ready within {:.0}s (raise --timeout?); broker {first}'s log ends with:\n{}",
                timeout.as_secs_f64(),
                log_tail(state, first, 30)
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The last `lines` lines of a broker's log, for error messages.
fn log_tail(state: &ClusterState, id: u32, lines: usize) -> String {
    let path = log_file(state, id);
    let text = fs::read_to_string(&path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    format!("{}\n(full log: {})", tail, path.display())
}

/// The broker's main log: log4j's server.log, else the JVM's captured stdout.
fn log_file(state: &ClusterState, id: u32) -> PathBuf {
    let logs = state.node_dir(BROKER, id).join("logs");
    let server_log = logs.join("server.log");
    if server_log.is_file() {
        server_log
    } else {
        logs.join("kafka.out")
    }
}

pub fn load(name: &str) -> Result<ClusterState> {
    ClusterState::load(name).ok_or_else(|| {
        Failure::not_found(format!("no cluster named '{name}' (start one with `kcluster up --name {name}`)")).into()
    })
}

fn node<'a>(state: &'a ClusterState, id: u32) -> Result<&'a NodeState> {
    state.nodes.iter().find(|n| n.id == id).ok_or_else(|| {
        Failure::not_found(format!("cluster '{}' has no broker {id} (ids are 1..{})", state.name, state.nodes.len()))
            .into()
    })
}

fn print_status(state: &ClusterState, statuses: &[BrokerStatus]) -> Result<()> {
    let mut out = kcore::JsonLines::stdout();
    for status in statuses {
        out.emit(&status.to_json(&state.name))?;
    }
    out.flush()
}

/// `kcluster status`.
pub fn status(name: &str) -> Result<()> {
    let state = load(name)?;
    let statuses = health::broker_statuses(&state, BROKER);
    print_status(&state, &statuses)?;
    let not_up: Vec<String> =
        statuses.iter().filter(|s| s.state != "up").map(|s| format!("broker {} is {}", s.id, s.state)).collect();
    if not_up.is_empty() {
        Ok(())
    } else {
        Err(Failure::unhealthy(format!("cluster '{name}': {}", not_up.join(", "))).into())
    }
}

/// `kcluster stop N` (graceful) and `kcluster kill N` (SIGKILL).
pub fn stop(name: &str, args: &NodeArgs, graceful: bool) -> Result<()> {
    let _lock = ClusterLock::acquire(name)?;
    let state = load(name)?;
    let node = node(&state, args.id)?;
    let dir = state.node_dir(BROKER, node.id);
    match state.running_pid(BROKER, node.id) {
        None => eprintln!("kcluster: broker {} of '{name}' is not running", node.id),
        Some(pid) => {
            let signal = if graceful { libc::SIGTERM } else { libc::SIGKILL };
            let grace = Duration::from_secs_f64(args.timeout);
            terminate(pid, &dir, signal, grace);
            eprintln!("kcluster: broker {} ({}) {}", node.id, node.address(), if graceful { "stopped" } else { "killed" });
        }
    }
    print_status(&state, &health::broker_statuses(&state, BROKER))
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

/// `kcluster start N`.
pub fn start(name: &str, args: &NodeArgs) -> Result<()> {
    let _lock = ClusterLock::acquire(name)?;
    let state = load(name)?;
    let node = node(&state, args.id)?;
    let mut children = Vec::new();
    if state.running_pid(BROKER, node.id).is_none() {
        let java = distribution::java()?;
        let dist = Distribution { home: state.distribution.clone(), version: state.kafka_version.clone() };
        children.push((node.id, start_node(&java, &dist, &state, node, "512m")?));
    }
    wait_ready(&state, &[node.id], &mut children, Duration::from_secs_f64(args.timeout))?;
    print_status(&state, &health::broker_statuses(&state, BROKER))
}

/// `kcluster down [--keep]`.
pub fn down(name: &str, args: &DownArgs) -> Result<()> {
    let _lock = ClusterLock::acquire(name)?;
    let Some(state) = ClusterState::load(name) else {
        eprintln!("kcluster: no cluster named '{name}'; nothing to do");
        return Ok(());
    };
    // With --keep, a clean shutdown so the data is consistent; without, the data is
    // deleted anyway, so SIGKILL saves the brokers' controlled-shutdown dance.
    let (signal, grace) =
        if args.keep { (libc::SIGTERM, Duration::from_secs(60)) } else { (libc::SIGKILL, Duration::from_secs(10)) };
    let running: Vec<(i32, PathBuf)> = state
        .nodes
        .iter()
        .filter_map(|n| state.running_pid(BROKER, n.id).map(|pid| (pid, state.node_dir(BROKER, n.id))))
        .collect();
    for (pid, _) in &running {
        unsafe { libc::kill(*pid, signal) };
    }
    for (pid, dir) in &running {
        terminate(*pid, dir, signal, grace);
    }
    if args.keep {
        eprintln!("kcluster: cluster '{name}' stopped; data kept in {}", state.dir().display());
    } else {
        fs::remove_dir_all(state.dir()).with_context(|| format!("removing {}", state.dir().display()))?;
        eprintln!("kcluster: cluster '{name}' stopped and its data removed");
    }
    Ok(())
}

/// `kcluster logs [N] [-f]`.
pub fn logs(name: &str, args: &LogsArgs) -> Result<()> {
    let state = load(name)?;
    let ids: Vec<u32> = match args.id {
        Some(id) => vec![node(&state, id)?.id],
        None => state.nodes.iter().map(|n| n.id).collect(),
    };
    let prefix = ids.len() > 1;
    let mut readers: Vec<(u32, BufReader<File>)> = Vec::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for id in &ids {
        let path = log_file(&state, *id);
        let Ok(file) = File::open(&path) else { continue };
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
                    write!(out, "kafka-{id} | ")?;
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

/// `kcluster env`.
pub fn env(name: &str) -> Result<()> {
    let state = load(name)?;
    println!("export KAFKA_BROKERS={}", state.bootstrap());
    Ok(())
}
