//! HTTPS: a webhook delivered to a local TLS server whose self-signed certificate is the configured CA.

use std::sync::Arc;

use hyper_util::rt::TokioIo;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use vigil_alerting::config::IntegrationKind;
use vigil_notify::Outcome;

use crate::support::*;

#[tokio::test]
async fn webhook_over_https_with_a_configured_ca() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, cert.cert.pem()).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = Server::from_parts(format!("https://localhost:{port}"));
    let s = server.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let Ok(stream) = acceptor.accept(tcp).await else { continue };
            tokio::spawn(serve(TokioIo::new(stream), s.clone(), Arc::new(|_: &Seen| ok())));
        }
    });
    let (notifier, mut rx) = notifier(&format!(
        "- name: team\n  webhook_configs:\n  - url: {}/secure\n    http_config:\n      tls_config: {{ca_file: {}}}\n",
        server.base,
        ca_file.display()
    ));
    notifier.notify(firing(IntegrationKind::Webhook));
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);
    assert_eq!(server.wait_for(1).await[0].path, "/secure");

    // Without the CA the system store does not trust the certificate: a handshake error, retried, then failed.
    let yaml = format!(
        "route:\n  receiver: team\nreceivers:\n- name: team\n  webhook_configs:\n  - url: {}/secure\n",
        server.base
    );
    let config = vigil_alerting::AlertmanagerConfig::parse(&yaml, "test.yml").unwrap();
    let mut opts = options();
    opts.retry_budget = std::time::Duration::from_secs(1);
    let (notifier, mut rx) = vigil_notify::Notifier::new(&config, opts).unwrap();
    notifier.notify(firing(IntegrationKind::Webhook));
    let r = report(&mut rx).await;
    assert!(matches!(&r.outcome, Outcome::Failed(e) if e.contains("TLS")), "{r:?}");
}
