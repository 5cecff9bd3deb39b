//! Errors that carry an exit code, and the one table that maps them.
//!
//! Every tool returns `anyhow::Result`. Where a failure has a meaning a script
//! may want to branch on, the code wraps it in a [`Failure`] somewhere in the
//! cause chain; [`exit_code_for`] finds the outermost one. Anything else exits 1.
//! The numbers are a public contract, listed in README.md ("Exit codes").

use std::fmt;

use rdkafka::error::RDKafkaErrorCode;

/// The documented exit codes of every kpipes tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything asked for was done.
    Success = 0,
    /// An unexpected failure (I/O, a broker error without a more specific code).
    Failure = 1,
    /// Bad command line: unknown flag, malformed `-X`, bad broker address. clap uses 2 too.
    Usage = 2,
    /// Bad input data (a line of stdin). Valid records before and around it were still delivered.
    Input = 3,
    /// Some records were not delivered (or not all topics were handled); the count is on stderr.
    Delivery = 4,
    /// The brokers could not be reached within the timeout, or their TLS handshake failed
    /// (a CA that does not match).
    Unreachable = 5,
    /// A named topic (or cluster, broker, group) does not exist.
    NotFound = 6,
    /// The cluster is not healthy: a broker is down, or did not become ready in time.
    Unhealthy = 7,
    /// Something the tool needs is missing on this machine (Java, a Kafka distribution, Docker,
    /// a free port for a node).
    Environment = 8,
    /// The cluster refuses the change in the state it is in now: a consumer group still
    /// has active members (stop its consumers first).
    Refused = 9,
    /// The cluster's ACLs do not allow this client to do it, or the brokers refused its
    /// credentials (SASL authentication failed).
    NotAuthorized = 10,
    /// A batch of records could not be decompressed or parsed (corrupt on disk, or in a
    /// format this build does not know); everything before it was written out (and with
    /// `kcons -g`, committed).
    Undecodable = 11,
    /// Interrupted by SIGINT/SIGTERM before the work was complete (what was done is flushed).
    Interrupted = 130,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// Every code, in order, for the man pages' EXIT STATUS.
    pub const ALL: [ExitCode; 13] = [
        ExitCode::Success,
        ExitCode::Failure,
        ExitCode::Usage,
        ExitCode::Input,
        ExitCode::Delivery,
        ExitCode::Unreachable,
        ExitCode::NotFound,
        ExitCode::Unhealthy,
        ExitCode::Environment,
        ExitCode::Refused,
        ExitCode::NotAuthorized,
        ExitCode::Undecodable,
        ExitCode::Interrupted,
    ];

    /// What the code means, in one line (README.md's "Exit codes" says more).
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Success => "success (also when stdout is closed early, as by head)",
            ExitCode::Failure => "an unexpected failure",
            ExitCode::Usage => {
                "bad command line: unknown flag, malformed -X, bad broker address or value"
            }
            ExitCode::Input => {
                "bad input data (a line of stdin); the valid records were still delivered"
            }
            ExitCode::Delivery => "not everything was delivered or done (the count is on stderr)",
            ExitCode::Unreachable => {
                "the brokers (or the schema registry) could not be reached in time, or TLS failed"
            }
            ExitCode::NotFound => "not found: unknown topic, group, cluster or broker",
            ExitCode::Unhealthy => {
                "the cluster is unhealthy: a broker is down or not ready in time"
            }
            ExitCode::Environment => {
                "something needed is missing on this machine (Java, Kafka, Docker, a free port)"
            }
            ExitCode::Refused => {
                "refused in the cluster's present state: the group has active members"
            }
            ExitCode::NotAuthorized => {
                "not authorized: the ACLs refuse the request, or the credentials were refused"
            }
            ExitCode::Undecodable => {
                "kcons: a batch of records could not be decompressed or parsed"
            }
            ExitCode::Interrupted => {
                "interrupted (SIGINT/SIGTERM); what was done was flushed first"
            }
        }
    }
}

/// A failure with a meaning. The message is the whole error line after `tool: error: `.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub message: String,
}

impl Failure {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Usage, message)
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Input, message)
    }
    pub fn delivery(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Delivery, message)
    }
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Unreachable, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ExitCode::NotFound, message)
    }
    pub fn unhealthy(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Unhealthy, message)
    }
    pub fn environment(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Environment, message)
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Refused, message)
    }
    pub fn not_authorized(message: impl Into<String>) -> Self {
        Self::new(ExitCode::NotAuthorized, message)
    }
    /// A refusal by the cluster's ACLs, in the one wording every tool uses (exit 10):
    /// `DOING: not authorized by the cluster's ACLs (WHY)`, DOING as `cannot delete topic 't'`.
    pub fn denied(doing: impl fmt::Display, why: impl fmt::Display) -> Self {
        Self::not_authorized(format!(
            "{doing}: not authorized by the cluster's ACLs ({why})"
        ))
    }
    pub fn undecodable(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Undecodable, message)
    }
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Interrupted, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// True for the broker error codes by which the cluster's ACLs refuse a request.
pub fn is_authorization_code(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::GroupAuthorizationFailed
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed
            | RDKafkaErrorCode::TransactionalIdAuthorizationFailed
            | RDKafkaErrorCode::DelegationTokenAuthorizationFailed
    )
}

/// The exit code for an error: the outermost [`Failure`] in its chain; else 10 for a
/// librdkafka error by which the ACLs refused (one no tool worded itself); else 1.
pub fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    // `downcast_ref` on the anyhow error also sees a Failure given as `.context(..)`,
    // which the plain `dyn Error` chain cannot.
    let refused = |cause: &(dyn std::error::Error + 'static)| {
        cause
            .downcast_ref::<rdkafka::error::KafkaError>()
            .and_then(|e| e.rdkafka_error_code())
            .or_else(|| cause.downcast_ref::<RDKafkaErrorCode>().copied())
            .is_some_and(is_authorization_code)
    };
    err.downcast_ref::<Failure>()
        .or_else(|| {
            err.chain()
                .find_map(|cause| cause.downcast_ref::<Failure>())
        })
        .map(|failure| failure.code)
        .unwrap_or_else(|| {
            if err.chain().any(refused) {
                ExitCode::NotAuthorized
            } else {
                ExitCode::Failure
            }
        })
}

/// True when the error is (caused by) writing to a closed pipe, e.g. `kcons t | head -1`.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The cause chain on one line, `outer: inner: innermost`, with repeated parts dropped
/// (rdkafka errors often repeat their inner message in their own text). Only the first
/// line of each cause is taken; the others are its [`details`].
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let text = first_line(&text);
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line
}

/// The lines after the first of each cause (a log's cause line, a path), in order:
/// detail that belongs under the error line rather than inside it.
pub fn details(err: &anyhow::Error) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        for detail in text.trim().lines().skip(1) {
            let detail = detail.trim_end();
            if !detail.trim().is_empty() && !lines.iter().any(|l| l == detail) {
                lines.push(detail.to_string());
            }
        }
    }
    lines
}

fn first_line(text: &str) -> &str {
    text.trim().lines().next().unwrap_or("").trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn outermost_failure_decides_the_code() {
        let err = anyhow::Error::new(Failure::not_found("no topic t"))
            .context(Failure::delivery("2 records not delivered"));
        assert_eq!(exit_code_for(&err), ExitCode::Delivery);
    }

    #[test]
    fn refusals_have_one_wording_and_exit_ten() {
        let denied = Failure::denied(
            "cannot delete topic 't'",
            "Broker: Topic authorization failed",
        );
        assert_eq!(denied.code, ExitCode::NotAuthorized);
        assert_eq!(
            denied.to_string(),
            "cannot delete topic 't': not authorized by the cluster's ACLs (Broker: Topic authorization failed)"
        );
        // A librdkafka refusal no tool worded itself still exits 10.
        let err = anyhow::Error::new(rdkafka::error::KafkaError::ConsumerCommit(
            RDKafkaErrorCode::GroupAuthorizationFailed,
        ))
        .context("committing");
        assert_eq!(exit_code_for(&err), ExitCode::NotAuthorized);
    }

    #[test]
    fn plain_errors_exit_one() {
        let err = anyhow::anyhow!("boom");
        assert_eq!(exit_code_for(&err), ExitCode::Failure);
    }

    #[test]
    fn broken_pipe_is_found_under_context() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let err = Err::<(), _>(io).context("writing stdout").unwrap_err();
        assert!(is_broken_pipe(&err));
    }

    #[test]
    fn one_line_joins_causes_and_drops_repeats() {
        let err = anyhow::anyhow!("inner")
            .context("outer: inner")
            .context("top");
        assert_eq!(one_line(&err), "top: outer: inner");
    }

    #[test]
    fn detail_lines_stay_out_of_the_error_line() {
        let err = anyhow::anyhow!("broker 2 exited\ncannot bind localhost:39092\nlog: /x")
            .context("starting the cluster");
        assert_eq!(one_line(&err), "starting the cluster: broker 2 exited");
        assert_eq!(details(&err), ["cannot bind localhost:39092", "log: /x"]);
    }
}
