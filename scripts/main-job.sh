#!/usr/bin/env bash
# The main job on the bundled reference policy: validate it, issue every
# service's mTLS certificates into pki/ (git-ignored), and render every config
# into generated/ (Redis passwords go to secrets/ next to the policy, git-ignored).
# Needs only a Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
POLICY="${1:-policies/reference.yaml}"
cargo build --quiet --locked
bin=target/debug/secctl
"$bin" check -p "$POLICY"
"$bin" certs issue -p "$POLICY" --pki-dir pki
"$bin" certs verify -p "$POLICY" --pki-dir pki
"$bin" certs list -p "$POLICY" --pki-dir pki
"$bin" render -p "$POLICY" --out generated
