//! Cluster metadata with a bounded wait and a clear message when nobody answers.

use anyhow::Result;
use rdkafka::client::Client;
use rdkafka::metadata::Metadata;

use crate::connection::Connection;
use crate::context::QuietContext;
use crate::failure::Failure;

/// Fetch metadata (for one topic, or all), failing with exit code 5 and one line
/// naming the brokers and librdkafka's last complaint when they cannot be reached.
pub fn fetch<C>(client: &Client<C>, conn: &Connection, topic: Option<&str>) -> Result<Metadata>
where
    C: rdkafka::ClientContext + AsRef<QuietContext>,
{
    client.fetch_metadata(topic, conn.timeout).map_err(|err| {
        let quiet: &QuietContext = AsRef::<QuietContext>::as_ref(&**client.context());
        let why = quiet.last_error().unwrap_or_else(|| err.to_string());
        Failure::unreachable(format!(
            "cannot reach the brokers {} (from {}) within {:.0?}: {}",
            conn.brokers, conn.brokers_source, conn.timeout, why
        ))
        .into()
    })
}
