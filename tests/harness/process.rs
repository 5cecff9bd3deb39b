//! A running process.

use crate::ran::truncate;
use crate::*;

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
        let sent = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(sent, 0, "kill({}, {signal})", self.pid());
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

/// `kcat`, the peer most tests check kpipes against, as its users run it. `cargo test` puts
/// the build's own library directories on `LD_LIBRARY_PATH`, among them the librdkafka.so
/// that rdkafka-sys builds (linked statically into kpipes, with Kerberos built in): kcat
/// would load that one instead of its own and fail on a missing symbol.
pub fn kcat() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new("kcat");
    match library_path_outside_the_build() {
        Some(path) => cmd.env("LD_LIBRARY_PATH", path),
        None => cmd.env_remove("LD_LIBRARY_PATH"),
    };
    cmd
}

/// [`kcat`] as a `std::process::Command`, for tests that need its exit status as a value.
pub fn kcat_process() -> std::process::Command {
    let mut cmd = std::process::Command::new("kcat");
    match library_path_outside_the_build() {
        Some(path) => cmd.env("LD_LIBRARY_PATH", path),
        None => cmd.env_remove("LD_LIBRARY_PATH"),
    };
    cmd
}

/// `LD_LIBRARY_PATH` without the directories under this workspace's `target/`.
fn library_path_outside_the_build() -> Option<String> {
    let target = concat!(env!("CARGO_MANIFEST_DIR"), "/target/");
    let kept: Vec<String> = std::env::var("LD_LIBRARY_PATH")
        .ok()?
        .split(':')
        .filter(|dir| !dir.is_empty() && !dir.starts_with(target))
        .map(str::to_string)
        .collect();
    (!kept.is_empty()).then(|| kept.join(":"))
}
