//! stdin, read on its own thread and handed over in batches of whole lines.
//!
//! A thread, because a blocking `read` cannot watch for SIGINT: the producer loop
//! must stay free to flush and report when a signal arrives mid-input. Batches,
//! because a channel message per line would cost more than producing the line.
//! A batch is sent as soon as a read returns, so a line typed at a terminal goes
//! out at once rather than when a buffer fills.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes asked of each `read`.
const READ_SIZE: usize = 256 * 1024;
/// Batches in flight between the threads: bounds memory, lets reading run ahead a little.
const CHANNEL_DEPTH: usize = 8;

pub enum Chunk {
    /// Whole lines; each ends with `\n` except, at end of input, the last one may not.
    Lines { data: Vec<u8>, first_line: u64 },
    /// A line longer than the limit was skipped without being kept in memory.
    TooLong { line: u64, bytes: u64 },
    /// Reading stdin failed.
    Failed(io::Error),
}

/// Start reading `input` on a thread; lines longer than `max_line` bytes are skipped.
pub fn spawn_reader<R: Read + Send + 'static>(input: R, max_line: usize) -> Receiver<Chunk> {
    let (tx, rx) = sync_channel(CHANNEL_DEPTH);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || read_lines(input, max_line, &tx))
        .expect("spawning the stdin reader");
    rx
}

fn read_lines<R: Read>(mut input: R, max_line: usize, tx: &SyncSender<Chunk>) {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_SIZE);
    let mut next_line: u64 = 1;
    // While skipping an over-long line: its number and the bytes skipped so far.
    let mut skipping: Option<(u64, u64)> = None;
    loop {
        let start = buf.len();
        buf.resize(start + READ_SIZE, 0);
        let read = match input.read(&mut buf[start..]) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {
                buf.truncate(start);
                continue;
            }
            Err(err) => {
                let _ = tx.send(Chunk::Failed(err));
                return;
            }
        };
        buf.truncate(start + read);
        if read == 0 {
            if let Some((line, bytes)) = skipping {
                let _ = tx.send(Chunk::TooLong { line, bytes });
            } else if !buf.is_empty() {
                let _ = tx.send(Chunk::Lines {
                    data: buf,
                    first_line: next_line,
                });
            }
            return;
        }
        if let Some((line, bytes)) = skipping.as_mut() {
            match memchr::memchr(b'\n', &buf) {
                None => {
                    *bytes += buf.len() as u64;
                    buf.clear();
                    continue;
                }
                Some(end) => {
                    *bytes += end as u64;
                    if tx
                        .send(Chunk::TooLong {
                            line: *line,
                            bytes: *bytes,
                        })
                        .is_err()
                    {
                        return;
                    }
                    next_line = *line + 1;
                    skipping = None;
                    buf.drain(..=end);
                }
            }
        }
        match memchr::memrchr(b'\n', &buf) {
            Some(last) => {
                let rest = buf[last + 1..].to_vec();
                buf.truncate(last + 1);
                let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
                let data = std::mem::replace(&mut buf, rest);
                if tx
                    .send(Chunk::Lines {
                        data,
                        first_line: next_line,
                    })
                    .is_err()
                {
                    return;
                }
                next_line += lines;
                buf.reserve(READ_SIZE);
            }
            None if buf.len() > max_line => {
                skipping = Some((next_line, buf.len() as u64));
                buf.clear();
            }
            None => {}
        }
    }
}

/// The lines of a batch with their numbers; the newline is not part of a line.
pub fn lines(data: &[u8], first_line: u64) -> impl Iterator<Item = (u64, &[u8])> {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    body.split(|b| *b == b'\n')
        .zip(first_line..)
        .map(|(line, number)| (number, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &'static [u8], max_line: usize) -> Vec<String> {
        let rx = spawn_reader(input, max_line);
        let mut out = Vec::new();
        for chunk in rx {
            match chunk {
                Chunk::Lines { data, first_line } => {
                    for (n, line) in lines(&data, first_line) {
                        out.push(format!("{n}:{}", String::from_utf8_lossy(line)));
                    }
                }
                Chunk::TooLong { line, bytes } => out.push(format!("{line}:too long ({bytes})")),
                Chunk::Failed(err) => out.push(format!("failed: {err}")),
            }
        }
        out
    }

    #[test]
    fn numbers_lines_and_keeps_empty_ones() {
        assert_eq!(collect(b"a\n\nb\n", 100), ["1:a", "2:", "3:b"]);
        assert_eq!(collect(b"a\nlast", 100), ["1:a", "2:last"]);
        assert_eq!(collect(b"", 100), Vec::<String>::new());
        assert_eq!(collect(b"\n", 100), ["1:"]);
        assert_eq!(collect(b"x\r\n", 100), ["1:x\r"]);
    }

    #[test]
    fn skips_over_long_lines_and_goes_on() {
        let long: &'static [u8] = Box::leak(
            format!("ok\n{}\nafter\n", "x".repeat(600_000))
                .into_bytes()
                .into_boxed_slice(),
        );
        assert_eq!(
            collect(long, 1000),
            ["1:ok", "2:too long (600000)", "3:after"]
        );
    }
}
