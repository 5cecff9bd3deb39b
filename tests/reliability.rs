//! Reliability, proven by fault injection against live brokers: no record lost or
//! duplicated when brokers die under kprod and kcons, when too few replicas are
//! left, when a consumer crashes, on signals and on bad input. README.md
//! ("Delivery guarantees") promises what these tests hold the tools to.
//!
//! Tests that kill brokers take the fault cluster ([`FaultCluster`]), one at a time
//! across test binaries; the others run beside them on the shared test cluster.
//! Every measured number (duplicates, records, times) is printed with the prefix
//! `reliability:`; `cargo test --test reliability -- --nocapture` shows them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kpipes_e2e::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---------------------------------------------------------------------------
// A running tool whose stdout is read line by line, and can be held back.
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Captured {
    lines: Mutex<Vec<String>>,
    /// The stdout reader stops reading once this many lines were read, so the pipe
    /// fills and the tool blocks in `write`, as behind a slow reader.
    limit: Mutex<usize>,
    more: Condvar,
    stderr: Mutex<Vec<u8>>,
    /// A last line without its newline (the tool died in the middle of a write).
    partial: Mutex<Option<String>>,
}

/// A child process of one of our tools, with stdin, stdout and stderr piped.
struct Proc {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    captured: Arc<Captured>,
    readers: Vec<JoinHandle<()>>,
    /// The wait status, once reaped.
    reaped: Option<i32>,
    started: Instant,
}

/// How a [`Proc`] ended.
struct Exit {
    what: String,
    code: Option<i32>,
    signal: Option<i32>,
    lines: Vec<String>,
    /// A last stdout line without its newline, if any.
    partial: Option<String>,
    stderr: String,
    elapsed: Duration,
}

impl Exit {
    fn explain(&self, expectation: &str) -> String {
        let tail: Vec<&str> = self
            .lines
            .iter()
            .rev()
            .take(5)
            .map(String::as_str)
            .collect();
        format!(
            "{expectation}\n--- command: {}\n--- exit code {:?}, signal {:?}, after {:?}\n--- stdout: {} lines, the last: {:?}\n--- stderr:\n{}",
            self.what,
            self.code,
            self.signal,
            self.elapsed,
            self.lines.len(),
            tail,
            cut(&self.stderr)
        )
    }

    fn code_is(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "{}",
            self.explain(&format!("expected exit code {code}"))
        );
        self
    }

    fn no_panic(&self) -> &Self {
        assert!(
            !self.stderr.contains("panicked") && self.code != Some(101) && self.signal.is_none(),
            "{}",
            self.explain("expected no panic and no death by signal")
        );
        assert!(
            self.partial.is_none(),
            "{}",
            self.explain("stdout ends in a partial line")
        );
        self
    }
}

fn cut(text: &str) -> String {
    if text.len() <= 4000 {
        return text.to_string();
    }
    let mut at = text.len() - 4000;
    while !text.is_char_boundary(at) {
        at += 1;
    }
    format!("[...]{}", &text[at..])
}

impl Proc {
    /// Start `cmd`; its stdout reader reads at most `read_limit` lines until released.
    fn spawn(cmd: &mut Command, read_limit: usize) -> Proc {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
        let captured = Arc::new(Captured {
            limit: Mutex::new(read_limit),
            ..Default::default()
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let out = Arc::clone(&captured);
        let stdout_reader = thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                {
                    let mut limit = out.limit.lock().unwrap();
                    while out.lines.lock().unwrap().len() >= *limit {
                        limit = out.more.wait(limit).unwrap();
                    }
                }
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => match buf.strip_suffix(b"\n") {
                        Some(line) => out
                            .lines
                            .lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(line).into_owned()),
                        None => {
                            *out.partial.lock().unwrap() =
                                Some(String::from_utf8_lossy(&buf).into_owned())
                        }
                    },
                }
            }
        });
        let err = Arc::clone(&captured);
        let stderr_reader = thread::spawn(move || {
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
            readers: vec![stdout_reader, stderr_reader],
            reaped: None,
            started: Instant::now(),
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin taken once")
    }

    fn line_count(&self) -> usize {
        self.captured.lines.lock().unwrap().len()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.captured.stderr.lock().unwrap()).into_owned()
    }

    /// Let the stdout reader read everything from now on.
    fn release(&self) {
        *self.captured.limit.lock().unwrap() = usize::MAX;
        self.captured.more.notify_all();
    }

    fn signal(&self, signal: i32) {
        // SAFETY: a signal to our own child, which has not been reaped yet.
        assert!(self.reaped.is_none(), "signal to a process that has ended");
        assert_eq!(
            unsafe { libc::kill(self.pid(), signal) },
            0,
            "kill({}, {signal})",
            self.pid()
        );
    }

    /// Reap the child if it has ended (without blocking).
    fn try_reap(&mut self) -> bool {
        if self.reaped.is_some() {
            return true;
        }
        let mut status = 0;
        let pid = self.pid();
        // SAFETY: waitpid on our own child, with a pointer to a local.
        let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if got == pid {
            self.reaped = Some(status);
            true
        } else {
            false
        }
    }

    fn describe(&self) -> String {
        format!(
            "--- command: {}\n--- ended: {:?}, stdout lines so far: {}\n--- stderr:\n{}",
            self.what,
            self.reaped,
            self.line_count(),
            cut(&self.stderr())
        )
    }

    /// Poll `done` until it holds; fail if the process ends first or `timeout` passes.
    fn wait_until(&mut self, what: &str, timeout: Duration, mut done: impl FnMut(&Proc) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if done(self) {
                return;
            }
            if self.try_reap() {
                // Lines may still be on their way from the pipe.
                for reader in self.readers.drain(..1) {
                    let _ = reader.join();
                }
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
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_for_lines(&mut self, count: usize, timeout: Duration, what: &str) {
        self.wait_until(&format!("{count} stdout lines ({what})"), timeout, |p| {
            p.line_count() >= count
        });
    }

    /// Close stdin, read stdout to its end, wait for the exit (SIGKILL after `timeout`).
    fn finish(mut self, timeout: Duration) -> Exit {
        drop(self.stdin.take());
        self.release();
        let deadline = Instant::now() + timeout;
        while !self.try_reap() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "{} did not exit within {timeout:?}\n{}",
                    self.what,
                    self.describe()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let status = self.reaped.expect("reaped");
        let exited = libc::WIFEXITED(status);
        Exit {
            what: self.what.clone(),
            code: exited.then(|| libc::WEXITSTATUS(status)),
            signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
            lines: std::mem::take(&mut *self.captured.lines.lock().unwrap()),
            partial: self.captured.partial.lock().unwrap().take(),
            stderr: self.stderr(),
            elapsed: self.started.elapsed(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A failed test must not leave its tool running.
        if self.reaped.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.release();
    }
}

/// A std Command for one of our tools, pointed at `brokers`.
fn command(brokers: &str, tool: &str) -> Command {
    let mut cmd = Command::new(bin_path(tool));
    cmd.env("KAFKA_BROKERS", brokers).env_remove("NO_COLOR");
    cmd
}

// ---------------------------------------------------------------------------
// Looking at topics, records and groups.
// ---------------------------------------------------------------------------

/// `ktopic create TOPIC -p 3 -r 3 -c min.insync.replicas=2` on the cluster behind `ktopic`.
fn create_topic(mut ktopic: assert_cmd::Command, topic: &str, extra: &[&str]) {
    run(ktopic
        .args([
            "create",
            topic,
            "-p",
            "3",
            "-r",
            "3",
            "-c",
            "min.insync.replicas=2",
        ])
        .args(extra))
    .success();
}

struct PartitionInfo {
    leader: i64,
    replicas: Vec<i64>,
    isr: Vec<i64>,
}

fn describe_partitions(mut ktopic: assert_cmd::Command, topic: &str) -> Vec<PartitionInfo> {
    let ran = run(ktopic.args(["describe", topic])).success();
    let lines = ran.json_lines();
    let ids = |v: &Value| {
        v.as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default()
    };
    lines[0]["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| PartitionInfo {
            leader: p["leader"].as_i64().unwrap_or(-1),
            replicas: ids(&p["replicas"]),
            isr: ids(&p["isr"]),
        })
        .collect()
}

/// The high watermark of each partition (`ktopic offsets`).
fn high_watermarks(mut ktopic: assert_cmd::Command, topic: &str) -> BTreeMap<i64, i64> {
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

/// A record as kcons printed it: where it is and its value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rec {
    partition: i64,
    offset: i64,
    value: String,
}

fn parse_records(lines: &[String]) -> Vec<Rec> {
    lines
        .iter()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("kcons printed a non-JSON line ({e}): {line}"));
            Rec {
                partition: v["partition"].as_i64().unwrap(),
                offset: v["offset"].as_i64().unwrap(),
                value: v["value"].as_str().unwrap_or_default().to_string(),
            }
        })
        .collect()
}

/// `kcons ARGS` against `brokers`, run again while it fails with exit 5 (brokers not
/// reachable) before printing anything: right after a broker failure the metadata
/// can name a leader that does not serve yet, and `-e` then cannot read the end
/// offsets within its timeout. Retrying is what a user would do; the tests of the
/// failure itself must not trip over the recovery.
fn kcons_answered(brokers: &str, args: &[&str]) -> Ran {
    let deadline = Instant::now() + secs(120);
    loop {
        let ran = run(tool("kcons").env("KAFKA_BROKERS", brokers).args(args));
        if ran.code() == Some(5) && ran.output.stdout.is_empty() && Instant::now() < deadline {
            eprintln!(
                "reliability: retrying kcons {args:?}: {}",
                ran.stderr().trim()
            );
            continue;
        }
        return ran.success();
    }
}

/// Every record of `topic` now (`kcons TOPIC -e`).
fn consume_all(brokers: &str, topic: &str) -> Vec<Rec> {
    let ran = kcons_answered(brokers, &[topic, "-e"]);
    let lines: Vec<String> = ran.stdout().lines().map(str::to_string).collect();
    parse_records(&lines)
}

/// A delivery report of kprod: `{"topic","partition","offset","line"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Report {
    partition: i64,
    offset: i64,
    line: u64,
}

fn parse_reports(lines: &[String]) -> Vec<Report> {
    lines
        .iter()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("kprod printed a non-JSON line ({e}): {line}"));
            Report {
                partition: v["partition"].as_i64().unwrap(),
                offset: v["offset"].as_i64().unwrap(),
                line: v["line"].as_u64().unwrap(),
            }
        })
        .collect()
}

/// Standard base64, as kcons encodes non-UTF-8 bytes.
fn base64_decode(text: &str) -> Vec<u8> {
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

/// The bytes of a record-format `bytes` field; `None` for null.
fn bytes_of(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(text) => Some(text.as_bytes().to_vec()),
        Value::Object(map) => Some(base64_decode(map["base64"].as_str().expect("base64 field"))),
        _ => None,
    }
}

/// Big-endian reader of Kafka's internal encodings.
struct Wire<'a>(&'a [u8]);

impl Wire<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
    fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.i16()?).ok()?;
        let text = self.0.get(..len)?;
        self.0 = &self.0[len..];
        Some(String::from_utf8_lossy(text).into_owned())
    }
}

/// The offsets `group` has committed for `topic`, per partition, read straight from
/// `__consumer_offsets` (as the brokers keep them; no group tool is involved).
fn committed_offsets(brokers: &str, group: &str, topic: &str) -> BTreeMap<i64, i64> {
    let ran = kcons_answered(brokers, &["__consumer_offsets", "-e"]);
    let mut committed = BTreeMap::new();
    for record in ran.json_lines() {
        let Some(key) = bytes_of(&record["key"]) else {
            continue;
        };
        let mut key = Wire(&key);
        // Key versions 0 and 1 are offset commits; 2 is group metadata.
        if !matches!(key.i16(), Some(0 | 1)) {
            continue;
        }
        let (Some(g), Some(t), Some(partition)) = (key.string(), key.string(), key.i32()) else {
            continue;
        };
        if g != group || t != topic {
            continue;
        }
        match bytes_of(&record["value"]) {
            None => {
                committed.remove(&i64::from(partition));
            }
            Some(value) => {
                let mut value = Wire(&value);
                let _version = value.i16();
                if let Some(offset) = value.i64() {
                    committed.insert(i64::from(partition), offset);
                }
            }
        }
    }
    committed
}

// ---------------------------------------------------------------------------
// 1. A broker killed while kprod produces.
// ---------------------------------------------------------------------------

const SEQ_RECORDS: usize = 200_000;
/// The feeder gives kprod this many records, then holds back the rest until the killed
/// broker has been restarted.
const FED_BEFORE_RESTART: usize = 150_000;

fn seq_value(n: usize) -> String {
    format!("seq-{n:09}")
}

/// kprod pipes SEQ_RECORDS sequence-numbered records into partition 0 of a topic with
/// replication factor 3 and min.insync.replicas=2; a broker of that partition (its
/// leader, or a follower) gets SIGKILL after 50,000 were delivered, records keep
/// flowing while it is down, and it is restarted before the input ends.
fn produce_through_broker_kill(kill_leader: bool) {
    let started = Instant::now();
    let cluster = FaultCluster::acquire();
    let topic = unique_name(if kill_leader {
        "rel-kill-leader"
    } else {
        "rel-kill-follower"
    });
    create_topic(cluster.tool("ktopic"), &topic, &[]);
    let p0 = &describe_partitions(cluster.tool("ktopic"), &topic)[0];
    let victim = if kill_leader {
        p0.leader
    } else {
        *p0.replicas
            .iter()
            .find(|b| **b != p0.leader)
            .expect("a follower of partition 0")
    };
    let victim = victim.to_string();

    let mut kprod = Proc::spawn(
        command(&cluster.brokers, "kprod").args([&topic, "-p", "0"]),
        usize::MAX,
    );
    let stdin = kprod.take_stdin();
    // The input arrives over time, as from a live source: at most 40,000 records a
    // second (pacing, not synchronisation), so records are in flight when the broker
    // dies. It holds back the last 50,000 until the broker has been restarted.
    let (restarted_tx, restarted_rx) = mpsc::channel::<()>();
    let feeder = thread::spawn(move || -> std::io::Result<()> {
        let mut out = BufWriter::new(stdin);
        for n in 0..SEQ_RECORDS {
            if n == FED_BEFORE_RESTART {
                out.flush()?;
                let _ = restarted_rx.recv();
            }
            writeln!(out, "{}", seq_value(n))?;
            if n % 1000 == 999 {
                out.flush()?;
                thread::sleep(Duration::from_millis(25));
            }
        }
        out.flush()
    });

    kprod.wait_for_lines(50_000, secs(120), "deliveries before the kill");
    run(cluster.kcluster().args(["kill", &victim])).success();
    let at_kill = kprod.line_count();
    let killed_at = Instant::now();
    // Records keep being delivered while the broker is down (2 in-sync replicas remain):
    // 60,000 more, or as many as the feeder gives before the restart when kprod had
    // already delivered more than 90,000 at the kill (more could never come).
    let while_down = (at_kill + 60_000).min(FED_BEFORE_RESTART);
    kprod.wait_for_lines(while_down, secs(120), "deliveries while the broker is down");
    let outage = killed_at.elapsed();
    let delivered_while_down = kprod.line_count() - at_kill;
    run(cluster.kcluster().args(["start", &victim])).success();
    restarted_tx.send(()).unwrap();
    feeder.join().unwrap().expect("feeding kprod's stdin");
    let exit = kprod.finish(secs(180));
    exit.no_panic().code_is(0);
    assert!(
        exit.stderr.trim().is_empty(),
        "{}",
        exit.explain("expected nothing on stderr")
    );

    // Every input line was reported delivered exactly once, at a distinct place.
    let reports = parse_reports(&exit.lines);
    let lines: BTreeSet<u64> = reports.iter().map(|r| r.line).collect();
    assert_eq!(
        reports.len(),
        SEQ_RECORDS,
        "{}",
        exit.explain("expected one delivery report per record")
    );
    assert_eq!(
        lines,
        (1..=SEQ_RECORDS as u64).collect(),
        "every line reported once"
    );
    let places: HashMap<(i64, i64), u64> = reports
        .iter()
        .map(|r| ((r.partition, r.offset), r.line))
        .collect();
    assert_eq!(
        places.len(),
        SEQ_RECORDS,
        "two reports name the same partition and offset"
    );

    // The topic holds every sequence number exactly once, where kprod said it was.
    let records = consume_all(&cluster.brokers, &topic);
    let mut seen: HashMap<&str, u32> = HashMap::new();
    for record in &records {
        *seen.entry(record.value.as_str()).or_default() += 1;
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    let missing: Vec<String> = (0..SEQ_RECORDS)
        .map(seq_value)
        .filter(|v| !seen.contains_key(v.as_str()))
        .take(5)
        .collect();
    assert!(
        duplicated.is_empty(),
        "duplicated records (value, count): {duplicated:?}"
    );
    assert!(missing.is_empty(), "missing records: {missing:?}");
    assert_eq!(records.len(), SEQ_RECORDS);
    for record in &records {
        let line = places[&(record.partition, record.offset)];
        assert_eq!(
            record.value,
            seq_value(line as usize - 1),
            "the report for line {line} names another record"
        );
    }
    eprintln!(
        "reliability: {} killed mid-produce (broker {victim}): {} records, killed after {at_kill} delivered, \
         {} more delivered in {outage:.1?} while down, 0 lost, 0 duplicated, kprod ran {:.1?}, test {:.1?}",
        if kill_leader { "leader" } else { "follower" },
        records.len(),
        delivered_while_down,
        exit.elapsed,
        started.elapsed()
    );
}

#[test]
fn follower_killed_mid_produce_loses_and_duplicates_nothing() {
    produce_through_broker_kill(false);
}

#[test]
fn leader_killed_mid_produce_loses_and_duplicates_nothing() {
    produce_through_broker_kill(true);
}

// ---------------------------------------------------------------------------
// 2. Too few replicas.
// ---------------------------------------------------------------------------

/// With two of three brokers down, acks=all cannot be satisfied (min.insync.replicas=2):
/// kprod must not report success. After its delivery timeout it exits 4 and names how
/// many records were not delivered. With the brokers back, the same input re-run puts
/// every record in the topic.
///
/// What is asserted about the content: every record kprod reported delivered in the
/// first run is in the topic (no false report); after the re-run every input line is
/// there, and the topic is exactly "what the first run left" plus "every line once":
/// the only duplicates are records of the first run that did reach the log (reported
/// delivered, or timed out after the leader had written them) — at-least-once.
#[test]
fn too_few_replicas_fails_loudly_and_a_rerun_delivers_everything() {
    const LINES: usize = 1000;
    let cluster = FaultCluster::acquire();
    let topic = unique_name("rel-few-replicas");
    create_topic(cluster.tool("ktopic"), &topic, &[]);
    let input: String = (1..=LINES).map(|n| format!("few-{n:05}\n")).collect();

    run(cluster.kcluster().args(["stop", "2"])).success();
    run(cluster.kcluster().args(["kill", "3"])).success();
    let started = Instant::now();
    let first = run(cluster
        .tool("kprod")
        .args([&topic, "--delivery-timeout", "10"])
        .write_stdin(input.clone()));
    let took = started.elapsed();
    let first = first.code_is(4);
    let stderr = first.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let summary = stderr.lines().last().unwrap_or_default();
    let (not_delivered, delivered) = parse_not_delivered(summary, LINES)
        .unwrap_or_else(|| panic!("the last stderr line does not name the count:\n{stderr}"));
    let reports = parse_reports(
        &first
            .stdout()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        delivered,
        reports.len(),
        "the delivered count matches the reports\n{stderr}"
    );
    assert_eq!(not_delivered + delivered, LINES, "{stderr}");
    assert!(
        not_delivered > 0,
        "acks=all reported success with one broker of three\n{stderr}"
    );
    assert!(
        took >= secs(10),
        "gave up after {took:?}, before its delivery timeout of 10 s"
    );
    assert!(took < secs(60), "took {took:?} for a 10 s delivery timeout");
    let reported_lines: BTreeSet<u64> = reports.iter().map(|r| r.line).collect();
    // Every line is accounted for: reported delivered on stdout, or named on stderr
    // (`line N: ...`, or `lines A-B: ...` for a run of them), never both.
    let named = failed_lines(&stderr);
    let both: Vec<&u64> = named.intersection(&reported_lines).take(5).collect();
    assert!(
        both.is_empty(),
        "lines reported both delivered and not: {both:?}\n{stderr}"
    );
    let unaccounted: Vec<u64> = (1..=LINES as u64)
        .filter(|n| !named.contains(n) && !reported_lines.contains(n))
        .take(5)
        .collect();
    assert!(
        unaccounted.is_empty(),
        "lines neither delivered nor named as failed: {unaccounted:?}\n{stderr}"
    );

    run(cluster.kcluster().args(["start", "2"])).success();
    run(cluster.kcluster().args(["start", "3"])).success();
    eventually(
        "every partition led, with every replica in sync",
        secs(120),
        || {
            let partitions = describe_partitions(cluster.tool("ktopic"), &topic);
            partitions
                .iter()
                .all(|p| p.leader > 0 && p.isr.len() == p.replicas.len())
                .then_some(())
        },
    );
    let after_first = consume_all(&cluster.brokers, &topic);
    let after_first_values: BTreeSet<&str> = after_first.iter().map(|r| r.value.as_str()).collect();
    for report in &reports {
        let value = format!("few-{:05}", report.line);
        assert!(
            after_first_values.contains(value.as_str()),
            "line {} was reported delivered but is not in the topic",
            report.line
        );
    }

    let second = run(cluster.tool("kprod").args([&topic]).write_stdin(input)).success();
    assert_eq!(
        second.json_lines().len(),
        LINES,
        "the re-run reports every line"
    );
    let after_second = consume_all(&cluster.brokers, &topic);
    let mut expected: BTreeMap<String, usize> =
        (1..=LINES).map(|n| (format!("few-{n:05}"), 1)).collect();
    for record in &after_first {
        *expected.entry(record.value.clone()).or_default() += 1;
    }
    let mut actual: BTreeMap<String, usize> = BTreeMap::new();
    for record in &after_second {
        *actual.entry(record.value.clone()).or_default() += 1;
    }
    assert_eq!(
        actual, expected,
        "the topic is not \"first run's records\" + \"every line once\""
    );
    eprintln!(
        "reliability: too few replicas: first run exit 4 after {took:.1?}, {not_delivered} of {LINES} not delivered \
         ({delivered} delivered); {} of the first run's records reached the log anyway; after the re-run the topic \
         holds {} records: every line, {} duplicated",
        after_first.len(),
        after_second.len(),
        after_second.len() - LINES
    );
}

/// The input lines kprod names as failed on stderr: `line N: ...` and `lines A-B: ...`.
fn failed_lines(stderr: &str) -> BTreeSet<u64> {
    let mut named = BTreeSet::new();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("kprod: error: ") else {
            continue;
        };
        let Some((what, _why)) = rest.split_once(": ") else {
            continue;
        };
        if let Some(n) = what.strip_prefix("line ").and_then(|n| n.parse().ok()) {
            named.insert(n);
        } else if let Some((a, b)) = what.strip_prefix("lines ").and_then(|r| r.split_once('-')) {
            if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
                named.extend(a..=b);
            }
        }
    }
    named
}

/// `N of TOTAL records not delivered (D delivered)` → (N, D).
fn parse_not_delivered(line: &str, total: usize) -> Option<(usize, usize)> {
    let (head, rest) = line.split_once(&format!(" of {total} records not delivered ("))?;
    let not_delivered = head.rsplit(' ').next()?.parse().ok()?;
    let delivered = rest.split(' ').next()?.parse().ok()?;
    Some((not_delivered, delivered))
}

// ---------------------------------------------------------------------------
// 3. A consumer crash, with and without a broker killed.
// ---------------------------------------------------------------------------

const CRASH_RECORDS: usize = 60_000;

fn crash_value(n: usize) -> String {
    format!("crash-{n:08}-{}", "x".repeat(48))
}

/// The offsets printed per partition, which must have no gaps and no repeats.
fn contiguous(records: &[Rec], run: &str) -> BTreeMap<i64, (i64, i64)> {
    let mut by_partition: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for r in records {
        by_partition.entry(r.partition).or_default().push(r.offset);
    }
    by_partition
        .into_iter()
        .map(|(p, offsets)| {
            let first = offsets[0];
            let expected: Vec<i64> = (first..first + offsets.len() as i64).collect();
            assert!(
                offsets == expected,
                "{run}: partition {p} skips or repeats offsets (starts at {first}, {} records)",
                offsets.len()
            );
            (p, (first, first + offsets.len() as i64))
        })
        .collect()
}

/// `kcons -g G T` gets SIGKILL mid-stream (blocked behind a slow reader, after a
/// commit was seen) and is restarted with `-e -o stored`. Checked: nothing skipped;
/// each run prints its partitions without gaps or repeats; the restart resumes at
/// the group's last commit (never past what the first run wrote), so the
/// duplicates are exactly the first run's records at or after that commit.
fn consumer_crash(brokers: &str, cluster: Option<&FaultCluster>) {
    let started = Instant::now();
    let tool_at = |name: &str| {
        let mut cmd = tool(name);
        cmd.env("KAFKA_BROKERS", brokers);
        cmd
    };
    let topic = unique_name("rel-consumer-crash");
    let group = unique_name("rel-group");
    create_topic(tool_at("ktopic"), &topic, &[]);
    let input: String = (0..CRASH_RECORDS).map(|n| crash_value(n) + "\n").collect();
    run(tool_at("kprod").args([&topic, "-q"]).write_stdin(input)).success();
    let high = high_watermarks(tool_at("ktopic"), &topic);
    assert_eq!(high.values().sum::<i64>(), CRASH_RECORDS as i64);

    // A short session timeout lets the restart's rebalance drop the dead member after
    // 6 s instead of the default 45. With a broker killed it must outlast the failover
    // (~9 s until the controller fences the broker, which may be the group's
    // coordinator): a kcons blocked on a full stdout cannot poll, so a session lost
    // meanwhile could neither rejoin nor commit until it polls again, which this test
    // never lets it do (the default 45 s is safe; 6 s is only the test's shortcut). A small prefetch makes kcons fetch
    // during the test, not all before it.
    let session_timeout = if cluster.is_some() {
        "session.timeout.ms=25000"
    } else {
        "session.timeout.ms=6000"
    };
    let first_batch = 10_000;
    let mut kcons = Proc::spawn(
        command(brokers, "kcons").args([
            "-g",
            &group,
            &topic,
            "-X",
            session_timeout,
            "-X",
            "queued.max.messages.kbytes=1024",
        ]),
        first_batch,
    );
    kcons.wait_for_lines(first_batch, secs(60), "the first records");
    let mut victim = None;
    if let Some(cluster) = cluster {
        let leader = describe_partitions(cluster.tool("ktopic"), &topic)[0]
            .leader
            .to_string();
        run(cluster.kcluster().args(["kill", &leader])).success();
        victim = Some(leader);
        // Consumption goes on past the broker's death: release 30,000 more lines.
        *kcons.captured.limit.lock().unwrap() = first_batch + 30_000;
        kcons.captured.more.notify_all();
        kcons.wait_for_lines(
            first_batch + 30_000,
            secs(120),
            "records read after the broker was killed",
        );
    }
    let read_before_kill = kcons.line_count() as i64;
    // Wait (kcons stays blocked behind the full pipe) for an automatic commit; after a
    // broker kill, one that covers records read after it.
    let wanted = if cluster.is_some() {
        first_batch as i64 + 1
    } else {
        1
    };
    eventually("an automatic commit of the group", secs(90), || {
        let sum: i64 = committed_offsets(brokers, &group, &topic).values().sum();
        (sum >= wanted).then_some(())
    });
    kcons.signal(libc::SIGKILL);
    let first = kcons.finish(secs(30));
    assert_eq!(
        first.signal,
        Some(libc::SIGKILL),
        "{}",
        first.explain("expected death by SIGKILL")
    );
    // SIGKILL in the middle of a write can leave a partial last line; that record's
    // offset was not stored (its batch was not written out whole), so the restart
    // prints it again, in full.
    let cut_line = first.partial.as_ref().map_or(0, String::len);
    let committed = committed_offsets(brokers, &group, &topic);

    let second = kcons_answered(brokers, &["-g", &group, &topic, "-e", "-o", "stored"]);
    if let (Some(cluster), Some(victim)) = (cluster, &victim) {
        run(cluster.kcluster().args(["start", victim])).success();
    }
    let first_records = parse_records(&first.lines);
    let second_records = parse_records(
        &second
            .stdout()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>(),
    );
    let first_spans = contiguous(&first_records, "the crashed run");
    let second_spans = contiguous(&second_records, "the restart");

    let mut duplicates = 0;
    for (&partition, &end) in &high {
        let (first_from, first_to) = first_spans.get(&partition).copied().unwrap_or((0, 0));
        let (second_from, second_to) = second_spans.get(&partition).copied().unwrap_or((end, end));
        let commit = committed.get(&partition).copied().unwrap_or(0);
        assert_eq!(
            first_from, 0,
            "partition {partition}: the first run did not start at the beginning"
        );
        assert_eq!(
            second_to, end,
            "partition {partition}: the restart did not reach the end"
        );
        assert!(
            second_from <= first_to,
            "partition {partition}: offsets {first_to}..{second_from} skipped (first run wrote up to {first_to}, restart began at {second_from})"
        );
        assert!(
            commit <= first_to,
            "partition {partition}: committed {commit}, past what the first run wrote ({first_to})"
        );
        assert!(
            second_from >= commit,
            "partition {partition}: the restart began at {second_from}, before the last commit {commit}"
        );
        duplicates += first_to - second_from;
    }
    let printed_twice = first_records.len() + second_records.len() - CRASH_RECORDS;
    assert_eq!(
        printed_twice as i64, duplicates,
        "duplicates are exactly the first run's records after the last commit"
    );
    assert!(
        (duplicates as usize) < first_records.len(),
        "a commit was seen, yet the restart printed everything again ({duplicates} duplicates)"
    );
    eprintln!(
        "reliability: consumer crash{}: {CRASH_RECORDS} records; the killed kcons had written {} ({} read when the \
         kill was decided), committed at kill {:?}; restart printed {}; 0 skipped, {duplicates} duplicates (all after \
         the last commit); partial last line cut by SIGKILL: {cut_line} bytes; test {:.1?}",
        victim.as_ref().map(|v| format!(" with broker {v} killed")).unwrap_or_default(),
        first_records.len(),
        read_before_kill,
        committed,
        second_records.len(),
        started.elapsed()
    );
}

#[test]
fn consumer_killed_mid_stream_skips_nothing() {
    consumer_crash(&brokers(), None);
}

#[test]
fn consumer_killed_mid_stream_with_a_broker_killed_skips_nothing() {
    let cluster = FaultCluster::acquire();
    let brokers = cluster.brokers.clone();
    consumer_crash(&brokers, Some(&cluster));
}

// ---------------------------------------------------------------------------
// 4. Signals.
// ---------------------------------------------------------------------------

/// SIGINT and SIGTERM to kprod while input is still arriving: what was read is
/// flushed and reported, exit 130, and the topic holds exactly the reported records,
/// which are the first lines of the input without a gap.
#[test]
fn kprod_interrupted_flushes_and_reports_what_it_read() {
    for (name, signal) in [("SIGINT", libc::SIGINT), ("SIGTERM", libc::SIGTERM)] {
        let topic = unique_name("rel-kprod-signal");
        run(tool("ktopic").args(["create", &topic, "-p", "3", "-r", "3"])).success();
        let mut kprod = Proc::spawn(command(&brokers(), "kprod").arg(&topic), usize::MAX);
        let stdin = kprod.take_stdin();
        // Input keeps arriving until kprod is gone (the write then fails).
        let feeder = thread::spawn(move || {
            let mut out = BufWriter::new(stdin);
            for n in 1..=5_000_000u64 {
                if writeln!(out, "sig-{n}").is_err() || (n % 500 == 0 && out.flush().is_err()) {
                    return n;
                }
            }
            0
        });
        kprod.wait_for_lines(5_000, secs(60), "deliveries before the signal");
        kprod.signal(signal);
        let exit = kprod.finish(secs(90));
        let fed = feeder.join().unwrap();
        exit.no_panic().code_is(130);
        assert!(fed > 0, "the feeder ran out of input before the signal");
        let reports = parse_reports(&exit.lines);
        let count = reports.len() as u64;
        let lines: BTreeSet<u64> = reports.iter().map(|r| r.line).collect();
        assert_eq!(
            lines,
            (1..=count).collect(),
            "{}",
            exit.explain("reported lines are not 1..N")
        );
        assert!(
            exit.stderr
                .contains(&format!("the {count} records read so far were delivered")),
            "{}",
            exit.explain(&format!(
                "stderr should say the {count} records read so far were delivered"
            ))
        );
        assert_eq!(
            exit.stderr.lines().count(),
            1,
            "{}",
            exit.explain("expected one stderr line")
        );
        let records = consume_all(&brokers(), &topic);
        let values: BTreeSet<String> = records.iter().map(|r| r.value.clone()).collect();
        assert_eq!(
            records.len() as u64,
            count,
            "the topic holds other records than those reported"
        );
        assert_eq!(
            values,
            (1..=count).map(|n| format!("sig-{n}")).collect(),
            "the topic holds other records than those reported"
        );
        eprintln!("reliability: {name} to kprod: {count} records read, delivered and reported, exit 130, input still arriving ({fed} lines written)");
    }
}

/// SIGINT and SIGTERM to `kcons -g` behind a slow reader: it writes out what it has,
/// commits exactly that and exits 0; the restart prints the rest, with no duplicate.
#[test]
fn kcons_interrupted_commits_what_it_wrote() {
    const RECORDS: usize = 20_000;
    for (name, signal) in [("SIGINT", libc::SIGINT), ("SIGTERM", libc::SIGTERM)] {
        let topic = unique_name("rel-kcons-signal");
        let group = unique_name("rel-signal-group");
        run(tool("ktopic").args(["create", &topic, "-p", "3", "-r", "3"])).success();
        let input: String = (0..RECORDS).map(|n| format!("int-{n}\n")).collect();
        run(tool("kprod").args([&topic, "-q"]).write_stdin(input)).success();

        let mut kcons = Proc::spawn(
            command(&brokers(), "kcons").args(["-g", &group, &topic]),
            5_000,
        );
        kcons.wait_for_lines(5_000, secs(60), "the first records");
        kcons.signal(signal);
        let first = kcons.finish(secs(60));
        first.no_panic().code_is(0);
        assert!(
            first.stderr.trim().is_empty(),
            "{}",
            first.explain("expected a quiet exit")
        );
        let second =
            run(tool("kcons").args(["-g", &group, &topic, "-e", "-o", "stored"])).success();
        let first_records = parse_records(&first.lines);
        let second_records = parse_records(
            &second
                .stdout()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>(),
        );
        let mut all: Vec<(i64, i64)> = first_records
            .iter()
            .chain(&second_records)
            .map(|r| (r.partition, r.offset))
            .collect();
        all.sort_unstable();
        let distinct: BTreeSet<(i64, i64)> = all.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            RECORDS,
            "records skipped: the two runs printed {} distinct records",
            distinct.len()
        );
        assert_eq!(
            all.len(),
            RECORDS,
            "{} records printed twice: the interrupted kcons did not commit exactly what it wrote",
            all.len() - RECORDS
        );
        eprintln!(
            "reliability: {name} to kcons -g: {} written and committed, restart printed the other {}, 0 duplicates",
            first_records.len(),
            second_records.len()
        );
    }
}

/// `| head -1`: the tools end quietly with status 0 when stdout closes; kprod still
/// delivers every record.
#[test]
fn closed_stdout_is_quiet() {
    let topic = unique_name("rel-sigpipe");
    run(tool("ktopic").args(["create", &topic, "-p", "3", "-r", "3"])).success();
    let kprod = bin_path("kprod");
    let kcons = bin_path("kcons");
    let cases = [
        (
            format!("seq 1 20000 | {} {topic} | head -1", kprod.display()),
            3,
        ),
        (format!("{} {topic} -e | head -1", kcons.display()), 2),
        (format!("{} {topic} | head -1", kcons.display()), 2),
    ];
    for (pipeline, stages) in cases {
        let script = format!("{pipeline}; echo \"status ${{PIPESTATUS[*]}}\"");
        let ran = run(assert_cmd::Command::new("bash")
            .args(["-c", &script])
            .env("KAFKA_BROKERS", brokers())
            .timeout(secs(120)));
        let stdout = ran.stdout();
        let lines: Vec<&str> = stdout.lines().collect();
        let zeros = vec!["0"; stages].join(" ");
        assert_eq!(
            lines.len(),
            2,
            "{pipeline}: expected one line and the status\n{stdout}\n{}",
            ran.stderr()
        );
        assert!(
            serde_json::from_str::<Value>(lines[0]).is_ok(),
            "{pipeline}: {}",
            lines[0]
        );
        assert_eq!(
            lines[1],
            format!("status {zeros}"),
            "{pipeline}: stderr: {}",
            ran.stderr()
        );
        assert!(
            ran.stderr().is_empty(),
            "{pipeline}: not quiet: {}",
            ran.stderr()
        );
    }
    // kprod's stdout went away after one report; the records still all went out.
    assert_eq!(
        high_watermarks(tool("ktopic"), &topic)
            .values()
            .sum::<i64>(),
        20_000
    );
}

// ---------------------------------------------------------------------------
// 5. Bad input and bad command lines.
// ---------------------------------------------------------------------------

/// One row of the bad-input matrix.
struct Case {
    name: &'static str,
    args: Vec<String>,
    input: Input,
    code: i32,
    /// Each must appear in the error line(s).
    says: Vec<&'static str>,
    /// Input lines whose records must be reported delivered (kprod).
    delivered: Vec<u64>,
}

enum Input {
    Text(String),
    /// `before`, a line of `size` bytes of 'x', `after`.
    Huge {
        before: &'static str,
        size: usize,
        after: &'static str,
    },
}

fn row(
    name: &'static str,
    args: &[&str],
    input: &str,
    code: i32,
    says: &[&'static str],
    delivered: &[u64],
) -> Case {
    Case {
        name,
        args: args.iter().map(|a| a.to_string()).collect(),
        input: Input::Text(input.to_string()),
        code,
        says: says.to_vec(),
        delivered: delivered.to_vec(),
    }
}

/// Run one case: feed its input, check the exit code, the one-line `tool: error:`
/// message (naming the line where there is one), no panic and the delivered lines.
fn check_case(tool_name: &str, case: &Case, brokers: &str) -> (Exit, Option<i64>) {
    let mut proc = Proc::spawn(command(brokers, tool_name).args(&case.args), usize::MAX);
    let stdin = proc.take_stdin();
    let input = match &case.input {
        Input::Text(text) => text.clone().into_bytes(),
        Input::Huge { .. } => Vec::new(),
    };
    let huge = match &case.input {
        Input::Huge {
            before,
            size,
            after,
        } => Some((*before, *size, *after)),
        Input::Text(_) => None,
    };
    // A huge line's input stays open until the lines after it were delivered, so the
    // peak memory can be read while kprod still runs.
    let (close_tx, close_rx) = mpsc::channel::<()>();
    let feeder = thread::spawn(move || {
        let mut out = BufWriter::with_capacity(1 << 20, stdin);
        // kprod may exit before reading everything (bad command line): ignore EPIPE.
        let _ = (|| -> std::io::Result<()> {
            out.write_all(&input)?;
            if let Some((before, size, after)) = huge {
                out.write_all(before.as_bytes())?;
                let block = vec![b'x'; 1 << 20];
                for _ in 0..size / block.len() {
                    out.write_all(&block)?;
                }
                out.write_all(&block[..size % block.len()])?;
                out.write_all(b"\n")?;
                out.write_all(after.as_bytes())?;
                out.flush()?;
                let _ = close_rx.recv();
            }
            out.flush()
        })();
    });
    let mut peak_kb = None;
    if huge.is_some() {
        proc.wait_for_lines(
            case.delivered.len(),
            secs(120),
            "the lines around the huge one",
        );
        peak_kb = Some(peak_rss_kb(proc.pid()));
        let _ = close_tx.send(());
    }
    let exit = proc.finish(secs(120));
    feeder.join().unwrap();
    let context = format!("case {}", case.name);
    exit.no_panic();
    assert_eq!(
        exit.code,
        Some(case.code),
        "{}",
        exit.explain(&format!("{context}: expected exit code {}", case.code))
    );
    let errors: Vec<&str> = exit
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    if case.code == 0 {
        assert!(
            errors.is_empty(),
            "{}",
            exit.explain(&format!("{context}: expected nothing on stderr"))
        );
    } else {
        let prefix = format!("{tool_name}: error: ");
        assert!(
            errors.len() == 1 && errors[0].starts_with(&prefix),
            "{}",
            exit.explain(&format!(
                "{context}: expected exactly one `{prefix}...` line"
            ))
        );
        for text in &case.says {
            assert!(
                errors[0].contains(text),
                "{}",
                exit.explain(&format!("{context}: the error should say {text:?}"))
            );
        }
    }
    if tool_name == "kprod" {
        let delivered: Vec<u64> = parse_reports(&exit.lines)
            .iter()
            .map(|r| r.line)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(
            delivered,
            case.delivered,
            "{}",
            exit.explain(&format!("{context}: delivered lines"))
        );
    }
    (exit, peak_kb)
}

/// The peak resident memory of a running process (VmHWM), in KB.
fn peak_rss_kb(pid: i32) -> i64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reading /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// Every bad input and bad command line of kprod: a one-line error naming the problem
/// (and the input line), the documented exit code, the valid records delivered, no
/// panic, bounded memory for a 100 MB line.
#[test]
fn kprod_bad_input_matrix() {
    let topic = unique_name("rel-bad-input");
    run(tool("ktopic").args(["create", &topic, "-p", "2", "-r", "3"])).success();
    let t = topic.as_str();
    let json = [t, "--json"];
    let huge = 100 * 1024 * 1024;
    let mut cases = vec![
        row(
            "invalid JSON",
            &json,
            "{\"value\":\"json-1\"}\n{\"value\":\n{\"value\":\"json-3\"}\n",
            3,
            &["line 2", "invalid JSON"],
            &[1, 3],
        ),
        row(
            "not an object",
            &json,
            "{\"value\":\"obj-1\"}\n[1,2]\n",
            3,
            &["line 2", "expected a JSON object"],
            &[1],
        ),
        row(
            "wrong field type",
            &json,
            "{\"value\":\"type-1\"}\n{\"value\":5}\n",
            3,
            &["line 2", "invalid type"],
            &[1],
        ),
        row(
            "wrong header type",
            &json,
            "{\"value\":\"hdr-1\"}\n{\"value\":\"x\",\"headers\":{\"a\":\"b\"}}\n",
            3,
            &["line 2", "invalid type"],
            &[1],
        ),
        row(
            "undecodable base64",
            &json,
            "{\"value\":\"b64-1\"}\n{\"value\":{\"base64\":\"!!\"}}\n",
            3,
            &["line 2", "base64"],
            &[1],
        ),
        row(
            "partition out of range (JSON)",
            &json,
            "{\"value\":\"part-1\"}\n{\"value\":\"x\",\"partition\":7}\n",
            3,
            &["line 2", "partition 7 is out of range"],
            &[1],
        ),
        row(
            "partition out of range (-p)",
            &[t, "-p", "7"],
            "p-1\n",
            2,
            &["partition 7 is out of range"],
            &[],
        ),
        row(
            "unknown topic",
            &["rel-no-such-topic-x"],
            "u-1\n",
            6,
            &["'rel-no-such-topic-x' does not exist"],
            &[],
        ),
        row(
            "malformed -X",
            &[t, "-X", "acks"],
            "x-1\n",
            2,
            &["bad -X 'acks'", "key=value"],
            &[],
        ),
        row(
            "-X value librdkafka refuses",
            &[t, "-X", "acks=sometimes"],
            "x-1\n",
            2,
            &["acks"],
            &[],
        ),
        row(
            "broker address without port",
            &[t, "-b", "localhost"],
            "b-1\n",
            2,
            &["bad broker list", "no port"],
            &[],
        ),
        row(
            "broker address with bad port",
            &[t, "-b", "localhost:99999"],
            "b-1\n",
            2,
            &["bad broker list", "bad port"],
            &[],
        ),
        row(
            "unreachable broker",
            &[t, "-b", "localhost:1", "--timeout", "2"],
            "r-1\n",
            5,
            &["cannot reach", "localhost:1"],
            &[],
        ),
        row("empty input", &[t], "", 0, &[], &[]),
        row("empty input (--json)", &json, "", 0, &[], &[]),
    ];
    cases.push(Case {
        name: "record over message.max.bytes (1 MB)",
        args: vec![t.into()],
        input: Input::Huge {
            before: "big-1\n",
            size: 1_100_000,
            after: "big-3\n",
        },
        code: 3,
        says: vec!["line 2", "too large"],
        delivered: vec![1, 3],
    });
    cases.push(Case {
        name: "a 100 MB line",
        args: vec![t.into()],
        input: Input::Huge {
            before: "huge-1\n",
            size: huge,
            after: "huge-3\n",
        },
        code: 3,
        says: vec!["line 2", "104857600 bytes", "message.max.bytes"],
        delivered: vec![1, 3],
    });
    let mut expected_values = BTreeSet::new();
    for case in &cases {
        if let (_, Some(peak_kb)) = check_case("kprod", case, &brokers()) {
            assert!(
                peak_kb < 64 * 1024,
                "kprod held the 100 MB line in memory: peak RSS {peak_kb} KB"
            );
            eprintln!(
                "reliability: kprod skipped a {} MB line with a peak RSS of {} MB",
                huge >> 20,
                peak_kb / 1024
            );
        }
        if case.args.first().map(String::as_str) == Some(t) && !case.args.iter().any(|a| a == "-b")
        {
            expected_values.extend(valid_values(case));
        }
    }
    // The topic holds exactly the valid records of every case, nothing else.
    let values: BTreeSet<String> = consume_all(&brokers(), &topic)
        .into_iter()
        .map(|r| r.value)
        .collect();
    assert_eq!(
        values, expected_values,
        "the topic holds other records than the valid ones"
    );
}

/// The values of a case's delivered lines.
fn valid_values(case: &Case) -> Vec<String> {
    let text = match &case.input {
        Input::Text(text) => text.clone(),
        Input::Huge { before, after, .. } => format!("{before}-\n{after}"),
    };
    let json = case.args.iter().any(|a| a == "--json");
    text.lines()
        .enumerate()
        .filter(|(i, _)| case.delivered.contains(&(*i as u64 + 1)))
        .map(|(_, line)| {
            if json {
                serde_json::from_str::<Value>(line).unwrap()["value"]
                    .as_str()
                    .unwrap()
                    .to_string()
            } else {
                line.to_string()
            }
        })
        .collect()
}

/// A record larger than the topic's max.message.bytes (but within the producer's
/// limit) is bad input: reported with its line number, exit 3, and the valid records
/// before and after it are delivered (the brokers refuse a whole batch that is too
/// large, so it must not share a batch with them).
#[test]
fn record_over_topic_max_message_bytes_spares_its_neighbours() {
    let topic = unique_name("rel-topic-limit");
    run(tool("ktopic").args([
        "create",
        &topic,
        "-p",
        "1",
        "-r",
        "3",
        "-c",
        "max.message.bytes=1000",
    ]))
    .success();
    let input = format!("small-1\n{}\nsmall-3\n", "x".repeat(5000));
    let mut proc = Proc::spawn(command(&brokers(), "kprod").arg(&topic), usize::MAX);
    proc.take_stdin().write_all(input.as_bytes()).unwrap();
    let exit = proc.finish(secs(120));
    exit.no_panic();
    assert!(
        exit.code == Some(3),
        "{}",
        exit.explain("expected exit code 3")
    );
    assert_eq!(
        exit.stderr.lines().count(),
        1,
        "{}",
        exit.explain("expected one error line")
    );
    let first = exit.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("kprod: error: line 2: "),
        "{}",
        exit.explain("the first error names line 2")
    );
    let delivered: BTreeSet<u64> = parse_reports(&exit.lines).iter().map(|r| r.line).collect();
    assert_eq!(
        delivered,
        BTreeSet::from([1, 3]),
        "{}",
        exit.explain("lines 1 and 3 must be delivered")
    );
    let values: Vec<String> = consume_all(&brokers(), &topic)
        .into_iter()
        .map(|r| r.value)
        .collect();
    assert_eq!(values, ["small-1", "small-3"]);
}

/// kcons's bad command lines: one `kcons: error:` line, the documented exit code.
#[test]
fn kcons_bad_input_matrix() {
    let topic = unique_name("rel-kcons-bad");
    run(tool("ktopic").args(["create", &topic, "-p", "2", "-r", "3"])).success();
    let t = topic.as_str();
    let cases = [
        row(
            "unknown topic",
            &["rel-no-such-topic-y", "-e"],
            "",
            6,
            &["'rel-no-such-topic-y' does not exist"],
            &[],
        ),
        row(
            "partition out of range",
            &[t, "-p", "5", "-e"],
            "",
            2,
            &["partition 5 is out of range"],
            &[],
        ),
        row(
            "malformed -X",
            &[t, "-e", "-X", "fetch.min.bytes"],
            "",
            2,
            &["bad -X 'fetch.min.bytes'"],
            &[],
        ),
        row(
            "-X value librdkafka refuses",
            &[t, "-e", "-X", "fetch.min.bytes=lots"],
            "",
            2,
            &["fetch.min.bytes"],
            &[],
        ),
        row(
            "broker address without port",
            &[t, "-e", "-b", "localhost"],
            "",
            2,
            &["bad broker list", "no port"],
            &[],
        ),
        row(
            "unreachable broker",
            &[t, "-e", "-b", "localhost:1", "--timeout", "2"],
            "",
            5,
            &["cannot reach", "localhost:1"],
            &[],
        ),
        row(
            "-o stored without a group",
            &[t, "-e", "-o", "stored"],
            "",
            2,
            &["-o stored needs a consumer group"],
            &[],
        ),
        row(
            "-o N with a group",
            &[t, "-e", "-g", "g", "-o", "5"],
            "",
            2,
            &["with -g, -o takes"],
            &[],
        ),
        row("empty topic", &[t, "-e"], "", 0, &[], &[]),
    ];
    for case in &cases {
        let (exit, _) = check_case("kcons", case, &brokers());
        assert!(
            exit.lines.is_empty(),
            "{}",
            exit.explain(&format!("case {}: expected no output", case.name))
        );
    }
}
