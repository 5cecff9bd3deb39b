//! Records to stdout, in batches, with the offsets of each batch stored for commit
//! only after the batch was written: a crash can repeat records, never skip them.

use std::io::Write;

use anyhow::{Context, Result};
use kcore::record::{write_record, write_record_head, write_record_tail, write_str};
use kcore::schema_registry::{Decoder, Part};
use kcore::QuietContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

pub struct RecordWriter {
    buf: Vec<u8>,
    values_only: bool,
    store_offsets: bool,
    /// Each topic's name as a JSON string, encoded once.
    topics_json: Vec<(String, Vec<u8>)>,
    /// Next offset to commit per (topic index, partition), for records in `buf`.
    pending: Vec<(usize, i32, i64)>,
    records: u64,
    /// Bytes written to stdout so far.
    written: u64,
    /// With a schema registry: decodes keys and values in its wire format.
    decoder: Option<Decoder>,
    /// Per topic: whether the registry has its key and value subjects (a record that is not
    /// in the wire format then gets a reason).
    expected: Vec<(bool, bool)>,
}

impl RecordWriter {
    pub fn new(
        topics: &[String],
        values_only: bool,
        store_offsets: bool,
        decoder: Option<Decoder>,
    ) -> Self {
        let expected = topics
            .iter()
            .map(|t| match &decoder {
                Some(d) => (d.has_subject(t, Part::Key), d.has_subject(t, Part::Value)),
                None => (false, false),
            })
            .collect();
        let topics_json = topics
            .iter()
            .map(|t| {
                let mut json = Vec::new();
                write_str(&mut json, t);
                (t.clone(), json)
            })
            .collect();
        RecordWriter {
            buf: Vec::with_capacity(512 * 1024),
            values_only,
            store_offsets,
            topics_json,
            pending: Vec::new(),
            records: 0,
            written: 0,
            decoder,
            expected,
        }
    }

    /// Records appended so far (written out or about to be).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes written to stdout so far.
    pub fn written_bytes(&self) -> u64 {
        self.written
    }

    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Add one record to the batch. Fails only when a schema registry cannot be asked
    /// (the record is then not written, and nothing after it).
    pub fn append(&mut self, message: &BorrowedMessage<'_>) -> Result<()> {
        let topic_index = self.topic_index(message.topic());
        let at = || {
            format!(
                "{}/{}@{}",
                message.topic(),
                message.partition(),
                message.offset()
            )
        };
        match (&mut self.decoder, self.values_only) {
            (None, true) => {
                self.buf
                    .extend_from_slice(message.payload().unwrap_or_default());
                self.buf.push(b'\n');
            }
            (Some(decoder), true) => {
                if let Some(payload) = message.payload() {
                    decoder.write_value_only(
                        &mut self.buf,
                        payload,
                        self.expected[topic_index].1,
                        at,
                    )?;
                }
                self.buf.push(b'\n');
            }
            (None, false) => {
                let headers = message.headers();
                let header_iter = headers
                    .into_iter()
                    .flat_map(|h| h.iter())
                    .map(|h| (h.key, h.value));
                write_record(
                    &mut self.buf,
                    &self.topics_json[topic_index].1,
                    message.partition(),
                    message.offset(),
                    message.timestamp().to_millis(),
                    message.key(),
                    message.payload(),
                    header_iter,
                );
            }
            (Some(decoder), false) => {
                let start = self.buf.len();
                let (key_expected, value_expected) = self.expected[topic_index];
                write_record_head(
                    &mut self.buf,
                    &self.topics_json[topic_index].1,
                    message.partition(),
                    message.offset(),
                    message.timestamp().to_millis(),
                );
                let decoded = decoder
                    .write_part(&mut self.buf, Part::Key, message.key(), key_expected, at)
                    .and_then(|()| {
                        self.buf.push(b',');
                        decoder.write_part(
                            &mut self.buf,
                            Part::Value,
                            message.payload(),
                            value_expected,
                            at,
                        )
                    });
                if let Err(err) = decoded {
                    self.buf.truncate(start);
                    return Err(err);
                }
                self.buf.push(b',');
                let headers = message.headers();
                let header_iter = headers
                    .into_iter()
                    .flat_map(|h| h.iter())
                    .map(|h| (h.key, h.value));
                write_record_tail(&mut self.buf, header_iter);
            }
        }
        self.records += 1;
        if self.store_offsets {
            let next = message.offset() + 1;
            match self
                .pending
                .iter_mut()
                .find(|(t, p, _)| *t == topic_index && *p == message.partition())
            {
                Some(entry) => entry.2 = next,
                None => self.pending.push((topic_index, message.partition(), next)),
            }
        }
        Ok(())
    }

    /// The topic's place in `topics_json`; a topic first seen now (a pattern subscription
    /// picked it up) is added.
    fn topic_index(&mut self, topic: &str) -> usize {
        if let Some(index) = self.topics_json.iter().position(|(t, _)| t == topic) {
            return index;
        }
        let mut json = Vec::new();
        write_str(&mut json, topic);
        self.topics_json.push((topic.to_string(), json));
        self.expected.push(match &self.decoder {
            Some(d) => (
                d.has_subject(topic, Part::Key),
                d.has_subject(topic, Part::Value),
            ),
            None => (false, false),
        });
        self.topics_json.len() - 1
    }

    /// Say on stderr how many keys and values could not be decoded, if any.
    pub fn report(&self) {
        if let Some(decoder) = &self.decoder {
            decoder.report("kcons");
        }
    }

    /// Write the batch to stdout, then store its offsets for the next commit.
    pub fn flush(&mut self, consumer: &BaseConsumer<QuietContext>) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        out.write_all(&self.buf).context("writing stdout")?;
        out.flush().context("writing stdout")?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        if !self.pending.is_empty() {
            let mut tpl = TopicPartitionList::with_capacity(self.pending.len());
            for (topic_index, partition, next) in self.pending.drain(..) {
                let _ = tpl.add_partition_offset(
                    &self.topics_json[topic_index].0,
                    partition,
                    Offset::Offset(next),
                );
            }
            // Fails only for partitions revoked meanwhile; their new owner re-reads them.
            if let Err(err) = consumer.store_offsets(&tpl) {
                consumer.context().on_error(err, "");
            }
        }
        Ok(())
    }
}
