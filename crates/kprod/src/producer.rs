//! The one place that hands records to librdkafka ([`Sender`]): queueing them, waiting
//! while the queue is full, having librdkafka send what is queued, and serving the
//! delivery reports that come back.

use std::time::{Duration, Instant};

use kcore::signals::Interrupt;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, Producer};

use crate::compression::{self, Uncompressed};
use crate::record::Record;
use crate::reports::DeliveryContext;

/// How long one wait for delivery reports lasts. rdkafka's `poll` always waits out its
/// timeout (and spins through its last millisecond), so: short, but not too short.
pub const POLL_SLICE: Duration = Duration::from_millis(5);

/// While the send queue is full, how often to send its batches whether full or not.
const FULL_QUEUE_NUDGE: Duration = Duration::from_millis(20);

/// Why a record was not queued.
pub enum Rejected {
    /// The record itself cannot be sent (too large, no such partition): bad input.
    Input(String),
    /// librdkafka refused it for another reason (e.g. a fatal producer error).
    Failed(String),
    Interrupted,
}

/// The producer, with what sending through it needs.
pub struct Sender {
    /// Declared before `producer`: a topic handle is released before its producer.
    uncompressed: Option<Uncompressed>,
    pub producer: BaseProducer<DeliveryContext>,
    /// The producer's `message.max.bytes`, for the message of a record refused as too large.
    message_max_bytes: usize,
    full_queue: FullQueueNudge,
    /// kprod picks the codec (the user named none) and has not yet seen input to pick by.
    codec_to_choose: bool,
}

impl Sender {
    /// `codec_to_choose`: the codec is kprod's to pick ([`Sender::choose_codec`]).
    pub fn new(
        producer: BaseProducer<DeliveryContext>,
        message_max_bytes: usize,
        codec_to_choose: bool,
    ) -> Self {
        Sender {
            uncompressed: None,
            producer,
            message_max_bytes,
            full_queue: FullQueueNudge::new(),
            codec_to_choose,
        }
    }

    /// With the first input, before its first record: records to `topic` go uncompressed
    /// if lz4 would not pay on input like this ([`crate::compression`]). Once a run.
    pub fn choose_codec(&mut self, topic: &str, first_input: &[u8]) {
        if !std::mem::take(&mut self.codec_to_choose) || compression::lz4_pays(first_input) {
            return;
        }
        // Should librdkafka refuse, lz4 stays: records are delivered either way.
        self.uncompressed = Uncompressed::pin(self.producer.client(), topic).ok();
    }

    pub fn context(&self) -> &DeliveryContext {
        self.producer.context()
    }

    /// Queue one record (the `sent`th, read from line `line_no`), waiting (and serving
    /// delivery reports) while the queue is full.
    pub fn send(
        &mut self,
        record: &mut Record<'_>,
        topic: &str,
        line_no: u64,
        fixed_partition: Option<i32>,
        sent: u64,
        interrupt: &Interrupt,
    ) -> Result<(), Rejected> {
        let mut record = record.to_send(topic, line_no, fixed_partition);
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    if interrupt.requested() {
                        return Err(Rejected::Interrupted);
                    }
                    record = back;
                    self.full_queue.nudge_if_due(&self.producer, sent);
                    // Delivery reports free queue space; when none are ready yet, wait for
                    // the next (rdkafka's own poll would wait out a whole timeout).
                    if !self.serve_ready() {
                        self.context().wait_for_reports(Duration::from_millis(1));
                    }
                }
                Err((
                    KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge),
                    back,
                )) => {
                    let size =
                        back.payload.map_or(0, <[u8]>::len) + back.key.map_or(0, <[u8]>::len);
                    return Err(Rejected::Input(format!(
                        "record too large: {size} bytes of key and value, the producer sends at most \
                         {} with its framing (message.max.bytes; -X message.max.bytes=N raises it)",
                        self.message_max_bytes
                    )));
                }
                Err((
                    KafkaError::MessageProduction(code @ RDKafkaErrorCode::UnknownPartition),
                    _,
                )) => {
                    return Err(Rejected::Input(format!("no such partition ({code})")));
                }
                Err((err, _)) => return Err(Rejected::Failed(err.to_string())),
            }
        }
    }

    /// Handle every delivery report that is ready, without waiting. True if there was any.
    pub fn serve_ready(&self) -> bool {
        serve_ready(&self.producer)
    }

    /// Serve events that are ready, without waiting.
    pub fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    /// Send what is queued now ([`send_now`]) and serve the reports that are ready,
    /// waiting up to `wait` for some if none are: it returns as soon as a report arrives.
    pub fn send_and_serve(&self, wait: Duration) {
        // A millisecond is enough for the broker threads to see the "flushing" state.
        send_now(&self.producer, Duration::from_millis(1));
        if !self.serve_ready() {
            self.context().wait_for_reports(wait);
            self.serve_ready();
        }
    }

    /// Send everything queued and serve the reports until `done()` or `deadline`. One
    /// thread holds librdkafka's flush for the whole wait, so that every batch goes out at
    /// once, also to a leader whose connection comes up meanwhile (a flush wakes only the
    /// brokers already connected, and only while it lasts), while this thread serves each
    /// report as it comes.
    pub fn deliver_queued(&self, deadline: Instant, done: impl Fn() -> bool) {
        if done() {
            return;
        }
        // A raw pointer is not Send; the handle outlives the scope, and librdkafka's flush
        // may run beside this thread's polls (it only waits for the reports to be served).
        let native = self.producer.client().native_ptr() as usize;
        let flush_ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis()
            .clamp(1, i32::MAX as u128) as i32;
        std::thread::scope(|scope| {
            // SAFETY: see above.
            scope.spawn(move || unsafe {
                rdkafka::bindings::rd_kafka_flush(native as *mut _, flush_ms);
            });
            while !done() && Instant::now() < deadline {
                if !self.serve_ready() {
                    self.context().wait_for_reports(POLL_SLICE);
                }
            }
            // The flush ends once every record's report is served, or at the deadline.
        });
    }
}

/// Have librdkafka send every queued record now, full batch or not, and wait up to
/// `wait` (at least 1 ms) for them to be delivered.
fn send_now(producer: &BaseProducer<DeliveryContext>, wait: Duration) {
    // Not rdkafka's `flush`: it calls librdkafka's with a zero timeout, which drops the
    // "flushing" state before the broker threads it wakes get to look at it.
    // SAFETY: a live producer handle; rd_kafka_flush only reads and waits on it.
    unsafe {
        rdkafka::bindings::rd_kafka_flush(
            producer.client().native_ptr(),
            wait.as_millis().max(1) as i32,
        );
    }
}

/// Handle every delivery report that is ready, without waiting. True if there was any.
fn serve_ready(producer: &BaseProducer<DeliveryContext>) -> bool {
    let start = producer.context().reports();
    loop {
        let before = producer.context().reports();
        producer.poll(Duration::ZERO);
        if producer.context().reports() == before {
            return before != start;
        }
    }
}

/// While the send queue stays full, sends its batches now and then whether full or not:
/// with many partitions sharing the queue, each partition's batch may stay small.
struct FullQueueNudge {
    /// Records handed to librdkafka at the last nudge, and when.
    sent_then: u64,
    at: Instant,
}

impl FullQueueNudge {
    fn new() -> Self {
        FullQueueNudge {
            sent_then: 0,
            at: Instant::now(),
        }
    }

    fn nudge_if_due(&mut self, producer: &BaseProducer<DeliveryContext>, sent: u64) {
        if sent > self.sent_then && self.at.elapsed() >= FULL_QUEUE_NUDGE {
            send_now(producer, Duration::from_millis(1));
            self.sent_then = sent;
            self.at = Instant::now();
        }
    }
}
