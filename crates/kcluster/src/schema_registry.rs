//! `kcluster up --schema-registry`: an Apicurio Registry beside a local cluster, serving
//! the Confluent-compatible API kcons and kprod use (`/apis/ccompat/v7`), with in-memory
//! storage (its schemas live as long as it runs).
//!
//! Its distribution is Maven Central's `io.apicurio:apicurio-registry-app:VERSION:tar.gz:all`
//! (a Quarkus application, runs on Java 17), fetched with `mvn` once into
//! `<cache>/apicurio-registry-VERSION/` like Kafka. It runs as a JVM detached in its own
//! session, its pid in `<cluster>/schema-registry/pid`, marked like the brokers so a
//! reused pid is never mistaken for it. Ready means its API answers.

use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kcore::state::{process_marker, running_pid_in, ClusterState, RegistryState};
use kcore::Failure;
use serde_json::json;

use crate::budget::Budget;

/// Apicurio Registry's last release line that runs on Java 17 (3.1+ needs Java 21).
pub const APICURIO_VERSION: &str = "3.0.9";

/// The maven-dependency-plugin, pinned. Not 3.8.1 as for Kafka: from 3.x its `copy` reads
/// the artifact's POM and parent POM, which a mirror that serves only the tarball (as this
/// project's CI has) does not have; 2.8 (Maven 3's own default) copies the file alone.
const DEPENDENCY_PLUGIN: &str = "org.apache.maven.plugins:maven-dependency-plugin:2.8:copy";

/// Its heap: in-memory storage of a few schemas needs little.
const HEAP: &str = "256m";

const RUNNER_JAR: &str = "apicurio-registry-app-3.0.9-runner.jar";

/// The registry's directory in the cluster's: pid, logs.
pub fn dir(state: &ClusterState) -> PathBuf {
    state.dir().join("schema-registry")
}

/// The cached distribution, fetched with `mvn` first if it is not there.
pub fn fetch() -> Result<PathBuf> {
    let home = kcore::state::cache_root().join(format!("apicurio-registry-{APICURIO_VERSION}"));
    if home.join(RUNNER_JAR).is_file() {
        return Ok(home);
    }
    crate::distribution::java()?;
    let root = home.parent().context("the cache directory has no parent")?;
    fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let stage = root.join(format!(
        ".apicurio-registry-{APICURIO_VERSION}.tmp.{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&stage);
    fs::create_dir_all(&stage).with_context(|| format!("creating {}", stage.display()))?;
    let result = (|| -> Result<()> {
        eprintln!(
            "kcluster: fetching Apicurio Registry {APICURIO_VERSION} from Maven Central into {} (about 110 MB, once)",
            home.display()
        );
        let status = Command::new("mvn")
            .args(["-q", "-B", "-Dstyle.color=never", DEPENDENCY_PLUGIN])
            .arg(format!(
                "-Dartifact=io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all"
            ))
            .arg(format!("-DoutputDirectory={}", stage.display()))
            .stdin(Stdio::null())
            // mvn -q says what went wrong on stdout ("[ERROR] ..."): the user's stderr.
            .stdout(Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?))
            .status()
            .map_err(|_| {
                Failure::environment(
                    "mvn not found: fetching Apicurio Registry from Maven Central needs Apache Maven",
                )
            })?;
        if !status.success() {
            return Err(Failure::environment(format!(
                "could not fetch Apicurio Registry {APICURIO_VERSION} with mvn ({status})"
            ))
            .into());
        }
        let tarball = stage.join(format!(
            "apicurio-registry-app-{APICURIO_VERSION}-all.tar.gz"
        ));
        let dist = stage.join("dist");
        fs::create_dir_all(&dist)?;
        let status = Command::new("tar")
            .arg("xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&dist)
            .status()
            .context("running tar")?;
        if !status.success() || !dist.join(RUNNER_JAR).is_file() {
            return Err(Failure::environment(format!(
                "{} did not unpack into a runnable registry ({status})",
                tarball.display()
            ))
            .into());
        }
        // In one step: the cache holds a complete distribution or none.
        if let Err(err) = fs::rename(&dist, &home) {
            if !home.join(RUNNER_JAR).is_file() {
                return Err(err).with_context(|| format!("moving it into {}", home.display()));
            }
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&stage);
    result?;
    Ok(home)
}

/// The registry's ports for a new one: fixed for the default cluster, free ones otherwise.
pub fn new_state(cluster: &str) -> Result<RegistryState> {
    let (port, management_port) = crate::topology::registry_ports(cluster)?;
    Ok(RegistryState {
        host: "127.0.0.1".into(),
        port,
        management_port,
    })
}

/// The pid of the cluster's registry, if it runs.
pub fn running_pid(state: &ClusterState) -> Option<i32> {
    running_pid_in(&dir(state))
}

/// Whether its API answers now.
fn answers(registry: &RegistryState, timeout: Duration) -> bool {
    kcore::schema_registry::Registry::new(&registry.url(), "kcluster", None, None, None, timeout)
        .and_then(|r| r.subjects())
        .is_ok()
}

/// Start the registry unless it runs (at once, without waiting: it starts while the brokers
/// do). True when this call started it.
pub fn launch(state: &ClusterState, budget: Budget) -> Result<bool> {
    let Some(registry) = &state.schema_registry else {
        return Ok(false);
    };
    if running_pid(state).is_some() {
        return Ok(false);
    }
    let home = fetch()?;
    let java = crate::distribution::java()?;
    crate::topology::wait_until_free(
        "the schema registry",
        &[registry.port, registry.management_port],
        budget,
    )?;
    start(state, registry, &java, &home)?;
    Ok(true)
}

/// Wait (within `budget`) until the registry's API answers.
pub fn wait_ready(state: &ClusterState, budget: Budget) -> Result<()> {
    let Some(registry) = &state.schema_registry else {
        return Ok(());
    };
    let log = dir(state).join("logs/registry.log");
    let deadline = Instant::now() + budget.remaining();
    loop {
        if answers(registry, Duration::from_secs(1)) {
            return Ok(());
        }
        if running_pid(state).is_none() {
            return Err(Failure::unhealthy(format!(
                "the schema registry exited while starting\n  full log: {}",
                log.display()
            ))
            .into());
        }
        if Instant::now() >= deadline {
            return Err(Failure::unhealthy(format!(
                "the schema registry did not answer on {} within {:.0} s\n  full log: {}",
                registry.url(),
                budget.timeout.as_secs_f64(),
                log.display()
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start(state: &ClusterState, registry: &RegistryState, java: &Path, home: &Path) -> Result<()> {
    let dir = dir(state);
    let logs = dir.join("logs");
    fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let mut command = Command::new(java);
    command
        .arg(format!("-Xmx{HEAP}"))
        .arg(process_marker(&dir))
        .arg(format!("-Dquarkus.http.host={}", registry.host))
        .arg(format!("-Dquarkus.http.port={}", registry.port))
        .arg(format!("-Dquarkus.management.host={}", registry.host))
        .arg(format!(
            "-Dquarkus.management.port={}",
            registry.management_port
        ))
        .arg("-jar")
        .arg(home.join(RUNNER_JAR));
    let log = logs.join("registry.log");
    crate::process::spawn_detached(&mut command, &dir, &log, "the schema registry")?;
    Ok(())
}

/// Stop the registry if it runs (SIGKILL: its storage is in memory, nothing to save).
pub fn stop(state: &ClusterState) {
    if let Some(pid) = running_pid(state) {
        crate::process::terminate(pid, &dir(state), libc::SIGKILL, Duration::from_secs(10));
    }
}

/// Its line in `kcluster status` (None when the cluster has no registry), and whether it is up.
pub fn status_line(state: &ClusterState) -> Option<(serde_json::Value, bool)> {
    let registry = state.schema_registry.as_ref()?;
    let pid = running_pid(state);
    let up = pid.is_some() && answers(registry, Duration::from_secs(2));
    let text = match (pid, up) {
        (None, _) => "down",
        (Some(_), true) => "up",
        (Some(_), false) => "starting",
    };
    Some((
        json!({
            "cluster": state.name,
            "role": "schema-registry",
            "id": 1,
            "address": registry.url(),
            "state": text,
            "pid": pid,
        }),
        up,
    ))
}
