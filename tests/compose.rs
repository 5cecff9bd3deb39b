//! The compose backend, as far as it can be checked without a Docker engine:
//!
//! - compose/zookeeper.yml and compose/kraft.yml are parsed and their invariants checked
//!   (pinned images, one ZooKeeper ensemble, unique ids, consistent listeners, the same
//!   ports as the local backend, internal topics replicated 3 times, real healthchecks);
//!   `docker compose config` validates them too where Docker Compose is installed.
//! - The docker commands `kcluster --backend compose` issues are recorded by a fake `docker`
//!   (and `docker-compose`) on PATH, which answers `docker info`, `compose version` and
//!   `compose ps` plausibly.
//! - Without Docker, `--backend compose` fails with exit 8 and one error line, and `auto`
//!   falls back to the local backend within a bounded time.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kcore::state::{ClusterState, NodeState};
use kpipes_e2e::*;
use serde_norway::Value as Yaml;

// ---------------------------------------------------------------------------------------------
// The compose files

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

/// Every `${NAME:-default}` / `${NAME}` in the text, as (name, default).
fn variables(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("unclosed ${") + start;
        let inner = &rest[start + 2..end];
        out.push(match inner.split_once(":-") {
            Some((name, default)) => (name.to_string(), Some(default.to_string())),
            None => (inner.to_string(), None),
        });
        rest = &rest[end + 1..];
    }
    out
}

/// Substitute variables as docker compose does: the value from `vars`, else the default.
fn interpolate(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let inner = &rest[start + 2..end];
        let (name, default) = inner
            .split_once(":-")
            .map(|(n, d)| (n, Some(d)))
            .unwrap_or((inner, None));
        let value = vars
            .get(name)
            .map(String::as_str)
            .or(default)
            .unwrap_or_else(|| panic!("${{{name}}} has no value"));
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn scalar(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// One service of a parsed compose file.
struct Service {
    name: String,
    body: Yaml,
    env: BTreeMap<String, String>,
}

impl Service {
    fn env(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{} has no {key}", self.name))
    }

    /// The numeric id from the service name (`kafka-2` → 2).
    fn ordinal(&self) -> u32 {
        self.name.rsplit('-').next().unwrap().parse().unwrap()
    }

    /// The one published port: (host port, container port); bound to 127.0.0.1.
    fn published(&self) -> (u16, u16) {
        let ports = self.body["ports"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{} publishes no port", self.name));
        assert_eq!(ports.len(), 1, "{}: one published port", self.name);
        let spec = scalar(&ports[0]);
        let parts: Vec<&str> = spec.split(':').collect();
        assert_eq!(
            parts.len(),
            3,
            "{}: ip:host:container, got {spec}",
            self.name
        );
        assert_eq!(parts[0], "127.0.0.1", "{}: bound to loopback", self.name);
        (parts[1].parse().unwrap(), parts[2].parse().unwrap())
    }

    fn healthcheck(&self) -> String {
        let test = &self.body["healthcheck"]["test"];
        let parts = test
            .as_sequence()
            .unwrap_or_else(|| panic!("{} has no healthcheck", self.name));
        parts.iter().map(scalar).collect::<Vec<_>>().join(" ")
    }
}

struct ComposeFile {
    doc: Yaml,
    services: Vec<Service>,
}

impl ComposeFile {
    fn parse(text: &str) -> ComposeFile {
        let doc: Yaml = serde_norway::from_str(text).expect("valid YAML");
        let services = doc["services"]
            .as_mapping()
            .expect("services")
            .iter()
            .map(|(name, body)| {
                let env = body["environment"]
                    .as_mapping()
                    .map(|m| m.iter().map(|(k, v)| (scalar(k), scalar(v))).collect())
                    .unwrap_or_default();
                Service {
                    name: scalar(name),
                    body: body.clone(),
                    env,
                }
            })
            .collect();
        ComposeFile { doc, services }
    }

    fn with_prefix(&self, prefix: &str) -> Vec<&Service> {
        self.services
            .iter()
            .filter(|s| s.name.starts_with(prefix))
            .collect()
    }

    fn names(&self, prefix: &str) -> Vec<String> {
        self.with_prefix(prefix)
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }
}

fn list(text: &str, sep: char) -> Vec<String> {
    text.split(sep)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `NAME://host:port,...` → name → (host, port).
fn listener_map(text: &str) -> BTreeMap<String, (String, u16)> {
    list(text, ',')
        .iter()
        .map(|l| {
            let (name, addr) = l
                .split_once("://")
                .unwrap_or_else(|| panic!("bad listener {l}"));
            let (host, port) = addr.rsplit_once(':').unwrap();
            (name.to_string(), (host.to_string(), port.parse().unwrap()))
        })
        .collect()
}

/// The checks every broker of either file passes. Returns the advertised host port.
fn check_broker_listeners(broker: &Service) -> u16 {
    let name = &broker.name;
    let listeners = listener_map(broker.env("KAFKA_LISTENERS"));
    let advertised = listener_map(broker.env("KAFKA_ADVERTISED_LISTENERS"));
    let protocols: BTreeMap<String, String> =
        list(broker.env("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"), ',')
            .iter()
            .map(|p| {
                let (k, v) = p.split_once(':').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
    for listener in listeners.keys() {
        assert!(
            protocols.contains_key(listener),
            "{name}: listener {listener} not in the protocol map"
        );
    }
    for listener in advertised.keys() {
        // The seed's bug: PLAINTEXT_HOST advertised but never declared in KAFKA_LISTENERS.
        assert!(
            listeners.contains_key(listener),
            "{name}: advertises {listener}, which it does not listen on"
        );
    }
    let inter = broker.env("KAFKA_INTER_BROKER_LISTENER_NAME");
    let (inter_host, inter_port) = &advertised[inter];
    assert_eq!(
        inter_host, name,
        "{name}: containers reach it by its service name"
    );
    assert_eq!(*inter_port, listeners[inter].1, "{name}: inter-broker port");
    assert_eq!(
        *inter_port, 9092,
        "{name}: containers talk over {name}:9092"
    );
    if let Some(controllers) = broker.env.get("KAFKA_CONTROLLER_LISTENER_NAMES") {
        for controller in list(controllers, ',') {
            assert!(
                listeners.contains_key(&controller),
                "{name}: controller listener {controller} not declared"
            );
            assert!(
                !advertised.contains_key(&controller),
                "{name}: the controller listener is not advertised"
            );
        }
    }
    let (host_port, container_port) = broker.published();
    let (adv_host, adv_port) = &advertised["PLAINTEXT_HOST"];
    assert_eq!(
        adv_host, "localhost",
        "{name}: host clients connect to localhost"
    );
    assert_eq!(
        *adv_port, host_port,
        "{name}: the advertised host port is the published one"
    );
    assert_eq!(
        listeners["PLAINTEXT_HOST"].1, container_port,
        "{name}: the published port reaches PLAINTEXT_HOST"
    );
    assert!(
        listeners.values().all(|(host, _)| host == "0.0.0.0"),
        "{name}: listens on every interface of the container"
    );

    // Internal topics on all 3 brokers, like the seed's my-topic.
    assert_eq!(
        broker.env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"),
        "3",
        "{name}"
    );
    assert_eq!(
        broker.env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"),
        "3",
        "{name}"
    );
    assert_eq!(
        broker.env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"),
        "2",
        "{name}"
    );
    // Topics made without -r too: 3 copies, writes need 2 (as kcluster's local clusters).
    assert_eq!(
        broker.env("KAFKA_DEFAULT_REPLICATION_FACTOR"),
        "3",
        "{name}"
    );
    assert_eq!(broker.env("KAFKA_MIN_INSYNC_REPLICAS"), "2", "{name}");

    // A healthcheck that proves the broker answers Kafka requests on one of its listeners.
    let health = broker.healthcheck();
    assert!(
        health.contains("kafka-broker-api-versions") || health.contains("kafka-topics"),
        "{name}: healthcheck {health:?} does not ask Kafka"
    );
    assert!(
        health.contains(&format!("localhost:{inter_port}")),
        "{name}: healthcheck asks its own listener"
    );
    host_port
}

fn check_common(
    raw: &str,
    file: &ComposeFile,
    image_prefixes: &[&str],
    version_var: &str,
    version: &str,
) {
    assert!(
        file.doc.get("version").is_none(),
        "the obsolete top-level `version:` key is gone"
    );
    // Every variable has a default, so a plain `docker compose -f ... up` works.
    for (name, default) in variables(raw) {
        assert!(default.is_some(), "${{{name}}} has no default");
    }
    for service in &file.services {
        let image = scalar(&service.body["image"]);
        let (repo, tag) = image
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("{}: image {image} is not pinned", service.name));
        assert!(
            image_prefixes.contains(&repo),
            "{}: unexpected image {image}",
            service.name
        );
        assert_ne!(tag, "latest", "{}: never `latest`", service.name);
        assert_eq!(tag, version, "{}: image tag", service.name);
        assert!(
            raw.contains(&format!("{repo}:${{{version_var}:-{version}}}")),
            "one variable ({version_var}) picks the version"
        );
        assert_eq!(scalar(&service.body["hostname"]), service.name);
        // Data on named volumes, declared at the top level (so `down` without -v keeps them).
        for volume in service.body["volumes"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{}: no volumes", service.name))
        {
            let volume = scalar(volume);
            let (source, _) = volume.split_once(':').unwrap();
            assert!(
                file.doc["volumes"].get(source).is_some(),
                "{}: volume {source} is not declared",
                service.name
            );
        }
    }
}

#[test]
fn zookeeper_file_is_the_seeds_topology_fixed() {
    let raw = repo_file("compose/zookeeper.yml");
    let file = ComposeFile::parse(&interpolate(&raw, &HashMap::new()));
    let cp = kcluster::compose::DEFAULT_CP_VERSION;
    assert!(
        cp.starts_with("7.9."),
        "the last Confluent Platform line with ZooKeeper is 7.9.x, not {cp}"
    );
    check_common(
        &raw,
        &file,
        &["confluentinc/cp-zookeeper", "confluentinc/cp-kafka"],
        "CP_VERSION",
        cp,
    );

    let zookeepers = file.with_prefix("zookeeper-");
    let brokers = file.with_prefix("kafka-");
    assert_eq!(
        file.names("zookeeper-"),
        ["zookeeper-1", "zookeeper-2", "zookeeper-3"]
    );
    assert_eq!(file.names("kafka-"), ["kafka-1", "kafka-2", "kafka-3"]);
    assert_eq!(file.services.len(), 6);

    // One ensemble: unique ids, and every node lists exactly the ZooKeeper services, in id order.
    let ensemble: Vec<String> = zookeepers
        .iter()
        .map(|z| format!("{}:2888:3888", z.name))
        .collect();
    let ensemble_local = kcluster::local::zookeeper::ensemble("default").unwrap();
    for zk in &zookeepers {
        assert_eq!(
            zk.env("ZOOKEEPER_SERVER_ID"),
            zk.ordinal().to_string(),
            "{}: its id",
            zk.name
        );
        assert_eq!(
            list(zk.env("ZOOKEEPER_SERVERS"), ';'),
            ensemble,
            "{}: ZOOKEEPER_SERVERS names the ensemble",
            zk.name
        );
        assert_eq!(zk.env("ZOOKEEPER_TICK_TIME"), "2000");
        assert_eq!(zk.env("ZOOKEEPER_INIT_LIMIT"), "5");
        assert_eq!(zk.env("ZOOKEEPER_SYNC_LIMIT"), "2");
        let client_port: u16 = zk.env("ZOOKEEPER_CLIENT_PORT").parse().unwrap();
        let (host_port, container_port) = zk.published();
        assert_eq!(
            container_port, client_port,
            "{}: the published port is the client port",
            zk.name
        );
        assert_eq!(
            host_port,
            ensemble_local[zk.ordinal() as usize - 1].port,
            "{}: the local backend's port",
            zk.name
        );
        let health = zk.healthcheck();
        assert!(
            health.contains("srvr") && health.contains(&format!("/{client_port}")),
            "{}: {health}",
            zk.name
        );
        assert!(
            health.contains("leader|follower"),
            "{}: healthy only inside a quorum",
            zk.name
        );
    }
    let mut ids: Vec<&str> = zookeepers
        .iter()
        .map(|z| z.env("ZOOKEEPER_SERVER_ID"))
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "unique ZooKeeper ids");

    let connect_expected: Vec<String> = zookeepers
        .iter()
        .map(|z| format!("{}:{}", z.name, z.env("ZOOKEEPER_CLIENT_PORT")))
        .collect();
    let default_brokers = kcluster::topology::broker_ports("default", 3).unwrap();
    let mut broker_ids = Vec::new();
    for broker in &brokers {
        assert_eq!(
            list(broker.env("KAFKA_ZOOKEEPER_CONNECT"), ','),
            connect_expected,
            "{}: the whole ensemble",
            broker.name
        );
        assert!(
            !broker.env.contains_key("KAFKA_PROCESS_ROLES"),
            "{}: ZooKeeper mode",
            broker.name
        );
        broker_ids.push(broker.env("KAFKA_BROKER_ID").to_string());
        assert_eq!(broker.env("KAFKA_BROKER_ID"), broker.ordinal().to_string());
        let host_port = check_broker_listeners(broker);
        assert_eq!(
            host_port,
            default_brokers[broker.ordinal() as usize - 1].0,
            "{}: the local backend's port",
            broker.name
        );
        assert_eq!(
            [29092, 39092, 49092][broker.ordinal() as usize - 1],
            host_port,
            "{}: the seed's port",
            broker.name
        );
        for zk in &zookeepers {
            assert_eq!(
                scalar(&broker.body["depends_on"][zk.name.as_str()]["condition"]),
                "service_healthy",
                "{} waits for {}",
                broker.name,
                zk.name
            );
        }
    }
    broker_ids.sort();
    broker_ids.dedup();
    assert_eq!(broker_ids.len(), 3, "unique broker ids");
}

#[test]
fn kraft_file_is_the_modern_equivalent() {
    let raw = repo_file("compose/kraft.yml");
    let file = ComposeFile::parse(&interpolate(&raw, &HashMap::new()));
    let version = kcluster::distribution::DEFAULT_KAFKA_VERSION;
    check_common(&raw, &file, &["apache/kafka"], "KAFKA_VERSION", version);
    assert_eq!(
        file.names(""),
        ["kafka-1", "kafka-2", "kafka-3"],
        "KRaft needs no ZooKeeper"
    );

    let brokers = file.with_prefix("kafka-");
    let voters: Vec<String> = brokers
        .iter()
        .map(|b| format!("{}@{}:9093", b.ordinal(), b.name))
        .collect();
    let default_brokers = kcluster::topology::broker_ports("default", 3).unwrap();
    let cluster_id = brokers[0].env("CLUSTER_ID").to_string();
    assert_eq!(
        cluster_id.len(),
        22,
        "a Kafka cluster id is 22 base64 characters"
    );
    let mut ids = Vec::new();
    for broker in &brokers {
        assert_eq!(broker.env("KAFKA_NODE_ID"), broker.ordinal().to_string());
        ids.push(broker.env("KAFKA_NODE_ID").to_string());
        assert_eq!(broker.env("KAFKA_PROCESS_ROLES"), "broker,controller");
        assert_eq!(
            list(broker.env("KAFKA_CONTROLLER_QUORUM_VOTERS"), ','),
            voters,
            "{}: the voters",
            broker.name
        );
        assert_eq!(
            broker.env("CLUSTER_ID"),
            cluster_id,
            "{}: one cluster id",
            broker.name
        );
        let listeners = listener_map(broker.env("KAFKA_LISTENERS"));
        assert_eq!(
            listeners["CONTROLLER"].1, 9093,
            "{}: the voters' port is its controller listener",
            broker.name
        );
        let host_port = check_broker_listeners(broker);
        assert_eq!(
            host_port,
            default_brokers[broker.ordinal() as usize - 1].0,
            "{}: the local backend's port",
            broker.name
        );
        assert!(broker.body.get("depends_on").is_none());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "unique node ids");
}

/// A cluster state as kcluster records it for a named compose cluster (free ports).
fn named_state(mode: &str) -> ClusterState {
    let node = |id: u32, port: u16| NodeState {
        id,
        host: "localhost".into(),
        port,
        peer_ports: Vec::new(),
    };
    ClusterState {
        advertised: Default::default(),
        oauth_jwks: None,
        name: "t".into(),
        backend: kcore::state::BackendKind::Compose,
        mode: if mode == "kraft" {
            kcore::state::Mode::Kraft
        } else {
            kcore::state::Mode::Zookeeper
        },
        kafka_version: (mode == "kraft").then(|| "4.3.1".into()),
        cp_version: (mode != "kraft").then(|| "7.9.1".into()),
        distribution: PathBuf::new(),
        cluster_id: "AAAAAAAAAAAAAAAAAAAAAA".into(),
        brokers: vec![node(1, 40001), node(2, 40002), node(3, 40003)],
        zookeepers: if mode == "kraft" {
            Vec::new()
        } else {
            vec![node(1, 41001), node(2, 41002), node(3, 41003)]
        },
        heap: None,
        secure: false,
        schema_registry: None,
    }
}

#[test]
fn the_env_file_kcluster_writes_moves_every_port_consistently() {
    for (mode, path) in [
        ("kraft", "compose/kraft.yml"),
        ("zookeeper", "compose/zookeeper.yml"),
    ] {
        let state = named_state(mode);
        let env_text = kcluster::compose::env_file(&state);
        let vars: HashMap<String, String> = env_text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let raw = repo_file(path);
        // Every variable of the file that holds a port is one kcluster sets.
        for (name, _) in variables(&raw) {
            if name.ends_with("_HOST_PORT") {
                assert!(
                    vars.contains_key(&name),
                    "{path}: kcluster does not set {name}"
                );
            }
        }
        let file = ComposeFile::parse(&interpolate(&raw, &vars));
        for broker in file.with_prefix("kafka-") {
            let port = check_broker_listeners(broker);
            assert_eq!(
                port,
                state.brokers[broker.ordinal() as usize - 1].port,
                "{path} {}",
                broker.name
            );
        }
        for zk in file.with_prefix("zookeeper-") {
            assert_eq!(
                zk.published().0,
                state.zookeepers[zk.ordinal() as usize - 1].port,
                "{path} {}",
                zk.name
            );
        }
        if mode == "kraft" {
            assert_eq!(
                file.with_prefix("kafka-")[0].env("CLUSTER_ID"),
                state.cluster_id
            );
        }
        let image = scalar(&file.services[0].body["image"]);
        assert!(
            image.ends_with(if mode == "kraft" { ":4.3.1" } else { ":7.9.1" }),
            "{image}"
        );
    }
}

#[test]
fn the_embedded_files_are_the_repositorys() {
    assert_eq!(
        kcluster::compose::KRAFT_FILE,
        repo_file("compose/kraft.yml")
    );
    assert_eq!(
        kcluster::compose::ZOOKEEPER_FILE,
        repo_file("compose/zookeeper.yml")
    );
}

#[test]
fn docker_compose_accepts_both_files_where_installed() {
    let plugin = std::process::Command::new("docker")
        .args(["compose", "version"])
        .output();
    if !plugin.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: no `docker compose` here (the static checks above still ran)");
        return;
    }
    for path in ["compose/kraft.yml", "compose/zookeeper.yml"] {
        let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let out = std::process::Command::new("docker")
            .args(["compose", "-f"])
            .arg(&full)
            .args(["config", "-q"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The docker commands kcluster issues, recorded by a fake docker

const FAKE_DOCKER: &str = r#"#!/bin/bash
# A stand-in for docker / docker-compose: records its command line, answers plausibly.
printf '%s' "$(basename "$0")" >>"$FAKE_DOCKER_LOG"
printf ' %s' "$@" >>"$FAKE_DOCKER_LOG"
echo >>"$FAKE_DOCKER_LOG"
if [[ $(basename "$0") == docker ]]; then
  if [[ $1 == info ]]; then
    [[ -n $FAKE_INFO_SLEEP ]] && sleep "$FAKE_INFO_SLEEP"
    if [[ -n $FAKE_NO_ENGINE ]]; then
      echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
      exit 1
    fi
    echo "Server Version: 28.0.0"
    exit 0
  fi
  if [[ $1 == compose && -n $FAKE_NO_PLUGIN ]]; then
    echo "docker: unknown command: docker compose" >&2
    exit 1
  fi
fi
for arg in "$@"; do
  case $arg in
    version) echo "2.29.7"; exit 0 ;;
    ps)
      project=$(printf '%s\n' "$@" | grep -m1 '^kpipes-')
      for service in $FAKE_RUNNING; do
        printf '{"Name":"%s-%s-1","Service":"%s","State":"running","Health":"healthy"}\n' "$project" "$service" "$service"
      done
      exit 0 ;;
    logs) echo "fake log line: $*"; exit 0 ;;
    up|down|stop|kill|start) exit 0 ;;
  esac
done
exit 0
"#;

/// A directory holding fake `docker` and `docker-compose` executables, and their record.
struct FakeDocker {
    dir: tempfile::TempDir,
}

impl FakeDocker {
    fn new() -> FakeDocker {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for name in ["docker", "docker-compose"] {
            let path = dir.path().join(name);
            std::fs::write(&path, FAKE_DOCKER).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(dir.path().join("log"), "").unwrap();
        FakeDocker { dir }
    }

    /// kcluster on `cluster`, with the fake first on PATH.
    fn kcluster(&self, cluster: &str) -> assert_cmd::Command {
        let mut cmd = kcluster(cluster);
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env("FAKE_DOCKER_LOG", self.dir.path().join("log"))
            .env_remove("KPIPES_BACKEND")
            .env_remove("KAFKA_VERSION")
            .env_remove("CP_VERSION");
        cmd
    }

    /// Every recorded command line, and then the record is emptied.
    fn take(&self) -> Vec<String> {
        let path = self.dir.path().join("log");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, "").unwrap();
        text.lines().map(str::to_string).collect()
    }
}

/// The prefix of every compose command kcluster runs for `cluster`.
fn compose_prefix(program: &str, cluster: &str) -> String {
    let dir = kcore::state::cluster_dir(cluster);
    format!(
        "{program} -p kpipes-{cluster} -f {} --env-file {}",
        dir.join("compose.yml").display(),
        dir.join(".env").display()
    )
}

fn assert_ran(calls: &[String], expected: &str) {
    assert!(
        calls.iter().any(|c| c == expected),
        "expected the command line\n  {expected}\namong\n  {}",
        calls.join("\n  ")
    );
}

const ZOOKEEPERS_RUNNING: &str = "zookeeper-1 zookeeper-2 zookeeper-3";

#[test]
fn compose_zookeeper_cluster_commands() {
    let fake = FakeDocker::new();
    let name = unique_name("t-compose-zk");
    let run_fake = |args: &[&str], running: &str| {
        run(fake.kcluster(&name).args(args).env("FAKE_RUNNING", running))
    };

    let ran = run_fake(
        &[
            "up",
            "--backend",
            "compose",
            "--mode",
            "zookeeper",
            "--no-wait",
        ],
        ZOOKEEPERS_RUNNING,
    )
    .success();
    let calls = fake.take();
    let prefix = compose_prefix("docker compose", &name);
    assert_eq!(calls[0], "docker info", "the engine is asked first");
    assert_ran(&calls, "docker compose version --short");
    assert_ran(&calls, &format!("{prefix} up -d --remove-orphans"));
    assert_ran(&calls, &format!("{prefix} ps -a --format json"));
    // The same JSON lines as the local backend: 3 ZooKeeper nodes, then 3 brokers.
    let lines = ran.json_lines();
    let roles: Vec<(&str, u64, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["role"].as_str().unwrap(),
                l["id"].as_u64().unwrap(),
                l["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("zookeeper", 1, "starting"),
            ("zookeeper", 2, "starting"),
            ("zookeeper", 3, "starting"),
            ("broker", 1, "down"),
            ("broker", 2, "down"),
            ("broker", 3, "down")
        ]
    );
    assert_eq!(
        lines[0]["container"],
        format!("kpipes-{name}-zookeeper-1-1")
    );

    // What kcluster wrote: the embedded file, the cluster's variables, and the recorded backend.
    let dir = kcore::state::cluster_dir(&name);
    assert_eq!(
        std::fs::read_to_string(dir.join("compose.yml")).unwrap(),
        repo_file("compose/zookeeper.yml")
    );
    let state = ClusterState::load(&name).unwrap();
    assert_eq!(
        (state.backend.as_str(), state.mode.as_str()),
        ("compose", "zookeeper")
    );
    let env_text = std::fs::read_to_string(dir.join(".env")).unwrap();
    for (i, line) in lines.iter().enumerate() {
        let port = line["address"]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap();
        let var = if i < 3 {
            format!("ZOOKEEPER_{}_HOST_PORT={port}", i + 1)
        } else {
            format!("KAFKA_{}_HOST_PORT={port}", i - 2)
        };
        assert!(env_text.contains(&var), "{var} not in .env:\n{env_text}");
    }
    assert!(env_text.contains("CP_VERSION=7.9.1"), "{env_text}");

    // Later commands use the recorded backend without flags.
    run_fake(&["status"], ZOOKEEPERS_RUNNING)
        .code_is(7)
        .stderr_has("broker 1 is down");
    assert_ran(&fake.take(), &format!("{prefix} ps -a --format json"));
    run_fake(&["stop", "2"], ZOOKEEPERS_RUNNING).success();
    assert_ran(&fake.take(), &format!("{prefix} stop -t 60 kafka-2"));
    run_fake(&["kill", "3"], ZOOKEEPERS_RUNNING).success();
    assert_ran(&fake.take(), &format!("{prefix} kill -s SIGKILL kafka-3"));
    run_fake(
        &["stop", "--zookeeper", "1", "--timeout", "5"],
        ZOOKEEPERS_RUNNING,
    )
    .success();
    assert_ran(&fake.take(), &format!("{prefix} stop -t 5 zookeeper-1"));
    // start waits for the broker, which the fake never runs: exit 7 with its log tail.
    let ran = run_fake(&["start", "3", "--timeout", "1"], ZOOKEEPERS_RUNNING)
        .code_is(7)
        .stderr_has("not ready within");
    assert!(
        ran.stderr().contains("fake log line"),
        "the log tail comes from docker compose logs"
    );
    let calls = fake.take();
    assert_ran(&calls, &format!("{prefix} start kafka-3"));
    assert_ran(
        &calls,
        &format!("{prefix} logs --no-color --tail 30 kafka-3"),
    );
    let ran = run_fake(&["logs", "2"], "").success();
    assert!(ran.stdout().contains("fake log line"), "logs go to stdout");
    assert_ran(
        &fake.take(),
        &format!("{prefix} logs --no-color --no-log-prefix kafka-2"),
    );
    run_fake(&["logs", "-f"], "").success();
    assert_ran(
        &fake.take(),
        &format!("{prefix} logs --no-color --follow kafka-1 kafka-2 kafka-3"),
    );
    run_fake(&["logs", "--zookeeper"], "").success();
    assert_ran(
        &fake.take(),
        &format!("{prefix} logs --no-color zookeeper-1 zookeeper-2 zookeeper-3"),
    );
    run_fake(&["kill", "4"], "")
        .code_is(6)
        .one_error_line("kcluster");

    // An existing cluster keeps its backend and mode.
    run_fake(&["up", "--backend", "local"], "")
        .code_is(2)
        .one_error_line("kcluster")
        .stderr_has("compose backend");
    run_fake(&["up", "--mode", "kraft"], "")
        .code_is(2)
        .one_error_line("kcluster")
        .stderr_has("zookeeper mode");

    run_fake(&["down", "--keep"], "").success();
    assert_ran(&fake.take(), &format!("{prefix} down --remove-orphans"));
    assert!(dir.join("cluster.json").is_file(), "--keep keeps the state");
    run_fake(&["down"], "").success();
    assert_ran(&fake.take(), &format!("{prefix} down --remove-orphans -v"));
    assert!(!dir.exists(), "down removes the state");
}

#[test]
fn compose_up_that_times_out_is_exit_7_and_stops_what_it_started() {
    let fake = FakeDocker::new();
    let name = unique_name("t-compose-kraft");
    let ran = run(fake
        .kcluster(&name)
        .args(["up", "--backend", "compose", "--timeout", "2"])
        .env("FAKE_RUNNING", ""))
    .code_is(7)
    .stderr_has("not ready within");
    assert!(
        ran.stderr().contains("fake log line"),
        "the failing broker's log tail: {}",
        ran.stderr()
    );
    let calls = fake.take();
    let prefix = compose_prefix("docker compose", &name);
    assert_ran(&calls, &format!("{prefix} up -d --remove-orphans"));
    assert_ran(
        &calls,
        &format!("{prefix} logs --no-color --tail 30 kafka-1"),
    );
    assert_ran(&calls, &format!("{prefix} stop kafka-1 kafka-2 kafka-3"));
    let env_text = std::fs::read_to_string(kcore::state::cluster_dir(&name).join(".env")).unwrap();
    let state = ClusterState::load(&name).unwrap();
    assert_eq!(state.mode.as_str(), "kraft", "kraft is the default mode");
    assert!(
        env_text.contains("KAFKA_VERSION=4.3.1")
            && env_text.contains(&format!("CLUSTER_ID={}", state.cluster_id))
    );
    run(fake.kcluster(&name).arg("down")).success();
}

#[test]
fn standalone_docker_compose_is_used_without_the_plugin() {
    let fake = FakeDocker::new();
    let name = unique_name("t-compose-v1");
    run(fake
        .kcluster(&name)
        .args(["up", "--backend", "compose", "--no-wait"])
        .env("FAKE_NO_PLUGIN", "1"))
    .success();
    let calls = fake.take();
    assert_ran(&calls, "docker compose version --short");
    assert_ran(&calls, "docker-compose version --short");
    assert_ran(
        &calls,
        &format!(
            "{} up -d --remove-orphans",
            compose_prefix("docker-compose", &name)
        ),
    );
    run(fake.kcluster(&name).arg("down").env("FAKE_NO_PLUGIN", "1")).success();
    assert_ran(
        &fake.take(),
        &format!(
            "{} down --remove-orphans -v",
            compose_prefix("docker-compose", &name)
        ),
    );
}

#[test]
fn auto_picks_compose_when_a_docker_engine_answers() {
    let fake = FakeDocker::new();
    let name = unique_name("t-auto-compose");
    run(fake.kcluster(&name).args(["up", "--no-wait"]))
        .success()
        .stderr_has("using the compose backend");
    assert_eq!(
        ClusterState::load(&name).unwrap().backend.as_str(),
        "compose"
    );
    run(fake.kcluster(&name).arg("down")).success();
}

#[test]
fn compose_backend_without_docker_is_exit_8() {
    let fake = FakeDocker::new();
    let name = unique_name("t-nodocker");
    run(fake
        .kcluster(&name)
        .args(["up", "--backend", "compose"])
        .env("FAKE_NO_ENGINE", "1"))
    .code_is(8)
    .one_error_line("kcluster")
    .stderr_has("Cannot connect to the Docker daemon");
    run(kcluster(&name)
        .args(["up", "--backend", "compose"])
        .env("PATH", "/nonexistent"))
    .code_is(8)
    .one_error_line("kcluster")
    .stderr_has("`docker` is not installed");
    // Nothing was created.
    run(kcluster(&name).arg("status")).code_is(6);
}

#[test]
fn auto_falls_back_to_local_within_a_bounded_time() {
    needs_cluster!();
    let fake = FakeDocker::new();
    let name = unique_name("t-auto-local");
    let started = Instant::now();
    // A `docker info` that hangs: auto gives up after 5 s and runs a local broker.
    let ran = run(fake
        .kcluster(&name)
        .args(["up", "--brokers", "1", "--no-wait"])
        .env("FAKE_INFO_SLEEP", "60"))
    .success();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let ran = ran
        .stderr_has("using the local backend")
        .stderr_has("did not answer within 5s");
    let pid = ran.json_lines()[0]["pid"]
        .as_i64()
        .expect("a local broker pid");
    assert_eq!(ClusterState::load(&name).unwrap().backend.as_str(), "local");
    run(fake.kcluster(&name).arg("down")).success();
    assert!(
        !Path::new(&format!("/proc/{pid}/cmdline")).exists() || !process_runs(pid, "kafka.Kafka"),
        "broker {pid} still runs"
    );
}

/// The brokers' ZooKeeper session timeout is stated once, in kcluster (the local backend
/// writes it into every broker's properties, and `up`/`start` wait out three of them for a
/// killed broker's registration to go): the compose file's brokers must use the same.
#[test]
fn the_compose_brokers_session_timeout_is_kclusters() {
    let raw = repo_file("compose/zookeeper.yml");
    let file = ComposeFile::parse(&interpolate(&raw, &HashMap::new()));
    let brokers = file.with_prefix("kafka-");
    assert!(!brokers.is_empty(), "no kafka-N services");
    for broker in brokers {
        assert_eq!(
            broker.env("KAFKA_ZOOKEEPER_SESSION_TIMEOUT_MS"),
            kcluster::wait::ZOOKEEPER_SESSION_TIMEOUT_MS.to_string(),
            "{} in compose/zookeeper.yml",
            broker.name
        );
    }
}
