//! `http_config:` (prometheus/common's `HTTPClientConfig`) as receivers use it: basic auth, the
//! `Authorization` header, bearer tokens, TLS, proxy and redirects, with its validation rules. Relative file
//! paths are resolved against the configuration file's directory.

use std::path::Path;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_saphyr::Location;

use super::types::{Secret, Url};
use super::{err_at, Located, Problem};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub username_file: String,
    #[serde(default)]
    pub password: Secret,
    #[serde(default)]
    pub password_file: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Defaults to `Bearer`.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub credentials: Secret,
    #[serde(default)]
    pub credentials_file: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default)]
    pub ca: String,
    #[serde(default)]
    pub ca_file: String,
    #[serde(default)]
    pub cert: String,
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key: Secret,
    #[serde(default)]
    pub key_file: String,
    #[serde(default)]
    pub server_name: String,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    #[serde(default)]
    pub min_version: String,
    #[serde(default)]
    pub max_version: String,
}

/// The HTTP client settings of a receiver or of `global:`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    /// Deprecated: becomes `authorization` with type `Bearer`.
    #[serde(default)]
    pub bearer_token: Secret,
    #[serde(default)]
    pub bearer_token_file: String,
    #[serde(default)]
    pub tls_config: TlsConfig,
    pub proxy_url: Option<Url>,
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    #[serde(default = "yes")]
    pub enable_http2: bool,
    // Known to Prometheus' client but not implemented: refused by name.
    #[serde(default)]
    oauth2: Option<Located<IgnoredAny>>,
    #[serde(default)]
    no_proxy: Option<Located<IgnoredAny>>,
    #[serde(default)]
    proxy_from_environment: Option<Located<IgnoredAny>>,
    #[serde(default)]
    proxy_connect_header: Option<Located<IgnoredAny>>,
    #[serde(default)]
    http_headers: Option<Located<IgnoredAny>>,
}

fn yes() -> bool {
    true
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            basic_auth: None,
            authorization: None,
            bearer_token: Secret::default(),
            bearer_token_file: String::new(),
            tls_config: TlsConfig::default(),
            proxy_url: None,
            follow_redirects: true,
            enable_http2: true,
            oauth2: None,
            no_proxy: None,
            proxy_from_environment: None,
            proxy_connect_header: None,
            http_headers: None,
        }
    }
}

impl HttpConfig {
    /// prometheus/common's `Validate`, which also turns `bearer_token(_file)` into `authorization`. `at` is
    /// where the section starts.
    pub(crate) fn validate(&mut self, at: &Location) -> Result<(), Problem> {
        let unsupported = [
            ("oauth2", &self.oauth2),
            ("no_proxy", &self.no_proxy),
            ("proxy_from_environment", &self.proxy_from_environment),
            ("proxy_connect_header", &self.proxy_connect_header),
            ("http_headers", &self.http_headers),
        ];
        if let Some((key, v)) = unsupported.iter().find_map(|(k, v)| v.as_ref().map(|v| (k, v))) {
            return Err(err_at(&v.referenced, format!("http_config: {key} is not supported yet")));
        }
        let fail = |msg: &str| Err(err_at(at, msg.to_owned()));
        let has_bearer = !self.bearer_token.is_empty() || !self.bearer_token_file.is_empty();
        if !self.bearer_token.is_empty() && !self.bearer_token_file.is_empty() {
            return fail("at most one of bearer_token & bearer_token_file must be configured");
        }
        if self.basic_auth.is_some() && has_bearer {
            return fail("at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured");
        }
        if let Some(b) = &self.basic_auth {
            if !b.username.is_empty() && !b.username_file.is_empty() {
                return fail("at most one of basic_auth username & username_file must be configured");
            }
            if !b.password.is_empty() && !b.password_file.is_empty() {
                return fail("at most one of basic_auth password & password_file must be configured");
            }
        }
        if let Some(a) = &mut self.authorization {
            if has_bearer {
                return fail("authorization is not compatible with bearer_token & bearer_token_file");
            }
            if !a.credentials.is_empty() && !a.credentials_file.is_empty() {
                return fail("at most one of authorization credentials & credentials_file must be configured");
            }
            a.kind = a.kind.trim().to_owned();
            if a.kind.is_empty() {
                a.kind = "Bearer".into();
            }
            if a.kind.eq_ignore_ascii_case("basic") {
                return fail(r#"authorization type cannot be set to "basic", use "basic_auth" instead"#);
            }
            if self.basic_auth.is_some() {
                return fail("at most one of basic_auth, oauth2 & authorization must be configured");
            }
        } else if has_bearer {
            self.authorization = Some(Authorization {
                kind: "Bearer".into(),
                credentials: std::mem::take(&mut self.bearer_token),
                credentials_file: std::mem::take(&mut self.bearer_token_file),
            });
        }
        let t = &self.tls_config;
        for (a, b, what) in [
            (!t.ca.is_empty(), !t.ca_file.is_empty(), "at most one of ca and ca_file must be configured"),
            (!t.cert.is_empty(), !t.cert_file.is_empty(), "at most one of cert and cert_file must be configured"),
            (!t.key.is_empty(), !t.key_file.is_empty(), "at most one of key and key_file must be configured"),
        ] {
            if a && b {
                return fail(&format!("tls_config: {what}"));
            }
        }
        let has_cert = !t.cert.is_empty() || !t.cert_file.is_empty();
        let has_key = !t.key.is_empty() || !t.key_file.is_empty();
        if has_cert != has_key {
            return fail(
                "tls_config: exactly one of key or key_file must be configured when a client certificate is configured",
            );
        }
        Ok(())
    }

    /// Makes relative file paths relative to `dir`, as Alertmanager does for the file it loaded.
    pub fn set_directory(&mut self, dir: &Path) {
        let join = |p: &mut String| {
            if !p.is_empty() && Path::new(p.as_str()).is_relative() {
                *p = dir.join(p.as_str()).display().to_string();
            }
        };
        if let Some(b) = &mut self.basic_auth {
            join(&mut b.username_file);
            join(&mut b.password_file);
        }
        if let Some(a) = &mut self.authorization {
            join(&mut a.credentials_file);
        }
        join(&mut self.bearer_token_file);
        join(&mut self.tls_config.ca_file);
        join(&mut self.tls_config.cert_file);
        join(&mut self.tls_config.key_file);
    }
}
