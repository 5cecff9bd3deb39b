//! The seed tutorial's walkthrough, end to end, against its own topology run for real by the
//! local backend: a 3-node ZooKeeper ensemble and 3 Kafka 3.9 brokers (no Docker needed).
//! The first run fetches Kafka 3.9.1 from Maven Central (`kcluster fetch-kafka 3.9.1`).

use std::path::Path;
use std::time::{Duration, Instant};

use kpipes_e2e::*;

/// A zookeeper-mode cluster of this test's own, taken down however the test ends.
struct ZkCluster {
    name: String,
    brokers: String,
}

impl ZkCluster {
    fn up() -> (ZkCluster, Ran) {
        let name = unique_name("t-zk");
        let started = Instant::now();
        let ran = run(kcluster(&name).args([
            "up",
            "--backend",
            "local",
            "--mode",
            "zookeeper",
            "--timeout",
            "180",
        ]));
        let mut cluster = ZkCluster {
            name,
            brokers: String::new(),
        };
        let ran = ran.success();
        eprintln!(
            "zookeeper-mode cluster ready in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        let env = run(kcluster(&cluster.name).arg("env")).success().stdout();
        cluster.brokers = env
            .trim()
            .trim_start_matches("export KAFKA_BROKERS=")
            .to_string();
        (cluster, ran)
    }

    /// One of the tools, pointed at this cluster.
    fn tool(&self, name: &str) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(bin_path(name));
        cmd.env("KAFKA_BROKERS", &self.brokers)
            .env_remove("KPIPES_CLUSTER")
            .timeout(Duration::from_secs(120));
        cmd
    }

    fn kcluster(&self) -> assert_cmd::Command {
        kcluster(&self.name)
    }

    /// Every process of this cluster (its node directories are on their command lines).
    fn processes(&self) -> String {
        let dir = kcore_cluster_dir(&self.name);
        let out = std::process::Command::new("pgrep")
            .args(["-fa", &format!("{dir}/")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for ZkCluster {
    fn drop(&mut self) {
        let _ = kcluster(&self.name).arg("down").output();
    }
}

/// The cluster's state directory, as kcluster computes it (KPIPES_STATE_DIR, XDG_STATE_HOME, ~).
fn kcore_cluster_dir(name: &str) -> String {
    let root = std::env::var("KPIPES_STATE_DIR")
        .ok()
        .filter(|d| !d.is_empty())
        .or_else(|| {
            std::env::var("XDG_STATE_HOME")
                .ok()
                .filter(|d| !d.is_empty())
                .map(|d| format!("{d}/kpipes"))
        })
        .unwrap_or_else(|| format!("{}/.local/state/kpipes", std::env::var("HOME").unwrap()));
    format!("{root}/clusters/{name}")
}

fn roles(ran: &Ran) -> Vec<(String, u64, String)> {
    ran.json_lines()
        .iter()
        .map(|l| {
            (
                l["role"].as_str().unwrap().into(),
                l["id"].as_u64().unwrap(),
                l["state"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn all_up() -> Vec<(String, u64, String)> {
    let mut expected = Vec::new();
    for role in ["zookeeper", "broker"] {
        for id in 1..=3 {
            expected.push((role.to_string(), id, "up".to_string()));
        }
    }
    expected
}

/// One partition in `ktopic describe`: (partition, leader, replicas, isr).
type Partition = (u64, Option<u64>, Vec<u64>, Vec<u64>);

/// `ktopic describe` of one topic, per partition.
fn describe(cluster: &ZkCluster, topic: &str) -> Vec<Partition> {
    let ran = run(cluster.tool("ktopic").args(["describe", topic])).success();
    let lines = ran.json_lines();
    assert_eq!(lines.len(), 1, "{}", ran.stdout());
    let ids = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    lines[0]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["partition"].as_u64().unwrap(),
                p["leader"].as_u64(),
                ids(&p["replicas"]),
                ids(&p["isr"]),
            )
        })
        .collect()
}

#[test]
fn the_seeds_walkthrough_on_its_zookeeper_topology() {
    needs_cluster!();
    let (cluster, ran) = ZkCluster::up();

    // The seed's topology: 3 ZooKeeper nodes in ONE ensemble (one leader, two followers), 3 brokers.
    assert_eq!(roles(&ran), all_up());
    let lines = ran.json_lines();
    let mut quorum: Vec<&str> = lines[..3]
        .iter()
        .map(|l| l["quorum"].as_str().unwrap())
        .collect();
    quorum.sort();
    assert_eq!(
        quorum,
        ["follower", "follower", "leader"],
        "one ensemble, not three standalone servers"
    );
    for line in &lines {
        assert!(line["pid"].as_i64().unwrap() > 0, "{line}");
    }
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/cluster.json", kcore_cluster_dir(&cluster.name)))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (state["backend"].as_str(), state["mode"].as_str()),
        (Some("local"), Some("zookeeper"))
    );
    assert!(
        state["kafka_version"].as_str().unwrap().starts_with("3."),
        "{state}"
    );
    let zk_dir = format!("{}/zookeeper-2", kcore_cluster_dir(&cluster.name));
    assert_eq!(
        std::fs::read_to_string(format!("{zk_dir}/data/myid"))
            .unwrap()
            .trim(),
        "2"
    );
    assert_eq!(
        std::fs::read_to_string(format!("{zk_dir}/zoo.cfg"))
            .unwrap()
            .matches("\nserver.")
            .count(),
        3
    );

    // kafka-topics --create --topic my-topic --replication-factor 3 --partitions 2
    let created = run(cluster
        .tool("ktopic")
        .args(["create", "my-topic", "-p", "2", "-r", "3"]))
    .success()
    .json_lines();
    assert_eq!(created[0]["replication_factor"], 3);
    assert_eq!(created[0]["partitions"], 2);

    // kafka-topics --describe: 2 partitions, each with 3 replicas, all in sync.
    let partitions = describe(&cluster, "my-topic");
    assert_eq!(partitions.len(), 2);
    for (partition, leader, replicas, isr) in &partitions {
        let mut sorted = replicas.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [1, 2, 3],
            "partition {partition}: replicas {replicas:?}"
        );
        assert_eq!(isr.len(), 3, "partition {partition}: isr {isr:?}");
        assert!(
            leader.is_some_and(|l| replicas.contains(&l)),
            "partition {partition}: leader {leader:?}"
        );
    }

    // kafka-console-producer: "hello", "this is producer"; kafka-console-consumer reads them back.
    let produced = run(cluster
        .tool("kprod")
        .arg("my-topic")
        .write_stdin("hello\nthis is producer\n"))
    .success()
    .json_lines();
    assert_eq!(produced.len(), 2);
    let consumed = run(cluster.tool("kcons").args(["my-topic", "-e", "--values"]))
        .success()
        .stdout();
    let mut values: Vec<&str> = consumed.lines().collect();
    values.sort();
    assert_eq!(values, ["hello", "this is producer"]);

    // A broker crashes: it is down, and the two others still take writes (once ZooKeeper has
    // expired the dead broker's session, its partitions get new leaders).
    run(cluster.kcluster().args(["kill", "2"])).success();
    let ran = run(cluster.kcluster().arg("status"))
        .code_is(7)
        .stderr_has("broker 2 is down");
    let broker2 = roles(&ran)
        .into_iter()
        .find(|(role, id, _)| role == "broker" && *id == 2)
        .unwrap();
    assert_eq!(broker2.2, "down", "{}", ran.stdout());
    run(cluster
        .tool("kprod")
        .arg("my-topic")
        .write_stdin("while broker 2 was down\n"))
    .success();

    // ... and comes back: the cluster is whole again, and every replica catches up.
    run(cluster.kcluster().args(["start", "2"])).success();
    assert_eq!(
        roles(&wait_until_all_up("the cluster whole again", || cluster.kcluster())),
        all_up()
    );
    eventually(
        "every partition has 3 in-sync replicas again",
        Duration::from_secs(90),
        || {
            describe(&cluster, "my-topic")
                .iter()
                .all(|(_, _, _, isr)| isr.len() == 3)
                .then_some(())
        },
    );
    let consumed = run(cluster.tool("kcons").args(["my-topic", "-e", "--values"]))
        .success()
        .stdout();
    assert_eq!(consumed.lines().count(), 3, "{consumed}");
    assert!(consumed.contains("while broker 2 was down"));

    // A ZooKeeper node fails: the other two keep a quorum; it rejoins on start.
    run(cluster.kcluster().args(["kill", "--zookeeper", "1"])).success();
    // Until the ensemble has re-elected (when node 1 led it) and the brokers' sessions have
    // moved to the survivors, a create can fail; it must succeed once they have. A failed
    // attempt may still have created the topic: --if-not-exists lets the retry say so.
    eventually_succeeds(
        "a topic created with ZooKeeper node 1 down",
        Duration::from_secs(90),
        || {
            let mut create = cluster.tool("ktopic");
            create.args([
                "create",
                "after-zk-loss",
                "-p",
                "1",
                "-r",
                "3",
                "--if-not-exists",
            ]);
            create
        },
    );
    let after = describe(&cluster, "after-zk-loss");
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].2.len(), 3, "replicas: {after:?}");
    run(cluster.kcluster().args(["start", "--zookeeper", "1"])).success();
    wait_until_all_up("the whole cluster is up again", || cluster.kcluster());
    let zk_log = run(cluster.kcluster().args(["logs", "--zookeeper", "1"]))
        .success()
        .stdout();
    assert!(
        zk_log.contains("QuorumPeer") || zk_log.contains("FOLLOWING") || zk_log.contains("LEADING"),
        "a ZooKeeper log"
    );

    // Faults work in ZooKeeper mode too (issue #29), on this same cluster.
    faults_in_zookeeper_mode(&cluster);

    // docker-compose down: nothing of the cluster is left running.
    assert!(!cluster.processes().is_empty());
    run(cluster.kcluster().arg("down")).success();
    assert_eq!(cluster.processes(), "", "processes left after down");
    assert!(
        !Path::new(&kcore_cluster_dir(&cluster.name)).exists(),
        "data left after down"
    );
    run(cluster.kcluster().arg("status"))
        .code_is(6)
        .one_error_line("kcluster");
}

/// A node's address and state in `kcluster status`.
fn node_status(cluster: &ZkCluster, role: &str, id: u64) -> (String, String) {
    let ran = run(cluster.kcluster().arg("status"));
    let line = ran
        .json_lines()
        .into_iter()
        .find(|l| l["role"] == role && l["id"] == id)
        .unwrap_or_else(|| panic!("{role} {id} in status: {}", ran.stdout()));
    (
        line["address"].as_str().unwrap().to_string(),
        line["state"].as_str().unwrap().to_string(),
    )
}

/// The faults of issue #29 on a ZooKeeper-mode cluster, each seen from outside by a plain
/// client (`fault_probe.py`), shown by `kcluster status`, and undone: a broker paused and
/// resumed; as root, a broker and a ZooKeeper node isolated and healed.
fn faults_in_zookeeper_mode(cluster: &ZkCluster) {
    let (broker, _) = node_status(cluster, "broker", 2);
    assert_eq!(probe(&broker, 5.0).0, "answered");
    let paused = run(cluster.kcluster().args(["pause", "2"])).success();
    assert_eq!(paused.json_lines()[0]["state"], "paused");
    // Frozen, not gone: the connection is accepted, the request never answered.
    assert_eq!(probe(&broker, 3.0).0, "no-answer");
    assert_eq!(node_status(cluster, "broker", 2).1, "paused");
    run(cluster.kcluster().arg("status")).code_is(7);
    run(cluster.kcluster().args(["resume", "2"])).success();
    assert_eq!(probe(&broker, 5.0).0, "answered", "broker 2 after resume");
    wait_until_all_up("the cluster whole after resume", || cluster.kcluster());

    if !root_or_skip("the network faults in zookeeper mode") {
        return;
    }
    let (broker, _) = node_status(cluster, "broker", 3);
    let (other, _) = node_status(cluster, "broker", 1);
    let isolated = run(cluster.kcluster().args(["isolate", "3"])).success();
    assert_eq!(isolated.json_lines()[0]["from"], "all");
    assert_eq!(probe(&broker, 3.0).0, "no-connection");
    assert_eq!(
        probe(&other, 3.0).0,
        "answered",
        "broker 1 while 3 is cut off"
    );
    assert_eq!(node_status(cluster, "broker", 3).1, "isolated");
    run(cluster.kcluster().args(["heal", "3"])).success();
    assert_eq!(probe(&broker, 5.0).0, "answered", "broker 3 after heal");
    assert_eq!(tagged_rules(&cluster.name), Vec::<String>::new());
    wait_until_all_up("the cluster whole after broker 3's heal", || {
        cluster.kcluster()
    });

    // A ZooKeeper node does not speak Kafka's protocol: cut off, not even a connection
    // is made; healed, it takes one again (and closes it on the Kafka request).
    let (zookeeper, _) = node_status(cluster, "zookeeper", 2);
    assert_ne!(probe(&zookeeper, 3.0).0, "no-connection");
    let isolated = run(cluster.kcluster().args(["isolate", "--zookeeper", "2"])).success();
    assert_eq!(isolated.json_lines()[0]["role"], "zookeeper");
    assert_eq!(probe(&zookeeper, 3.0).0, "no-connection");
    assert_eq!(node_status(cluster, "zookeeper", 2).1, "isolated");
    run(cluster.kcluster().arg("status")).code_is(7);
    // The two others keep a quorum: the brokers still take writes.
    run(cluster
        .tool("kprod")
        .arg("my-topic")
        .write_stdin("while ZooKeeper node 2 was cut off\n"))
    .success();
    run(cluster.kcluster().args(["heal", "--zookeeper", "2"])).success();
    let (outcome, _) = probe(&zookeeper, 5.0);
    assert_ne!(outcome, "no-connection", "ZooKeeper node 2 after heal");
    assert_eq!(tagged_rules(&cluster.name), Vec::<String>::new());
    wait_until_all_up("the cluster whole after ZooKeeper node 2's heal", || {
        cluster.kcluster()
    });
}

#[test]
fn zookeeper_mode_refuses_kafka_4() {
    let name = unique_name("t-zk4");
    run(kcluster(&name).args([
        "up",
        "--backend",
        "local",
        "--mode",
        "zookeeper",
        "--kafka-version",
        "4.3.1",
    ]))
    .code_is(2)
    .one_error_line("kcluster")
    .stderr_has("Kafka 4 removed it");
    run(kcluster(&name).arg("status")).code_is(6);
}
