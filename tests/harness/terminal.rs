//! A terminal on stderr: progress lines are drawn only there (issue #17).

use crate::*;

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
