//! Waiting for delivery reports without waiting out a timeout.
//!
//! rdkafka's `poll` always waits out its whole timeout, and librdkafka's `rd_kafka_flush`
//! waits until every record's report has been *served*, which cannot happen while kprod
//! is blocked in it. Either way a one-record run lost up to 5 ms after its report had
//! arrived. Instead librdkafka is asked to write a byte to a pipe whenever the producer's
//! event queue turns non-empty (`rd_kafka_queue_io_event_enable`), and kprod waits on
//! that pipe: it wakes as soon as a report is there.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use rdkafka::client::Client;

/// The pipe librdkafka signals on. It must outlive the librdkafka handle that writes to
/// it: it lives in the producer's context, which rdkafka drops after the handle.
pub struct ReportWakeup {
    read: OwnedFd,
    write: OwnedFd,
}

impl ReportWakeup {
    /// A new pipe, both ends non-blocking; None if the system has no file descriptors
    /// left (then kprod waits in short slices, as it did before).
    pub fn new() -> Option<Self> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two descriptors that nothing else owns.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return None;
        }
        // SAFETY: both are fresh descriptors owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Some(ReportWakeup { read, write })
    }

    /// Have librdkafka signal this pipe when `client`'s main queue (where the producer's
    /// delivery reports arrive) receives an event.
    pub fn attach<C: rdkafka::ClientContext>(&self, client: &Client<C>) {
        // SAFETY: a live handle; the queue handle is released at once (the setting stays
        // with the queue), and the pipe outlives the handle (see the type's comment).
        unsafe {
            let queue = rdkafka::bindings::rd_kafka_queue_get_main(client.native_ptr());
            if queue.is_null() {
                return;
            }
            rdkafka::bindings::rd_kafka_queue_io_event_enable(
                queue,
                self.write.as_raw_fd(),
                b"r".as_ptr().cast(),
                1,
            );
            rdkafka::bindings::rd_kafka_queue_destroy(queue);
        }
    }

    /// Wait until librdkafka signals (an event is queued, or was since the last poll of
    /// the queue) or `timeout` passes, then empty the pipe.
    pub fn wait(&self, timeout: Duration) {
        let mut pollfd = libc::pollfd {
            fd: self.read.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = timeout.as_millis().clamp(0, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd; EINTR (a signal) just ends the wait early.
        let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
        if ready > 0 {
            let mut sink = [0u8; 64];
            // SAFETY: reads into a local buffer from our own non-blocking pipe.
            while unsafe { libc::read(self.read.as_raw_fd(), sink.as_mut_ptr().cast(), sink.len()) }
                > 0
            {}
        }
    }
}
