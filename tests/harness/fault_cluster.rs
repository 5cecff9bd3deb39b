//! The fault-injection cluster.

use crate::cluster::command_at;
use crate::names::create_topic_with;
use crate::*;

/// Exclusive use of the fault-injection cluster, whose brokers tests kill and restart.
/// Held for the whole test: such tests run one at a time, across test binaries too.
pub struct FaultCluster {
    pub name: String,
    pub brokers: String,
    _lock: File,
}

impl FaultCluster {
    /// Take the lock, make sure every broker of the fault cluster is up, and hand it over.
    pub fn acquire() -> FaultCluster {
        let name = format!("{}-faults", test_cluster());
        let lock_path = std::env::temp_dir().join(format!("kpipes-{name}.lock"));
        let lock = File::create(&lock_path).expect("creating the fault cluster lock");
        // SAFETY: flock on a descriptor we own.
        let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(locked, 0, "locking the fault cluster");
        // As root, each broker's log directory is a filesystem of its own (a tmpfs, filled
        // only as far as data is written), for `fill` in a chaos schedule: 1G holds the
        // most any test writes to the fault cluster (a few hundred thousand small records).
        let mut up_args = vec!["up", "--brokers", "3"];
        if is_root() {
            up_args.extend(["--disk-limit", FAULT_DISK_LIMIT]);
        }
        // A test that failed half way may have left the cluster changed (a fourth broker
        // added, a fault not healed): start the next one from a clean cluster, not a cascade.
        // So is one made before without its disk limit.
        let up = run(kcluster(&name).args(&up_args));
        let disks_wrong = is_root() && !has_disk_limit(&name);
        if up.code() != Some(0) || disks_wrong {
            eprintln!(
                "fault cluster {name} not as expected, made anew: {}{}",
                up.stderr(),
                if disks_wrong { " (no disk limit)" } else { "" }
            );
            run(kcluster(&name).arg("down")).success();
            run(kcluster(&name).args(&up_args)).success();
        }
        let env = run(kcluster(&name).arg("env")).success().stdout();
        let brokers = env
            .trim()
            .trim_start_matches("export KAFKA_BROKERS=")
            .to_string();
        FaultCluster {
            name,
            brokers,
            _lock: lock,
        }
    }

    /// A command for one of our tools, pointed at this cluster.
    pub fn tool(&self, name: &str) -> assert_cmd::Command {
        let mut cmd = tool(name);
        cmd.env("KAFKA_BROKERS", &self.brokers);
        cmd
    }

    /// The same as a `std::process::Command`, for [`Proc::spawn`].
    pub fn command(&self, name: &str) -> Command {
        command_at(&self.brokers, name)
    }

    pub fn kcluster(&self) -> assert_cmd::Command {
        kcluster(&self.name)
    }

    /// A new topic on this cluster, as [`create_topic`] makes one on the shared cluster.
    pub fn create_topic(&self, partitions: u32, extra: &[&str]) -> String {
        create_topic_with(self.tool("ktopic"), partitions, extra)
    }

    /// Wait (bounded) until `topic` has no under-replicated partition: every broker that
    /// was stopped, paused or cut off has caught up. `what` names the wait in a failure.
    pub fn wait_fully_replicated(&self, topic: &str, what: &str) {
        eventually(what, Duration::from_secs(120), || {
            let described = run(self.tool("ktopic").args(["describe", topic]));
            let lines = described.json_lines();
            (described.output.status.success()
                && lines
                    .first()
                    .is_some_and(|t| t["under_replicated"] == false))
            .then_some(())
        });
    }

    /// A new topic whose writes with acks=all survive one broker lost, and fail loudly
    /// beyond that: 3 replicas, `min.insync.replicas=2`.
    pub fn replicated_topic(&self, partitions: u32) -> String {
        self.create_topic(partitions, &["-c", "min.insync.replicas=2"])
    }
}

/// The size of each fault-cluster broker's log directory (as root).
pub const FAULT_DISK_LIMIT: &str = "1G";

/// Whether this runs as root (iptables, cgroups, mounts).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// True when running as root; else prints why the test (or its part) is skipped.
pub fn root_or_skip(test: &str) -> bool {
    let root = is_root();
    if !root {
        eprintln!("skipping {test}: it needs root (iptables, cgroups, mounts)");
    }
    root
}

/// How a node looks to a plain TCP client asking ApiVersions (`fault_probe.py`), within
/// `seconds`: its outcome (`answered`, `no-answer`, `no-connection`, `refused`, `closed`)
/// and how long it took, in milliseconds.
pub fn probe(address: &str, seconds: f64) -> (String, u64) {
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/harness/fault_probe.py"
        ))
        .args([address, &seconds.to_string()])
        .output()
        .expect("running python3");
    let line: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("fault_probe.py: {}", String::from_utf8_lossy(&out.stderr)));
    (
        line["outcome"].as_str().unwrap().to_string(),
        line["ms"].as_u64().unwrap(),
    )
}

/// The firewall rules kcluster tagged for `cluster`.
pub fn tagged_rules(cluster: &str) -> Vec<String> {
    let out = Command::new("iptables-save")
        .output()
        .expect("iptables-save");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&format!("kpipes:{cluster}:")))
        .map(str::to_string)
        .collect()
}

/// Whether every broker of cluster `name` has a log directory of its own (`up --disk-limit`).
pub fn has_disk_limit(name: &str) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let dir = kcore::state::cluster_dir(name);
    (1..=3).all(|id| {
        let data = dir.join(format!("kafka-{id}/data")).display().to_string();
        mounts
            .lines()
            .any(|l| l.split_whitespace().nth(4) == Some(data.as_str()))
    })
}

impl Drop for FaultCluster {
    fn drop(&mut self) {
        // Leave every broker up for the next test, even when this one failed.
        let _ = kcluster(&self.name).args(["up"]).output();
    }
}

/// Poll `kcluster status` (as built by `status_command`) until it reports every node up
/// (its exit status says so); that status run, for the test to look into. A single run
/// right after `up` or `start` is not enough: a node's process runs before the cluster
/// metadata lists it, and a metadata probe slowed by a loaded machine reports `starting`.
pub fn wait_until_all_up(
    what: &str,
    mut status_command: impl FnMut() -> assert_cmd::Command,
) -> Ran {
    eventually_succeeds(what, Duration::from_secs(60), || {
        let mut status = status_command();
        status.arg("status");
        status
    })
}
