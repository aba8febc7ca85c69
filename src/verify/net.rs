//! The probes' network layer: TCP with timeouts and a connection counter, TLS through rustls
//! with an explicit trust store and optional client certificate, and a small HTTP/1.1 client
//! that shows exactly what was sent and what came back (raw status and header lines, so a
//! duplicated or missing header is visible, which a browser-grade client would normalize).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned, SupportedProtocolVersion};

/// Largest response a probe reads (headers and the start of the body are all it needs).
const MAX_RESPONSE: usize = 256 * 1024;

/// Why a connection produced no HTTP response.
#[derive(Debug, Clone)]
pub enum NetError {
    /// Nothing answered: refused, unreachable or timed out. The control cannot be evaluated.
    Unreachable(String),
    /// The TLS handshake failed (a refusal when the probe expected one, a finding otherwise).
    Tls(String),
    /// The peer closed or broke the connection after the handshake.
    Io(String),
}

impl NetError {
    /// The *server's* certificate did not validate: the probe cannot tell whom it talks to
    /// (another process on the port, a wrong certificate), so nothing it sees there proves a
    /// refusal or an acceptance. `tls.certificate` judges the public listener's certificate.
    pub fn untrusted_server(&self) -> bool {
        matches!(self, NetError::Tls(e) if e.contains("invalid peer certificate"))
    }
}

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetError::Unreachable(s) => write!(f, "unreachable: {s}"),
            NetError::Tls(s) => write!(f, "TLS handshake failed: {s}"),
            NetError::Io(s) => write!(f, "connection error: {s}"),
        }
    }
}

/// Where a probe connects: the address (after `--resolve`) and the name it presents
/// (SNI and `Host`).
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Host name for SNI, certificate checks and the Host header.
    pub name: String,
    /// The port (also used in the Host header when not the scheme's default).
    pub port: u16,
    /// Where to connect.
    pub addr: SocketAddr,
}

impl Endpoint {
    /// `name:port` (`name` alone on 443/80 is left to the caller).
    pub fn authority(&self) -> String {
        format!("{}:{}", self.name, self.port)
    }
}

/// Counts the TCP connections of one probe.
#[derive(Debug, Default)]
pub struct Counter(AtomicU32);

impl Counter {
    /// Connections so far.
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
    fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// Adds connections made by another client (the Keycloak admin API).
    pub fn add(&self, n: u32) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
}

/// Opens a TCP connection with timeouts.
pub fn tcp(ep: &Endpoint, timeout: Duration, n: &Counter) -> Result<TcpStream, NetError> {
    n.bump();
    let s = TcpStream::connect_timeout(&ep.addr, timeout).map_err(|e| NetError::Unreachable(format!("{} ({}): {e}", ep.authority(), ep.addr)))?;
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// Who the probe claims to be in a TLS handshake.
#[derive(Clone)]
pub struct ClientId {
    /// Certificate chain (leaf first).
    pub chain: Vec<CertificateDer<'static>>,
    /// Its key.
    pub key: Arc<PrivateKeyDer<'static>>,
}

impl std::fmt::Debug for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientId({} certs)", self.chain.len())
    }
}

impl ClientId {
    /// Reads a PEM chain and a PEM key.
    pub fn from_files(chain: &std::path::Path, key: &std::path::Path) -> anyhow::Result<ClientId> {
        use rustls::pki_types::pem::PemObject;
        let chain = CertificateDer::pem_file_iter(chain)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", chain.display()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("damaged PEM in {}: {e}", chain.display()))?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| anyhow::anyhow!("cannot read the key {}: {e}", key.display()))?;
        Ok(ClientId { chain, key: Arc::new(key) })
    }
}

/// The ring provider, optionally restricted to some cipher suites.
fn provider(suites: Option<&[rustls::SupportedCipherSuite]>) -> rustls::crypto::CryptoProvider {
    let mut p = rustls::crypto::ring::default_provider();
    if let Some(s) = suites {
        p.cipher_suites = s.to_vec();
    }
    p
}

/// A rustls client config: trust `roots` (None: accept any server certificate, for probes of
/// protocols and suites only, so that a certificate problem fails only `tls.certificate`),
/// offer `versions` (and `suites`, when given), present `id`.
pub fn tls_config(roots: Option<&RootCertStore>, versions: &[&'static SupportedProtocolVersion], suites: Option<&[rustls::SupportedCipherSuite]>, id: Option<&ClientId>) -> Arc<ClientConfig> {
    let p = Arc::new(provider(suites));
    let b = ClientConfig::builder_with_provider(p.clone()).with_protocol_versions(versions).expect("the ring provider supports TLS 1.2 and 1.3");
    let b = match roots {
        Some(r) => b.with_root_certificates(r.clone()),
        None => b.dangerous().with_custom_certificate_verifier(Arc::new(AnyCert(p))),
    };
    let mut c = match id {
        Some(id) => b.with_client_auth_cert(id.chain.clone(), id.key.clone_key()).expect("client key matches a supported algorithm"),
        None => b.with_no_client_auth(),
    };
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(c)
}

/// Accepts any server certificate but still checks the handshake signatures.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &rustls::DigitallySignedStruct) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &rustls::DigitallySignedStruct) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Reads a PEM bundle into a root store.
pub fn roots(bundle: &std::path::Path) -> anyhow::Result<RootCertStore> {
    use rustls::pki_types::pem::PemObject;
    let mut store = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(bundle).map_err(|e| anyhow::anyhow!("cannot read the trust bundle {}: {e}", bundle.display()))? {
        let c = c.map_err(|e| anyhow::anyhow!("damaged PEM in {}: {e}", bundle.display()))?;
        store.add(c).map_err(|e| anyhow::anyhow!("{}: {e}", bundle.display()))?;
    }
    if store.is_empty() {
        anyhow::bail!("{} holds no certificate", bundle.display());
    }
    Ok(store)
}

/// What a completed TLS handshake negotiated.
#[derive(Clone, Debug)]
pub struct Handshake {
    /// `TLSv1_2` / `TLSv1_3`.
    pub version: Option<rustls::ProtocolVersion>,
    /// The suite.
    pub suite: Option<rustls::CipherSuite>,
    /// The server's chain as sent.
    pub peer_chain: Vec<CertificateDer<'static>>,
}

/// A TLS session ready for HTTP.
pub type Tls = StreamOwned<ClientConnection, TcpStream>;

/// Connects and completes a TLS handshake.
pub fn tls(ep: &Endpoint, cfg: Arc<ClientConfig>, timeout: Duration, n: &Counter) -> Result<(Tls, Handshake), NetError> {
    let sock = tcp(ep, timeout, n)?;
    let name = ServerName::try_from(ep.name.clone()).map_err(|e| NetError::Tls(format!("invalid server name `{}`: {e}", ep.name)))?;
    let conn = ClientConnection::new(cfg, name).map_err(|e| NetError::Tls(e.to_string()))?;
    let mut s = StreamOwned::new(conn, sock);
    while s.conn.is_handshaking() {
        if let Err(e) = s.conn.complete_io(&mut s.sock) {
            return Err(classify(e));
        }
    }
    let hs = Handshake {
        version: s.conn.protocol_version(),
        suite: s.conn.negotiated_cipher_suite().map(|c| c.suite()),
        peer_chain: s.conn.peer_certificates().map(|c| c.iter().map(|d| d.clone().into_owned()).collect()).unwrap_or_default(),
    };
    Ok((s, hs))
}

fn classify(e: std::io::Error) -> NetError {
    use std::io::ErrorKind::*;
    match e.kind() {
        TimedOut | WouldBlock => NetError::Unreachable(format!("timed out during the TLS handshake ({e})")),
        _ => NetError::Tls(e.to_string()),
    }
}

/// An HTTP request (HTTP/1.1, `Connection: close`).
#[derive(Clone, Debug)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path and query, sent as is.
    pub target: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Request {
    /// `GET target`.
    pub fn get(target: impl Into<String>) -> Request {
        Request { method: "GET".into(), target: target.into(), headers: Vec::new(), body: Vec::new() }
    }
    /// Any method.
    pub fn new(method: &str, target: impl Into<String>) -> Request {
        Request { method: method.into(), target: target.into(), headers: Vec::new(), body: Vec::new() }
    }
    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Sets a body (and its Content-Type).
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Request {
        self.headers.push(("Content-Type".into(), content_type.into()));
        self.body = body.into();
        self
    }
    /// One line for evidence: `GET /path (Origin: x, ...)`, body size, never a token's value.
    pub fn describe(&self, scheme: &str, ep: &Endpoint) -> String {
        let mut s = format!("{} {scheme}://{}{}", self.method, ep.authority(), self.target);
        let hs: Vec<String> = self
            .headers
            .iter()
            .map(|(k, v)| if k.eq_ignore_ascii_case("authorization") { format!("{k}: <redacted>") } else { format!("{k}: {}", clip(v, 80)) })
            .collect();
        if !hs.is_empty() {
            s.push_str(&format!(" [{}]", hs.join("; ")));
        }
        if !self.body.is_empty() {
            s.push_str(&format!(" body {} bytes", self.body.len()));
        }
        s
    }
    fn encode(&self, host: &str) -> Vec<u8> {
        // A probe may send its own Host (open-redirect checks); otherwise the endpoint's.
        let host_line = if self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) { String::new() } else { format!("Host: {host}\r\n") };
        let mut out = format!("{} {} HTTP/1.1\r\n{host_line}User-Agent: secctl-verify\r\nConnection: close\r\n", self.method, self.target);
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        out.push_str("\r\n");
        let mut b = out.into_bytes();
        b.extend_from_slice(&self.body);
        b
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n).collect::<String>()) }
}

/// An HTTP response.
#[derive(Clone, Debug, Default)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header lines as received (name, value).
    pub headers: Vec<(String, String)>,
    /// The start of the body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// Every value of a header.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
    /// `403 (Server: nginx; ...)` for evidence, showing the headers that matter to the probe.
    pub fn describe(&self, names: &[&str]) -> String {
        let hs: Vec<String> = names
            .iter()
            .map(|n| {
                let v = self.all(n);
                if v.is_empty() { format!("{n}: absent") } else { format!("{n}: {}", v.join(" | ")) }
            })
            .collect();
        if hs.is_empty() { format!("{}", self.status) } else { format!("{} [{}]", self.status, hs.join("; ")) }
    }
}

/// Sends one request on a new connection; `cfg` None means plain HTTP.
pub fn http(ep: &Endpoint, cfg: Option<Arc<ClientConfig>>, req: &Request, timeout: Duration, n: &Counter) -> Result<Response, NetError> {
    let host = ep.authority();
    let bytes = req.encode(&host);
    let raw = match cfg {
        Some(cfg) => {
            let (mut s, _) = tls(ep, cfg, timeout, n)?;
            exchange(&mut s, &bytes)?
        }
        None => {
            let mut s = tcp(ep, timeout, n)?;
            exchange(&mut s, &bytes)?
        }
    };
    parse(&raw).ok_or_else(|| NetError::Io(format!("no HTTP response (got {} bytes)", raw.len())))
}

fn exchange(s: &mut impl ReadWrite, bytes: &[u8]) -> Result<Vec<u8>, NetError> {
    // A server may answer before it has read the whole body (413) and close: the write then
    // fails, but the answer is already there to read.
    let wrote = s.write_all(bytes).and_then(|_| s.flush());
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                out.extend_from_slice(&buf[..k]);
                if out.len() >= MAX_RESPONSE {
                    break;
                }
            }
            // A server that sends its response and closes without close_notify (or resets after
            // a refusal) still answered: keep what arrived.
            Err(e) if !out.is_empty() => {
                let _ = e;
                break;
            }
            Err(e) => return Err(io_err(e, if wrote.is_err() { "sending the request" } else { "reading the response" })),
        }
    }
    if out.is_empty()
        && let Err(e) = wrote {
            return Err(io_err(e, "sending the request"));
        }
    Ok(out)
}

fn io_err(e: std::io::Error, what: &str) -> NetError {
    use std::io::ErrorKind::*;
    match e.kind() {
        TimedOut | WouldBlock => NetError::Unreachable(format!("timed out {what}")),
        _ if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) => NetError::Tls(format!("{e} ({what})")),
        _ => NetError::Io(format!("{e} ({what})")),
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Parses a raw HTTP/1.x response (status, headers, body with chunked decoding).
pub fn parse(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let status: u16 = parts.next()?.parse().ok()?;
    let headers: Vec<(String, String)> = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Some(Response { status, headers, body })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        b = &b[eol + 2..];
        if size == 0 || b.len() < size {
            out.extend_from_slice(&b[..size.min(b.len())]);
            break;
        }
        out.extend_from_slice(&b[..size]);
        b = b.get(size + 2..).unwrap_or(&[]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_duplicate_headers_and_chunks() {
        let raw = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nVary: Origin\r\nvary: Accept\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let r = parse(raw).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.all("VARY"), vec!["Origin", "Accept"]);
        assert_eq!(r.body, b"hello world");
        assert!(parse(b"garbage").is_none());
        assert!(parse(b"SSH-2.0-x\r\n\r\n").is_none());
    }

    #[test]
    fn evidence_never_shows_a_token() {
        let ep = Endpoint { name: "h".into(), port: 1, addr: "127.0.0.1:1".parse().unwrap() };
        let d = Request::get("/x").header("Authorization", "Bearer s3cret").describe("https", &ep);
        assert!(!d.contains("s3cret") && d.contains("<redacted>"), "{d}");
    }
}
