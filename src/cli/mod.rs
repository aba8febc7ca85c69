//! Command-line interface: argument types and dispatch. Each subcommand lives
//! in its own module with an `Args` type and a `run` function.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::{outcome_of, Outcome};
use crate::report::{ColorChoice, Format, Reporter};

pub mod certs;
mod certs_more;
pub mod check;
pub mod init;
pub mod keycloak;
pub mod render;
pub mod schema;
pub mod verify;

/// secctl: one policy file for TLS, headers, CORS, rate limits, WAF, mTLS, Keycloak, Redis ACLs and Compose isolation.
#[derive(Debug, Parser)]
#[command(name = "secctl", version, about, long_about = None, propagate_version = true)]
#[command(after_help = "Exit codes: 0 ok, 1 findings or drift, 2 invalid input or usage, 3 could not evaluate.")]
pub struct Cli {
    /// When to use colour (NO_COLOR is respected).
    #[arg(long, value_enum, global = true, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print only results and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scaffold a project with a commented policy.
    Init(init::Args),
    /// Validate and lint a policy.
    Check(check::Args),
    /// Print the JSON Schema of the policy format.
    Schema(schema::Args),
    /// Run the private service CA.
    #[command(subcommand)]
    Certs(certs::Command),
    /// Generate every config from the policy.
    Render(render::Args),
    /// Converge Keycloak with the policy.
    #[command(subcommand)]
    Keycloak(keycloak::Command),
    /// Probe the running stack: a verdict for every control of the policy.
    Verify(verify::Args),
}

/// The `--policy` flag, shared by every command that reads a policy.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArg {
    /// Policy file.
    #[arg(short = 'p', long = "policy", value_name = "FILE", env = "SECCTL_POLICY", default_value = "secctl.yaml")]
    pub policy: PathBuf,
}

/// The `--format` flag.
#[derive(Debug, Clone, clap::Args)]
pub struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Parses arguments, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { Outcome::Invalid } else { Outcome::Ok };
            let _ = e.print();
            return code.into();
        }
    };
    let format = match &cli.command {
        Command::Check(a) => a.format.format,
        Command::Certs(c) => c.format(),
        Command::Keycloak(c) => c.format(),
        Command::Render(a) => a.format.format,
        Command::Verify(a) => a.format.format,
        _ => Format::Human,
    };
    let reporter = Reporter::new(format, cli.color, cli.quiet);
    let result = match cli.command {
        Command::Init(a) => init::run(a, &reporter),
        Command::Check(a) => check::run(a, &reporter),
        Command::Schema(a) => schema::run(a, &reporter),
        Command::Certs(c) => certs::run(c, &reporter),
        Command::Render(a) => render::run(a, &reporter),
        Command::Keycloak(c) => keycloak::run(c, &reporter),
        Command::Verify(a) => verify::run(a, &reporter),
    };
    match result {
        Ok(outcome) => outcome.into(),
        Err(err) => {
            reporter.error(&err);
            outcome_of(&err).into()
        }
    }
}

/// Loads a policy, reporting load diagnostics. On failure returns exit 2 after printing.
pub fn load_policy(path: &std::path::Path, reporter: &Reporter) -> Result<crate::policy::LoadedPolicy, Outcome> {
    crate::policy::load(path).map_err(|e| {
        reporter.diagnostics(&e.diagnostics, e.source.as_ref().map(|s| s.text.as_str()));
        Outcome::Invalid
    })
}

/// Loads a policy and judges it with `secctl check`, the single judge every command defers to.
/// When it has errors, they are shown with their positions, followed by `refusal` (what the
/// command did not do), and the command must exit 2. Every command that acts on a policy
/// (render, certs, keycloak, verify) goes through here and gets a [`crate::policy::ValidPolicy`].
pub fn load_checked_policy(path: &std::path::Path, reporter: &Reporter, refusal: &str) -> Result<crate::policy::ValidPolicy, Outcome> {
    let loaded = load_policy(path, reporter)?;
    match crate::policy::check::validate(loaded) {
        Ok(valid) => Ok(valid),
        Err(rejected) => {
            reporter.diagnostics(&rejected.diagnostics, Some(&rejected.loaded.source.text));
            reporter.status(format!(
                "{}: {refusal}; fix the errors above (`secctl check -p {}` lists them)",
                rejected.loaded.source.name,
                path.display()
            ));
            Err(Outcome::Invalid)
        }
    }
}
