//! The small harness every end-to-end test uses: run the real binaries against
//! the live test cluster, and fail with everything a reader needs to see.
//!
//! `scripts/test` starts the shared cluster and exports `KAFKA_BROKERS` and
//! `KPIPES_TEST_CLUSTER`; tests that kill brokers use a second cluster of their
//! own ([`FaultCluster`]) so they never disturb the tests running beside them.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use serde_json::{json, Value};

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

/// Bootstrap brokers of the shared test cluster.
pub fn brokers() -> String {
    if let Ok(list) = std::env::var("KAFKA_BROKERS") {
        return list;
    }
    let out = std::process::Command::new(bin_path("kcluster"))
        .args(["env", "--name", &test_cluster()])
        .output()
        .expect("running kcluster env");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .strip_prefix("export KAFKA_BROKERS=")
        .map(str::to_string)
        .unwrap_or_else(|| {
            panic!(
                "no test cluster '{}' is running: run the tests with scripts/test",
                test_cluster()
            )
        })
}

/// A command for one of our binaries, pointed at the shared test cluster.
pub fn tool(name: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin_path(name));
    cmd.env("KAFKA_BROKERS", brokers())
        .env_remove("NO_COLOR")
        .timeout(Duration::from_secs(180));
    cmd
}

/// A command for kcluster acting on `cluster`.
pub fn kcluster(cluster: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin_path("kcluster"));
    cmd.env("KPIPES_CLUSTER", cluster)
        .timeout(Duration::from_secs(300));
    cmd
}

/// A topic name no other test (or earlier run) uses.
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

/// The command's output, shown in full when an expectation about it fails.
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
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }
    fn explain(&self, expectation: &str) -> String {
        format!(
            "{expectation}\n--- command: {}\n--- status: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.what,
            self.output.status,
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
    /// stdout parsed as JSON lines.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout()
            .lines()
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

/// Run a prepared command and keep its output.
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

/// Poll `check` until it returns `Some`, or panic with `what` after `timeout`.
pub fn eventually<T>(what: &str, timeout: Duration, check: impl FnMut() -> Option<T>) -> T {
    poll(timeout, check)
        .unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for: {what}"))
}

/// Poll `check` until it returns `Some`; None once `timeout` has passed.
fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
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
    let mut last = None;
    let succeeded = poll(timeout, || {
        let ran = run(&mut command());
        if ran.output.status.success() {
            Some(ran)
        } else {
            last = Some(ran);
            None
        }
    });
    succeeded.unwrap_or_else(|| {
        let last = last.expect("the command ran at least once");
        panic!(
            "{}",
            last.explain(&format!("timed out after {timeout:?} waiting for: {what}"))
        )
    })
}

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

    pub fn kcluster(&self) -> assert_cmd::Command {
        kcluster(&self.name)
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
