//! Fuzzes the whole loading path on arbitrary bytes: UTF-8 check, YAML tree,
//! schema validation, serde, then (when it loads) every semantic check and both
//! renderers. None of it may panic, loop or blow the stack.

#![no_main]

use libfuzzer_sys::fuzz_target;
use secctl::policy::{check, load, LoadedPolicy};

fuzz_target!(|data: &[u8]| {
    let diags = match load::parse_bytes("fuzz.yaml", data) {
        Ok((policy, source)) => {
            let loaded = LoadedPolicy { policy, source, base_dir: Default::default() };
            let d = check::check(&loaded);
            render(&d, Some(&loaded.source.text));
            return;
        }
        Err(e) => e,
    };
    render(&diags.diagnostics, diags.source.as_ref().map(|s| s.text.as_str()));
});

fn render(diags: &[secctl::diag::Diagnostic], text: Option<&str>) {
    let mut out = Vec::new();
    let _ = secctl::diag::render_human(&mut out, false, diags, text);
    let _ = secctl::diag::render_json(&mut out, diags);
}
