//! `kcluster up --secure` and every tool over SASL_SSL, against a secure cluster of this
//! file's own (one broker, in a state directory of its own, torn down when the test ends).
//!
//! One test walks the whole story on one cluster, since bringing a cluster up is what
//! costs: the cluster's files, the tools finding it with no flags, admin's records read
//! back byte for byte by reader (with and without a group), kgroup and ktopic as both
//! users, each refusal with its exit code and cause (reader producing or creating, a
//! wrong password, an unknown user, a CA that does not match, a plaintext client), no
//! secret in any output or on the broker's command line, and kill/start/status/down.
//! A second test does the essentials on a ZooKeeper-mode secure cluster (Kafka 3.9).
//! It runs where the shared test cluster runs (`needs_cluster!()`: under `scripts/test`),
//! since it needs Java and Kafka's jars as that one does.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kpipes_e2e::*;

/// A secure cluster of this test's own, in a state directory of its own; `down` when dropped.
struct SecureCluster {
    name: String,
    state_dir: PathBuf,
    /// Every stdout and stderr seen, to check that no secret was ever shown.
    seen: std::cell::RefCell<String>,
}

impl SecureCluster {
    fn new(name: &str) -> SecureCluster {
        let cluster = SecureCluster {
            name: name.into(),
            state_dir: std::env::temp_dir().join(unique_name("kpipes-secure-state")),
            seen: Default::default(),
        };
        std::fs::create_dir_all(&cluster.state_dir).unwrap();
        cluster
    }

    fn kcluster(&self) -> assert_cmd::Command {
        let mut cmd = kcluster(&self.name);
        cmd.env("KPIPES_STATE_DIR", &self.state_dir)
            .env("KPIPES_BACKEND", "local")
            .env_remove("KAFKA_VERSION")
            .env_remove("KAFKA_HOME");
        cmd
    }

    /// A tool that finds this cluster by itself: no -b, no KAFKA_BROKERS, no properties.
    fn found(&self, tool: &str) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(bin_path(tool));
        cmd.env("KPIPES_STATE_DIR", &self.state_dir)
            .env("KPIPES_CLUSTER", &self.name)
            .env_remove("KAFKA_BROKERS")
            .env_remove("KPIPES_CONFIG_FILE")
            .timeout(Duration::from_secs(120));
        cmd
    }

    /// A tool given the brokers and a properties file through the environment, as
    /// `eval "$(kcluster env ...)"` does (properties: None for a plaintext client).
    fn with(&self, tool: &str, properties: Option<&Path>) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(bin_path(tool));
        cmd.env("KPIPES_STATE_DIR", &self.state_dir)
            .env("KAFKA_BROKERS", self.brokers())
            .env_remove("KPIPES_CLUSTER")
            .timeout(Duration::from_secs(120));
        match properties {
            Some(path) => cmd.env("KPIPES_CONFIG_FILE", path),
            None => cmd.env_remove("KPIPES_CONFIG_FILE"),
        };
        cmd
    }

    fn run(&self, cmd: &mut assert_cmd::Command) -> Ran {
        let ran = run(cmd);
        let mut seen = self.seen.borrow_mut();
        seen.push_str(&ran.stdout());
        seen.push_str(&ran.stderr());
        ran
    }

    fn dir(&self) -> PathBuf {
        self.state_dir.join("clusters").join(&self.name)
    }

    fn env(&self, user: Option<&str>) -> Vec<(String, String)> {
        let mut cmd = self.kcluster();
        cmd.arg("env");
        if let Some(user) = user {
            cmd.args(["--user", user]);
        }
        self.run(&mut cmd)
            .success()
            .stdout()
            .lines()
            .map(|line| {
                let (key, value) = line
                    .strip_prefix("export ")
                    .and_then(|rest| rest.split_once('='))
                    .unwrap_or_else(|| panic!("not an export line: {line}"));
                (key.to_string(), value.to_string())
            })
            .collect()
    }

    fn brokers(&self) -> String {
        let text = std::fs::read_to_string(self.dir().join("cluster.json")).unwrap();
        let state: Value = serde_json::from_str(&text).unwrap();
        state["brokers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| format!("{}:{}", b["host"].as_str().unwrap(), b["port"]))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn properties(&self, user: &str) -> PathBuf {
        self.dir().join(format!("{user}.properties"))
    }

    fn password(&self, user: &str) -> String {
        std::fs::read_to_string(self.properties(user))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("sasl.password="))
            .expect("a sasl.password line")
            .trim()
            .to_string()
    }
}

impl Drop for SecureCluster {
    fn drop(&mut self) {
        let _ = self.kcluster().arg("down").output();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A copy of `from` with one property changed, in `dir`.
fn altered(from: &Path, dir: &Path, name: &str, key: &str, value: &str) -> PathBuf {
    let text: String = std::fs::read_to_string(from)
        .unwrap()
        .lines()
        .map(|line| {
            if line.starts_with(&format!("{key}=")) {
                format!("{key}={value}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// How every refusal by the ACLs reads, in every tool.
const DENIED: &str = "not authorized by the cluster's ACLs";

/// Run a command that must fail with `code`, within `within`, naming `cause`, with
/// nothing on stdout (nothing reported as delivered or read).
fn refused(
    cluster: &SecureCluster,
    cmd: &mut assert_cmd::Command,
    code: i32,
    cause: &str,
    within: Duration,
) -> Ran {
    let started = Instant::now();
    let ran = cluster.run(cmd).code_is(code).stderr_has(cause);
    assert!(
        started.elapsed() < within,
        "took {:?} (more than {within:?}): {}",
        started.elapsed(),
        ran.stderr()
    );
    assert_eq!(
        ran.stdout(),
        "",
        "nothing may be reported: {}",
        ran.stderr()
    );
    ran
}

#[test]
fn secure_cluster_end_to_end() {
    needs_cluster!();
    let cluster = SecureCluster::new("secure");
    let scratch = cluster.state_dir.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();

    // Up: one broker, speaking SASL_SSL.
    let started = Instant::now();
    let up = cluster.run(cluster.kcluster().args([
        "up",
        "--secure",
        "--brokers",
        "1",
        "--timeout",
        "120",
    ]));
    let up = up.success().json_lines();
    eprintln!("secure up took {:?}", started.elapsed());
    assert_eq!(up.len(), 1);
    assert_eq!(up[0]["state"], "up");
    let broker_pid = up[0]["pid"].as_i64().expect("a pid");

    // Its files: the CA, a properties file per user (0600), nothing readable by others.
    let dir = cluster.dir();
    assert_eq!(mode_of(&dir), 0o700, "the cluster's directory is private");
    for user in ["admin", "reader"] {
        let file = cluster.properties(user);
        assert_eq!(mode_of(&file), 0o600, "{}", file.display());
        let text = std::fs::read_to_string(&file).unwrap();
        for line in [
            "security.protocol=sasl_ssl",
            "sasl.mechanisms=SCRAM-SHA-512",
            &format!("sasl.username={user}"),
            &format!("ssl.ca.location={}", dir.join("ca.pem").display()),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
    }
    assert_ne!(cluster.password("admin"), cluster.password("reader"));
    assert_eq!(mode_of(&dir.join("kafka-1/server.properties")), 0o600);
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cluster.json")).unwrap()).unwrap();
    assert_eq!(state["secure"], true);

    // No password on the broker's command line.
    let cmdline = std::fs::read(format!("/proc/{broker_pid}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline);
    for user in ["admin", "reader"] {
        assert!(
            !cmdline.contains(&cluster.password(user)),
            "{user}'s password on the broker's command line"
        );
    }

    // status works as for an open cluster (its probe logs in as admin).
    let status = cluster
        .run(cluster.kcluster().arg("status"))
        .success()
        .json_lines();
    assert_eq!(status[0]["state"], "up");

    // env: the brokers and a properties file, admin's unless --user says otherwise.
    let admin_env = cluster.env(None);
    assert_eq!(admin_env[0], ("KAFKA_BROKERS".into(), cluster.brokers()));
    assert_eq!(
        admin_env[1],
        (
            "KPIPES_CONFIG_FILE".into(),
            cluster.properties("admin").display().to_string()
        )
    );
    let reader_env = cluster.env(Some("reader"));
    assert_eq!(
        reader_env[1],
        (
            "KPIPES_CONFIG_FILE".into(),
            cluster.properties("reader").display().to_string()
        )
    );
    cluster
        .run(cluster.kcluster().args(["env", "--user", "nobody"]))
        .code_is(2)
        .one_error_line("kcluster")
        .stderr_has("no user 'nobody'");
    let reader = cluster.properties("reader");

    // Admin, found with no flags at all: create a topic, produce, describe.
    let topic = unique_name("secure-t");
    cluster
        .run(
            cluster
                .found("ktopic")
                .args(["create", &topic, "-p", "1", "-r", "1"]),
        )
        .success();
    let records = [
        json!({"key": "k1", "value": "plain text", "headers": []}),
        json!({"key": null, "value": "héllo wörld ✓", "headers": [{"key": "h", "value": "v"}]}),
        json!({"key": {"base64": "AAEC/w=="}, "value": {"base64": "/wABAgMEBQ=="}, "headers": []}),
        json!({"key": "k4", "value": "{\"total\":3}", "headers": [{"key": "bin", "value": {"base64": "gA=="}}]}),
        json!({"key": "k5", "value": "", "headers": []}),
    ];
    let input: String = records.iter().map(|r| format!("{r}\n")).collect();
    let reports = cluster
        .run(
            cluster
                .found("kprod")
                .args(["--json", &topic])
                .write_stdin(input.clone()),
        )
        .success()
        .json_lines();
    assert_eq!(reports.len(), records.len());
    let described = cluster
        .run(cluster.found("ktopic").args(["describe", &topic]))
        .success()
        .json_lines();
    assert_eq!(described[0]["partition_count"], 1);

    // Reader reads admin's records back byte for byte: without a group, then with one.
    let same = |got: &[Value]| {
        assert_eq!(got.len(), records.len(), "{got:?}");
        for (got, sent) in got.iter().zip(&records) {
            for field in ["key", "value", "headers"] {
                assert_eq!(got[field], sent[field], "{field} of {got}");
            }
        }
    };
    let read = cluster
        .run(cluster.with("kcons", Some(&reader)).args([&topic, "-e"]))
        .success()
        .json_lines();
    same(&read);
    let group = unique_name("secure-g");
    let read = cluster
        .run(
            cluster
                .with("kcons", Some(&reader))
                .args([&topic, "-e", "-g", &group]),
        )
        .success()
        .json_lines();
    same(&read);
    // A peer that logs in with SCRAM too (Confluent's Python client: Debian's kcat cannot):
    // it reads as reader what kpipes wrote as admin, and writes as admin what kcons reads.
    let reader_arg = reader.display().to_string();
    let admin_arg = cluster.properties("admin").display().to_string();
    let brokers = cluster.brokers();
    let peer_read = run(&mut peer_client(&[
        "consume",
        &brokers,
        &reader_arg,
        &topic,
        &records.len().to_string(),
    ]))
    .success()
    .json_lines();
    same(&peer_read);
    let peer_topic = unique_name("secure-peer");
    cluster
        .run(
            cluster
                .found("ktopic")
                .args(["create", &peer_topic, "-p", "1", "-r", "1"]),
        )
        .success();
    run(peer_client(&["produce", &brokers, &admin_arg, &peer_topic]).write_stdin(input.clone()))
        .success();
    same(
        &cluster
            .run(
                cluster
                    .with("kcons", Some(&reader))
                    .args([&peer_topic, "-e"]),
            )
            .success()
            .json_lines(),
    );

    // kgroup as reader: the group, its commit at the end (lag 0); admin deletes it.
    let groups = cluster
        .run(cluster.with("kgroup", Some(&reader)).arg("list"))
        .success()
        .json_lines();
    assert!(
        groups.iter().any(|g| g["group"] == group.as_str()),
        "{groups:?}"
    );
    let lag = cluster
        .run(
            cluster
                .with("kgroup", Some(&reader))
                .args(["describe", &group]),
        )
        .success()
        .json_lines();
    let partition = lag
        .iter()
        .find(|l| l["kind"] == "partition")
        .expect("a partition line");
    assert_eq!(partition["committed"], records.len());
    assert_eq!(partition["lag"], 0);
    // ktopic as reader: describe and list work.
    cluster
        .run(
            cluster
                .with("ktopic", Some(&reader))
                .args(["describe", &topic]),
        )
        .success();
    let listed = cluster
        .run(cluster.with("ktopic", Some(&reader)).arg("list"))
        .success()
        .stdout();
    assert!(listed.contains(&topic), "{listed}");

    // Reader may not produce: exit 10, the topic named as refused, nothing delivered.
    let ran = refused(
        &cluster,
        cluster
            .with("kprod", Some(&reader))
            .arg(&topic)
            .write_stdin("not allowed\n"),
        10,
        &format!("cannot write to topic '{topic}': {DENIED}"),
        Duration::from_secs(15),
    );
    ran.stderr_has("Cluster authorization failed");
    // Nor without the idempotent producer (then each record is refused by topic).
    refused(
        &cluster,
        cluster
            .with("kprod", Some(&reader))
            .args([
                &topic,
                "-X",
                "enable.idempotence=false",
                "--delivery-timeout",
                "5",
            ])
            .write_stdin("not allowed either\n"),
        10,
        "Topic authorization failed",
        Duration::from_secs(15),
    );
    // Reader may not create a topic.
    let denied_topic = unique_name("secure-denied");
    refused(
        &cluster,
        cluster.with("ktopic", Some(&reader)).args([
            "create",
            &denied_topic,
            "-r",
            "1",
            "--timeout",
            "5",
        ]),
        10,
        &format!("cannot create topic '{denied_topic}': {DENIED}"),
        Duration::from_secs(15),
    )
    .one_error_line("ktopic");
    let topics = cluster
        .run(cluster.found("ktopic").arg("list"))
        .success()
        .stdout();
    assert!(!topics.contains(&denied_topic), "{topics}");
    // Nor change, grow or delete one: every refusal exit 10, in the one wording.
    for (args, doing) in [
        (
            vec!["config", &topic, "--set", "retention.ms=3600000"],
            format!("cannot change the config of topic '{topic}'"),
        ),
        (
            vec!["config", &topic, "--unset", "retention.ms"],
            format!("cannot change the config of topic '{topic}'"),
        ),
        (
            vec!["partitions", &topic, "4"],
            format!("cannot add partitions to topic '{topic}'"),
        ),
        (
            vec!["delete", &topic],
            format!("cannot delete topic '{topic}'"),
        ),
    ] {
        refused(
            &cluster,
            cluster
                .with("ktopic", Some(&reader))
                .args(&args)
                .args(["--timeout", "5"]),
            10,
            &format!("{doing}: {DENIED}"),
            Duration::from_secs(15),
        )
        .one_error_line("ktopic");
    }
    // And nothing reader tried landed: admin still reads exactly the records it wrote.
    same(
        &cluster
            .run(cluster.found("kcons").args([&topic, "-e"]))
            .success()
            .json_lines(),
    );

    // A wrong password and an unknown user: authentication failed, exit 10, at once.
    let wrong_password = altered(
        &reader,
        &scratch,
        "wrong.properties",
        "sasl.password",
        "not-the-password-0123",
    );
    let unknown_user = altered(
        &cluster.properties("admin"),
        &scratch,
        "unknown.properties",
        "sasl.username",
        "mallory",
    );
    for (props, what) in [
        (&wrong_password, "a wrong password"),
        (&unknown_user, "an unknown user"),
    ] {
        for tool in ["kprod", "kcons", "ktopic", "kgroup"] {
            let mut cmd = cluster.with(tool, Some(props));
            match tool {
                "kprod" => cmd.arg(&topic).write_stdin("x\n"),
                "kcons" => cmd.args([&topic, "-e"]),
                "ktopic" => cmd.arg("list"),
                _ => cmd.arg("list"),
            };
            cmd.args(["--timeout", "20"]);
            let ran = refused(
                &cluster,
                &mut cmd,
                10,
                "authentication failed",
                Duration::from_secs(10),
            );
            assert!(
                !ran.stderr().contains("not-the-password-0123"),
                "{what}: the password shown"
            );
            ran.one_error_line(tool).stderr_has(
                "Authentication failed during authentication due to invalid credentials",
            );
        }
    }

    // -F wins over KPIPES_CONFIG_FILE (and -X over both); a file that cannot be read is exit 2.
    let read = cluster
        .run(cluster.with("kcons", Some(&wrong_password)).args([
            "-F",
            &reader.display().to_string(),
            &topic,
            "-e",
        ]))
        .success()
        .json_lines();
    same(&read);
    cluster
        .run(cluster.with("kcons", Some(&reader)).args([
            &topic,
            "-e",
            "--timeout",
            "20",
            "-X",
            "sasl.username=mallory",
        ]))
        .code_is(10)
        .stderr_has("authentication failed");
    cluster
        .run(
            cluster
                .with("ktopic", Some(&scratch.join("missing.properties")))
                .arg("list"),
        )
        .code_is(2)
        .one_error_line("ktopic")
        .stderr_has("KPIPES_CONFIG_FILE");

    // A CA that does not match: the TLS handshake fails (certificate verify failed), exit 5.
    let other_ca = scratch.join("other-ca.pem");
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "not the cluster's CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    std::fs::write(&other_ca, params.self_signed(&key).unwrap().pem()).unwrap();
    let wrong_ca = altered(
        &cluster.properties("admin"),
        &scratch,
        "wrong-ca.properties",
        "ssl.ca.location",
        &other_ca.display().to_string(),
    );
    for tool in ["kprod", "kcons"] {
        let mut cmd = cluster.with(tool, Some(&wrong_ca));
        match tool {
            "kprod" => cmd.arg(&topic).write_stdin("x\n"),
            _ => cmd.args([&topic, "-e"]),
        };
        cmd.args(["--timeout", "20"]);
        refused(
            &cluster,
            &mut cmd,
            5,
            "certificate verify failed",
            Duration::from_secs(10),
        )
        .one_error_line(tool)
        .stderr_has("TLS handshake");
    }

    // A plaintext client on the TLS port: exit 5 within --timeout, told what is likely wrong.
    for tool in ["kprod", "ktopic"] {
        let mut cmd = cluster.with(tool, None);
        match tool {
            "kprod" => cmd.arg(&topic).write_stdin("x\n"),
            _ => cmd.arg("list"),
        };
        cmd.args(["--timeout", "3"]);
        refused(
            &cluster,
            &mut cmd,
            5,
            "does the listener want TLS?",
            Duration::from_secs(9),
        )
        .one_error_line(tool);
    }

    // kill, status, start: as for an open cluster; the data is still there for reader.
    cluster
        .run(cluster.kcluster().args(["kill", "1"]))
        .success();
    let status = cluster
        .run(cluster.kcluster().arg("status"))
        .code_is(7)
        .json_lines();
    assert_eq!(status[0]["state"], "down");
    cluster
        .run(cluster.kcluster().args(["start", "1", "--timeout", "120"]))
        .success();
    let status = cluster
        .run(cluster.kcluster().arg("status"))
        .success()
        .json_lines();
    assert_eq!(status[0]["state"], "up");
    same(
        &cluster
            .run(
                cluster
                    .with("kcons", Some(&reader))
                    .args([&topic, "-e", "--timeout", "30"]),
            )
            .success()
            .json_lines(),
    );

    // No secret ever in anything a tool printed.
    let seen = cluster.seen.borrow().clone();
    for user in ["admin", "reader"] {
        assert!(
            !seen.contains(&cluster.password(user)),
            "{user}'s password was printed"
        );
    }

    // down removes everything, secrets included.
    cluster.run(cluster.kcluster().arg("down")).success();
    assert!(!dir.exists(), "{} is still there", dir.display());
}

/// ZooKeeper mode (Kafka 3.9, users kept in ZooKeeper, the ACL authorizer): the same
/// users and rights, the tools found with no flags, reader's refusals.
#[test]
fn secure_zookeeper_mode_cluster() {
    needs_cluster!();
    let cluster = SecureCluster::new("secure-zk");
    let up = cluster
        .run(cluster.kcluster().args([
            "up",
            "--secure",
            "--mode",
            "zookeeper",
            "--brokers",
            "1",
            "--timeout",
            "120",
        ]))
        .success()
        .json_lines();
    assert!(up.iter().all(|node| node["state"] == "up"), "{up:?}");
    assert_eq!(mode_of(&cluster.properties("admin")), 0o600);
    assert_eq!(
        mode_of(&cluster.dir().join("kafka-1/server.properties")),
        0o600
    );
    let server = std::fs::read_to_string(cluster.dir().join("kafka-1/server.properties")).unwrap();
    assert!(server.contains("listeners=SASL_SSL://"), "{server}");
    assert!(!server.contains("PLAINTEXT"), "{server}");

    let topic = unique_name("secure-zk-t");
    cluster
        .run(
            cluster
                .found("ktopic")
                .args(["create", &topic, "-p", "1", "-r", "1"]),
        )
        .success();
    let input = "one\ntwo ✓\n{\"three\":3}\n";
    cluster
        .run(cluster.found("kprod").arg(&topic).write_stdin(input))
        .success();
    let reader = cluster.properties("reader");
    let group = unique_name("secure-zk-g");
    let read = cluster
        .run(
            cluster
                .with("kcons", Some(&reader))
                .args([&topic, "-e", "-g", &group]),
        )
        .success()
        .json_lines();
    let values: Vec<&str> = read.iter().map(|r| r["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["one", "two ✓", "{\"three\":3}"]);
    refused(
        &cluster,
        cluster
            .with("kprod", Some(&reader))
            .arg(&topic)
            .write_stdin("no\n"),
        10,
        &format!("cannot write to topic '{topic}': {DENIED}"),
        Duration::from_secs(15),
    );
    refused(
        &cluster,
        cluster.with("ktopic", Some(&reader)).args([
            "create",
            &unique_name("secure-zk-denied"),
            "-r",
            "1",
            "--timeout",
            "5",
        ]),
        10,
        DENIED,
        Duration::from_secs(15),
    );
    let wrong = cluster.state_dir.join("wrong.properties");
    std::fs::write(
        &wrong,
        std::fs::read_to_string(&reader)
            .unwrap()
            .replace(&cluster.password("reader"), "not-the-password-0123"),
    )
    .unwrap();
    refused(
        &cluster,
        cluster
            .with("kcons", Some(&wrong))
            .args([&topic, "-e", "--timeout", "20"]),
        10,
        "authentication failed",
        Duration::from_secs(10),
    );
    let seen = cluster.seen.borrow().clone();
    for user in ["admin", "reader"] {
        assert!(
            !seen.contains(&cluster.password(user)),
            "{user}'s password was printed"
        );
    }
    cluster.run(cluster.kcluster().arg("down")).success();
}

#[test]
fn secure_needs_the_local_backend() {
    needs_cluster!();
    let state_dir = std::env::temp_dir().join(unique_name("kpipes-secure-refused"));
    let mut cmd = kcluster("secure-refused");
    cmd.env("KPIPES_STATE_DIR", &state_dir)
        .env_remove("KPIPES_BACKEND")
        .args(["up", "--secure", "--backend", "compose"]);
    run(&mut cmd)
        .code_is(2)
        .one_error_line("kcluster")
        .stderr_has("--secure needs the local backend");
    let _ = std::fs::remove_dir_all(&state_dir);
}
