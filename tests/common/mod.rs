//! Helpers shared by the kprod, kcons and pipes end-to-end tests: topics, runs of the
//! tools, long-running children that tests signal mid-stream, and record data.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kpipes_e2e::*;

/// `ktopic create TOPIC -p PARTITIONS -r 3 EXTRA...`, which must succeed.
pub fn create_topic(partitions: u32, extra: &[&str]) -> String {
    let topic = unique_name("t");
    create_named(&topic, partitions, extra);
    topic
}

pub fn create_named(topic: &str, partitions: u32, extra: &[&str]) {
    run(tool("ktopic")
        .args(["create", topic, "-p", &partitions.to_string(), "-r", "3"])
        .args(extra))
    .success();
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

/// The (partition, offset) pairs of records or delivery reports.
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

pub fn values(list: &[Value]) -> Vec<Value> {
    list.iter().map(|r| r["value"].clone()).collect()
}

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
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, max_len: u64) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A tool running as a child process with piped stdin, stdout and stderr, for tests
/// that signal or kill it mid-stream. stdout is collected line by line on a thread;
/// with `pause_after(n)` that thread stops reading after n lines until `resume`,
/// so the tool blocks on a full pipe. Killed when dropped, so a failing test leaves
/// nothing behind.
pub struct Proc {
    pub what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<Vec<u8>>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    gate: Option<SyncSender<()>>,
    threads: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Proc {
    pub fn spawn(name: &str, args: &[&str]) -> Proc {
        Proc::spawn_paused(name, args, None)
    }

    pub fn spawn_paused(name: &str, args: &[&str], pause_after: Option<usize>) -> Proc {
        let mut cmd = Command::new(bin_path(name));
        cmd.args(args)
            .env("KAFKA_BROKERS", brokers())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let what = format!("{name} {}", args.join(" "));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (gate, gate_rx): (SyncSender<()>, Receiver<()>) = sync_channel(1);
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || loop {
            let mut line = Vec::new();
            match out.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let mut all = sink.lock().unwrap();
                    all.push(line);
                    let count = all.len();
                    drop(all);
                    if pause_after == Some(count) {
                        // Until resumed (or the Proc is dropped), read nothing more.
                        let _ = gate_rx.recv();
                    }
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let err_sink = Arc::clone(&stderr);
        let err_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                err_sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let stdin = child.stdin.take();
        Proc {
            what,
            child,
            stdin,
            lines,
            stderr,
            gate: Some(gate),
            threads: vec![reader, err_reader],
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

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Let the stdout reader go on after `pause_after`.
    pub fn resume(&mut self) {
        self.gate = None;
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child, which has not been reaped yet.
        assert_eq!(
            unsafe { libc::kill(self.pid(), signal) },
            0,
            "kill {} {}",
            signal,
            self.pid()
        );
    }

    /// The stdout lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines
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

    /// The complete stdout lines as JSON; a last line cut short (the child was killed
    /// in the middle of writing it) is not a record that was written out.
    pub fn json(&self) -> Vec<Value> {
        let complete: Vec<String> = self
            .lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.ends_with(b"\n"))
            .map(|l| {
                String::from_utf8_lossy(l)
                    .trim_end_matches('\n')
                    .to_string()
            })
            .collect();
        complete
            .iter()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {l}", self.what))
            })
            .collect()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Poll until stdout has at least `n` lines.
    pub fn wait_lines(&self, n: usize, timeout: Duration) -> Vec<String> {
        eventually(
            &format!("{} to print {n} lines", self.what),
            timeout,
            || {
                let lines = self.lines();
                (lines.len() >= n).then_some(lines)
            },
        )
    }

    /// Is the child still running?
    pub fn running(&mut self) -> bool {
        if self.status.is_some() {
            return false;
        }
        match self.child.try_wait().unwrap() {
            Some(status) => {
                self.status = Some(status);
                false
            }
            None => true,
        }
    }

    /// Wait for the child to exit (polling, bounded), then for its output to be read.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        while self.running() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "{} did not exit within {timeout:?}; stderr:\n{}",
                    self.what,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.gate = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        self.status.unwrap()
    }

    /// Wait, and require exit code `code`.
    pub fn exits_with(&mut self, code: i32, timeout: Duration) {
        let status = self.wait(timeout);
        assert_eq!(
            status.code(),
            Some(code),
            "{}: expected exit code {code}, got {status:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.what,
            self.lines().join("\n"),
            self.stderr()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.gate = None;
    }
}
