//! Names, topics and records.

use crate::*;

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

pub(crate) fn create_topic_with(
    mut ktopic: assert_cmd::Command,
    partitions: u32,
    extra: &[&str],
) -> String {
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

/// A one-node KRaft Kafka (broker and controller) of a test's own, in `dir`: writes its
/// `server.properties` (`listeners`: the lines naming its listeners, voters and whatever else
/// the test wants, then what every such node has), formats its storage, and gives the
/// command that runs it (with `jvm_flags` such as `-D...`), for the test to start and stop.
/// A free loopback port comes from [`free_port`].
pub fn one_node_kafka(dir: &std::path::Path, listeners: &str, jvm_flags: &[String]) -> Command {
    let config = dir.join("server.properties");
    std::fs::write(
        &config,
        format!(
            "process.roles=broker,controller\n\
             node.id=1\n\
             {listeners}\
             log.dirs={data}\n\
             offsets.topic.replication.factor=1\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             share.coordinator.state.topic.replication.factor=1\n\
             share.coordinator.state.topic.min.isr=1\n\
             group.initial.rebalance.delay.ms=0\n\
             num.network.threads=2\n\
             num.io.threads=2\n",
            data = dir.join("data").display(),
        ),
    )
    .unwrap();
    let classpath = format!("{}/libs/*", kafka_home().display());
    let java = |main: &[&str]| {
        let mut cmd = Command::new("java");
        cmd.args(["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
            .args(jvm_flags)
            .arg(format!("-Dkafka.logs.dir={}", dir.join("logs").display()))
            .args(["-cp", &classpath])
            .args(main)
            .arg(&config)
            .current_dir(dir)
            .stdin(Stdio::null());
        cmd
    };
    let formatted = java(&[
        "kafka.tools.StorageTool",
        "format",
        "-t",
        "a2Fma2EtdGVzdC1ub2RlMQ",
        "-c",
    ])
    .output()
    .expect("running java");
    assert!(
        formatted.status.success(),
        "formatting the storage of {}: {}",
        dir.display(),
        String::from_utf8_lossy(&formatted.stderr)
    );
    java(&["kafka.Kafka"])
}

/// A loopback port nothing listens on now (the kernel's pick), for a server a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
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

/// A millisecond timestamp as RFC 3339 in UTC (`2024-05-01T10:00:02.500Z`), written by GNU
/// `date` (a peer, not our own parser), for options that take a time.
pub fn rfc3339_utc(ms: i64) -> String {
    let out = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000)),
            "+%Y-%m-%dT%H:%M:%S.%3NZ",
        ])
        .output()
        .expect("running date");
    assert!(out.status.success(), "date failed: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
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
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The bytes of standard base64 `text`.
pub fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_else(|err| panic!("not base64 ({err}): {text}"))
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
