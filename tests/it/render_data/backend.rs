//! The rendered FastAPI/PyJWT module, exercised for real in the test venv
//! (fastapi, pyjwt[crypto], httpx): see backend_check.py for the cases.

use std::path::Path;
use std::process::Command;

use super::support::*;

#[test]
fn backend_module_accepts_and_rejects_tokens() {
    let py = venv_python();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let policy = local_policy(
        dir.path(),
        free_port(),
        &[(
            "url: http://127.0.0.1:28180",
            &format!("url: http://127.0.0.1:{port}"),
        )],
    );
    let loaded = load(&policy);
    let out = dir.path().join("out");
    render_into(&loaded, &out);
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/render_data/backend_check.py");
    let res = run(Command::new(py)
        .arg(script)
        .arg(out.join("backend"))
        .arg(port.to_string())
        .env("PYTHONDONTWRITEBYTECODE", "1"));
    let stdout = String::from_utf8_lossy(&res.stdout);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(
        res.status.success(),
        "backend_check.py failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("41 passed, 0 failed"),
        "case count changed or cases failed:\n{stdout}"
    );
}
