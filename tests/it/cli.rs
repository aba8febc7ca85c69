//! Integration tests: the command line as data (trycmd).
//!
//! `tests/cmd/help/*.toml`: the help text of every command.
//! `tests/cmd/bad/*.toml`: one bad policy per case (`<case>.yaml`), with the
//! exact diagnostics (message, position, path, hint) and exit code.
//!
//! Re-bless after an intended change of output:
//! `TRYCMD=overwrite cargo test --test it cli::` (then review the diff).

#[test]
fn help_text_of_every_command() {
    trycmd::TestCases::new().case("tests/cmd/help/*.toml");
}

#[test]
fn bad_policies_report_exact_diagnostics() {
    trycmd::TestCases::new().case("tests/cmd/bad/*.toml");
}
