//! The result of a command given several things (topics, groups): each is handled on
//! its own, and the exit code says what kind of failures there were.
//!
//! One thing given: its failure is the error, with its own code. Several: every failure
//! gets its own `tool: error:` line on stderr, then one summary line; the code is the
//! failures' own when they all share one (6: every one unknown, 2: every one a bad
//! value), else 4 ("not everything was done"). A single failure among several things
//! and the summary make one line.

use crate::{ExitCode, Failure};

pub struct Outcome {
    tool: &'static str,
    /// What the things are, plural, for the summary: "topics", "groups".
    things: &'static str,
    /// What was being done to each, for the summary: "created", "deleted", ...
    verb: &'static str,
    total: usize,
    failures: Vec<anyhow::Error>,
}

impl Outcome {
    pub fn new(tool: &'static str, things: &'static str, verb: &'static str, total: usize) -> Self {
        Outcome {
            tool,
            things,
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
        let codes: Vec<ExitCode> = self
            .failures
            .iter()
            .map(crate::failure::exit_code_for)
            .collect();
        let code = match codes.split_first() {
            Some((first, rest)) if rest.iter().all(|code| code == first) => *first,
            _ => ExitCode::Delivery,
        };
        let summary = format!(
            "{} of {} {} not {}",
            self.failures.len(),
            self.total,
            self.things,
            self.verb
        );
        if let [only] = self.failures.as_slice() {
            return Err(Failure::new(
                code,
                format!("{} ({summary})", crate::failure::one_line(only)),
            )
            .into());
        }
        for failure in &self.failures {
            crate::report_error(self.tool, &crate::failure::one_line(failure));
        }
        Err(Failure::new(code, summary).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: anyhow::Result<()>) -> ExitCode {
        crate::failure::exit_code_for(&result.unwrap_err())
    }

    #[test]
    fn one_thing_keeps_its_own_failure() {
        let mut outcome = Outcome::new("ktopic", "topics", "created", 1);
        outcome.fail(anyhow::anyhow!("topic 't' already exists"));
        let err = outcome.finish().unwrap_err();
        assert_eq!(crate::failure::exit_code_for(&err), ExitCode::Failure);
        assert_eq!(err.to_string(), "topic 't' already exists");
    }

    #[test]
    fn several_things_summarise_with_their_common_code() {
        let mut outcome = Outcome::new("ktopic", "topics", "deleted", 3);
        outcome.fail(Failure::not_found("unknown topic 'x'"));
        let err = outcome.finish().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown topic 'x' (1 of 3 topics not deleted)"
        );
        assert_eq!(crate::failure::exit_code_for(&err), ExitCode::NotFound);

        let mut outcome = Outcome::new("kgroup", "groups", "deleted", 3);
        outcome.fail(Failure::not_found("unknown group 'a'"));
        outcome.fail(Failure::not_found("unknown group 'b'"));
        let err = outcome.finish().unwrap_err();
        assert_eq!(err.to_string(), "2 of 3 groups not deleted");
        assert_eq!(crate::failure::exit_code_for(&err), ExitCode::NotFound);

        let mut outcome = Outcome::new("ktopic", "topics", "created", 2);
        outcome.fail(Failure::usage("bad config"));
        outcome.fail(Failure::usage("bad config"));
        assert_eq!(code(outcome.finish()), ExitCode::Usage);

        assert!(Outcome::new("ktopic", "topics", "created", 2)
            .finish()
            .is_ok());
    }

    #[test]
    fn mixed_failures_are_exit_4() {
        let mut outcome = Outcome::new("ktopic", "topics", "deleted", 3);
        outcome.fail(Failure::not_found("unknown topic 'x'"));
        outcome.fail(anyhow::anyhow!("timed out"));
        assert_eq!(code(outcome.finish()), ExitCode::Delivery);
    }
}
