//! HTTPS targets and authentication: real TLS exporters on 127.0.0.1 with certificates made by the test, and
//! the `Authorization` header each scrape sends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use vigil_scrape::Health;

use crate::{series, start, Exporter, Recorder};

/// Scrapes every 500ms with a 400ms timeout: TLS handshakes in debug builds on a loaded machine need the room.
fn tls_job(name: &str, target: &str, extra: &str) -> String {
    format!(
        "  - job_name: {name}\n    scrape_interval: 500ms\n    scrape_timeout: 400ms\n    static_configs:\n      - targets: ['{target}']\n{extra}"
    )
}

/// A self-signed certificate for `names`, written as `<stem>.pem` and `<stem>-key.pem` into `dir`.
struct Cert {
    der: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    pem: PathBuf,
    key_pem: PathBuf,
}

impl Cert {
    fn new(dir: &Path, stem: &str, names: &[&str]) -> Cert {
        let c = rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let pem = dir.join(format!("{stem}.pem"));
        let key_pem = dir.join(format!("{stem}-key.pem"));
        std::fs::write(&pem, c.cert.pem()).unwrap();
        std::fs::write(&key_pem, c.key_pair.serialize_pem()).unwrap();
        let key = PrivatePkcs8KeyDer::from(c.key_pair.serialize_der());
        Cert { der: c.cert.der().clone(), key, pem, key_pem }
    }
}

/// An HTTPS exporter serving `body` with `cert`; with `client_ca`, it requires a client certificate it signed.
struct TlsExporter {
    addr: SocketAddr,
    requests: Arc<Mutex<u64>>,
}

impl TlsExporter {
    async fn start(cert: &Cert, client_ca: Option<&Cert>, body: &'static str) -> TlsExporter {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(ca.der.clone()).unwrap();
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config =
            builder.with_single_cert(vec![cert.der.clone()], PrivateKeyDer::Pkcs8(cert.key.clone_key())).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let acceptor = acceptor.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |_req| {
                        *counter.lock().unwrap() += 1;
                        async move {
                            let response = hyper::Response::builder()
                                .header("content-type", "text/plain; version=0.0.4")
                                .body(Full::new(Bytes::from_static(body.as_bytes())))
                                .unwrap();
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        TlsExporter { addr, requests }
    }

    fn address(&self) -> String {
        self.addr.to_string()
    }
}

fn last_error(m: &vigil_scrape::Manager, job: &str) -> Option<String> {
    m.targets().into_iter().find(|t| t.job == job).and_then(|t| t.last_error)
}

#[tokio::test]
async fn https_targets_are_verified_against_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let cert = Cert::new(dir.path(), "server", &["localhost", "127.0.0.1"]);
    let e = TlsExporter::start(&cert, None, "# TYPE temp gauge\ntemp 21.5\n").await;
    let inst = e.address();
    let ca = format!("    scheme: https\n    tls_config:\n      ca_file: {}\n", cert.pem.display());
    let yaml = format!(
        "scrape_configs:\n{}{}{}",
        tls_job("trusted", &inst, &ca),
        tls_job("untrusted", &inst, "    scheme: https\n"),
        tls_job("insecure", &inst, "    scheme: https\n    tls_config: {insecure_skip_verify: true}\n"),
    );
    let (m, rec) = start(&yaml).await;
    rec.wait_value(&series("up", "trusted", &inst, ""), |v| v == 1.0).await;
    assert_eq!(rec.last(&series("temp", "trusted", &inst, "")), Some(21.5));
    rec.wait_value(&series("up", "insecure", &inst, ""), |v| v == 1.0).await;
    assert_eq!(rec.last(&series("temp", "insecure", &inst, "")), Some(21.5));
    rec.wait_value(&series("up", "untrusted", &inst, ""), |v| v == 0.0).await;
    assert!(!rec.any_series(|s| s.starts_with("temp{") && s.contains("untrusted")));
    let url = format!("https://{inst}/metrics");
    let t = m.targets().into_iter().find(|t| t.job == "trusted").unwrap();
    assert_eq!((t.scrape_url.as_str(), t.health, t.last_error.as_deref()), (url.as_str(), Health::Up, None));
    assert_eq!(
        last_error(&m, "untrusted").as_deref(),
        Some(format!("Get {url:?}: x509: certificate signed by unknown authority").as_str())
    );
    m.stop().await;
}

#[tokio::test]
async fn server_name_replaces_the_host_in_verification() {
    let dir = tempfile::tempdir().unwrap();
    let cert = Cert::new(dir.path(), "server", &["exporter.internal"]);
    let e = TlsExporter::start(&cert, None, "a 1\n").await;
    let inst = e.address();
    let tls =
        |extra: &str| format!("    scheme: https\n    tls_config:\n      ca_file: {}\n{extra}", cert.pem.display());
    let yaml = format!(
        "scrape_configs:\n{}{}",
        tls_job("named", &inst, &tls("      server_name: exporter.internal\n")),
        tls_job("by_ip", &inst, &tls("")),
    );
    let (m, rec) = start(&yaml).await;
    rec.wait_value(&series("up", "named", &inst, ""), |v| v == 1.0).await;
    rec.wait_value(&series("up", "by_ip", &inst, ""), |v| v == 0.0).await;
    let err = last_error(&m, "by_ip").unwrap();
    assert!(err.ends_with("x509: certificate is valid for exporter.internal, not 127.0.0.1"), "{err}");
    m.stop().await;
}

#[tokio::test]
async fn client_certificates_are_presented_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let server = Cert::new(dir.path(), "server", &["127.0.0.1"]);
    let client = Cert::new(dir.path(), "client", &["scraper"]);
    let e = TlsExporter::start(&server, Some(&client), "a 1\n").await;
    let inst = e.address();
    let ca = format!("    scheme: https\n    tls_config:\n      ca_file: {}\n", server.pem.display());
    let with_cert =
        format!("{ca}      cert_file: {}\n      key_file: {}\n", client.pem.display(), client.key_pem.display());
    let yaml = format!("scrape_configs:\n{}{}", tls_job("mtls", &inst, &with_cert), tls_job("anonymous", &inst, &ca));
    let (m, rec) = start(&yaml).await;
    rec.wait_value(&series("up", "mtls", &inst, ""), |v| v == 1.0).await;
    assert_eq!(rec.last(&series("a", "mtls", &inst, "")), Some(1.0));
    rec.wait_value(&series("up", "anonymous", &inst, ""), |v| v == 0.0).await;
    // TLS 1.3 servers refuse a missing certificate after the client's side of the handshake is done.
    let err = last_error(&m, "anonymous").unwrap();
    assert_eq!(err, format!("Get \"https://{inst}/metrics\": remote error: tls: certificate required"));
    assert!(*e.requests.lock().unwrap() > 0);
    m.stop().await;
}

/// Waits until the exporter saw a scrape whose `Authorization` header is `want`.
async fn wait_authorization(rec: &Recorder, e: &Exporter, want: Option<&str>) {
    let seen = || {
        let headers = e.last_headers.lock().unwrap();
        headers.as_ref().map(|h| h.get("authorization").map(|v| v.to_str().unwrap().to_owned()))
    };
    rec.wait(&format!("authorization {want:?}"), |_| seen() == Some(want.map(str::to_owned))).await;
}

#[tokio::test]
async fn basic_auth_sends_the_password_file_read_at_each_scrape() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "first\n").unwrap();
    let e = Exporter::start("a 1\n").await;
    let inst = e.address();
    let extra = format!("    basic_auth:\n      username: vigil\n      password_file: {}\n", password.display());
    let (m, rec) = start(&format!("scrape_configs:\n{}", tls_job("j", &inst, &extra))).await;
    wait_authorization(&rec, &e, Some(&vigil_tls::basic_auth("vigil", "first"))).await;
    std::fs::write(&password, "second").unwrap();
    wait_authorization(&rec, &e, Some(&vigil_tls::basic_auth("vigil", "second"))).await;
    m.stop().await;
}

#[tokio::test]
async fn bearer_token_files_are_read_again_at_each_scrape() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-1\n").unwrap();
    let e = Exporter::start("a 1\n").await;
    let inst = e.address();
    let extra = format!("    bearer_token_file: {}\n", token.display());
    let (m, rec) = start(&format!("scrape_configs:\n{}", tls_job("j", &inst, &extra))).await;
    let up = series("up", "j", &inst, "");
    wait_authorization(&rec, &e, Some("Bearer tok-1")).await;
    rec.wait_value(&up, |v| v == 1.0).await;
    std::fs::write(&token, "tok-2\n").unwrap();
    wait_authorization(&rec, &e, Some("Bearer tok-2")).await;
    // A token file that disappears fails the scrape, in Prometheus' words.
    std::fs::remove_file(&token).unwrap();
    rec.wait_value(&up, |v| v == 0.0).await;
    let err = last_error(&m, "j").unwrap();
    let want =
        format!("Get \"http://{inst}/metrics\": unable to read authorization credentials file {}: ", token.display());
    assert!(err.starts_with(&want), "{err}");
    std::fs::write(&token, "tok-3").unwrap();
    rec.wait_value(&up, |v| v == 1.0).await;
    wait_authorization(&rec, &e, Some("Bearer tok-3")).await;
    m.stop().await;
}

#[tokio::test]
async fn authorization_and_inline_bearer_tokens_set_the_header() {
    let e = Exporter::start("a 1\n").await;
    let inst = e.address();
    let extra = "    authorization:\n      type: Token\n      credentials: abc\n";
    let (m, rec) = start(&format!("scrape_configs:\n{}", tls_job("j", &inst, extra))).await;
    wait_authorization(&rec, &e, Some("Token abc")).await;
    m.stop().await;
    let e = Exporter::start("a 1\n").await;
    let inst = e.address();
    let (m, rec) = start(&format!("scrape_configs:\n{}", tls_job("j", &inst, "    bearer_token: xyz\n"))).await;
    wait_authorization(&rec, &e, Some("Bearer xyz")).await;
    m.stop().await;
}

#[tokio::test]
async fn https_relabeling_and_tls_files_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let cert = Cert::new(dir.path(), "server", &["127.0.0.1"]);
    let e = TlsExporter::start(&cert, None, "a 2\n").await;
    let inst = e.address();
    // `__scheme__` set by relabeling; `ca_file` relative to the configuration file.
    let extra = "    tls_config: {ca_file: server.pem}\n    relabel_configs:\n      - {target_label: __scheme__, replacement: https}\n";
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, format!("scrape_configs:\n{}", tls_job("j", &inst, extra))).unwrap();
    let c = vigil_config::scrape::PrometheusConfig::load(&path).unwrap();
    let rec = Arc::new(Recorder::default());
    let m = vigil_scrape::Manager::start(&c.global, &c.scrape_configs, rec.clone()).await.unwrap();
    rec.wait_value(&series("up", "j", &inst, ""), |v| v == 1.0).await;
    assert_eq!(rec.last(&series("a", "j", &inst, "")), Some(2.0));
    assert_eq!(m.targets()[0].scrape_url, format!("https://{inst}/metrics"));
    m.stop().await;
}

#[tokio::test]
async fn unreadable_tls_files_refuse_the_job() {
    let yaml = "scrape_configs:\n  - job_name: j\n    scheme: https\n    tls_config: {ca_file: /nonexistent/ca.pem}\n";
    let c = crate::config(yaml);
    let err = vigil_scrape::Manager::start(&c.global, &c.scrape_configs, Arc::new(Recorder::default()))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with(
            "job \"j\": error creating HTTP client: unable to load specified CA cert /nonexistent/ca.pem: "
        ),
        "{err}"
    );
}
