//! Waiting for a condition.

use crate::*;

/// Poll `check` (every 250 ms) until it returns `Some`, or panic with `what` after
/// `timeout`. The way to wait for anything: never sleep a fixed time instead.
pub fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Run the command `command` builds until it succeeds, and keep that run; after `timeout`
/// panic with the last failed run's output, which says why it never succeeded.
/// For a step that may fail while the cluster settles (a quorum re-electing, a broker
/// rejoining), but must not fail for good.
pub fn eventually_succeeds(
    what: &str,
    timeout: Duration,
    mut command: impl FnMut() -> assert_cmd::Command,
) -> Ran {
    let deadline = Instant::now() + timeout;
    loop {
        let ran = run(&mut command());
        if ran.output.status.success() {
            return ran;
        }
        if Instant::now() > deadline {
            panic!(
                "{}",
                ran.explain(&format!("timed out after {timeout:?} waiting for: {what}"))
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
