//! The compose backend: the same clusters in Docker, through `docker compose`
//! (the plugin) or the standalone `docker-compose`, whichever is installed.
//!
//! compose/kraft.yml and compose/zookeeper.yml are built into kcluster and written to the
//! cluster's state directory as `compose.yml`, with a `.env` beside it holding this cluster's
//! host ports, cluster id and image versions. Every command runs
//! `docker compose -p kpipes-NAME -f DIR/compose.yml --env-file DIR/.env ...` in that
//! directory, so kcluster works from anywhere and `docker compose` by hand sees the same.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::fd::AsFd;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kcore::state::{Backend as Kind, ClusterState, Mode, NodeState};
use kcore::Failure;

use crate::backend::{new_cluster_id, Backend};
use crate::budget::Budget;
use crate::cli::UpArgs;
use crate::distribution;
use crate::health::Liveness;
use crate::node_log;
use crate::role::Role;
use crate::topology::{broker_ports, default_zookeeper_ports, free_ports};
use crate::wait::Watch;

/// The compose files, embedded so an installed kcluster needs no checkout.
pub const KRAFT_FILE: &str = include_str!("../../../compose/kraft.yml");
pub const ZOOKEEPER_FILE: &str = include_str!("../../../compose/zookeeper.yml");

/// The Confluent Platform version of compose/zookeeper.yml's images (the file's own default);
/// `CP_VERSION` picks another 7.9.x.
pub const DEFAULT_CP_VERSION: &str = "7.9.1";

/// Both files define exactly 3 brokers (and 3 ZooKeeper nodes).
const NODES: u32 = 3;

/// How long `docker info` may take before the engine counts as absent.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(5);

/// The compose command line prefix: `docker compose` or `docker-compose`.
#[derive(Debug, Clone)]
pub struct Docker {
    program: &'static str,
    prefix: &'static [&'static str],
}

impl Docker {
    fn command(&self) -> Command {
        let mut command = Command::new(self.program);
        command.args(self.prefix).stdin(Stdio::null());
        command
    }

    fn name(&self) -> String {
        std::iter::once(self.program)
            .chain(self.prefix.iter().copied())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Run a command, waiting at most `limit`; None when it took longer (it is then killed).
fn output_within(
    command: &mut Command,
    limit: Duration,
) -> std::io::Result<Option<(ExitStatus, String, String)>> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            let mut out = String::new();
            let mut err = String::new();
            if let Some(mut stdout) = child.stdout.take() {
                let _ = stdout.read_to_string(&mut out);
            }
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut err);
            }
            return Ok(Some((status, out, err)));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn last_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("no output")
}

/// Does a Docker engine answer `docker info` within [`ENGINE_TIMEOUT`]? Err says why not.
pub fn engine_answers() -> std::result::Result<(), String> {
    match output_within(Command::new("docker").arg("info"), ENGINE_TIMEOUT) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Err("`docker` is not installed".into())
        }
        Err(err) => Err(format!("running `docker info`: {err}")),
        Ok(None) => Err(format!(
            "`docker info` did not answer within {}s",
            ENGINE_TIMEOUT.as_secs()
        )),
        Ok(Some((status, _, _))) if status.success() => Ok(()),
        Ok(Some((_, _, err))) => Err(format!("`docker info` failed: {}", last_line(&err))),
    }
}

/// The compose command to use, if one is installed: the plugin first, else the standalone binary.
pub fn find_compose() -> std::result::Result<Docker, String> {
    const CANDIDATES: [Docker; 2] = [
        Docker {
            program: "docker",
            prefix: &["compose"],
        },
        Docker {
            program: "docker-compose",
            prefix: &[],
        },
    ];
    let mut old = None;
    for docker in CANDIDATES {
        let mut command = docker.command();
        command.args(["version", "--short"]);
        if let Ok(Some((status, out, _))) = output_within(&mut command, ENGINE_TIMEOUT) {
            if status.success() {
                let version = out.trim().trim_start_matches('v').to_string();
                if version
                    .split('.')
                    .next()
                    .and_then(|m| m.parse::<u32>().ok())
                    .unwrap_or(2)
                    >= 2
                {
                    return Ok(docker);
                }
                old = Some(format!("{} is version {version}", docker.name()));
            }
        }
    }
    Err(match old {
        Some(old) => format!("Docker Compose v2 is needed, and {old}"),
        None => "neither the `docker compose` plugin nor `docker-compose` is installed".into(),
    })
}

/// A working Docker engine and compose command, or exit 8 saying what is missing.
pub fn detect() -> Result<Docker> {
    engine_answers().map_err(|why| {
        Failure::environment(format!(
            "the compose backend needs a running Docker engine: {why} (start Docker, or use --backend local)"
        ))
    })?;
    find_compose().map_err(|why| {
        Failure::environment(format!(
            "the compose backend needs Docker Compose: {why} (or use --backend local)"
        ))
        .into()
    })
}

/// The compose project name: `kpipes-NAME`, in compose's alphabet (lowercase, digits, `-`, `_`).
pub fn project_name(cluster: &str) -> String {
    let name: String = cluster
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("kpipes-{name}")
}

/// One cluster's compose project, and the containers this kcluster call started.
pub struct Compose {
    docker: Docker,
    state: ClusterState,
    /// The nodes this call started, watched while it waits for them.
    waiting: Vec<(Role, u32)>,
    /// When `docker compose ps` was last asked on their behalf.
    last_check: Option<Instant>,
    /// `up -d` ran in this call: it starts every node at once.
    upped: bool,
}

/// A container as `docker compose ps` reports it.
#[derive(Debug, Clone)]
struct Container {
    name: String,
    state: String,
}

impl Compose {
    pub fn open(state: ClusterState) -> Result<Compose> {
        Ok(Compose {
            docker: detect()?,
            state,
            waiting: Vec::new(),
            last_check: None,
            upped: false,
        })
    }

    /// `docker compose -p PROJECT -f DIR/compose.yml --env-file DIR/.env ARGS...`, run in DIR.
    fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let dir = self.state.dir();
        let mut command = self.docker.command();
        command
            .arg("-p")
            .arg(project_name(&self.state.name))
            .arg("-f")
            .arg(dir.join("compose.yml"))
            .arg("--env-file")
            .arg(dir.join(".env"))
            .args(args)
            .current_dir(&dir);
        command
    }

    /// Run a compose command, its output on stderr (stdout is for JSON lines); fail when it fails.
    fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S], limit: Option<Duration>) -> Result<()> {
        let mut command = self.command(args);
        let what = format!(
            "{} {}",
            self.docker.name(),
            args.iter()
                .map(|a| a.as_ref().to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
        // The child's stdout goes to our stderr.
        let stdout = Stdio::from(
            std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .context("duplicating stderr")?,
        );
        let mut child = command
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("running {what}"))?;
        let deadline = limit.map(|l| Instant::now() + l);
        loop {
            if let Some(status) = child.try_wait()? {
                if status.success() {
                    return Ok(());
                }
                return Err(anyhow::anyhow!(
                    "`{what}` failed ({status}; its output is above)"
                ));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Failure::unhealthy(format!(
                    "`{what}` did not finish within {:.0}s (raise --timeout?)",
                    limit.unwrap_or_default().as_secs_f64()
                ))
                .into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every container of the project by service name (`docker compose ps -a --format json`:
    /// a JSON array in older Compose v2 releases, one object per line in newer ones).
    fn ps(&self) -> HashMap<String, Container> {
        let Ok(Some((status, out, _))) = output_within(
            &mut self.command(&["ps", "-a", "--format", "json"]),
            Duration::from_secs(30),
        ) else {
            return HashMap::new();
        };
        if !status.success() {
            return HashMap::new();
        }
        parse_ps(&out)
    }

    /// Why a container's node failed, from the end of its log (see [`node_log`]).
    fn failure_detail(&self, role: Role, id: u32) -> String {
        let service = role.service(id);
        let label = format!("{} {id}", role.label());
        let flag = if role == Role::Zookeeper {
            " --zookeeper"
        } else {
            ""
        };
        let where_ = format!("`kcluster logs{flag} {id} --name {}`", self.state.name);
        match output_within(
            &mut self.command(&["logs", "--no-color", "--tail", "30", &service]),
            Duration::from_secs(30),
        ) {
            Ok(Some((_, out, err))) => {
                node_log::failure_detail(&label, &format!("{out}{err}"), &where_)
            }
            _ => format!("no log: `{} logs {service}` failed", self.docker.name()),
        }
    }
}

/// Parse `docker compose ps --format json` in either of its forms.
fn parse_ps(out: &str) -> HashMap<String, Container> {
    let text = out.trim();
    let values: Vec<serde_json::Value> = if text.starts_with('[') {
        serde_json::from_str(text).unwrap_or_default()
    } else {
        text.lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    };
    values
        .iter()
        .filter_map(|v| {
            let service = v["Service"].as_str()?.to_string();
            let state = v["State"].as_str().unwrap_or("").to_ascii_lowercase();
            let name = v["Name"].as_str().unwrap_or(&service).to_string();
            Some((service, Container { name, state }))
        })
        .collect()
}

/// Fails a wait early when a container being waited for exited.
impl Watch for Compose {
    fn check(&mut self, role: Role) -> Result<()> {
        // `docker compose ps` is slow-ish: every 3 s is often enough.
        if self
            .last_check
            .is_some_and(|t| t.elapsed() < Duration::from_secs(3))
        {
            return Ok(());
        }
        self.last_check = Some(Instant::now());
        let containers = self.ps();
        for (r, id) in self.waiting.iter().filter(|(r, _)| *r == role) {
            if let Some(c) = containers.get(&r.service(*id)) {
                if c.state == "exited" || c.state == "dead" {
                    return Err(Failure::unhealthy(format!(
                        "{} {id} (container {}) exited while starting\n{}",
                        r.label(),
                        c.name,
                        self.failure_detail(*r, *id)
                    ))
                    .into());
                }
            }
        }
        Ok(())
    }

    fn failure_detail(&self, role: Role, id: u32) -> String {
        Compose::failure_detail(self, role, id)
    }
}

fn new_state(name: &str, args: &UpArgs, mode: Mode) -> Result<ClusterState> {
    if let Some(brokers) = args.brokers.filter(|&b| b != NODES) {
        return Err(Failure::usage(format!(
            "the compose files define {NODES} brokers, not {brokers}: use --backend local for another count"
        ))
        .into());
    }
    let brokers: Vec<NodeState> = broker_ports(name, NODES)?
        .into_iter()
        .zip(1..)
        .map(|((port, _), id)| NodeState {
            id,
            host: "localhost".into(),
            port,
            peer_ports: Vec::new(),
        })
        .collect();
    let zookeepers: Vec<NodeState> = match mode {
        Mode::Kraft => Vec::new(),
        Mode::Zookeeper => {
            let ports: Vec<u16> = if name == "default" {
                (1..=NODES)
                    .map(|id| default_zookeeper_ports(id).0)
                    .collect()
            } else {
                free_ports(NODES as usize)?
            };
            ports
                .into_iter()
                .zip(1..)
                .map(|(port, id)| NodeState {
                    id,
                    host: "localhost".into(),
                    port,
                    peer_ports: Vec::new(),
                })
                .collect()
        }
    };
    // KRaft: Apache Kafka's own images; ZooKeeper mode: Confluent Platform's.
    let (kafka_version, cp_version) = match mode {
        Mode::Kraft => (
            Some(
                args.kafka_version
                    .clone()
                    .unwrap_or_else(|| distribution::DEFAULT_KAFKA_VERSION.into()),
            ),
            None,
        ),
        Mode::Zookeeper => (None, Some(cp_version())),
    };
    Ok(ClusterState {
        name: name.to_string(),
        backend: Kind::Compose,
        mode,
        kafka_version,
        cp_version,
        distribution: Default::default(),
        cluster_id: if mode == Mode::Kraft {
            new_cluster_id()?
        } else {
            String::new()
        },
        brokers,
        zookeepers,
        heap: None,
        secure: false,
        schema_registry: None,
    })
}

/// `CP_VERSION` from the environment, else the compose file's default.
fn cp_version() -> String {
    std::env::var("CP_VERSION")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_CP_VERSION.into())
}

/// The `.env` docker compose reads: this cluster's values of the files' variables.
pub fn env_file(state: &ClusterState) -> String {
    let mut text = format!(
        "# Written by kcluster for cluster '{}'; the variables of compose.yml.\n",
        state.name
    );
    for node in &state.brokers {
        text.push_str(&format!("KAFKA_{}_HOST_PORT={}\n", node.id, node.port));
    }
    for node in &state.zookeepers {
        text.push_str(&format!("ZOOKEEPER_{}_HOST_PORT={}\n", node.id, node.port));
    }
    match state.mode {
        Mode::Zookeeper => text.push_str(&format!(
            "CP_VERSION={}\n",
            state.cp_version.as_deref().unwrap_or(DEFAULT_CP_VERSION)
        )),
        Mode::Kraft => text.push_str(&format!(
            "KAFKA_VERSION={}\nCLUSTER_ID={}\n",
            state
                .kafka_version
                .as_deref()
                .unwrap_or(distribution::DEFAULT_KAFKA_VERSION),
            state.cluster_id
        )),
    }
    text
}

/// Write compose.yml, .env and (last: it means the cluster is complete) cluster.json.
fn write_files(state: &ClusterState) -> Result<()> {
    let dir = state.dir();
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = match state.mode {
        Mode::Zookeeper => ZOOKEEPER_FILE,
        Mode::Kraft => KRAFT_FILE,
    };
    fs::write(dir.join("compose.yml"), file)?;
    fs::write(dir.join(".env"), env_file(state))?;
    state.save()?;
    Ok(())
}

/// A new compose cluster: Docker is checked first, then its files are written.
pub fn create(name: &str, args: &UpArgs, mode: Mode, note: Option<&str>) -> Result<ClusterState> {
    detect()?;
    let state = new_state(name, args, mode)?;
    if let Some(note) = note {
        eprintln!("kcluster: {note}");
    }
    write_files(&state)?;
    Ok(state)
}

impl Backend for Compose {
    fn state(&self) -> &ClusterState {
        &self.state
    }

    fn liveness(&self) -> HashMap<(Role, u32), Liveness> {
        let containers = self.ps();
        let mut live = HashMap::new();
        for role in [Role::Zookeeper, Role::Broker] {
            for node in role.nodes(&self.state) {
                let liveness = match containers.get(&role.service(node.id)) {
                    Some(c) => Liveness {
                        running: c.state == "running",
                        pid: None,
                        container: Some(c.name.clone()),
                    },
                    None => Liveness::default(),
                };
                live.insert((role, node.id), liveness);
            }
        }
        live
    }

    /// `docker compose up -d` starts every node at once (ZooKeeper first, through the
    /// files' depends_on): the first call runs it, later ones only note what to watch.
    fn launch(&mut self, role: Role, nodes: &[NodeState], budget: Budget) -> Result<()> {
        self.waiting.extend(nodes.iter().map(|n| (role, n.id)));
        if !self.upped {
            self.upped = true;
            // `up -d` itself waits for the ZooKeeper healthchecks: bounded by --timeout too.
            self.run(&["up", "-d", "--remove-orphans"], Some(budget.timeout))?;
        }
        Ok(())
    }

    fn restart(&mut self, role: Role, node: &NodeState, budget: Budget) -> Result<()> {
        self.waiting.push((role, node.id));
        self.run(&["start", &role.service(node.id)], Some(budget.timeout))
    }

    fn undo_launch(&mut self) {
        // Data (volumes) kept, as the local backend keeps it.
        let services: Vec<String> = self.waiting.iter().map(|(r, id)| r.service(*id)).collect();
        if !services.is_empty() {
            let mut stop = vec!["stop".to_string()];
            stop.extend(services);
            let _ = self.run(&stop, Some(Duration::from_secs(120)));
        }
    }

    fn stop_node(
        &self,
        role: Role,
        node: &NodeState,
        graceful: bool,
        grace: Duration,
    ) -> Result<bool> {
        let service = role.service(node.id);
        if graceful {
            let grace = format!("{}", grace.as_secs_f64().ceil() as u64);
            self.run(&["stop", "-t", &grace, &service], None)?;
        } else {
            self.run(&["kill", "-s", "SIGKILL", &service], None)?;
        }
        Ok(true)
    }

    /// `docker compose logs`, which prefixes each line with its service when there are several.
    fn logs(&self, role: Role, ids: &[u32], follow: bool) -> Result<()> {
        let services: Vec<String> = ids.iter().map(|id| role.service(*id)).collect();
        let mut command_args: Vec<String> = vec!["logs".into(), "--no-color".into()];
        if follow {
            command_args.push("--follow".into());
        }
        if services.len() == 1 {
            command_args.push("--no-log-prefix".into());
        }
        command_args.extend(services);
        let status = self
            .command(&command_args)
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .status()
            .context("running docker compose logs")?;
        if status.success() {
            Ok(())
        } else {
            Err(anyhow::anyhow!(
                "`{} logs` failed ({status})",
                self.docker.name()
            ))
        }
    }

    /// `docker compose down`, with `-v` (the volumes) unless `keep`.
    fn teardown(&self, keep: bool) -> Result<(&'static str, &'static str)> {
        let mut command_args = vec!["down", "--remove-orphans"];
        if !keep {
            command_args.push("-v");
        }
        self.run(&command_args, None)?;
        Ok(("its volumes and ", "its containers and volumes"))
    }

    fn place(&self) -> String {
        format!(", compose project {}", project_name(&self.state.name))
    }

    fn watch(&mut self) -> &mut dyn Watch {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_in_composes_alphabet() {
        assert_eq!(project_name("default"), "kpipes-default");
        assert_eq!(project_name("My.Cluster_1"), "kpipes-my-cluster_1");
    }

    #[test]
    fn ps_in_both_formats() {
        let lines = r#"{"Name":"kpipes-x-kafka-1-1","Service":"kafka-1","State":"running","Health":"healthy"}
{"Name":"kpipes-x-kafka-2-1","Service":"kafka-2","State":"exited"}"#;
        let array = r#"[{"Name":"kpipes-x-kafka-1-1","Service":"kafka-1","State":"running"}]"#;
        let parsed = parse_ps(lines);
        assert_eq!(parsed["kafka-1"].state, "running");
        assert_eq!(parsed["kafka-2"].state, "exited");
        assert_eq!(parse_ps(array)["kafka-1"].name, "kpipes-x-kafka-1-1");
        assert!(parse_ps("").is_empty());
    }
}
