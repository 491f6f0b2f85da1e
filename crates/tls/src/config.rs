//! The rustls client configuration for a `TlsSettings`: ring as the provider, the system's trust anchors or the
//! configured CA, an optional client certificate, ALPN `http/1.1`, or a verifier that accepts any certificate.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::ClientConfig;

use crate::{TlsError, TlsSettings};

/// The PEM texts of one build, compared to decide whether files changed since.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Loaded {
    ca: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

impl Loaded {
    pub(crate) fn read(s: &TlsSettings) -> Result<Loaded, TlsError> {
        let ca =
            s.ca.load().map_err(|e| TlsError(format!("unable to load specified CA cert {}: {e}", s.ca.describe())))?;
        let client = |pem: &crate::Pem| {
            pem.load().map_err(|e| {
                TlsError(format!(
                    "unable to use specified client cert ({}) & key ({}): {e}",
                    s.cert.describe(),
                    s.key.describe()
                ))
            })
        };
        Ok(Loaded { ca, cert: client(&s.cert)?, key: client(&s.key)? })
    }
}

/// The client configuration for `settings`, reading its files now.
pub fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, TlsError> {
    build(settings, &Loaded::read(settings)?)
}

pub(crate) fn build(s: &TlsSettings, loaded: &Loaded) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?;
    let builder = if s.insecure_skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let roots = match &loaded.ca {
            None => native_roots(),
            Some(pem) => {
                let unusable = || TlsError(format!("unable to use specified CA cert {}", s.ca.describe()));
                let mut store = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    store.add(cert.map_err(|_| unusable())?).map_err(|_| unusable())?;
                }
                if store.is_empty() {
                    return Err(unusable());
                }
                Arc::new(store)
            }
        };
        builder.with_root_certificates(roots)
    };
    let unusable = |e: &dyn std::fmt::Display| {
        TlsError(format!(
            "unable to use specified client cert ({}) & key ({}): {e}",
            s.cert.describe(),
            s.key.describe()
        ))
    };
    let mut config = match (&loaded.cert, &loaded.key) {
        (Some(cert), Some(key)) => {
            let certs: Vec<_> =
                CertificateDer::pem_slice_iter(cert.as_bytes()).collect::<Result<_, _>>().map_err(|e| unusable(&e))?;
            if certs.is_empty() {
                return Err(unusable(&"no certificates found"));
            }
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| unusable(&e))?;
            builder.with_client_auth_cert(certs, key).map_err(|e| unusable(&e))?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => {
            return Err(TlsError(format!("client cert file {:?} specified without client key file", s.cert.describe())))
        }
        (None, Some(_)) => {
            return Err(TlsError(format!("client key file {:?} specified without client cert file", s.key.describe())))
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The system's trust anchors (Debian's `/etc/ssl/certs`), read once per process; unreadable ones are skipped.
fn native_roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = rustls::RootCertStore::empty();
            store.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            Arc::new(store)
        })
        .clone()
}

/// `insecure_skip_verify: true`: any certificate is accepted, signatures are still checked.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
