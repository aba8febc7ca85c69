//! The rendered kit settings (`kit/<service>.json`) and the `backend/secctl_security.py` shim,
//! loaded by the real Python kit (python/secctl_fastapi) in the test venv. The kit's behaviour
//! (tokens, roles, tenants, limits, mTLS) is proven by its own pytest suite, which scripts/test.sh
//! runs after the cargo tests; this test proves the two sides agree on the format for the local
//! stack policy, and that the kit refuses a file meant for another service.

use std::path::Path;
use std::process::Command;

use super::support::*;

const CHECK: &str = r#"
import sys
from secctl_fastapi import SettingsError, load_settings
out = sys.argv[1]
b = load_settings(f"{out}/kit/backend.json", service="backend")
a = load_settings(f"{out}/kit/ai.json", service="ai")
assert [r.path for r in b.routes] == ["/api/", "/api/admin/", "/healthz", "/internal/"], b.routes
assert [r.path for r in a.routes] == ["/ai/"] and a.routes[0].rate_limit.redis_down == "closed"
assert b.mtls.allowed_peers == ("gateway",) and b.route_for("/internal/x").callers == ("worker",)
assert b.redis.port == int(sys.argv[2]) and b.redis.tls
try:
    load_settings(f"{out}/kit/ai.json", service="backend")
except SettingsError as e:
    assert "not `backend`" in str(e)
else:
    raise AssertionError("a file for another service was accepted")
sys.path.insert(0, f"{out}/backend")
import secctl_security
assert secctl_security.authorize.__name__ == "current_principal"
print("kit settings ok")
"#;

#[test]
fn rendered_kit_settings_load_in_the_python_kit() {
    let py = venv_python();
    let dir = tempfile::tempdir().unwrap();
    let redis_port = free_port();
    let policy = local_policy(dir.path(), redis_port, &[]);
    let loaded = load(&policy);
    let out = dir.path().join("out");
    render_into(&loaded, &out);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/secctl_fastapi/src");
    let res = run(Command::new(py)
        .args(["-c", CHECK])
        .arg(&out)
        .arg(redis_port.to_string())
        .env("PYTHONPATH", &src)
        .env("PYTHONDONTWRITEBYTECODE", "1"));
    let stdout = String::from_utf8_lossy(&res.stdout);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success() && stdout.contains("kit settings ok"), "the kit refused the rendered settings:\n{stdout}\n{stderr}");
}
