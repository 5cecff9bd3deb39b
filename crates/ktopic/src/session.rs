//! One admin connection to the cluster, and what every admin command needs from it.

use std::collections::BTreeMap;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use rdkafka::admin::{AdminClient, AdminOptions, ConfigEntry, ConfigSource, ResourceSpecifier};
use rdkafka::client::Client;
use rdkafka::consumer::{BaseConsumer, Consumer};

use kcore::{Connection, ConnectionArgs, Failure, QuietContext};

use crate::snapshot::Snapshot;

/// Pause between two metadata polls while waiting for a change to show.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

pub struct Session {
    pub connection: Connection,
    /// Never dropped: dropping an AdminClient joins rdkafka's polling thread, which sleeps
    /// in 100 ms polls, and that was most of a `ktopic list`'s run time. A session lives
    /// for one command of a process that exits right after it, with every request
    /// answered, so the operating system reclaims the client.
    pub admin: ManuallyDrop<AdminClient<QuietContext>>,
}

impl Session {
    pub fn open(args: &ConnectionArgs) -> Result<Session> {
        let connection = args.resolve()?;
        let admin = connection.create::<AdminClient<QuietContext>, _>(
            &[],
            QuietContext::new("ktopic", connection.verbose),
        )?;
        Ok(Session {
            connection,
            admin: ManuallyDrop::new(admin),
        })
    }

    /// Show librdkafka's lines (with -v) that arrived since the last call.
    pub fn serve_events(&self) {
        kcore::admin::serve_events(self.client(), Duration::ZERO);
    }

    pub fn client(&self) -> &Client<QuietContext> {
        self.admin.inner()
    }

    pub fn timeout(&self) -> Duration {
        self.connection.timeout
    }

    /// Every broker and topic; exit 5 with one line when the brokers cannot be reached.
    pub fn snapshot(&self) -> Result<Snapshot> {
        Snapshot::fetch(self.client(), &self.connection)
    }

    /// Admin requests wait no longer than the connection's --timeout, both for an answer
    /// and for the controller to finish the operation.
    pub fn options(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.timeout()))
            .operation_timeout(Some(self.timeout()))
    }

    /// Poll the metadata until `done` holds in every broker's answer, or `deadline`
    /// passes; the last snapshot either way, and whether `done` held, so callers can
    /// report what is missing.
    ///
    /// Every broker, not only the one this session talks to: each learns of a change
    /// from the controller at its own pace, and the next command (`ktopic create t &&
    /// kprod t`) may ask any of them.
    pub fn wait_for(
        &self,
        deadline: Instant,
        mut done: impl FnMut(&Snapshot) -> bool,
    ) -> Result<(Snapshot, bool)> {
        let snapshot = match poll_until(deadline, &mut done, || self.snapshot())? {
            (snapshot, true) => snapshot,
            not_yet => return Ok(not_yet),
        };
        // librdkafka, not us, picks the broker that answers (it may move a request off
        // the bootstrap connection it was sent on), so ask through a client bootstrapped
        // at each unconfirmed broker in turn and count each answer for whoever gave it.
        // Each broker's last answer that lacked the change, if any.
        let mut unconfirmed: BTreeMap<i32, Option<Snapshot>> = snapshot
            .addresses
            .keys()
            .filter(|id| **id != snapshot.answered_by)
            .map(|id| (*id, None))
            .collect();
        while !unconfirmed.is_empty() && Instant::now() < deadline {
            let ids: Vec<i32> = unconfirmed.keys().copied().collect();
            for id in ids {
                let Some(answer) = self.ask(&snapshot.addresses[&id], deadline) else {
                    // Not reachable from here (an address only the brokers' own network
                    // knows): no command run here can ask it either.
                    unconfirmed.remove(&id);
                    continue;
                };
                // -1: the bootstrap connection answered, which is the broker asked.
                let by = match answer.answered_by {
                    -1 => id,
                    by => by,
                };
                if done(&answer) {
                    unconfirmed.remove(&by);
                } else if let Some(last) = unconfirmed.get_mut(&by) {
                    *last = Some(answer);
                }
            }
            if !unconfirmed.is_empty() {
                std::thread::sleep(POLL_INTERVAL);
            }
        }
        // Brokers that never got to answer are given the benefit of the doubt; one that
        // answered without the change until the deadline is reported as it sees things.
        match unconfirmed.into_values().flatten().next() {
            Some(lagging) => Ok((lagging, false)),
            None => Ok((snapshot, true)),
        }
    }

    /// The metadata through a client bootstrapped at `address` alone; `None` if it does
    /// not answer within a couple of seconds (or before `deadline`).
    fn ask(&self, address: &str, deadline: Instant) -> Option<Snapshot> {
        let connection = Connection {
            brokers: address.to_string(),
            brokers_source: "the cluster's metadata",
            timeout: deadline
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(500), Duration::from_secs(2)),
            ..self.connection.clone()
        };
        let consumer = connection
            .create::<BaseConsumer<QuietContext>, _>(
                &[],
                QuietContext::new("ktopic", connection.verbose),
            )
            .ok()?;
        Snapshot::fetch(consumer.client(), &connection).ok()
    }

    /// Every config entry of each topic, sorted by key.
    pub fn topic_configs(&self, topics: &[&str]) -> Result<BTreeMap<String, Vec<ConfigEntry>>> {
        if topics.is_empty() {
            return Ok(BTreeMap::new());
        }
        let specifiers: Vec<ResourceSpecifier> =
            topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
        let results = block_on(self.admin.describe_configs(&specifiers, &self.options()))
            .map_err(|err| anyhow!("cannot read topic configs: {err}"))?;
        let mut configs = BTreeMap::new();
        for (topic, result) in topics.iter().zip(results) {
            let mut resource = result.map_err(|code| describe_failure(topic, code))?;
            resource.entries.sort_by(|a, b| a.name.cmp(&b.name));
            configs.insert(topic.to_string(), resource.entries);
        }
        Ok(configs)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The lines of the last request, for -v.
        self.serve_events();
    }
}

/// Take snapshots with `fetch` until `done` holds or `deadline` passes.
fn poll_until(
    deadline: Instant,
    done: &mut impl FnMut(&Snapshot) -> bool,
    mut fetch: impl FnMut() -> Result<Snapshot>,
) -> Result<(Snapshot, bool)> {
    loop {
        let snapshot = fetch()?;
        if done(&snapshot) {
            return Ok((snapshot, true));
        }
        if Instant::now() >= deadline {
            return Ok((snapshot, false));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn describe_failure(topic: &str, code: rdkafka::types::RDKafkaErrorCode) -> anyhow::Error {
    use rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition;
    if code == UnknownTopicOrPartition {
        Failure::not_found(format!("unknown topic '{topic}'")).into()
    } else {
        anyhow!("cannot read the config of topic '{topic}': {code}")
    }
}

/// The entries set on the topic itself, not inherited from the brokers' defaults.
pub fn is_override(entry: &ConfigEntry) -> bool {
    entry.source == ConfigSource::DynamicTopic
}

/// A config entry's value as printed: null when the brokers hide it (sensitive) or have none.
pub fn shown_value(entry: &ConfigEntry) -> serde_json::Value {
    match &entry.value {
        Some(value) if !entry.is_sensitive => serde_json::Value::String(value.clone()),
        _ => serde_json::Value::Null,
    }
}

/// Drive one of rdkafka's admin futures to completion on this thread. They resolve from
/// rdkafka's own polling thread, which wakes us, so no async runtime is needed; librdkafka
/// fails each request after its request timeout, so this never waits forever.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// Split `key=value` (a `-c` or `--set` argument).
pub fn parse_key_value(raw: &str, flag: &str) -> Result<(String, String)> {
    match raw.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(Failure::usage(format!("bad {flag} '{raw}': expected key=value")).into()),
    }
}

/// Names in the order given, each once.
pub fn unique(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values() {
        assert_eq!(
            parse_key_value("retention.ms=1", "-c").unwrap(),
            ("retention.ms".into(), "1".into())
        );
        assert_eq!(
            parse_key_value("a=b=c", "-c").unwrap(),
            ("a".into(), "b=c".into())
        );
        assert_eq!(
            parse_key_value("a=", "-c").unwrap(),
            ("a".into(), String::new())
        );
        let err = parse_key_value("retention.ms", "--set").unwrap_err();
        assert_eq!(kcore::failure::exit_code_for(&err), kcore::ExitCode::Usage);
        assert!(
            err.to_string().contains("bad --set 'retention.ms'"),
            "{err}"
        );
        assert!(parse_key_value("=1", "-c").is_err());
    }

    #[test]
    fn unique_keeps_first_order() {
        let names = unique(["b", "a", "b", "c", "a"].map(String::from));
        assert_eq!(names, ["b", "a", "c"]);
    }

    #[test]
    fn block_on_waits_for_another_thread() {
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&ready);
        let waiter = std::thread::spawn(move || {
            let waker = rx.recv().unwrap();
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            waker.wake();
        });
        let mut sent = false;
        let value = block_on(std::future::poll_fn(|cx| {
            if ready.load(std::sync::atomic::Ordering::SeqCst) {
                return Poll::Ready(42);
            }
            if !sent {
                tx.send(cx.waker().clone()).unwrap();
                sent = true;
            }
            Poll::Pending
        }));
        assert_eq!(value, 42);
        waiter.join().unwrap();
    }
}
