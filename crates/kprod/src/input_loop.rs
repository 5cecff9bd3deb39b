//! The one input loop: lines from stdin become records ([`Record::from_line`]) and go to
//! the producer ([`Sender`]); `--on-error`, interrupts, the progress counters and the
//! delivery reports on stdout are handled here, once. What differs between plain and
//! transactional delivery is behind [`Delivery`].

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use anyhow::Result;
use kcore::schema_registry::Encoder;
use kcore::signals::Interrupt;

use crate::cli::OnError;
use crate::input::{self, Chunk};
use crate::producer::{Rejected, Sender, POLL_SLICE};
use crate::record::{Record, Rules};
use crate::reports::Tally;
use crate::status::Counters;

/// How long delivery reports may wait in the buffer while input keeps coming.
const REPORT_INTERVAL: Duration = Duration::from_millis(100);

/// How the records of a run are delivered: one by one ([`crate::plain`]) or in
/// transactions ([`crate::transactional`]).
pub trait Delivery {
    /// Called before each wait for input: time to end what is due (a transaction).
    fn tick(&mut self, sender: &Sender, tally: &mut Tally) -> Result<()>;
    /// The longest wait for more input before [`tick`](Self::tick) is due again.
    fn idle_wait(&self) -> Duration;
    /// A record is about to be queued (a transaction may have to begin first).
    fn before_send(&mut self, sender: &Sender, tally: &Tally, line_no: u64) -> Result<()>;
    /// The record was queued.
    fn sent(&mut self, line_no: u64, record: &Record<'_>);
    /// librdkafka refused the record for another reason than bad input.
    fn not_sent(
        &mut self,
        sender: &Sender,
        tally: &mut Tally,
        line_no: u64,
        why: &str,
    ) -> Result<()>;
    /// Reading stdin failed: settle what was read before the error ends the run.
    fn input_failed(&mut self, sender: &Sender, tally: &mut Tally) -> Result<()>;
    /// The input ended (or was interrupted): deliver the rest, and the run's verdict.
    fn finish(self, sender: Sender, tally: &mut Tally, interrupted: bool) -> Result<()>;
}

/// What the loop needs besides the producer and the delivery mode.
pub struct Inputs<'a> {
    pub chunks: Receiver<Chunk>,
    pub rules: &'a Rules,
    pub encoder: Option<&'a Encoder>,
    /// `-p`: every record to this partition.
    pub fixed_partition: Option<i32>,
    pub on_error: OnError,
    /// For the message of a line too long to be kept in memory.
    pub message_max_bytes: usize,
    pub interrupt: &'a Interrupt,
    pub counters: &'a Counters,
}

/// The loop's own state across chunks of input.
struct Reading {
    tally: Tally,
    lines_read: u64,
    bytes_read: u64,
    interrupted: bool,
    stop: bool,
    reported_at: Instant,
}

/// How a chunk of lines ended.
enum ChunkEnd {
    Done,
    Interrupted,
}

impl Reading {
    /// A bad input line: reported, and with `--on-error stop` the end of the input.
    fn bad_line(&mut self, line_no: u64, why: &str, on_error: OnError) {
        self.tally.bad_line(line_no, why);
        self.stop = on_error == OnError::Stop;
    }

    /// Push the delivery reports out if they waited long enough (`kprod t | jq` is live).
    fn flush_reports_if_due(&mut self, sender: &Sender) {
        if self.reported_at.elapsed() >= REPORT_INTERVAL {
            sender.context().flush_reports();
            self.reported_at = Instant::now();
        }
    }
}

/// Read every line of input, deliver its record, and return the run's verdict.
pub fn run<D: Delivery>(inputs: Inputs<'_>, mut sender: Sender, mut delivery: D) -> Result<()> {
    let mut reading = Reading {
        tally: Tally::default(),
        lines_read: 0,
        bytes_read: 0,
        interrupted: false,
        stop: false,
        reported_at: Instant::now(),
    };
    while !reading.stop {
        if inputs.interrupt.requested() {
            reading.interrupted = true;
            break;
        }
        delivery.tick(&sender, &mut reading.tally)?;
        let next = match inputs.chunks.try_recv() {
            Ok(chunk) => chunk,
            Err(TryRecvError::Disconnected) => break,
            // The input pauses with records not yet delivered: they go out now, not at
            // linger, while kprod waits for more input.
            Err(TryRecvError::Empty) if reading.tally.sent > sender.context().reports() => {
                sender.send_and_serve(POLL_SLICE);
                // Some records may take long (retries): the others' reports go out.
                reading.flush_reports_if_due(&sender);
                continue;
            }
            Err(TryRecvError::Empty) => {
                sender.context().flush_reports();
                let wait = delivery
                    .idle_wait()
                    .clamp(Duration::from_millis(1), Duration::from_millis(100));
                match inputs.chunks.recv_timeout(wait) {
                    Ok(chunk) => chunk,
                    Err(RecvTimeoutError::Timeout) => {
                        sender.poll();
                        sender.context().flush_reports();
                        reading.reported_at = Instant::now();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        let (data, first_line) = match next {
            Chunk::Lines { data, first_line } => (data, first_line),
            Chunk::TooLong { line, bytes } => {
                (reading.lines_read, reading.bytes_read) = (line, reading.bytes_read + bytes);
                inputs
                    .counters
                    .publish(reading.lines_read, reading.bytes_read, reading.tally.sent);
                let why = format!(
                    "line of {bytes} bytes is longer than any record the producer may send (message.max.bytes={})",
                    inputs.message_max_bytes
                );
                reading.bad_line(line, &why, inputs.on_error);
                continue;
            }
            Chunk::Failed(err) => {
                delivery.input_failed(&sender, &mut reading.tally)?;
                return Err(anyhow::Error::new(err).context("reading stdin"));
            }
        };
        sender.choose_codec(&inputs.rules.topic, &data);
        reading.bytes_read += data.len() as u64;
        let end = lines(
            &inputs,
            &mut reading,
            &mut sender,
            &mut delivery,
            &data,
            first_line,
        )?;
        if let ChunkEnd::Interrupted = end {
            reading.interrupted = true;
            break;
        }
        inputs
            .counters
            .publish(reading.lines_read, reading.bytes_read, reading.tally.sent);
        sender.serve_ready();
        reading.flush_reports_if_due(&sender);
    }
    inputs
        .counters
        .publish(reading.lines_read, reading.bytes_read, reading.tally.sent);
    delivery.finish(sender, &mut reading.tally, reading.interrupted)
}

/// The records of one chunk of lines, until its end, an interrupt or `--on-error stop`.
fn lines<D: Delivery>(
    inputs: &Inputs<'_>,
    reading: &mut Reading,
    sender: &mut Sender,
    delivery: &mut D,
    data: &[u8],
    first_line: u64,
) -> Result<ChunkEnd> {
    for (line_no, line) in input::lines(data, first_line) {
        reading.lines_read = line_no;
        if inputs.interrupt.requested() {
            return Ok(ChunkEnd::Interrupted);
        }
        let mut record = match Record::from_line(line, inputs.rules, inputs.encoder) {
            Ok(record) => record,
            Err(why) => {
                reading.bad_line(line_no, &why, inputs.on_error);
                if reading.stop {
                    break;
                }
                continue;
            }
        };
        delivery.before_send(sender, &reading.tally, line_no)?;
        reading.tally.sent += 1;
        let sent = sender.send(
            &mut record,
            &inputs.rules.topic,
            line_no,
            inputs.fixed_partition,
            reading.tally.sent,
            inputs.interrupt,
        );
        match sent {
            Ok(()) => delivery.sent(line_no, &record),
            Err(rejection) => {
                reading.tally.sent -= 1;
                match rejection {
                    Rejected::Input(why) => {
                        reading.bad_line(line_no, &why, inputs.on_error);
                        if reading.stop {
                            break;
                        }
                    }
                    Rejected::Failed(why) => {
                        delivery.not_sent(sender, &mut reading.tally, line_no, &why)?
                    }
                    Rejected::Interrupted => return Ok(ChunkEnd::Interrupted),
                }
            }
        }
    }
    Ok(ChunkEnd::Done)
}
