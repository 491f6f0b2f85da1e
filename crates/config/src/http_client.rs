//! A scrape job's HTTP client settings as Prometheus 2.42 reads them inline in `scrape_configs:`
//! (prometheus/common's `HTTPClientConfig`): `basic_auth`, `authorization`, the deprecated `bearer_token` and
//! `bearer_token_file`, `tls_config`, with prometheus/common's validation messages.

use std::fmt;
use std::path::Path;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use crate::Located;

/// A password, token or key: never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "<secret>" })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// `basic_auth:`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Secret,
    /// Read at each scrape.
    #[serde(default)]
    pub password_file: String,
}

/// `authorization:`: an `Authorization: <type> <credentials>` header.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// `Bearer` when empty (see [`Authorization::kind`]).
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub credentials: Secret,
    /// Read at each scrape.
    #[serde(default)]
    pub credentials_file: String,
}

impl Authorization {
    /// The type as sent: trimmed, `Bearer` by default.
    pub fn kind(&self) -> &str {
        match self.kind.trim() {
            "" => "Bearer",
            kind => kind,
        }
    }
}

/// `tls_config:` as Prometheus 2.42 has it (files only; inline PEM came later).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default)]
    pub ca_file: String,
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_file: String,
    #[serde(default)]
    pub server_name: String,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    #[serde(default)]
    min_version: Option<Located<IgnoredAny>>,
    #[serde(default)]
    max_version: Option<Located<IgnoredAny>>,
}

/// A problem found by [`check`]: where, and prometheus/common's message.
pub(crate) type Problem = (serde_saphyr::Location, String);

/// The HTTP client keys of one scrape job.
pub(crate) struct ClientKeys<'a> {
    pub basic_auth: &'a Option<Located<BasicAuth>>,
    pub authorization: &'a Option<Located<Authorization>>,
    pub bearer_token: &'a Option<Located<Secret>>,
    pub bearer_token_file: &'a Option<Located<String>>,
    pub tls_config: &'a Option<Located<TlsConfig>>,
}

/// prometheus/common's `HTTPClientConfig.Validate`, in its order, plus the client certificate checks it makes
/// when building the client.
pub(crate) fn check(k: &ClientKeys<'_>) -> Result<(), Problem> {
    let fail = |loc: &serde_saphyr::Location, msg: &str| Err((*loc, msg.to_owned()));
    let bearer = k.bearer_token.as_ref().filter(|t| !t.value.is_empty()).map(|t| t.referenced);
    let bearer_file = k.bearer_token_file.as_ref().filter(|t| !t.value.is_empty()).map(|t| t.referenced);
    let any_bearer = bearer_file.or(bearer);
    if let (Some(_), Some(file)) = (bearer, bearer_file) {
        return fail(&file, "at most one of bearer_token & bearer_token_file must be configured");
    }
    if let (Some(_), Some(at)) = (k.basic_auth, any_bearer) {
        return fail(&at, "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured");
    }
    if let Some(b) = k.basic_auth {
        if !b.value.password.is_empty() && !b.value.password_file.is_empty() {
            return fail(&b.referenced, "at most one of basic_auth password & password_file must be configured");
        }
    }
    if let Some(a) = k.authorization {
        if any_bearer.is_some() {
            return fail(&a.referenced, "authorization is not compatible with bearer_token & bearer_token_file");
        }
        if !a.value.credentials.is_empty() && !a.value.credentials_file.is_empty() {
            return fail(
                &a.referenced,
                "at most one of authorization credentials & credentials_file must be configured",
            );
        }
        if a.value.kind().eq_ignore_ascii_case("basic") {
            return fail(&a.referenced, r#"authorization type cannot be set to "basic", use "basic_auth" instead"#);
        }
        if k.basic_auth.is_some() {
            return fail(&a.referenced, "at most one of basic_auth, oauth2 & authorization must be configured");
        }
    }
    if let Some(t) = k.tls_config {
        let unsupported = [("min_version", &t.value.min_version), ("max_version", &t.value.max_version)];
        if let Some((key, v)) = unsupported.iter().find_map(|(key, v)| v.as_ref().map(|v| (key, v))) {
            return fail(&v.referenced, &format!("tls_config: {key} is not supported yet"));
        }
        let (cert, key) = (&t.value.cert_file, &t.value.key_file);
        if !cert.is_empty() && key.is_empty() {
            return fail(&t.referenced, &format!("client cert file {cert:?} specified without client key file"));
        }
        if !key.is_empty() && cert.is_empty() {
            return fail(&t.referenced, &format!("client key file {key:?} specified without client cert file"));
        }
    }
    Ok(())
}

/// `p` relative to `dir` when it is a relative path.
pub(crate) fn join(dir: &Path, p: &mut String) {
    if !p.is_empty() && Path::new(p.as_str()).is_relative() {
        *p = dir.join(p.as_str()).to_string_lossy().into_owned();
    }
}
