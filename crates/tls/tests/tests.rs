//! Connections to a real TLS server on 127.0.0.1 with certificates made by the test: verification, settings
//! errors, and a CA file replaced between connections.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use vigil_tls::{ConnectError, Connector, Pem, Stream, TlsSettings};

/// A self-signed certificate for 127.0.0.1, its PEM written to `dir/<stem>.pem`.
fn cert(dir: &Path, stem: &str) -> (rcgen::CertifiedKey, std::path::PathBuf) {
    let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let path = dir.join(format!("{stem}.pem"));
    std::fs::write(&path, c.cert.pem()).unwrap();
    (c, path)
}

/// A TLS server completing handshakes with `c` forever; its port.
async fn server(c: &rcgen::CertifiedKey) -> u16 {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![c.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // Hold the connection open until the test's runtime ends.
                if let Ok(stream) = acceptor.accept(tcp).await {
                    std::future::pending::<()>().await;
                    drop(stream);
                }
            });
        }
    });
    port
}

fn with_ca(path: &Path) -> TlsSettings {
    TlsSettings { ca: Pem::File(path.to_owned()), ..TlsSettings::default() }
}

#[tokio::test]
async fn a_replaced_ca_file_is_used_by_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (served, _) = cert(dir.path(), "served");
    let (_, other) = cert(dir.path(), "other");
    let port = server(&served).await;
    let ca = dir.path().join("ca.pem");
    std::fs::copy(&other, &ca).unwrap();
    let connector = Connector::new(with_ca(&ca)).unwrap();
    let err = connector.connect_tls("127.0.0.1", port).await.unwrap_err();
    assert!(matches!(err, ConnectError::Handshake(_)), "{err:?}");
    // Both certificates are named "rcgen self signed cert": the CA matches by name, not by key.
    let text = err.to_string();
    assert!(text.starts_with("x509: certificate signed by unknown authority"), "{text}");
    std::fs::write(&ca, served.cert.pem()).unwrap();
    let stream = connector.connect_tls("127.0.0.1", port).await.unwrap();
    let Stream::Tls(tls) = stream else { panic!("a plain stream") };
    assert_eq!(tls.get_ref().1.alpn_protocol(), None, "the server offers no ALPN; the client asked for http/1.1");
    // A CA file that became unreadable fails the connection, not the process.
    std::fs::remove_file(&ca).unwrap();
    let err = connector.connect_tls("127.0.0.1", port).await.unwrap_err();
    assert!(matches!(err, ConnectError::Settings(_)), "{err:?}");
}

#[tokio::test]
async fn insecure_skip_verify_accepts_any_certificate_and_plain_connects() {
    let dir = tempfile::tempdir().unwrap();
    let (served, _) = cert(dir.path(), "served");
    let port = server(&served).await;
    let insecure = Connector::new(TlsSettings { insecure_skip_verify: true, ..TlsSettings::default() }).unwrap();
    assert!(matches!(insecure.connect_tls("127.0.0.1", port).await.unwrap(), Stream::Tls(_)));
    assert!(matches!(vigil_tls::connect_plain("127.0.0.1", port).await.unwrap(), Stream::Plain(_)));
}

#[test]
fn bad_settings_are_refused_when_the_connector_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let err = Connector::new(with_ca(&missing)).unwrap_err().to_string();
    assert!(err.starts_with(&format!("unable to load specified CA cert {}: ", missing.display())), "{err}");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let err = Connector::new(with_ca(&junk)).unwrap_err().to_string();
    assert_eq!(err, format!("unable to use specified CA cert {}", junk.display()));
    let (_, cert_pem) = cert(dir.path(), "client");
    let settings = TlsSettings { cert: Pem::File(cert_pem.clone()), ..TlsSettings::default() };
    let err = Connector::new(settings).unwrap_err().to_string();
    assert_eq!(err, format!("client cert file {:?} specified without client key file", cert_pem.display().to_string()));
}
