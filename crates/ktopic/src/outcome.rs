//! The result of a command given several topics: each is handled on its own, and
//! the exit code says what kind of failures there were.
//!
//! One topic given: its failure is the error, with its own code. Several: every failure
//! gets its own line on stderr, then one summary line; the code is 6 when all failures
//! are unknown topics, 2 when all are bad values, else 4 ("not everything was done").
//! With a single failure among several topics, its line and the summary are one line.

use kcore::{ExitCode, Failure};

pub struct Outcome {
    /// What was being done to each topic, for the summary: "created", "deleted", ...
    verb: &'static str,
    total: usize,
    failures: Vec<anyhow::Error>,
}

impl Outcome {
    pub fn new(verb: &'static str, total: usize) -> Self {
        Outcome {
            verb,
            total,
            failures: Vec::new(),
        }
    }

    pub fn fail(&mut self, err: impl Into<anyhow::Error>) {
        self.failures.push(err.into());
    }

    /// Ok when nothing failed, else the error that `run_main` prints last.
    pub fn finish(mut self) -> anyhow::Result<()> {
        if self.failures.is_empty() {
            return Ok(());
        }
        if self.total <= 1 && self.failures.len() == 1 {
            return Err(self.failures.remove(0));
        }
        let code = summary_code(
            &self
                .failures
                .iter()
                .map(kcore::failure::exit_code_for)
                .collect::<Vec<_>>(),
        );
        let summary = format!(
            "{} of {} topics not {}",
            self.failures.len(),
            self.total,
            self.verb
        );
        if let [only] = self.failures.as_slice() {
            return Err(Failure::new(
                code,
                format!("{} ({summary})", kcore::failure::one_line(only)),
            )
            .into());
        }
        for failure in &self.failures {
            kcore::report_error("ktopic", &kcore::failure::one_line(failure));
        }
        Err(Failure::new(code, summary).into())
    }
}

fn summary_code(codes: &[ExitCode]) -> ExitCode {
    for specific in [ExitCode::NotFound, ExitCode::Usage] {
        if !codes.is_empty() && codes.iter().all(|code| *code == specific) {
            return specific;
        }
    }
    ExitCode::Delivery
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: anyhow::Result<()>) -> ExitCode {
        kcore::failure::exit_code_for(&result.unwrap_err())
    }

    #[test]
    fn one_topic_keeps_its_own_failure() {
        let mut outcome = Outcome::new("created", 1);
        outcome.fail(anyhow::anyhow!("topic 't' already exists"));
        let err = outcome.finish().unwrap_err();
        assert_eq!(kcore::failure::exit_code_for(&err), ExitCode::Failure);
        assert_eq!(err.to_string(), "topic 't' already exists");
    }

    #[test]
    fn several_topics_summarise() {
        let mut outcome = Outcome::new("deleted", 3);
        outcome.fail(Failure::not_found("unknown topic 'x'"));
        let err = outcome.finish().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown topic 'x' (1 of 3 topics not deleted)"
        );
        assert_eq!(kcore::failure::exit_code_for(&err), ExitCode::NotFound);

        let mut outcome = Outcome::new("deleted", 3);
        outcome.fail(Failure::not_found("unknown topic 'x'"));
        outcome.fail(anyhow::anyhow!("timed out"));
        assert_eq!(code(outcome.finish()), ExitCode::Delivery);

        let mut outcome = Outcome::new("created", 2);
        outcome.fail(Failure::usage("bad config"));
        outcome.fail(Failure::usage("bad config"));
        assert_eq!(code(outcome.finish()), ExitCode::Usage);

        assert!(Outcome::new("created", 2).finish().is_ok());
    }
}
