//! kcluster against real local brokers.

use std::time::Duration;

use kpipes_e2e::*;

/// The brokers' states (a schema registry's line, under scripts/test, is
/// tests/schema_registry.rs's to check).
fn states(ran: &Ran) -> Vec<(u64, String)> {
    ran.json_lines()
        .iter()
        .filter(|v| v["role"] == "broker")
        .map(|v| {
            (
                v["id"].as_u64().unwrap(),
                v["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The parts of status lines that say which processes serve as the brokers, without
/// their state (which a metadata probe slowed by a loaded machine can report as `starting`).
fn identities(lines: &[Value]) -> Vec<(u64, i64, String)> {
    lines
        .iter()
        .filter(|v| v["role"] == "broker")
        .map(|v| {
            (
                v["id"].as_u64().unwrap(),
                v["pid"].as_i64().unwrap(),
                v["address"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn status_lists_every_broker_up() {
    needs_cluster!();
    let ran = wait_until_all_up("every broker of the test cluster up", || {
        kcluster(&test_cluster())
    });
    let lines = ran.json_lines();
    assert_eq!(
        states(&ran),
        vec![(1, "up".into()), (2, "up".into()), (3, "up".into())]
    );
    for line in lines.iter().filter(|l| l["role"] == "broker") {
        assert!(line["pid"].as_i64().unwrap() > 0, "{line}");
        assert!(
            line["address"].as_str().unwrap().starts_with("localhost:"),
            "{line}"
        );
    }
}

#[test]
fn up_again_is_harmless() {
    needs_cluster!();
    let before = wait_until_all_up("every broker of the test cluster up", || {
        kcluster(&test_cluster())
    })
    .json_lines();
    let again = run(kcluster(&test_cluster()).arg("up"))
        .success()
        .json_lines();
    assert_eq!(
        identities(&before),
        identities(&again),
        "a second `up` must keep the same brokers and pids"
    );
}

#[test]
fn env_prints_the_brokers() {
    needs_cluster!();
    let ran = run(kcluster(&test_cluster()).arg("env")).success();
    let stdout = ran.stdout();
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some(format!("export KAFKA_BROKERS={}", brokers()).as_str())
    );
    // scripts/test runs the cluster with a schema registry; its line is the only other one.
    if let Ok(url) = std::env::var("KPIPES_TEST_SCHEMA_REGISTRY") {
        assert_eq!(
            lines.next(),
            Some(format!("export KPIPES_SCHEMA_REGISTRY={url}").as_str())
        );
    }
    assert_eq!(lines.next(), None, "{stdout}");
}

#[test]
fn killed_broker_is_down_until_started() {
    needs_cluster!();
    let cluster = FaultCluster::acquire();
    run(cluster.kcluster().args(["kill", "2"])).success();
    // Broker 2 is down at once (its process is gone), but the survivors show `up` only
    // once a metadata probe has heard from them, which a loaded machine can delay.
    let expected: Vec<(u64, String)> = vec![(1, "up".into()), (2, "down".into()), (3, "up".into())];
    let ran = eventually(
        "broker 2 down, brokers 1 and 3 up",
        Duration::from_secs(60),
        || {
            let ran = run(cluster.kcluster().arg("status"));
            (states(&ran) == expected).then_some(ran)
        },
    );
    ran.code_is(7).stderr_has("broker 2 is down");

    // The two survivors still serve metadata (asked with kcat, a client that is not ours).
    let survivors: Vec<&str> = cluster
        .brokers
        .split(',')
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, b)| b)
        .collect();
    let md = run(kcat().args(["-b", &survivors.join(","), "-L", "-J", "-m", "10"]))
        .success()
        .stdout();
    let md: Value = serde_json::from_str(&md).unwrap();
    assert!(md["brokers"].as_array().unwrap().len() >= 2, "{md}");

    run(cluster.kcluster().args(["start", "2"])).success();
    let ran = wait_until_all_up("all brokers up after start", || cluster.kcluster());
    assert_eq!(
        states(&ran),
        vec![(1, "up".into()), (2, "up".into()), (3, "up".into())]
    );
}

#[test]
fn stopped_broker_shuts_down_cleanly_and_returns() {
    needs_cluster!();
    let cluster = FaultCluster::acquire();
    let ran = run(cluster.kcluster().args(["stop", "3"])).success();
    assert_eq!(states(&ran)[2], (3, "down".into()));
    let log = run(cluster.kcluster().args(["logs", "3"]))
        .success()
        .stdout();
    assert!(
        log.contains("shut down completed") || log.contains("shutting down"),
        "no shutdown in broker 3's log"
    );
    run(cluster.kcluster().args(["start", "3"])).success();
    wait_until_all_up("all brokers up after start", || cluster.kcluster());
}

/// The heap given to `up` is the one a restarted broker gets too; `down` leaves nothing.
#[test]
fn a_broker_keeps_its_heap_across_restarts_and_down_leaves_nothing() {
    needs_cluster!();
    let name = unique_name("t-down");
    let ran = run(kcluster(&name).args(["up", "--brokers", "1", "--heap", "384m"])).success();
    let first = ran.json_lines()[0]["pid"].as_i64().unwrap();
    assert!(has_heap(first, "384m"), "up --heap 384m");
    run(kcluster(&name).args(["kill", "1"])).success();
    let ran = run(kcluster(&name).args(["start", "1"])).success();
    let pid = ran.json_lines()[0]["pid"].as_i64().unwrap();
    assert_ne!(pid, first, "a new broker process");
    assert!(has_heap(pid, "384m"), "start keeps the cluster's heap");
    run(kcluster(&name).arg("down")).success();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
            || !process_runs(pid, "kafka.Kafka"),
        "broker {pid} still runs"
    );
    run(kcluster(&name).arg("status"))
        .code_is(6)
        .one_error_line("kcluster");
}

/// Whether process `pid` runs with `-Xmx<heap>`.
fn has_heap(pid: i64, heap: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            c.split(|b| *b == 0)
                .any(|arg| arg == format!("-Xmx{heap}").as_bytes())
        })
        .unwrap_or(false)
}

#[test]
fn up_that_times_out_leaves_nothing_running() {
    needs_cluster!();
    let name = unique_name("t-timeout");
    let ran = run(kcluster(&name).args(["up", "--brokers", "1", "--timeout", "0.5"]))
        .code_is(7)
        .stderr_has("not ready within");
    assert!(
        ran.stderr().contains("full log:"),
        "the log tail names its file"
    );
    let leftover = std::process::Command::new("pgrep")
        .args(["-f", &format!("clusters/{name}/")])
        .output()
        .unwrap();
    assert!(
        leftover.stdout.is_empty(),
        "processes left behind: {}",
        String::from_utf8_lossy(&leftover.stdout)
    );
    run(kcluster(&name).arg("down")).success();
}

#[test]
fn errors_are_one_line_with_documented_codes() {
    needs_cluster!();
    run(kcluster("no-such-cluster-x").arg("status"))
        .code_is(6)
        .one_error_line("kcluster");
    run(kcluster("bad/name").arg("status"))
        .code_is(2)
        .one_error_line("kcluster");
    run(kcluster(&test_cluster()).args(["kill", "9"]))
        .code_is(6)
        .one_error_line("kcluster");
    let name = unique_name("t-nojava");
    run(kcluster(&name)
        .args(["up"])
        .env("PATH", "/nonexistent")
        .env_remove("JAVA_HOME"))
    .code_is(8)
    .one_error_line("kcluster")
    .stderr_has("Java 17");
    run(kcluster(&name)
        .args(["up"])
        .env("KAFKA_HOME", "/nonexistent"))
    .code_is(8)
    .one_error_line("kcluster")
    .stderr_has("KAFKA_HOME");
}

/// `KPIPES_CACHE_DIR` is the one cache: `up` fetches Kafka into it (a real fetch with mvn, quick
/// once Maven's own repository holds the jars) and starts the broker from it, and
/// `fetch-kafka` then finds it there.
#[test]
fn up_fetches_kafka_into_the_cache_dir_and_runs_it_from_there() {
    needs_cluster!();
    let scratch = std::env::temp_dir().join(unique_name("kpipes-cache-test"));
    let cache = scratch.join("cache");
    let name = unique_name("t-cache");
    let cluster = OwnCluster {
        scratch: scratch.clone(),
        name: name.clone(),
    };
    let ran = run(cluster.kcluster().args(["up", "--brokers", "1"])).success();

    let home = cache.join("kafka-4.3.1");
    assert!(
        home.join(".complete").is_file(),
        "no Kafka in {}",
        home.display()
    );
    assert!(
        ran.stderr().contains(&format!(
            "into {} (once; cached afterwards)",
            home.display()
        )),
        "{}",
        ran.stderr()
    );
    let pid = ran.json_lines()[0]["pid"].as_i64().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let classpath = format!("{}/libs/*", home.display());
    assert!(
        cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == classpath.as_bytes()),
        "broker {pid} does not run from {classpath}: {}",
        String::from_utf8_lossy(&cmdline)
    );

    let fetched = run(cluster.kcluster().arg("fetch-kafka")).success();
    assert_eq!(fetched.stdout().trim(), home.display().to_string());
    assert_eq!(
        fetched.stderr(),
        "",
        "a cached version is not fetched again"
    );
}

/// A local cluster with its own state and cache directories (under `scratch`), brought
/// down and removed when dropped, even when the test failed.
struct OwnCluster {
    scratch: std::path::PathBuf,
    name: String,
}

impl OwnCluster {
    fn kcluster(&self) -> assert_cmd::Command {
        let mut cmd = kcluster(&self.name);
        cmd.env("KPIPES_STATE_DIR", self.scratch.join("state"))
            .env("KPIPES_CACHE_DIR", self.scratch.join("cache"))
            .env("KPIPES_BACKEND", "local")
            .env_remove("KAFKA_VERSION")
            .env_remove("KAFKA_HOME");
        cmd
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = self.kcluster().arg("down").output();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

#[test]
fn a_misspelt_cluster_name_is_not_found_and_the_clusters_are_listed() {
    needs_cluster!();
    for command in ["status", "env", "logs"] {
        run(kcluster(&misspelt_cluster()).arg(command)).reached_no_cluster("kcluster");
    }
    run(kcluster("default").args(["status", "--name", &misspelt_cluster()]))
        .reached_no_cluster("kcluster");
}
