//! A local node's log files: which one is its main log, what it wrote since it was
//! launched, and copying them to stdout (`kcluster logs`). What a log says about why a
//! node failed is [`crate::node_log`]'s.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use kcore::state::ClusterState;

use crate::role::Role;

/// How long a node's log files were when it was launched.
pub struct LogMarks {
    server_log: u64,
    console: u64,
}

impl LogMarks {
    pub fn now(state: &ClusterState, role: Role, id: u32) -> LogMarks {
        let logs = role.node_dir(state, id).join("logs");
        let len = |name: &str| fs::metadata(logs.join(name)).map_or(0, |m| m.len());
        LogMarks {
            server_log: len("server.log"),
            console: len("kafka.out"),
        }
    }

    /// What the node wrote to its log and to its console since then.
    pub fn written_since(&self, state: &ClusterState, role: Role, id: u32) -> String {
        let logs = role.node_dir(state, id).join("logs");
        let mut text = read_from(&logs.join("server.log"), self.server_log);
        text.push_str(&read_from(&logs.join("kafka.out"), self.console));
        text
    }
}

/// A file's content from byte `offset` on (at most its last 256 KB); empty if unreadable.
pub fn read_from(path: &Path, offset: u64) -> String {
    const MAX: u64 = 256 * 1024;
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    // A log that shrank was rotated: read it from its start.
    let start = if offset > len { 0 } else { offset }.max(len.saturating_sub(MAX));
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_ok() {
        let _ = file.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A node's main log, whole (at most its last 256 KB).
pub fn log_text(state: &ClusterState, role: Role, id: u32) -> String {
    read_from(&log_file(state, role, id), 0)
}

/// A node's main log: log4j's server.log, else the JVM's captured stdout.
pub fn log_file(state: &ClusterState, role: Role, id: u32) -> PathBuf {
    let logs = role.node_dir(state, id).join("logs");
    let server_log = logs.join("server.log");
    if server_log.is_file() {
        server_log
    } else {
        logs.join("kafka.out")
    }
}

/// Copy nodes' logs to stdout, each line prefixed by its node when there are several.
pub fn copy_logs(state: &ClusterState, role: Role, ids: &[u32], follow: bool) -> Result<()> {
    let prefix = ids.len() > 1;
    let mut readers: Vec<(u32, BufReader<File>)> = Vec::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for id in ids {
        let path = log_file(state, role, *id);
        let Ok(file) = File::open(&path) else {
            continue;
        };
        readers.push((*id, BufReader::new(file)));
    }
    loop {
        let mut any = false;
        for (id, reader) in &mut readers {
            let mut line = String::new();
            while reader.read_line(&mut line)? > 0 {
                if !line.ends_with('\n') {
                    // A partial line: read the rest later.
                    let back = line.len() as i64;
                    reader.seek(SeekFrom::Current(-back))?;
                    break;
                }
                any = true;
                if prefix {
                    write!(out, "{} | ", role.service(*id))?;
                }
                out.write_all(line.as_bytes())?;
                line.clear();
            }
        }
        out.flush()?;
        if !follow {
            return Ok(());
        }
        if !any {
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}
