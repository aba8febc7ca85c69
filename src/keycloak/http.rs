//! The Keycloak Admin REST client: bearer tokens refreshed before they expire (master-realm
//! tokens live 60 s), bounded retries with backoff on connection errors, timeouts and 5xx, and
//! read/write call counters so tests and the benchmark can prove a no-op apply writes nothing.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::exit::Fail;

/// How the admin token is obtained.
pub enum Grant {
    /// Resource-owner password grant (normally through `admin-cli`).
    Password {
        /// Username.
        username: Zeroizing<String>,
        /// Password.
        password: Zeroizing<String>,
    },
    /// Client-credentials grant of a confidential admin client.
    ClientCredentials {
        /// Client secret.
        secret: Zeroizing<String>,
    },
}

/// Where and how to log in.
pub struct Login {
    /// Base URL, e.g. `http://127.0.0.1:8180` (no trailing slash).
    pub base: String,
    /// Realm of the admin account.
    pub realm: String,
    /// Client id used for the token request.
    pub client_id: String,
    /// Grant.
    pub grant: Grant,
    /// Extra PEM CA bundle to trust (system roots stay trusted).
    pub ca_bundle: Option<Vec<u8>>,
}

/// Read/write call counters (token requests are counted apart).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// GET requests.
    pub reads: u64,
    /// POST/PUT/DELETE requests to the admin API.
    pub writes: u64,
    /// Token requests.
    pub tokens: u64,
}

/// Why a request failed; callers branch on [`ApiError::NotFound`] and [`ApiError::Conflict`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404.
    #[error("{0}: not found")]
    NotFound(String),
    /// 409 (already exists).
    #[error("{0}: already exists (409)")]
    Conflict(String),
    /// Any other non-success status.
    #[error("{method} {path}: HTTP {status}: {message}")]
    Status {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// Status code.
        status: u16,
        /// Keycloak's error message.
        message: String,
    },
}

const ATTEMPTS: u32 = 4;
/// Refresh the token when fewer than this many seconds remain.
const TOKEN_MARGIN: Duration = Duration::from_secs(15);

/// An authenticated Admin API session.
pub struct Admin {
    http: Client,
    login: Login,
    token: RefCell<Option<(Zeroizing<String>, Instant)>>,
    reads: AtomicU64,
    writes: AtomicU64,
    tokens: AtomicU64,
}

/// Builds the HTTP client: TLS verification always on, optional extra CA bundle, bounded timeouts.
pub fn http_client(ca_bundle: Option<&[u8]>) -> Result<Client> {
    let mut b = Client::builder().connect_timeout(Duration::from_secs(5)).timeout(Duration::from_secs(30)).user_agent(concat!("secctl/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = ca_bundle {
        for cert in reqwest::Certificate::from_pem_bundle(pem).context("the CA bundle is not valid PEM")? {
            b = b.add_root_certificate(cert);
        }
    }
    b.build().context("cannot build the HTTP client")
}

/// Sends a request built by `build`, retrying connection errors, timeouts and 5xx with backoff.
pub fn send_with_retry(what: &str, mut build: impl FnMut() -> RequestBuilder) -> Result<Response> {
    let mut delay = Duration::from_millis(250);
    let mut last = None;
    for attempt in 1..=ATTEMPTS {
        match build().send() {
            Ok(r) if r.status().is_server_error() && attempt < ATTEMPTS => last = Some(anyhow!("HTTP {}", r.status())),
            Ok(r) => return Ok(r),
            Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => last = Some(anyhow::Error::new(e)),
            Err(e) => return Err(Fail::unevaluated(anyhow::Error::new(e).context(what.to_string()))),
        }
        if attempt < ATTEMPTS {
            std::thread::sleep(delay);
            delay *= 2;
        }
    }
    let err = last.unwrap_or_else(|| anyhow!("no response"));
    Err(Fail::unevaluated(err.context(format!("{what}: no answer after {ATTEMPTS} attempts; is Keycloak running and is identity.url right?"))))
}

impl Admin {
    /// Logs in (fails with exit 2 on rejected credentials, exit 3 when Keycloak is unreachable).
    pub fn connect(login: Login) -> Result<Admin> {
        let http = http_client(login.ca_bundle.as_deref())?;
        let admin = Admin { http, login, token: RefCell::new(None), reads: AtomicU64::new(0), writes: AtomicU64::new(0), tokens: AtomicU64::new(0) };
        admin.refresh_token()?;
        Ok(admin)
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.login.base
    }

    /// Call counts so far.
    pub fn counts(&self) -> Counts {
        Counts { reads: self.reads.load(Ordering::Relaxed), writes: self.writes.load(Ordering::Relaxed), tokens: self.tokens.load(Ordering::Relaxed) }
    }

    /// Gets a new token now (needed after creating a realm: the old token lacks its roles).
    pub fn refresh_token(&self) -> Result<()> {
        let url = format!("{}/realms/{}/protocol/openid-connect/token", self.login.base, self.login.realm);
        let mut form: Vec<(&str, &str)> = vec![("client_id", &self.login.client_id)];
        match &self.login.grant {
            Grant::Password { username, password } => {
                form.extend([("grant_type", "password"), ("username", username.as_str()), ("password", password.as_str())]);
            }
            Grant::ClientCredentials { secret } => form.extend([("grant_type", "client_credentials"), ("client_secret", secret.as_str())]),
        }
        self.tokens.fetch_add(1, Ordering::Relaxed);
        let resp = send_with_retry(&format!("token request to {url}"), || self.http.post(&url).form(&form))?;
        let status = resp.status();
        let body: Value = resp.json().unwrap_or(Value::Null);
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST || status == StatusCode::FORBIDDEN {
            let why = body.get("error_description").or_else(|| body.get("error")).and_then(Value::as_str).unwrap_or("rejected");
            return Err(Fail::invalid(anyhow!(
                "Keycloak rejected the admin credentials for client `{}` in realm `{}` ({why}); check the variables or files named in identity.admin",
                self.login.client_id,
                self.login.realm
            )));
        }
        if !status.is_success() {
            return Err(Fail::unevaluated(anyhow!("token request to {url}: HTTP {status}")));
        }
        let token = body.get("access_token").and_then(Value::as_str).ok_or_else(|| Fail::unevaluated(anyhow!("token response from {url} has no access_token")))?;
        let lifetime = body.get("expires_in").and_then(Value::as_u64).unwrap_or(60);
        *self.token.borrow_mut() = Some((Zeroizing::new(token.to_string()), Instant::now() + Duration::from_secs(lifetime)));
        Ok(())
    }

    fn bearer(&self) -> Result<Zeroizing<String>> {
        let fresh = matches!(&*self.token.borrow(), Some((_, exp)) if exp.saturating_duration_since(Instant::now()) > TOKEN_MARGIN);
        if !fresh {
            self.refresh_token()?;
        }
        Ok(self.token.borrow().as_ref().map(|(t, _)| t.clone()).unwrap_or_default())
    }

    /// One admin call (`path` is below `/admin/realms`); retries once with a new token on 401.
    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Response> {
        let url = format!("{}/admin/realms{}", self.login.base, path);
        if method == Method::GET { &self.reads } else { &self.writes }.fetch_add(1, Ordering::Relaxed);
        for retry_auth in [true, false] {
            let token = self.bearer()?;
            let resp = send_with_retry(&format!("{method} {path}"), || {
                let rb = self.http.request(method.clone(), &url).bearer_auth(token.as_str());
                match body {
                    Some(b) => rb.json(b),
                    None => rb,
                }
            })?;
            if resp.status() == StatusCode::UNAUTHORIZED && retry_auth {
                self.refresh_token()?;
                continue;
            }
            return check(resp, &method, path);
        }
        unreachable!("the loop returns on its second pass")
    }

    /// GET; `None` on 404.
    pub fn get(&self, path: &str) -> Result<Option<Value>> {
        match self.call(Method::GET, path, None) {
            Ok(r) => Ok(Some(r.json().with_context(|| format!("GET {path}: the answer is not JSON"))?)),
            Err(e) if matches!(e.downcast_ref::<ApiError>(), Some(ApiError::NotFound(_))) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET a list (never 404 for a list that exists).
    pub fn list(&self, path: &str) -> Result<Vec<Value>> {
        match self.get(path)? {
            Some(Value::Array(v)) => Ok(v),
            Some(_) => Err(Fail::unevaluated(anyhow!("GET {path}: expected a JSON array"))),
            None => Err(Fail::unevaluated(anyhow!("GET {path}: not found"))),
        }
    }

    /// POST; returns the last segment of `Location` (the new object's id) when there is one.
    pub fn post(&self, path: &str, body: &Value) -> Result<Option<String>> {
        let r = self.call(Method::POST, path, Some(body))?;
        Ok(r.headers().get("location").and_then(|l| l.to_str().ok()).and_then(|l| l.rsplit('/').next()).map(str::to_string))
    }

    /// PUT (an empty body when `body` is `None`).
    pub fn put(&self, path: &str, body: Option<&Value>) -> Result<()> {
        self.call(Method::PUT, path, body).map(drop)
    }

    /// DELETE, with an optional body (role-mapping removals take one).
    pub fn delete(&self, path: &str, body: Option<&Value>) -> Result<()> {
        self.call(Method::DELETE, path, body).map(drop)
    }
}

fn check(resp: Response, method: &Method, path: &str) -> Result<Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let text = resp.text().unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| ["errorMessage", "error_description", "error"].iter().find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string)))
        .unwrap_or_else(|| text.chars().take(200).collect());
    let err = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound(format!("{method} {path}")),
        StatusCode::CONFLICT => ApiError::Conflict(format!("{method} {path}")),
        _ => ApiError::Status { method: method.to_string(), path: path.to_string(), status: status.as_u16(), message },
    };
    Err(match status {
        StatusCode::FORBIDDEN => Fail::invalid(anyhow::Error::new(err).context("the admin account lacks permission (it needs realm-admin on the target realm, or create-realm/admin in master)")),
        StatusCode::NOT_FOUND | StatusCode::CONFLICT => anyhow::Error::new(err),
        s if s.is_client_error() => Fail::invalid(err),
        _ => Fail::unevaluated(err),
    })
}
