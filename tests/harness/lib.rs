//! # The end-to-end harness: the one library every file in `tests/` uses
//!
//! Tests run the real binaries against a real local Kafka cluster; nothing is mocked.
//! `scripts/test` starts the shared test cluster and exports `KAFKA_BROKERS` and
//! `KPIPES_TEST_CLUSTER`. A test file starts with `use kpipes_e2e::*;` and uses only this:
//!
//! - [`needs_cluster!()`](needs_cluster): the first line of every test that talks to a
//!   Kafka cluster. Without one (plain `cargo test`) the test returns at once, and the run
//!   prints ONE line saying how to run them; under `scripts/test` a missing cluster fails.
//! - [`tool`]`("kprod")`: an `assert_cmd::Command` for one of our binaries, pointed at the
//!   shared cluster; [`run`]`(&mut cmd)` runs it to the end and gives a [`Ran`].
//!   Shorthands: [`kprod`]`(args, stdin)`, [`kcons_e`]`(args)`, [`records`]`(topic)`.
//! - [`Ran`]: a finished process. Its checks ([`Ran::success`], [`Ran::code_is`],
//!   [`Ran::stderr_has`], [`Ran::one_error_line`], [`Ran::no_panic`]) and
//!   [`Ran::json_lines`] fail with the command line, exit code or signal, stdout and stderr.
//! - [`Proc`]: a tool still running ([`Proc::start`]), for tests that write to it over
//!   time, signal it, or read its stdout slowly ([`Proc::start_holding`]);
//!   [`Proc::finish`] waits for its end and gives the same [`Ran`].
//! - [`create_topic`]`(partitions, extra)`: a new topic with a name no other test uses
//!   (replication factor 3); [`unique_name`]`(prefix)` for other names (groups, topics
//!   that must not exist).
//! - [`eventually`]`(what, timeout, check)`: poll until `check` gives `Some`, failing with
//!   `what` at the deadline. Never sleep to wait for something: poll for it.
//!   [`eventually_succeeds`] retries a command until it succeeds.
//! - Smaller helpers: [`records`], [`values`], [`positions`], [`reported_lines`],
//!   [`end_offsets`], [`kafka_java`] (Kafka's own Java tools), [`process_runs`], [`Rng`].
//! - [`FaultCluster::acquire`]: exclusive use of a second cluster whose brokers a test may
//!   kill; its [`FaultCluster::tool`], [`FaultCluster::command`], [`FaultCluster::kcluster`]
//!   and [`FaultCluster::create_topic`] point there.
//!
//! Where a test goes: what one tool does, in that tool's file (`kprod.rs`, `kcons.rs`,
//! `ktopic.rs`, `kcluster.rs`, `kgroup.rs`); failures that involve several tools or the
//! cluster itself (broker kills, consumer crashes) in `reliability.rs` and `failover.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// The shared test cluster, and running without one.
// ---------------------------------------------------------------------------------------

/// Where the workspace's binaries are: next to this test executable's `deps/` folder.
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --workspace` (scripts/test does)",
        path.display()
    );
    path
}

/// Name of the shared test cluster (its `kcluster --name`).
pub fn test_cluster() -> String {
    std::env::var("KPIPES_TEST_CLUSTER").unwrap_or_else(|_| "kpipes-test".into())
}

/// The shared cluster's brokers, or why there are none; looked up once per test binary.
fn shared_cluster() -> &'static Result<String, String> {
    static FOUND: OnceLock<Result<String, String>> = OnceLock::new();
    FOUND.get_or_init(|| {
        let brokers = match std::env::var("KAFKA_BROKERS") {
            Ok(list) if !list.trim().is_empty() => list,
            _ => {
                let out = Command::new(bin_path("kcluster"))
                    .args(["env", "--name", &test_cluster()])
                    .output()
                    .map_err(|e| format!("running kcluster env: {e}"))?;
                let text = String::from_utf8_lossy(&out.stdout);
                text.lines()
                    .find_map(|line| line.strip_prefix("export KAFKA_BROKERS="))
                    .map(str::to_string)
                    .ok_or_else(|| format!("no cluster named '{}' exists", test_cluster()))?
            }
        };
        // Something must listen there: a cluster that was left behind but stopped is none.
        let listening = brokers.split(',').any(|address| {
            use std::net::ToSocketAddrs;
            address
                .to_socket_addrs()
                .ok()
                .into_iter()
                .flatten()
                .any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
        });
        if listening {
            Ok(brokers)
        } else {
            Err(format!("nothing listens on {brokers}"))
        }
    })
}

/// Whether a test that needs Kafka can run. Without a cluster it cannot: under
/// `scripts/test` (`KPIPES_TEST_CLUSTER` set) that fails the test; otherwise it is
/// skipped, and the first skip of a `cargo test` run prints one line saying how to run it.
/// Use it through [`needs_cluster!()`](needs_cluster).
pub fn cluster_available() -> bool {
    let why = match shared_cluster() {
        Ok(_) => return true,
        Err(why) => why,
    };
    if std::env::var_os("KPIPES_TEST_CLUSTER").is_some() {
        panic!(
            "no test cluster '{}' ({why}), yet KPIPES_TEST_CLUSTER says there is one",
            test_cluster()
        );
    }
    skip_notice_once(
        "cluster",
        &format!(
            "no test cluster ({why}): the tests that need Kafka are skipped; run scripts/test"
        ),
    );
    false
}

/// Print `notice` once per `cargo test` run and `kind` of skip (cargo is the parent of every
/// test binary it runs), past libtest's capture of the tests' output.
fn skip_notice_once(kind: &str, notice: &str) {
    let marker = std::env::temp_dir().join(format!(
        "kpipes-{kind}-skip-notice-{}-{}",
        std::os::unix::process::parent_id(),
        std::env::var("USER").unwrap_or_default()
    ));
    if std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&marker)
        .is_ok()
    {
        let _ = writeln!(std::io::stderr().lock(), "\n{notice}\n");
    }
}

/// The first line of every test that talks to Kafka: returns from the test at once when
/// there is no test cluster (see [`cluster_available`]).
#[macro_export]
macro_rules! needs_cluster {
    () => {
        if !$crate::cluster_available() {
            return;
        }
    };
}

/// Bootstrap brokers of the shared test cluster.
pub fn brokers() -> String {
    match shared_cluster() {
        Ok(brokers) => brokers.clone(),
        Err(why) => panic!(
            "no test cluster '{}' ({why}): run the tests with scripts/test \
             (a test that needs Kafka starts with needs_cluster!())",
            test_cluster()
        ),
    }
}

/// A command for one of our binaries, pointed at the shared test cluster.
pub fn tool(name: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin_path(name));
    cmd.env("KAFKA_BROKERS", brokers())
        .env_remove("NO_COLOR")
        // A registry only where a test asks for it (see [`schema_registry`]).
        .env_remove("KPIPES_SCHEMA_REGISTRY")
        .timeout(Duration::from_secs(180));
    cmd
}

/// The same as a `std::process::Command`, for [`Proc::spawn`].
pub fn command(name: &str) -> Command {
    command_at(&brokers(), name)
}

fn command_at(brokers: &str, name: &str) -> Command {
    let mut cmd = Command::new(bin_path(name));
    cmd.env("KAFKA_BROKERS", brokers)
        .env_remove("NO_COLOR")
        .env_remove("KPIPES_SCHEMA_REGISTRY");
    cmd
}

// ---------------------------------------------------------------------------------------
// The schema registry beside the test cluster, and an Avro client independent of kpipes.
// ---------------------------------------------------------------------------------------

/// The test cluster's schema registry (`scripts/test` starts it with `kcluster up
/// --schema-registry` and exports `KPIPES_TEST_SCHEMA_REGISTRY`), or why there is none.
fn shared_registry() -> &'static Result<String, String> {
    static FOUND: OnceLock<Result<String, String>> = OnceLock::new();
    FOUND.get_or_init(|| {
        if let Ok(url) = std::env::var("KPIPES_TEST_SCHEMA_REGISTRY") {
            if !url.is_empty() {
                return Ok(url);
            }
        }
        let out = Command::new(bin_path("kcluster"))
            .args(["env", "--name", &test_cluster()])
            .output()
            .map_err(|e| format!("running kcluster env: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|line| line.strip_prefix("export KPIPES_SCHEMA_REGISTRY="))
            .map(str::to_string)
            .ok_or_else(|| {
                format!(
                    "cluster '{}' has no schema registry (kcluster up --schema-registry)",
                    test_cluster()
                )
            })
    })
}

/// The Python with Confluent's Avro client that `scripts/setup` installs into the kpipes
/// cache (`$KPIPES_CACHE_DIR/python`), or why there is none.
fn avro_python() -> &'static Result<PathBuf, String> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND.get_or_init(|| {
        let python = kcore::state::cache_root().join("python/bin/python");
        let works = Command::new(&python)
            .args([
                "-c",
                "import confluent_kafka.schema_registry.avro, confluent_kafka.schema_registry.protobuf, \
                 confluent_kafka.schema_registry.json_schema, grpc_tools.protoc",
            ])
            .output()
            .is_ok_and(|out| out.status.success());
        if works {
            Ok(python)
        } else {
            Err(format!(
                "no confluent-kafka Avro client in {} (scripts/setup installs it)",
                python.display()
            ))
        }
    })
}

/// Whether a schema registry test can run: a cluster, its registry and the Python Avro
/// client. Under `scripts/test` a missing one fails the test; otherwise it is skipped with
/// one line per run. Use it through [`needs_registry!()`](needs_registry).
pub fn registry_available() -> bool {
    if !cluster_available() {
        return false;
    }
    let why = match (shared_registry(), avro_python()) {
        (Ok(_), Ok(_)) => return true,
        (Err(why), _) | (_, Err(why)) => why,
    };
    if std::env::var_os("KPIPES_TEST_CLUSTER").is_some() {
        panic!("{why}, yet scripts/test provides one");
    }
    skip_notice_once(
        "registry",
        &format!("{why}: the schema registry tests are skipped; run scripts/test"),
    );
    false
}

/// The first line of every test that needs the schema registry (see [`registry_available`]).
#[macro_export]
macro_rules! needs_registry {
    () => {
        if !$crate::registry_available() {
            return;
        }
    };
}

/// The test cluster's schema registry URL (Confluent-compatible API).
pub fn schema_registry() -> String {
    shared_registry().clone().expect("needs_registry!() first")
}

/// One of our tools pointed at the test cluster and its schema registry.
pub fn tool_with_registry(name: &str) -> assert_cmd::Command {
    let mut cmd = tool(name);
    cmd.args(["--schema-registry", &schema_registry()]);
    cmd
}

/// Confluent's Python Avro client (`tests/harness/avro_client.py`): `produce TOPIC
/// SCHEMA_FILE` (stdin: one Python literal per line) or `consume TOPIC COUNT` (stdout:
/// one JSON line per value), on the test cluster and its registry.
pub fn avro_client(command: &str, topic: &str, arg: &str) -> assert_cmd::Command {
    let python = avro_python().clone().expect("needs_registry!() first");
    let mut cmd = assert_cmd::Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/harness/avro_client.py"
    ))
    .args([command, &brokers(), &schema_registry(), topic, arg])
    // authlib's deprecation notices are not ours to show.
    .env("PYTHONWARNINGS", "ignore")
    .timeout(Duration::from_secs(120));
    cmd
}

/// Confluent's Python client (`tests/harness/peer_client.py`, from the Python that
/// `scripts/setup --tests` installs into the kpipes cache), as a peer where kcat cannot be
/// one (SCRAM logins to Kafka 4: Debian's kcat has librdkafka 2.0.2): `produce BROKERS
/// PROPERTIES TOPIC` (stdin: kpipes records) or `consume BROKERS PROPERTIES TOPIC COUNT`
/// (stdout: kpipes records). PROPERTIES is a librdkafka properties file, or `-`.
pub fn peer_client(args: &[&str]) -> assert_cmd::Command {
    let python = kcore::state::cache_root().join("python/bin/python");
    assert!(
        python.is_file(),
        "no Python client in {} (scripts/setup --tests installs it)",
        python.display()
    );
    let mut cmd = assert_cmd::Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/harness/peer_client.py"
    ))
    .args(args)
    .timeout(Duration::from_secs(120));
    cmd
}

/// The tests' Python (the venv `scripts/setup --tests` makes), after [`needs_registry!()`].
pub fn test_python() -> PathBuf {
    avro_python().clone().expect("needs_registry!() first")
}

/// Confluent's Python Protobuf and JSON Schema clients (`tests/harness/schema_client.py`):
/// `produce TOPIC SPEC` (stdin: one `{"key","value"}` JSON line per record) or `consume
/// TOPIC SPEC COUNT` (stdout: the same), SPEC saying each part's format (see the script).
pub fn schema_client(
    command: &str,
    topic: &str,
    spec: &Value,
    count: Option<usize>,
) -> assert_cmd::Command {
    let python = avro_python().clone().expect("needs_registry!() first");
    let mut cmd = assert_cmd::Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/harness/schema_client.py"
    ))
    .args([
        command,
        &brokers(),
        &schema_registry(),
        topic,
        &spec.to_string(),
    ])
    .args(count.map(|c| c.to_string()))
    .env("PYTHONWARNINGS", "ignore")
    .timeout(Duration::from_secs(120));
    cmd
}

/// A command for kcluster acting on `cluster`.
pub fn kcluster(cluster: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin_path("kcluster"));
    cmd.env("KPIPES_CLUSTER", cluster)
        .timeout(Duration::from_secs(300));
    cmd
}

/// One of our tools told to use a cluster that does not exist: `KPIPES_CLUSTER` set to a
/// misspelling of the test cluster's name, with `KAFKA_BROKERS` (the test cluster's) set
/// or not. Check the result with [`Ran::reached_no_cluster`].
pub fn misnamed(name: &str, with_brokers: bool) -> assert_cmd::Command {
    let mut cmd = tool(name);
    cmd.env("KPIPES_CLUSTER", misspelt_cluster());
    if !with_brokers {
        cmd.env_remove("KAFKA_BROKERS");
    }
    cmd
}

/// The name [`misnamed`] gives: the test cluster's, misspelt.
pub fn misspelt_cluster() -> String {
    format!("{}x", test_cluster())
}

// ---------------------------------------------------------------------------------------
// Names, topics and records.
// ---------------------------------------------------------------------------------------

/// A name no other test (or earlier run) uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A new topic on the shared cluster: `ktopic create NAME -p PARTITIONS -r 3 EXTRA...`
/// with a unique name, which must succeed; its name.
pub fn create_topic(partitions: u32, extra: &[&str]) -> String {
    create_topic_with(tool("ktopic"), partitions, extra)
}

fn create_topic_with(mut ktopic: assert_cmd::Command, partitions: u32, extra: &[&str]) -> String {
    let topic = unique_name("t");
    run(ktopic
        .args(["create", &topic, "-p", &partitions.to_string(), "-r", "3"])
        .args(extra))
    .success();
    topic
}

/// Topic names `ktopic list` shows.
pub fn topics() -> Vec<String> {
    run(tool("ktopic").arg("list"))
        .success()
        .json_lines()
        .iter()
        .map(|t| t["topic"].as_str().unwrap().to_string())
        .collect()
}

/// `kprod ARGS...` with `input` on stdin.
pub fn kprod(args: &[&str], input: impl Into<Vec<u8>>) -> Ran {
    run(tool("kprod").args(args).write_stdin(input.into()))
}

/// `kcons ARGS... -e`, which must succeed; its records.
pub fn kcons_e(args: &[&str]) -> Vec<Value> {
    run(tool("kcons").args(args).arg("-e"))
        .success()
        .json_lines()
}

/// Every record of `topic` as it is now.
pub fn records(topic: &str) -> Vec<Value> {
    kcons_e(&[topic])
}

/// A record without the fields that name where it is (topic, offset).
pub fn content(record: &Value) -> Value {
    let mut record = record.clone();
    let map = record.as_object_mut().expect("a record is an object");
    map.remove("topic");
    map.remove("offset");
    record
}

/// Records ordered by (partition, offset).
pub fn by_position(mut list: Vec<Value>) -> Vec<Value> {
    list.sort_by_key(|r| {
        (
            r["partition"].as_i64().unwrap(),
            r["offset"].as_i64().unwrap(),
        )
    });
    list
}

/// The (partition, offset) pairs of records or delivery reports, sorted.
pub fn positions(list: &[Value]) -> Vec<(i64, i64)> {
    let mut pairs: Vec<(i64, i64)> = list
        .iter()
        .map(|r| {
            (
                r["partition"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

/// The `value` of each record.
pub fn values(list: &[Value]) -> Vec<Value> {
    list.iter().map(|r| r["value"].clone()).collect()
}

/// The `line` numbers of kprod's delivery reports, sorted.
pub fn reported_lines(reports: &[Value]) -> Vec<i64> {
    let mut lines: Vec<i64> = reports
        .iter()
        .map(|r| r["line"].as_i64().unwrap())
        .collect();
    lines.sort();
    lines
}

/// The end offset (high watermark) of each partition of `topic`, as `ktopic offsets`
/// run by `ktopic` (the shared cluster's [`tool`], or a [`FaultCluster::tool`]) says.
pub fn end_offsets(mut ktopic: assert_cmd::Command, topic: &str) -> BTreeMap<i64, i64> {
    run(ktopic.args(["offsets", topic]))
        .success()
        .json_lines()
        .iter()
        .map(|l| {
            (
                l["partition"].as_i64().unwrap(),
                l["high"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Apache Kafka's installation, where kcluster fetched it (its `libs/` has the tools' jars).
pub fn kafka_home() -> PathBuf {
    let ran = run(kcluster(&test_cluster()).arg("fetch-kafka")).success();
    PathBuf::from(ran.stdout().trim())
}

/// One of Kafka's own Java tools, by main class (a client that is not ours).
pub fn kafka_java(main_class: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new("java");
    cmd.arg("-cp")
        .arg(format!("{}/libs/*", kafka_home().display()))
        .arg(main_class)
        .timeout(Duration::from_secs(120));
    cmd
}

/// Whether process `pid` runs with `text` in its command line (false once it is gone).
pub fn process_runs(pid: i64, text: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains(text))
        .unwrap_or(false)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Standard base64 with padding (what kcons writes for bytes that are not UTF-8).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The bytes of standard base64 `text`.
pub fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Bytes as kcons prints them: null, a string when UTF-8, else `{"base64": ...}`.
pub fn encoded(bytes: Option<&[u8]>) -> Value {
    match bytes {
        None => Value::Null,
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => json!(text),
            Err(_) => json!({"base64": base64(bytes)}),
        },
    }
}

/// The bytes of a record's key or value as kcons prints it; `None` for null.
pub fn decoded(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(text) => Some(text.as_bytes().to_vec()),
        Value::Object(map) => Some(base64_decode(map["base64"].as_str().expect("base64 field"))),
        _ => None,
    }
}

/// A small deterministic generator (xorshift64*), seeded per test run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn seeded() -> Self {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        eprintln!("random seed: {seed}");
        Rng::new(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn bytes(&mut self, max_len: u64) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

// ---------------------------------------------------------------------------------------
// A finished process.
// ---------------------------------------------------------------------------------------

/// A finished process: its command line and its output, shown in full when an
/// expectation about it fails.
pub struct Ran {
    pub what: String,
    pub output: Output,
}

impl Ran {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    /// The exit code; None when a signal ended the process.
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }
    /// The signal that ended the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.output.status.signal()
    }
    /// `expectation`, then everything about the run a reader needs to see why it failed.
    pub fn explain(&self, expectation: &str) -> String {
        let lines = self.output.stdout.iter().filter(|b| **b == b'\n').count();
        format!(
            "{expectation}\n--- command: {}\n--- exit: {}\n--- stdout ({lines} lines):\n{}\n--- stderr:\n{}",
            self.what,
            match (self.code(), self.signal()) {
                (Some(code), _) => format!("code {code}"),
                (None, Some(signal)) => format!("killed by signal {signal}"),
                _ => format!("{:?}", self.output.status),
            },
            truncate(&self.stdout()),
            truncate(&self.stderr())
        )
    }
    /// Assert exit status 0.
    pub fn success(self) -> Self {
        assert!(
            self.output.status.success(),
            "{}",
            self.explain("expected success")
        );
        self
    }
    /// Assert a specific exit code.
    pub fn code_is(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            Some(code),
            "{}",
            self.explain(&format!("expected exit code {code}"))
        );
        self
    }
    /// Assert stderr contains `text`.
    pub fn stderr_has(self, text: &str) -> Self {
        assert!(
            self.stderr().contains(text),
            "{}",
            self.explain(&format!("expected stderr to contain {text:?}"))
        );
        self
    }
    /// Assert stderr is empty.
    pub fn quiet(self) -> Self {
        assert!(
            self.output.stderr.is_empty(),
            "{}",
            self.explain("expected nothing on stderr")
        );
        self
    }
    /// Assert stderr is exactly one line (our error format).
    pub fn one_error_line(self, tool: &str) -> Self {
        let err = self.stderr();
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with(&format!("{tool}: error: ")),
            "{}",
            self.explain(&format!(
                "expected exactly one `{tool}: error: ...` line on stderr"
            ))
        );
        self
    }
    /// The tool refused a misspelt cluster name ([`misnamed`]): exit 6, one error line
    /// naming it and the clusters that exist (the test cluster among them).
    pub fn reached_no_cluster(self, tool: &str) -> Self {
        let ran = self
            .code_is(6)
            .one_error_line(tool)
            .stderr_has(&format!("no cluster named '{}'", misspelt_cluster()));
        let stderr = ran.stderr();
        let listed = stderr
            .split_once("the clusters are: ")
            .map(|(_, list)| list.trim().split(", ").any(|name| name == test_cluster()));
        assert!(
            listed == Some(true),
            "{}",
            ran.explain("expected the clusters that exist to be listed")
        );
        ran
    }
    /// Assert stderr is one line `tool: interrupted ...`: an interruption is told, not
    /// reported as an error.
    pub fn one_interrupted_line(self, tool: &str) -> Self {
        let err = self.stderr();
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with(&format!("{tool}: interrupted")),
            "{}",
            self.explain(&format!(
                "expected one `{tool}: interrupted ...` line on stderr"
            ))
        );
        self
    }
    /// Assert the process neither panicked nor died of a signal, and ended its last
    /// stdout line.
    pub fn no_panic(self) -> Self {
        assert!(
            !self.stderr().contains("panicked")
                && self.code() != Some(101)
                && self.signal().is_none(),
            "{}",
            self.explain("expected no panic and no death by signal")
        );
        assert!(
            self.output.stdout.is_empty() || self.output.stdout.ends_with(b"\n"),
            "{}",
            self.explain("stdout ends in a partial line")
        );
        self
    }
    /// A last stdout line without its newline (cut short by a signal), if any.
    pub fn partial_line(&self) -> Option<String> {
        let out = &self.output.stdout;
        if out.is_empty() || out.ends_with(b"\n") {
            return None;
        }
        let start = out.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        Some(String::from_utf8_lossy(&out[start..]).into_owned())
    }
    /// stdout parsed as JSON lines. A last line cut short by the signal that killed the
    /// process is not one: it is left out.
    pub fn json_lines(&self) -> Vec<Value> {
        let mut text = self.stdout();
        if self.signal().is_some() {
            if let Some(partial) = self.partial_line() {
                text.truncate(text.len() - partial.len());
            }
        }
        text.lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!(
                        "{}",
                        self.explain(&format!("stdout line is not JSON ({e}): {line}"))
                    )
                })
            })
            .collect()
    }
}

/// The end of `text`, at most 6000 bytes of it.
fn truncate(text: &str) -> String {
    const MAX: usize = 6000;
    if text.len() <= MAX {
        text.to_string()
    } else {
        let mut cut = text.len() - MAX;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        format!("[... {} bytes cut ...]\n{}", cut, &text[cut..])
    }
}

/// Run a prepared command to its end and keep its output.
pub fn run(cmd: &mut assert_cmd::Command) -> Ran {
    let what = format!("{cmd:?}");
    let output = cmd.output().expect("spawning the command");
    Ran { what, output }
}

/// Run `cmd` (given `--timeout 2` and an address nobody listens on): it must fail with
/// exit 5 in one line naming the address, within the 2 s plus room for a loaded machine
/// but below the default timeout of 10 s, so that `--timeout` is seen to be obeyed.
pub fn fails_unreachable_in_time(cmd: &mut assert_cmd::Command, tool: &str) -> Ran {
    let started = Instant::now();
    let ran = run(cmd)
        .code_is(5)
        .one_error_line(tool)
        .stderr_has("localhost:1");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    ran
}

// ---------------------------------------------------------------------------------------
// A running process.
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Captured {
    /// stdout as read so far, line by line, each with its newline (a last one may lack it).
    lines: Mutex<Vec<Vec<u8>>>,
    /// The stdout reader reads no more once this many lines were read, so the pipe fills
    /// and the tool blocks in `write`, as behind a slow reader.
    limit: Mutex<usize>,
    more: Condvar,
    stderr: Mutex<Vec<u8>>,
}

/// One of our tools (or any program) running as a child with stdin, stdout and stderr
/// piped: for tests that feed it over time, signal it mid-stream or read it slowly.
/// stdout is read line by line on a thread, stderr on another. Killed when dropped, so a
/// failing test leaves nothing behind.
pub struct Proc {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    captured: Arc<Captured>,
    stdout_reader: Option<JoinHandle<()>>,
    stderr_reader: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Start tool `name` with `args`, pointed at the shared cluster.
    pub fn start(name: &str, args: &[&str]) -> Proc {
        Proc::spawn(command(name).args(args))
    }

    /// The same, with stdout read only up to `lines` lines until [`Proc::hold_after`]
    /// or [`Proc::release`] lets it go on.
    pub fn start_holding(name: &str, args: &[&str], lines: usize) -> Proc {
        Proc::spawn_holding(command(name).args(args), lines)
    }

    /// Start `cmd` (see [`command`], [`FaultCluster::command`]).
    pub fn spawn(cmd: &mut Command) -> Proc {
        Proc::spawn_holding(cmd, usize::MAX)
    }

    /// Start `cmd`, reading at most `lines` lines of its stdout until released.
    pub fn spawn_holding(cmd: &mut Command, lines: usize) -> Proc {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
        let captured = Arc::new(Captured {
            limit: Mutex::new(lines),
            ..Default::default()
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let out = Arc::clone(&captured);
        let stdout_reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                {
                    let mut limit = out.limit.lock().unwrap();
                    while out.lines.lock().unwrap().len() >= *limit {
                        limit = out.more.wait(limit).unwrap();
                    }
                }
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => out.lines.lock().unwrap().push(line),
                }
            }
        });
        let err = Arc::clone(&captured);
        let stderr_reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = stderr.read(&mut chunk) {
                err.stderr.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        let stdin = child.stdin.take();
        Proc {
            what,
            child,
            stdin,
            captured,
            stdout_reader: Some(stdout_reader),
            stderr_reader: Some(stderr_reader),
            status: None,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Write to the child's stdin (which stays open).
    pub fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Close the child's stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The child's stdin, for a feeder thread of the test's own.
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin taken once")
    }

    /// Let the stdout reader read up to `lines` lines in all.
    pub fn hold_after(&self, lines: usize) {
        *self.captured.limit.lock().unwrap() = lines;
        self.captured.more.notify_all();
    }

    /// Let the stdout reader read everything from now on.
    pub fn release(&self) {
        self.hold_after(usize::MAX);
    }

    pub fn signal(&self, signal: i32) {
        assert!(
            self.status.is_none(),
            "a signal to a process that has ended"
        );
        // SAFETY: a signal to our own child, which has not been reaped yet.
        assert_eq!(
            unsafe { libc::kill(self.pid(), signal) },
            0,
            "kill({}, {signal})",
            self.pid()
        );
    }

    /// How many stdout lines were read so far.
    pub fn line_count(&self) -> usize {
        self.captured.lines.lock().unwrap().len()
    }

    /// The stdout lines so far, without their newlines.
    pub fn lines(&self) -> Vec<String> {
        self.captured
            .lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| {
                String::from_utf8_lossy(l)
                    .trim_end_matches('\n')
                    .to_string()
            })
            .collect()
    }

    /// The complete stdout lines so far, as JSON.
    pub fn json(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .take(self.complete_lines())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {l}", self.what))
            })
            .collect()
    }

    fn complete_lines(&self) -> usize {
        let lines = self.captured.lines.lock().unwrap();
        lines.len() - usize::from(lines.last().is_some_and(|l| !l.ends_with(b"\n")))
    }

    /// stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.captured.stderr.lock().unwrap()).into_owned()
    }

    /// Is the child still running?
    pub fn running(&mut self) -> bool {
        if self.status.is_some() {
            return false;
        }
        match self.child.try_wait().expect("waiting for the child") {
            Some(status) => {
                self.status = Some(status);
                false
            }
            None => true,
        }
    }

    fn describe(&self) -> String {
        format!(
            "--- command: {}\n--- ended: {:?}, stdout lines so far: {}\n--- stderr:\n{}",
            self.what,
            self.status,
            self.line_count(),
            truncate(&self.stderr())
        )
    }

    /// Read what the ended child wrote to the end (not past a hold on stdout).
    fn join_readers(&mut self) {
        if *self.captured.limit.lock().unwrap() == usize::MAX {
            if let Some(reader) = self.stdout_reader.take() {
                let _ = reader.join();
            }
        }
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
    }

    /// Poll until `done` holds; fail if the process ends first or after `timeout`.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&Proc) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            if done(self) {
                return;
            }
            if !self.running() {
                // What it wrote last may still be on its way from the pipes.
                self.join_readers();
                assert!(
                    done(self),
                    "waiting for {what}: the process ended first\n{}",
                    self.describe()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}\n{}",
                self.describe()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Poll until stdout has at least `n` lines (failing if the process ends first or
    /// after `timeout`); the lines.
    pub fn wait_lines(&mut self, n: usize, timeout: Duration) -> Vec<String> {
        self.wait_until(&format!("{n} stdout lines"), timeout, |p| {
            p.line_count() >= n
        });
        self.lines()
    }

    /// Poll until stderr contains `text` (failing if the process ends first or after
    /// `timeout`).
    pub fn wait_stderr(&mut self, text: &str, timeout: Duration) {
        self.wait_until(&format!("{text:?} on stderr"), timeout, |p| {
            p.stderr().contains(text)
        });
    }

    /// Wait for the child to exit (SIGKILL and fail after `timeout`), read its output to
    /// the end (a hold is released) and give it as a finished process. Stdin stays as it
    /// is: a child that waits for the end of its input needs [`Proc::close_stdin`] first.
    pub fn finish(mut self, timeout: Duration) -> Ran {
        self.release();
        let deadline = Instant::now() + timeout;
        while self.running() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("did not exit within {timeout:?}\n{}", self.describe());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.join_readers();
        self.stdin = None;
        Ran {
            what: self.what.clone(),
            output: Output {
                status: self.status.expect("reaped"),
                stdout: self.captured.lines.lock().unwrap().concat(),
                stderr: std::mem::take(&mut *self.captured.stderr.lock().unwrap()),
            },
        }
    }
}

impl Proc {
    /// SIGTERM, then [`Proc::finish`]: for a consumer that must leave its group cleanly.
    pub fn stop(self, timeout: Duration) -> Ran {
        self.signal(libc::SIGTERM);
        self.finish(timeout)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A failed test must not leave its tool running.
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.release();
    }
}

// ---------------------------------------------------------------------------------------
// Waiting for a condition.
// ---------------------------------------------------------------------------------------

/// Poll `check` (every 250 ms) until it returns `Some`, or panic with `what` after
/// `timeout`. The way to wait for anything: never sleep a fixed time instead.
pub fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Run the command `command` builds until it succeeds, and keep that run; after `timeout`
/// panic with the last failed run's output, which says why it never succeeded.
/// For a step that may fail while the cluster settles (a quorum re-electing, a broker
/// rejoining), but must not fail for good.
pub fn eventually_succeeds(
    what: &str,
    timeout: Duration,
    mut command: impl FnMut() -> assert_cmd::Command,
) -> Ran {
    let deadline = Instant::now() + timeout;
    loop {
        let ran = run(&mut command());
        if ran.output.status.success() {
            return ran;
        }
        if Instant::now() > deadline {
            panic!(
                "{}",
                ran.explain(&format!("timed out after {timeout:?} waiting for: {what}"))
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

// ---------------------------------------------------------------------------------------
// The fault-injection cluster.
// ---------------------------------------------------------------------------------------

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
        assert_eq!(
            unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) },
            0,
            "locking the fault cluster"
        );
        run(kcluster(&name).args(["up", "--brokers", "3"])).success();
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

// ---------------------------------------------------------------------------------------
// A terminal on stderr: progress lines are drawn only there (issue #17).
// ---------------------------------------------------------------------------------------

/// Run the shell command line `command` with a pseudo-terminal of 40 rows and 160 columns
/// as its controlling terminal, stdin, stdout and stderr (util-linux `script`, installed by
/// scripts/setup); the command redirects its data away from the terminal itself. The
/// result's stdout is what appeared on the terminal, escape sequences and carriage returns
/// included (`\n` arrives as `\r\n`). Our binaries are on PATH, pointed at the test cluster.
pub fn on_terminal(command: &str, env: &[(&str, &str)]) -> Ran {
    let mut cmd = assert_cmd::Command::new("script");
    cmd.args(["-q", "-e", "-c"])
        .arg(format!("stty rows 40 cols 160; {command}"))
        .arg("/dev/null");
    in_shell_env(&mut cmd, env);
    let ran = run(&mut cmd);
    Ran {
        what: format!("on a terminal: {command}"),
        output: ran.output,
    }
}

/// The same command line without a terminal (`sh -c`, stderr a pipe).
pub fn in_shell(command: &str, env: &[(&str, &str)]) -> Ran {
    let mut cmd = assert_cmd::Command::new("sh");
    cmd.args(["-c", command]);
    in_shell_env(&mut cmd, env);
    let ran = run(&mut cmd);
    Ran {
        what: format!("sh -c {command:?}"),
        output: ran.output,
    }
}

fn in_shell_env(cmd: &mut assert_cmd::Command, env: &[(&str, &str)]) {
    let bin = bin_path("kprod");
    let dir = bin.parent().expect("the binaries' directory");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(dirs).expect("a PATH"))
        .env("SHELL", "/bin/sh")
        .env("TERM", "xterm")
        .env("KAFKA_BROKERS", brokers())
        .env_remove("NO_COLOR")
        .timeout(Duration::from_secs(180));
    for (key, value) in env {
        cmd.env(key, value);
    }
}

/// What a terminal transcript shows once every redraw is done: the text of each line, with
/// escape sequences dropped and each carriage return starting the line over.
pub fn terminal_screen(transcript: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for raw in transcript.split('\n') {
        let text = strip_escapes(raw);
        let shown = text
            .rsplit('\r')
            .find(|part| !part.is_empty())
            .unwrap_or("");
        lines.push(shown.trim_end().to_string());
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Every state a redrawn line went through (the text between carriage returns and newlines).
pub fn terminal_frames(transcript: &str) -> Vec<String> {
    strip_escapes(transcript)
        .split(['\r', '\n'])
        .map(|frame| frame.trim_end().to_string())
        .filter(|frame| !frame.is_empty())
        .collect()
}

/// `text` without ANSI escape sequences (CSI `ESC [ ... letter`).
pub fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Live traffic while the cluster changes.
// ---------------------------------------------------------------------------------------

/// A live producer (`kprod -q`, a numbered line every 5 ms) and a group consumer
/// (`kcons -g`, into a file) on one topic, while the cluster changes under them (broker
/// restarts, elections, reassignments); [`LiveTraffic::finish_losing_nothing`] checks
/// that every record arrived exactly once, in order within its partition.
pub struct LiveTraffic {
    topic: String,
    _dir: tempfile::TempDir,
    consumed_path: std::path::PathBuf,
    consumer: Child,
    producer: Child,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    feeder: std::thread::JoinHandle<()>,
}

impl LiveTraffic {
    pub fn start(brokers: &str, topic: &str) -> LiveTraffic {
        let dir = tempfile::tempdir().unwrap();
        let consumed_path = dir.path().join("consumed.jsonl");
        let consumer = Command::new(bin_path("kcons"))
            .args([topic, "-g", &unique_name("failover-group")])
            .env("KAFKA_BROKERS", brokers)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&consumed_path).unwrap())
            .stderr(std::fs::File::create(dir.path().join("kcons.err")).unwrap())
            .spawn()
            .unwrap();
        let mut producer = Command::new(bin_path("kprod"))
            .args(["-q", topic])
            .env("KAFKA_BROKERS", brokers)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A steady trickle of numbered lines for as long as the brokers are being changed.
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let mut stdin = producer.stdin.take().unwrap();
        let feeder = {
            let (stop, sent) = (stop.clone(), sent.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n = sent.load(Ordering::Relaxed) + 1;
                    if writeln!(stdin, "record-{n}").is_err() {
                        break;
                    }
                    sent.store(n, Ordering::Relaxed);
                    // Pacing, not synchronisation: a live client, not a bulk load.
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        LiveTraffic {
            topic: topic.to_string(),
            _dir: dir,
            consumed_path,
            consumer,
            producer,
            stop,
            sent,
            feeder,
        }
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Stop the producer (which must have delivered every line), wait until the consumer
    /// has every record, and check that each arrived exactly once, in order within its
    /// partition.
    pub fn finish_losing_nothing(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.feeder.join().unwrap();
        let produced = self.producer.wait_with_output().unwrap();
        let total = self.sent.load(Ordering::Relaxed);
        assert!(
            produced.status.success(),
            "kprod did not deliver all {total} lines: {:?}\n{}",
            produced.status,
            String::from_utf8_lossy(&produced.stderr)
        );
        let expected: BTreeSet<String> = (1..=total).map(|n| format!("record-{n}")).collect();
        let records = eventually(
            &format!(
                "the consumer to receive all {total} records of {}",
                self.topic
            ),
            Duration::from_secs(120),
            || {
                let text = std::fs::read_to_string(&self.consumed_path).unwrap_or_default();
                let records: Vec<Value> = text
                    .lines()
                    .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                    .collect();
                let values: BTreeSet<String> = records
                    .iter()
                    .filter_map(|record| record["value"].as_str().map(str::to_string))
                    .collect();
                values.is_superset(&expected).then_some(records)
            },
        );
        let mut consumer = self.consumer;
        let _ = consumer.kill();
        let _ = consumer.wait();
        let values: Vec<&str> = records.iter().filter_map(|r| r["value"].as_str()).collect();
        let distinct: BTreeSet<&str> = values.iter().copied().collect();
        assert_eq!(distinct.len(), values.len(), "some records were read twice");
        assert_eq!(
            distinct,
            expected.iter().map(String::as_str).collect(),
            "the consumer received records nobody produced"
        );
        // Within a partition, lines were sent in order, so their numbers only grow.
        let mut last: BTreeMap<i64, u64> = BTreeMap::new();
        for record in &records {
            let partition = record["partition"].as_i64().unwrap();
            let n: u64 = record["value"].as_str().unwrap()["record-".len()..]
                .parse()
                .unwrap();
            let previous = last.insert(partition, n).unwrap_or(0);
            assert!(
                n > previous,
                "partition {partition}: record-{n} after record-{previous}"
            );
        }
    }
}
