//! The result of a command given several groups: each is handled on its own, and the
//! exit code says what kind of failures there were (as ktopic does for topics).
//!
//! One group given: its failure is the error, with its own code. Several: every failure
//! gets its own line on stderr, then one summary line; the code is the failures' common
//! code when they all share one, else 4 ("not everything was done").

use kcore::{ExitCode, Failure};

pub struct Outcome {
    /// What was being done to each group, for the summary: "described", "deleted".
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

    pub fn fail(&mut self, err: anyhow::Error) {
        self.failures.push(err);
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
            .map(kcore::failure::exit_code_for)
            .collect();
        let code = common_code(&codes);
        let summary = format!(
            "{} of {} groups not {}",
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
            kcore::report_error("kgroup", &kcore::failure::one_line(failure));
        }
        Err(Failure::new(code, summary).into())
    }
}

fn common_code(codes: &[ExitCode]) -> ExitCode {
    match codes.split_first() {
        Some((first, rest)) if rest.iter().all(|code| code == first) => *first,
        _ => ExitCode::Delivery,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_kind_of_failure_keeps_its_code() {
        let mut outcome = Outcome::new("deleted", 3);
        outcome.fail(Failure::not_found("unknown group 'a'").into());
        outcome.fail(Failure::not_found("unknown group 'b'").into());
        let err = outcome.finish().unwrap_err();
        assert_eq!(kcore::failure::exit_code_for(&err), ExitCode::NotFound);
        assert_eq!(err.to_string(), "2 of 3 groups not deleted");
    }

    #[test]
    fn mixed_failures_are_exit_4() {
        let mut outcome = Outcome::new("deleted", 2);
        outcome.fail(Failure::not_found("unknown group 'a'").into());
        outcome.fail(Failure::refused("group 'b' is active").into());
        let err = outcome.finish().unwrap_err();
        assert_eq!(kcore::failure::exit_code_for(&err), ExitCode::Delivery);
    }

    #[test]
    fn a_single_group_fails_with_its_own_error() {
        let mut outcome = Outcome::new("deleted", 1);
        outcome.fail(Failure::refused("group 'b' is active").into());
        let err = outcome.finish().unwrap_err();
        assert_eq!(kcore::failure::exit_code_for(&err), ExitCode::Refused);
        assert_eq!(err.to_string(), "group 'b' is active");
    }
}
