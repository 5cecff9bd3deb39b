//! stdout as JSON lines: one object per line, buffered, flushed on demand.

use std::io::{self, BufWriter, Write};

use anyhow::{Context, Result};
use serde::Serialize;

/// Buffered JSON-lines writer. Errors (a closed pipe included) come back as
/// `io::Error`s so the main wrapper can end quietly on a broken pipe.
pub struct JsonLines<W: Write> {
    out: BufWriter<W>,
}

impl JsonLines<io::Stdout> {
    pub fn stdout() -> Self {
        JsonLines::new(io::stdout())
    }
}

impl<W: Write> JsonLines<W> {
    pub fn new(inner: W) -> Self {
        JsonLines {
            out: BufWriter::with_capacity(64 * 1024, inner),
        }
    }

    /// Write one value as one line.
    pub fn emit<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        serde_json::to_writer(&mut self.out, value)
            .map_err(io::Error::from)
            .context("writing stdout")?;
        self.out.write_all(b"\n").context("writing stdout")
    }

    /// Write bytes that already hold whole lines (hot paths encode records themselves).
    pub fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).context("writing stdout")
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().context("writing stdout")
    }

    /// Bytes waiting in the buffer.
    pub fn pending(&self) -> usize {
        self.out.buffer().len()
    }
}

impl<W: Write> Drop for JsonLines<W> {
    fn drop(&mut self) {
        // A failed final flush (closed pipe) must not panic.
        let _ = self.out.flush();
    }
}

/// True when stdout is a pipe whose reader has gone (`| head -1` finished).
/// A writer learns that on its next write; a consumer waiting for records may not
/// write for a long time, so it asks while idle instead.
pub fn stdout_closed() -> bool {
    let mut fds = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    // SAFETY: one pollfd on the stack, zero timeout.
    let ready = unsafe { libc::poll(&mut fds, 1, 0) };
    ready > 0 && fds.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

/// A command's answer on stdout: as JSON lines, or as one table for people (`--table`).
pub fn print(lines: &[serde_json::Value], table: Option<crate::table::Table>) -> Result<()> {
    if let Some(table) = table {
        return table.write(&mut io::stdout().lock());
    }
    let mut out = JsonLines::stdout();
    for line in lines {
        out.emit(line)?;
    }
    out.flush()
}
