//! The exit-code contract, shared by every command.

use std::process::ExitCode;

/// What a command concluded. The numeric values are secctl's public contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 0: everything is fine.
    Ok = 0,
    /// 1: findings, drift or pending changes.
    Findings = 1,
    /// 2: invalid input or usage.
    Invalid = 2,
    /// 3: could not evaluate (a server was unreachable, a tool failed). Never a pass.
    CouldNotEvaluate = 3,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        ExitCode::from(o as u8)
    }
}

/// An error that carries the exit code it must produce. Commands return
/// `anyhow::Error`; wrapping it in this type picks the code. Server and tool
/// failures must use [`Fail::unevaluated`] so they never look like bad input.
#[derive(Debug, thiserror::Error)]
#[error("{error:#}")]
pub struct Fail {
    /// The exit code.
    pub outcome: Outcome,
    /// What went wrong (displayed in full, with its causes).
    pub error: anyhow::Error,
}

impl Fail {
    /// Invalid input or usage (exit 2).
    pub fn invalid(source: impl Into<anyhow::Error>) -> anyhow::Error {
        anyhow::Error::new(Fail { outcome: Outcome::Invalid, error: source.into() })
    }
    /// Could not evaluate (exit 3).
    pub fn unevaluated(source: impl Into<anyhow::Error>) -> anyhow::Error {
        anyhow::Error::new(Fail { outcome: Outcome::CouldNotEvaluate, error: source.into() })
    }
}

/// The exit code for an error: the one a [`Fail`] carries, else 2 (an unclassified
/// failure is treated as unusable input, never as success).
pub fn outcome_of(err: &anyhow::Error) -> Outcome {
    err.chain().find_map(|e| e.downcast_ref::<Fail>()).map(|f| f.outcome).unwrap_or(Outcome::Invalid)
}
