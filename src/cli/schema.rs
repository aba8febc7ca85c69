//! `secctl schema`: print the JSON Schema of the policy format.

use anyhow::Result;

use crate::exit::Outcome;
use crate::report::Reporter;

/// Arguments of `secctl schema`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Editors use it for completion and validation: add\n  # yaml-language-server: $schema=<path or URL of policy.schema.json>\nat the top of the policy. The schema of this version is docs/policy.schema.json.")]
pub struct Args {
    /// Print the key reference as Markdown instead (docs/policy.md embeds it).
    #[arg(long)]
    markdown: bool,
}

/// Runs `secctl schema`: the schema goes to stdout.
pub fn run(args: Args, reporter: &Reporter) -> Result<Outcome> {
    if args.markdown {
        reporter.raw(crate::policy::schema::markdown_reference());
    } else {
        reporter.raw(crate::policy::schema::policy_schema_text());
    }
    Ok(Outcome::Ok)
}
