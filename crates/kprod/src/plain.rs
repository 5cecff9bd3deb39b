//! Plain delivery: each record is delivered on its own; at the end kprod waits for every
//! report, bounded by the delivery timeout, and whatever has none by then counts as not
//! delivered.

use std::time::{Duration, Instant};

use anyhow::Result;
use rdkafka::producer::{Producer, PurgeConfig};

use crate::input_loop::Delivery;
use crate::producer::{Sender, POLL_SLICE};
use crate::record::Record;
use crate::reports::Tally;

pub struct Plain {
    pub topic: String,
    pub delivery_timeout: Duration,
}

impl Delivery for Plain {
    fn tick(&mut self, _: &Sender, _: &mut Tally) -> Result<()> {
        Ok(())
    }

    fn idle_wait(&self) -> Duration {
        Duration::from_millis(100)
    }

    fn before_send(&mut self, _: &Sender, _: &Tally, _: u64) -> Result<()> {
        Ok(())
    }

    fn sent(&mut self, _: u64, _: &Record<'_>) {}

    fn not_sent(&mut self, _: &Sender, tally: &mut Tally, line_no: u64, why: &str) -> Result<()> {
        tally.not_sent(line_no, why);
        Ok(())
    }

    fn input_failed(&mut self, sender: &Sender, tally: &mut Tally) -> Result<()> {
        sender.poll();
        finish(sender, tally, self.delivery_timeout);
        Ok(())
    }

    fn finish(self, sender: Sender, tally: &mut Tally, interrupted: bool) -> Result<()> {
        finish(&sender, tally, self.delivery_timeout);
        if let Some(denied) = tally.denied.take() {
            tally.denied = Some(
                kcore::Failure::denied(format!("cannot write to topic '{}'", self.topic), denied)
                    .message,
            );
        }
        // Every record has its verdict and every report is written: destroying the producer
        // now (joining librdkafka's threads, closing connections) would only delay the exit,
        // by about 4 ms for one record, 1/4 of its run. The system reclaims it all at exit.
        std::mem::forget(sender);
        tally.conclude(interrupted)
    }
}

/// Wait for every queued record's delivery report, bounded by the delivery timeout;
/// whatever is still without a report afterwards counts as not delivered.
fn finish(sender: &Sender, tally: &mut Tally, delivery_timeout: Duration) {
    // Not `producer.flush`: it polls in 100 ms slices that each last the full 100 ms, which
    // would add up to 100 ms to every run. Nor `in_flight_count`: librdkafka's out-queue
    // length also counts protocol requests (producer id, metadata), so it can stay above
    // zero after every record has its report. Our own count of reports is exact.
    let awaiting = || tally.sent.saturating_sub(sender.context().reports());
    let deadline = Instant::now() + delivery_timeout + Duration::from_secs(5);
    sender.deliver_queued(deadline, || awaiting() == 0);
    let producer = &sender.producer;
    if awaiting() > 0 {
        // Still no verdict: give up on them, which yields a report naming each one's line.
        producer.purge(PurgeConfig::default().queue().inflight());
        let deadline = Instant::now() + Duration::from_secs(1);
        while awaiting() > 0 && Instant::now() < deadline {
            producer.poll(POLL_SLICE);
        }
    }
    sender.serve_ready();
    tally.absorb(sender.context());
    tally.still_queued = tally.sent.saturating_sub(tally.delivered + tally.failed);
    // The ACLs refused the producer (the idempotent producer's id needs a right to write).
    let fatal = producer.client().fatal_error();
    if let Some((code, why)) =
        fatal.filter(|(code, _)| kcore::failure::is_authorization_code(*code))
    {
        tally.denied.get_or_insert(format!("{code}: {why}"));
    }
}
