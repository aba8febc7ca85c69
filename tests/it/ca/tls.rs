//! Real mTLS handshakes with `openssl s_server` / `s_client`: our client cert
//! is accepted, a foreign CA's is refused, a revoked one is refused via the CRL.

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// Kills the server when the test ends, pass or fail.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `s_server -www` requiring a client cert, verified as nginx is configured for it: against
/// `ca/chain.crt` (intermediates + roots, so clients that send only their leaf work) with the CRLs of
/// every level. s_server's `-CRL` reads only the first CRL of a file, so the CRLs are loaded the way
/// nginx's `ssl_crl` loads them (X509_LOOKUP_load_file reads every cert and CRL in a PEM file):
/// through a CA file holding chain.crt followed by crl.pem.
fn server(pki: &Path, port: u16) -> Guard {
    let trust = pki.parent().unwrap().join(format!("trust-{port}.pem"));
    let mut text = std::fs::read(pki.join("ca/chain.crt")).unwrap();
    text.extend(std::fs::read(pki.join("ca/crl.pem")).unwrap());
    std::fs::write(&trust, text).unwrap();
    let child = openssl()
        .args(["s_server", "-www", "-quiet", "-Verify", "3", "-verify_return_error", "-crl_check_all", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(pki.join("services/gateway/server-fullchain.crt"))
        .arg("-key")
        .arg(pki.join("services/gateway/server.key"))
        .arg("-CAfile")
        .arg(&trust)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let g = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not start listening on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    g
}

/// Connects with a client cert, verifying the server against `trust`, and returns whether an HTTP 200 came back.
fn client(port: u16, trust: &Path, cert: &Path, key: &Path) -> (bool, String) {
    let mut c = openssl()
        .args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-servername", "gateway.acme.internal", "-verify_hostname", "gateway.acme.internal", "-verify_return_error", "-CAfile"])
        .arg(trust)
        .arg("-cert")
        .arg(cert)
        .arg("-key")
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    let _ = stdin.write_all(b"GET / HTTP/1.0\r\n\r\n");
    // Bounded wait: s_client exits when the server closes the connection.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if c.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);
    let o = c.wait_with_output().unwrap();
    let text = format!("{}{}", out(&o), err(&o));
    (text.contains("HTTP/1.0 200 ok"), text)
}

#[test]
fn mtls_accepts_our_client_refuses_foreign_and_revoked() {
    let env = Env::stack();
    env.ok(&["issue"]);
    let pki = env.pki();
    let port = free_port();
    let srv = server(&pki, port);
    let trust = pki.join("ca/bundle.crt");

    // Our worker client cert (sent with its intermediate) is accepted, and the client verified the server's name.
    let (ok, text) = client(port, &trust, &pki.join("services/worker/client.crt"), &pki.join("services/worker/client.key"));
    assert!(ok, "mTLS with our client cert failed:\n{text}");
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");

    // A client cert from another secctl CA (same names, different root) is refused.
    let foreign = Env::stack();
    foreign.ok(&["issue"]);
    let (ok, text) = client(port, &trust, &foreign.pki().join("services/worker/client-fullchain.crt"), &foreign.pki().join("services/worker/client.key"));
    assert!(!ok, "a foreign-CA client cert was accepted:\n{text}");
    // And a client that trusts only the foreign bundle refuses our server.
    let (ok, text) = client(port, &foreign.pki().join("ca/bundle.crt"), &pki.join("services/worker/client-fullchain.crt"), &pki.join("services/worker/client.key"));
    assert!(!ok, "a client trusting another CA accepted our server:\n{text}");
    drop(srv);

    // Revoke the worker; a server loading the new CRL refuses its (still unexpired) cert.
    let worker = std::fs::read(pki.join("services/worker/client-fullchain.crt")).unwrap();
    let worker_key = std::fs::read(pki.join("services/worker/client.key")).unwrap();
    env.ok(&["revoke", "worker", "--reason", "key-compromise"]);
    let keep = tempfile::tempdir().unwrap();
    std::fs::write(keep.path().join("w.crt"), &worker).unwrap();
    std::fs::write(keep.path().join("w.key"), &worker_key).unwrap();
    let port = free_port();
    let _srv = server(&pki, port);
    let (ok, text) = client(port, &trust, &keep.path().join("w.crt"), &keep.path().join("w.key"));
    assert!(!ok, "a revoked client cert was accepted:\n{text}");
    // The backend's cert still works against the same server and CRL.
    let (ok, text) = client(port, &trust, &pki.join("services/backend/client-fullchain.crt"), &pki.join("services/backend/client.key"));
    assert!(ok, "an unrevoked client cert was refused after another was revoked:\n{text}");
    // After `issue`, the worker has a new, accepted certificate.
    let o = env.ok(&["issue"]);
    assert!(o.contains("issued  revoked"), "{o}");
    let (ok, text) = client(port, &trust, &pki.join("services/worker/client-fullchain.crt"), &pki.join("services/worker/client.key"));
    assert!(ok, "the re-issued worker cert was refused:\n{text}");
}
