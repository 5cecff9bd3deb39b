//! A finished process.

use crate::*;

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
pub(crate) fn truncate(text: &str) -> String {
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
