//! Delivery accounting: every record is delivered, reported as failed with its
//! input line number, or counted as never sent. Nothing goes missing silently.

use std::io::{BufWriter, Stdout, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use kcore::record::{write_int, write_str};
use kcore::{Failure, QuietContext};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};

use crate::status::Counters;
use crate::wakeup::ReportWakeup;

/// Failure lines shown on stderr as they happen; bad input lines past these are only counted.
const SHOWN_FAILURES: u64 = 20;

/// Records that were not delivered, each with its line number and reason: the first
/// [`SHOWN_FAILURES`] at once, the rest at the end, runs of consecutive lines that failed
/// for the same reason as one line (`lines 21-5000: not delivered: ...`), so that every
/// undelivered line is named without flooding the terminal.
#[derive(Default)]
pub struct FailureLog {
    shown: u64,
    reasons: Vec<String>,
    /// (line, index into `reasons`), for the failures not shown yet.
    later: Vec<(u64, usize)>,
}

impl FailureLog {
    pub fn add(&mut self, line: u64, why: String) {
        if self.shown < SHOWN_FAILURES {
            self.shown += 1;
            kcore::report_error("kprod", &format!("line {line}: {why}"));
            return;
        }
        let reason = match self.reasons.iter().position(|r| *r == why) {
            Some(index) => index,
            None => {
                self.reasons.push(why);
                self.reasons.len() - 1
            }
        };
        self.later.push((line, reason));
    }

    /// Report the failures not shown yet, in line order.
    pub fn report_rest(&mut self) {
        let mut later = std::mem::take(&mut self.later);
        later.sort_unstable();
        let mut index = 0;
        while index < later.len() {
            let (first, reason) = later[index];
            let mut last = first;
            while index + 1 < later.len() && later[index + 1] == (last + 1, reason) {
                index += 1;
                last += 1;
            }
            let lines = if first == last {
                format!("line {first}")
            } else {
                format!("lines {first}-{last}")
            };
            kcore::report_error("kprod", &format!("{lines}: {}", self.reasons[reason]));
            index += 1;
        }
    }
}

/// The producer's context: librdkafka's logs kept quiet, delivery reports written out.
pub struct DeliveryContext {
    quiet: QuietContext,
    topic_json: Vec<u8>,
    report: bool,
    /// `--transactional`: reports wait in `held` until their transaction commits.
    hold: bool,
    state: Mutex<DeliveryState>,
    /// Delivery reports handled so far (`reports`: tells `serve_ready` whether a poll
    /// found work) and failed ones, shared with the progress line.
    counters: Arc<Counters>,
    /// Signalled by librdkafka when reports arrive (see [`crate::wakeup`]).
    wakeup: Option<ReportWakeup>,
}

struct DeliveryState {
    delivered: u64,
    failed: u64,
    /// Of the failed: refused by the brokers as larger than the topic takes (bad input).
    too_large: u64,
    /// Why the cluster's ACLs refused a record, if they did.
    denied: Option<String>,
    failures: FailureLog,
    /// Delivery reports for stdout; `None` once stdout is gone (the records still matter).
    out: Option<BufWriter<Stdout>>,
    /// Reports of the open transaction's records (`hold`).
    held: Vec<u8>,
    line: Vec<u8>,
    /// Per partition of the topic: the offset after the last record delivered to it.
    ends: Vec<i64>,
}

impl DeliveryContext {
    pub fn new(topic: &str, verbose: u8, report: bool, counters: Arc<Counters>) -> Self {
        let mut topic_json = Vec::new();
        write_str(&mut topic_json, topic);
        DeliveryContext {
            quiet: QuietContext::new("kprod", verbose),
            topic_json,
            report,
            hold: false,
            counters,
            wakeup: ReportWakeup::new(),
            state: Mutex::new(DeliveryState {
                delivered: 0,
                failed: 0,
                too_large: 0,
                denied: None,
                failures: FailureLog::default(),
                out: Some(BufWriter::with_capacity(64 * 1024, std::io::stdout())),
                held: Vec::new(),
                line: Vec::with_capacity(128),
                ends: Vec::new(),
            }),
        }
    }

    /// Keep the delivery reports until [`release_held`](Self::release_held) (their
    /// transaction committed) or [`discard_held`](Self::discard_held) (it aborted).
    pub fn holding_reports(mut self, hold: bool) -> Self {
        self.hold = hold;
        self
    }

    /// The transaction committed: its records' reports go to stdout.
    pub fn release_held(&self) {
        let mut state = self.state();
        let DeliveryState { out, held, .. } = &mut *state;
        if out.as_mut().is_some_and(|o| o.write_all(held).is_err()) {
            *out = None;
        }
        held.clear();
        drop(state);
        self.flush_reports();
    }

    /// The transaction aborted: none of its records was delivered after all.
    pub fn discard_held(&self) {
        self.state().held.clear();
    }

    /// (partition, the offset after the last record delivered to it) of every partition
    /// a record was delivered to.
    pub fn written(&self) -> Vec<(i32, i64)> {
        (self.state().ends.iter().enumerate())
            .filter(|(_, &end)| end > 0)
            .map(|(partition, &end)| (partition as i32, end))
            .collect()
    }

    /// Delivery reports that came back with an error, so far.
    pub fn failed(&self) -> u64 {
        self.state().failed
    }

    fn state(&self) -> std::sync::MutexGuard<'_, DeliveryState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Have librdkafka wake [`wait_for_reports`](Self::wait_for_reports) when reports
    /// arrive on `client`, this context's producer.
    pub fn attach_wakeup<C: ClientContext>(&self, client: &rdkafka::client::Client<C>) {
        if let Some(wakeup) = &self.wakeup {
            wakeup.attach(client);
        }
    }

    /// Wait until reports (or other events) are ready to be served, at most `timeout`.
    pub fn wait_for_reports(&self, timeout: std::time::Duration) {
        match &self.wakeup {
            Some(wakeup) => wakeup.wait(timeout),
            None => std::thread::sleep(timeout),
        }
    }

    /// Delivery reports handled so far.
    pub fn reports(&self) -> u64 {
        self.counters.reports.load(Ordering::Relaxed)
    }

    /// Push the reports written so far to stdout (so a pipe sees them live).
    pub fn flush_reports(&self) {
        let mut state = self.state();
        if let Some(out) = state.out.as_mut() {
            if out.flush().is_err() {
                state.out = None;
            }
        }
    }
}

impl AsRef<QuietContext> for DeliveryContext {
    fn as_ref(&self) -> &QuietContext {
        &self.quiet
    }
}

impl ClientContext for DeliveryContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(
        &self,
        oauthbearer_config: Option<&str>,
    ) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
        self.quiet.refresh_oauth_token(oauthbearer_config)
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.quiet.on_log(level, fac, log_message);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        self.quiet.on_error(error, reason);
    }
}

impl ProducerContext for DeliveryContext {
    /// The input line number of the record.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, line: usize) {
        self.counters.reports.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state();
        match result {
            Ok(message) => {
                state.delivered += 1;
                if let Ok(partition) = usize::try_from(message.partition()) {
                    if state.ends.len() <= partition {
                        state.ends.resize(partition + 1, 0);
                    }
                    let end = &mut state.ends[partition];
                    *end = (*end).max(message.offset().saturating_add(1));
                }
                if self.report && state.out.is_some() {
                    let DeliveryState {
                        out,
                        line: buf,
                        held,
                        ..
                    } = &mut *state;
                    buf.clear();
                    buf.extend_from_slice(b"{\"topic\":");
                    buf.extend_from_slice(&self.topic_json);
                    buf.extend_from_slice(b",\"partition\":");
                    write_int(buf, message.partition());
                    buf.extend_from_slice(b",\"offset\":");
                    write_int(buf, message.offset());
                    buf.extend_from_slice(b",\"line\":");
                    write_int(buf, line);
                    buf.extend_from_slice(b"}\n");
                    if self.hold {
                        held.extend_from_slice(buf);
                    } else if out.as_mut().is_some_and(|o| o.write_all(buf).is_err()) {
                        *out = None;
                    }
                }
            }
            Err((err, _)) => {
                state.failed += 1;
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                let too_large =
                    err.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge);
                if too_large {
                    state.too_large += 1;
                }
                if err
                    .rdkafka_error_code()
                    .is_some_and(kcore::failure::is_authorization_code)
                    && state.denied.is_none()
                {
                    state.denied = Some(err.to_string());
                }
                let why = if too_large {
                    "record too large: the brokers refused it (the topic's max.message.bytes)"
                        .to_string()
                } else {
                    format!("not delivered: {err}")
                };
                state.failures.add(line as u64, why);
            }
        }
    }
}

/// What happened to the input, for the final verdict and exit code.
#[derive(Default)]
pub struct Tally {
    /// Records handed to librdkafka.
    pub sent: u64,
    pub delivered: u64,
    /// Delivery reports that came back with an error.
    pub failed: u64,
    /// Of the failed: records the brokers refused as too large, which is bad input.
    pub too_large: u64,
    /// Records librdkafka refused to queue for a reason other than bad input.
    pub refused: u64,
    /// Records still queued when the flush timed out.
    pub still_queued: u64,
    pub bad_lines: u64,
    /// Of the bad lines: records naming a partition the topic does not have.
    pub no_such_partition: u64,
    pub last_line: u64,
    /// Why the cluster's ACLs refused the records (a record's report, or the producer's
    /// fatal error), if they did: then the verdict is exit 10.
    pub denied: Option<String>,
    not_sent: FailureLog,
}

impl Tally {
    pub fn bad_line(&mut self, line: u64, why: &str) {
        self.bad_lines += 1;
        // Copying from a topic with more partitions: said once, with the way out, not
        // once per record.
        if crate::record::is_no_such_partition(why) {
            self.no_such_partition += 1;
            if self.no_such_partition == 1 {
                kcore::report_error(
                    "kprod",
                    &format!(
                        "line {line}: {why} (--ignore-partition partitions by key instead; \
                         further such lines are counted, not shown)"
                    ),
                );
            }
            return;
        }
        if self.bad_lines - self.no_such_partition <= SHOWN_FAILURES {
            kcore::report_error("kprod", &format!("line {line}: {why}"));
        }
    }

    pub fn not_sent(&mut self, line: u64, why: &str) {
        self.refused += 1;
        self.not_sent.add(line, format!("not sent: {why}"));
    }

    /// Take the final counts from the delivery reports, and name every failed line.
    pub fn absorb(&mut self, context: &DeliveryContext) {
        context.flush_reports();
        let mut state = context.state();
        state.failures.report_rest();
        self.not_sent.report_rest();
        self.delivered = state.delivered;
        self.failed = state.failed;
        self.too_large = state.too_large;
        if self.denied.is_none() {
            self.denied = state.denied.clone();
        }
    }

    /// The verdict: Ok only if every line became a delivered record.
    pub fn conclude(&self, interrupted: bool) -> anyhow::Result<()> {
        let lost = self.failed - self.too_large + self.refused + self.still_queued;
        if lost > 0 {
            let mut why = format!(
                "{lost} of {} records not delivered ({} delivered)",
                self.sent + self.refused,
                self.delivered
            );
            if self.still_queued > 0 {
                why.push_str(&format!(
                    "; {} were still queued when the delivery timeout ran out",
                    self.still_queued
                ));
            }
            if let Some(denied) = &self.denied {
                return Err(Failure::not_authorized(format!("{denied}: {why}")).into());
            }
            return Err(Failure::delivery(why).into());
        }
        if interrupted {
            return Err(Failure::interrupted(format!(
                "interrupted after {} records, all delivered; the rest of the input was not read",
                kcore::progress::count(self.delivered)
            ))
            .into());
        }
        match self.bad_lines + self.too_large {
            0 => Ok(()),
            // The one bad line was reported already, in one line: say no more.
            1 => Err(Failure::input("").into()),
            n if self.no_such_partition > 1 => Err(Failure::input(format!(
                "{n} bad input lines ({} records delivered; {} named a partition the topic does not have)",
                self.delivered, self.no_such_partition
            ))
            .into()),
            n => Err(Failure::input(format!(
                "{n} bad input lines ({} records delivered)",
                self.delivered
            ))
            .into()),
        }
    }
}
