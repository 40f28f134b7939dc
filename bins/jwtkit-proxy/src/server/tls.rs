//! The listener's TLS: rustls on the workspace's aws-lc-rs provider, TLS 1.2 and 1.3, ALPN `h2`
//! and `http/1.1`. The certificate is held by [`CertResolver`] and replaced in place on a
//! reload: handshakes after the swap present the new one, open connections keep theirs.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use crate::config::{ConfigError, TlsSection};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Reads the certificate chain and private key named by `[tls]` and checks that they belong
/// together. An error names the key of the file at fault (`tls.cert_file`, `tls.key_file`).
pub fn load_certificate(section: &TlsSection) -> Result<Arc<CertifiedKey>, ConfigError> {
    let certs = read_chain(&section.cert_file)?;
    let key = read_key(&section.key_file)?;
    let key = provider().key_provider.load_private_key(key).map_err(|e| {
        ConfigError::new(
            "tls.key_file",
            format!("{}: unusable private key: {e}", section.key_file.display()),
            "use an RSA, ECDSA (P-256/P-384) or Ed25519 key in PEM",
        )
    })?;
    let certified = CertifiedKey::new(certs, key);
    certified.keys_match().map_err(|e| {
        ConfigError::new(
            "tls.key_file",
            format!(
                "{} does not belong to the certificate in {}: {e}",
                section.key_file.display(),
                section.cert_file.display()
            ),
            "give the key of the chain's first certificate (both files from the same issue)",
        )
    })?;
    Ok(Arc::new(certified))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let problem = |what: String| {
        ConfigError::new(
            "tls.cert_file",
            format!("{}: {what}", path.display()),
            "give a readable PEM file with the certificate chain, leaf first",
        )
    };
    let text = std::fs::read(path).map_err(|e| problem(format!("cannot read: {}", e.kind())))?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(problem("holds no CERTIFICATE block".to_owned()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let problem = |what: String| {
        ConfigError::new(
            "tls.key_file",
            format!("{}: {what}", path.display()),
            "give a readable PEM file with one PRIVATE KEY (PKCS#8, RSA or EC)",
        )
    };
    let text = std::fs::read(path).map_err(|e| problem(format!("cannot read: {}", e.kind())))?;
    // The parser's message never holds key material.
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| problem(format!("no private key: {e}")))
}

/// The certificate every handshake presents, replaced in place by [`CertResolver::set`].
#[derive(Debug)]
pub struct CertResolver {
    current: ArcSwap<CertifiedKey>,
}

impl CertResolver {
    /// Starts with `certificate`.
    pub fn new(certificate: Arc<CertifiedKey>) -> Self {
        Self {
            current: ArcSwap::new(certificate),
        }
    }

    /// Presents `certificate` from the next handshake on.
    pub fn set(&self, certificate: Arc<CertifiedKey>) {
        self.current.store(certificate);
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The acceptor of the listener: TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`, the certificate
/// of `resolver`.
pub fn acceptor(resolver: Arc<CertResolver>) -> Result<TlsAcceptor, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
