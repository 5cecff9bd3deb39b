//! One admin connection for one command of a tool (ktopic, kgroup): the connection
//! settings, an admin client that is never torn down, and the requests made through
//! rdkafka's own admin API (DeleteTopics, CreatePartitions), waited for on this thread.

use std::collections::BTreeMap;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use anyhow::{anyhow, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
use rdkafka::client::Client;
use rdkafka::types::RDKafkaErrorCode;

use crate::{Connection, ConnectionArgs, QuietContext};

/// What rdkafka's admin API answers per topic: the topic, or the topic and its error code.
pub type TopicResult = Result<String, (String, RDKafkaErrorCode)>;

pub struct Session {
    pub connection: Connection,
    /// Never dropped: dropping an AdminClient joins rdkafka's polling thread, which sleeps
    /// in 100 ms polls, and that was most of a `ktopic list`'s run time. A session lives
    /// for one command of a process that exits right after it, with every request
    /// answered, so the operating system reclaims the client.
    admin: ManuallyDrop<AdminClient<QuietContext>>,
}

impl Session {
    /// Connect as `tool`; nothing is asked of the cluster yet.
    pub fn open(args: &ConnectionArgs, tool: &'static str) -> Result<Session> {
        let connection = args.resolve()?;
        let admin = connection.create::<AdminClient<QuietContext>, _>(
            &[],
            QuietContext::new(tool, connection.verbose),
        )?;
        Ok(Session {
            connection,
            admin: ManuallyDrop::new(admin),
        })
    }

    pub fn client(&self) -> &Client<QuietContext> {
        self.admin.inner()
    }

    pub fn timeout(&self) -> Duration {
        self.connection.timeout
    }

    /// Show librdkafka's lines (with -v) that arrived since the last call.
    pub fn serve_events(&self) {
        super::serve_events(self.client(), Duration::ZERO);
    }

    /// Partition ids of every topic, from the metadata: exit 5 with one line when the
    /// brokers cannot be reached within --timeout.
    pub fn topic_partitions(&self) -> Result<BTreeMap<String, Vec<i32>>> {
        let metadata =
            crate::metadata::fetch_serving(self.client(), &self.connection, None, &|| {
                self.serve_events()
            })?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|topic| topic.error().is_none())
            .map(|topic| {
                let mut ids: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
                ids.sort_unstable();
                (topic.name().to_string(), ids)
            })
            .collect())
    }

    /// Delete topics (DeleteTopics): one result per topic.
    pub fn delete_topics(&self, names: &[&str]) -> Result<Vec<TopicResult>> {
        block_on(self.admin.delete_topics(names, &self.options()))
            .map_err(|err| anyhow!("cannot delete topics: {err}"))
    }

    /// Raise `topic`'s partition count to `count` (CreatePartitions).
    pub fn create_partitions(&self, topic: &str, count: usize) -> Result<Vec<TopicResult>> {
        let request = [NewPartitions::new(topic, count)];
        block_on(self.admin.create_partitions(&request, &self.options()))
            .map_err(|err| anyhow!("cannot add partitions to topic '{topic}': {err}"))
    }

    /// Admin requests wait no longer than the connection's --timeout, both for an answer
    /// and for the controller to finish the operation.
    fn options(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.timeout()))
            .operation_timeout(Some(self.timeout()))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The lines of the last request, for -v.
        self.serve_events();
    }
}

/// Drive one of rdkafka's admin futures to completion on this thread. They resolve from
/// rdkafka's own polling thread, which wakes us, so no async runtime is needed; librdkafka
/// fails each request after its request timeout, so this never waits forever.
fn block_on<F: Future>(future: F) -> F::Output {
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

#[cfg(test)]
mod tests {
    use super::*;

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
