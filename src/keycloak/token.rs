//! Tokens for verification: a fixture user's password-grant token, or a service client's
//! client-credentials token. Passwords and secrets come from the policy's `SecretRef`s.


use anyhow::{anyhow, Context, Result};
use serde_json::Value;

use super::http::{http_client, send_with_retry};
use super::secret;
use crate::exit::Fail;
use crate::policy::model::{ClientKind, Identity, TenancyModel};

/// Which token to fetch.
pub enum Subject<'a> {
    /// A fixture user (password grant through a client with `direct_access_grants`).
    User {
        /// Username in `identity.fixtures.users`.
        username: &'a str,
        /// Client to use; default: the first client with `direct_access_grants`.
        client: Option<&'a str>,
    },
    /// A service-account client (client-credentials grant).
    Client(&'a str),
}

/// Fetches an access token from the realm's token endpoint, for a policy `check` accepted.
pub fn fetch(valid: &crate::policy::ValidPolicy, subject: Subject<'_>) -> Result<String> {
    let base_dir = valid.base_dir();
    let id: &Identity = valid.policy().identity.as_ref().ok_or_else(|| Fail::invalid(anyhow!("the policy has no `identity` section; add one to get tokens")))?;
    let ca = id.admin.ca_bundle.as_ref().map(|p| std::fs::read(base_dir.join(&p.value)).with_context(|| format!("cannot read identity.admin.ca_bundle {}", p.value))).transpose()?;
    let http = http_client(ca.as_deref())?;
    let url = format!("{}/realms/{}/protocol/openid-connect/token", id.url.value.trim_end_matches('/'), id.realm.value);
    let mut form: Vec<(String, String)> = Vec::new();
    match subject {
        Subject::User { username, client } => {
            let fixtures = id.fixtures.as_ref().map(|f| f.users.as_slice()).unwrap_or_default();
            let (i, user) = fixtures.iter().enumerate().find(|(_, u)| u.username.value == username).ok_or_else(|| Fail::invalid(anyhow!("`{username}` is not in identity.fixtures.users")))?;
            let c = match client {
                Some(cid) => id.clients.iter().find(|c| c.client_id.value == cid),
                None => id.clients.iter().find(|c| c.direct_access_grants.value),
            }
            .ok_or_else(|| Fail::invalid(anyhow!("no client with direct_access_grants: true in identity.clients (the password grant needs one)")))?;
            let pw = secret::resolve(&user.password, base_dir, &format!("identity.fixtures.users[{i}].password")).map_err(Fail::invalid)?;
            let mut scope = "openid".to_string();
            if id.tenancy_model() == TenancyModel::Organizations {
                scope.push_str(" organization");
            }
            form.extend([("grant_type", "password"), ("client_id", c.client_id.value.as_str()), ("username", username), ("scope", scope.as_str())].map(|(k, v)| (k.to_string(), v.to_string())));
            // `form` holds a copy (zeroized after the request); `pw` is zeroized on drop.
            form.push(("password".into(), pw.to_string()));
        }
        Subject::Client(cid) => {
            let c = id.clients.iter().find(|c| c.client_id.value == cid).ok_or_else(|| Fail::invalid(anyhow!("client `{cid}` is not in identity.clients")))?;
            if c.kind.value == ClientKind::Spa {
                return Err(Fail::invalid(anyhow!("client `{cid}` is public; only confidential clients have client-credentials tokens")));
            }
            let s = c.secret.as_ref().ok_or_else(|| Fail::invalid(anyhow!("client `{cid}` has no `secret` reference in the policy")))?;
            let s = secret::resolve(s, base_dir, &format!("client `{cid}` secret")).map_err(Fail::invalid)?;
            form.extend([("grant_type", "client_credentials"), ("client_id", cid)].map(|(k, v)| (k.to_string(), v.to_string())));
            form.push(("client_secret".into(), s.to_string()));
        }
    }
    let resp = send_with_retry(&format!("token request to {url}"), || http.post(&url).form(&form))?;
    let status = resp.status();
    let body: Value = resp.json().unwrap_or(Value::Null);
    for (_, v) in form.iter_mut() {
        zeroize::Zeroize::zeroize(v);
    }
    if !status.is_success() {
        let why = body.get("error_description").or_else(|| body.get("error")).and_then(Value::as_str).unwrap_or("no details");
        let err = anyhow!("Keycloak refused the token request (HTTP {status}: {why}); run `secctl keycloak apply` first, and check the password/secret variables");
        return Err(if status.is_client_error() { Fail::invalid(err) } else { Fail::unevaluated(err) });
    }
    body.get("access_token").and_then(Value::as_str).map(str::to_string).ok_or_else(|| Fail::unevaluated(anyhow!("token response has no access_token")))
}
