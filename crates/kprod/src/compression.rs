//! kprod's own default compression follows the data: lz4 unless the first input shows
//! that lz4 would not shrink it.
//!
//! lz4 costs the producer little CPU and, on text that compresses (logs, JSON), buys
//! smaller batches for the brokers to write and replicate. On data it cannot shrink
//! (random, encrypted or already compressed bytes) it buys nothing and costs the CPU
//! (README, kprod, "Performance"). So before the first record is queued, kprod compresses
//! a sample of its first input with lz4; if that saves under a tenth, the topic's records
//! go uncompressed. A codec the user chose (`-X compression.type=...`) is always kept.

use std::ffi::{c_char, CStr, CString};

use anyhow::{bail, Result};
use rdkafka::bindings as rd;
use rdkafka::client::Client;

/// How much of the first input is compressed to decide.
const SAMPLE_BYTES: usize = 64 * 1024;
/// Less input than this says too little: lz4 stays (it costs nothing on so little).
const LEAST_SAMPLE_BYTES: usize = 4 * 1024;

/// Whether lz4 is worth its CPU on input like `first_input`: true unless it saves under a
/// tenth of a sample of at least [`LEAST_SAMPLE_BYTES`].
pub fn lz4_pays(first_input: &[u8]) -> bool {
    let sample = &first_input[..first_input.len().min(SAMPLE_BYTES)];
    if sample.len() < LEAST_SAMPLE_BYTES {
        return true;
    }
    let compressed = lz4_flex::block::compress(sample).len();
    compressed * 10 < sample.len() * 9
}

/// A topic handle of the producer's with records sent uncompressed. librdkafka keeps one
/// handle per topic name and gives it to every record sent there, so one made before
/// the first record decides that topic's codec for the whole run. Dropped before the
/// producer (it is declared before it in [`crate::producer::Sender`]).
pub struct Uncompressed(*mut rd::rd_kafka_topic_t);

// SAFETY: a librdkafka topic handle may be used and destroyed from any thread; kprod
// only holds it, and releases it once.
unsafe impl Send for Uncompressed {}
// SAFETY: as above; shared, it is never used at all.
unsafe impl Sync for Uncompressed {}

impl Uncompressed {
    /// Make `topic`'s handle on `client`, with the producer's topic settings and no
    /// compression. Must come before the first record sent to `topic`: a handle that
    /// exists already keeps its settings.
    pub fn pin<C: rdkafka::ClientContext>(client: &Client<C>, topic: &str) -> Result<Self> {
        let rk = client.native_ptr();
        let name = CString::new(topic)?;
        // The producer's own topic settings (acks, message.timeout.ms, partitioner...),
        // with the codec changed.
        // SAFETY: a live client handle; the copy is ours until handed to topic_new.
        let conf = unsafe { rd::rd_kafka_default_topic_conf_dup(rk) };
        if conf.is_null() {
            bail!("librdkafka gave no topic settings to copy");
        }
        let mut errstr = [0 as c_char; 256];
        // SAFETY: a live conf, NUL-terminated strings and a buffer of the stated size.
        let set = unsafe {
            rd::rd_kafka_topic_conf_set(
                conf,
                c"compression.codec".as_ptr(),
                c"none".as_ptr(),
                errstr.as_mut_ptr(),
                errstr.len(),
            )
        };
        if set != rd::rd_kafka_conf_res_t::RD_KAFKA_CONF_OK {
            // SAFETY: still ours: topic_new never saw it.
            unsafe { rd::rd_kafka_topic_conf_destroy(conf) };
            // SAFETY: librdkafka wrote a NUL-terminated message into the buffer.
            let why = unsafe { CStr::from_ptr(errstr.as_ptr()) };
            bail!("setting no compression: {}", why.to_string_lossy());
        }
        // SAFETY: a live client; librdkafka takes the conf, whatever the outcome.
        let topic_handle = unsafe { rd::rd_kafka_topic_new(rk, name.as_ptr(), conf) };
        if topic_handle.is_null() {
            // SAFETY: plain error lookups.
            let why = unsafe { CStr::from_ptr(rd::rd_kafka_err2str(rd::rd_kafka_last_error())) };
            bail!("making the topic handle: {}", why.to_string_lossy());
        }
        Ok(Uncompressed(topic_handle))
    }
}

impl Drop for Uncompressed {
    fn drop(&mut self) {
        // SAFETY: a handle of ours, released once.
        unsafe { rd::rd_kafka_topic_destroy(self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lz4_stays_on_text_and_on_too_little_input() {
        let text: Vec<u8> = (0..2000)
            .flat_map(|i| format!("{{\"id\":{i},\"event\":\"page view\"}}\n").into_bytes())
            .collect();
        assert!(lz4_pays(&text));
        let mut random = vec![0u8; LEAST_SAMPLE_BYTES - 1];
        getrandom::fill(&mut random).unwrap();
        assert!(lz4_pays(&random), "too little to tell");
    }

    #[test]
    fn lz4_goes_on_random_bytes_and_their_base64() {
        let mut random = vec![0u8; 100_000];
        getrandom::fill(&mut random).unwrap();
        assert!(!lz4_pays(&random));
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(&random);
        assert!(!lz4_pays(text.as_bytes()));
    }
}
