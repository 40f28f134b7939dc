//! The listener's TLS: rustls on the workspace's aws-lc-rs provider, TLS 1.2 and 1.3, ALPN `h2`
//! and `http/1.1`. The certificate is held by [`CertResolver`], and the check of callers'
//! client certificates (`client_ca_file`, mutual TLS) by [`ClientVerifier`]; a reload replaces
//! both in place: handshakes after the swap use the new ones, open connections keep theirs.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use tokio_rustls::TlsAcceptor;

use crate::config::{ClientAuth, ConfigError, TlsSection};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// What `[tls]` names, read and checked: the listener's certificate and the check of callers'
/// client certificates.
pub struct Loaded {
    /// The certificate chain and its key.
    pub certificate: Arc<CertifiedKey>,
    /// `None` without `client_ca_file`.
    pub clients: Option<Clients>,
}

/// Reads every file of `section` ([`load_certificate`], [`load_client_check`]).
pub fn load(section: &TlsSection) -> Result<Loaded, ConfigError> {
    Ok(Loaded {
        certificate: load_certificate(section)?,
        clients: load_client_check(section)?,
    })
}

/// The listener's TLS as it serves: what a reload replaces in place.
#[derive(Debug)]
pub struct ListenerTls {
    certificate: Arc<CertResolver>,
    clients: Arc<ClientVerifier>,
}

impl ListenerTls {
    /// Serves `loaded`.
    pub fn new(loaded: Loaded) -> Self {
        Self {
            certificate: Arc::new(CertResolver::new(loaded.certificate)),
            clients: Arc::new(ClientVerifier::new(loaded.clients)),
        }
    }

    /// Serves `loaded` from the next handshake on.
    pub fn set(&self, loaded: Loaded) {
        self.certificate.set(loaded.certificate);
        self.clients.set(loaded.clients);
    }

    /// The acceptor of the listener: TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`, this
    /// state's certificate and check of client certificates.
    pub fn acceptor(&self) -> Result<TlsAcceptor, rustls::Error> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_client_cert_verifier(self.clients.clone())
            .with_cert_resolver(self.certificate.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
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

/// Reads `[tls] client_ca_file` into the check of callers' client certificates (`None`: no
/// client certificate is asked for). An error names `tls.client_ca_file`.
pub fn load_client_check(section: &TlsSection) -> Result<Option<Clients>, ConfigError> {
    let Some(path) = &section.client_ca_file else {
        return Ok(None);
    };
    let problem = |what: String| {
        ConfigError::new(
            "tls.client_ca_file",
            format!("{}: {what}", path.display()),
            "give a readable PEM file with the CA certificates that issue the callers' client certificates",
        )
    };
    let mut roots = RootCertStore::empty();
    for cert in read_pem_certs(path, problem)? {
        roots
            .add(cert)
            .map_err(|e| problem(format!("not a usable CA certificate: {e}")))?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    let builder = match section.client_auth.unwrap_or_default() {
        ClientAuth::Required => builder,
        ClientAuth::Optional => builder.allow_unauthenticated(),
    };
    let verifier = builder
        .build()
        .map_err(|e| problem(format!("cannot check client certificates with it: {e}")))?;
    Ok(Some(Clients(verifier)))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let problem = |what: String| {
        ConfigError::new(
            "tls.cert_file",
            format!("{}: {what}", path.display()),
            "give a readable PEM file with the certificate chain, leaf first",
        )
    };
    read_pem_certs(path, problem)
}

/// The certificates of the PEM file at `path`, at least one; `problem` makes the error.
fn read_pem_certs(
    path: &Path,
    problem: impl Fn(String) -> ConfigError,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
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

/// The check of callers' client certificates that `[tls] client_ca_file` configures.
#[derive(Debug)]
pub struct Clients(Arc<dyn ClientCertVerifier>);

/// The check of callers' client certificates every handshake makes, replaced in place by
/// [`ClientVerifier::set`]; with none set, no client certificate is asked for.
#[derive(Debug)]
pub struct ClientVerifier {
    current: ArcSwap<Option<Clients>>,
}

impl ClientVerifier {
    /// Starts with `clients`.
    pub fn new(clients: Option<Clients>) -> Self {
        Self {
            current: ArcSwap::from_pointee(clients),
        }
    }

    /// Checks client certificates with `clients` from the next handshake on.
    pub fn set(&self, clients: Option<Clients>) {
        self.current.store(Arc::new(clients));
    }

    /// The current check; an error when there is none (the handshake asked for no certificate
    /// and a reload happened since).
    fn current(&self) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
        match &**self.current.load() {
            Some(Clients(verifier)) => Ok(verifier.clone()),
            None => Err(rustls::Error::General(
                "client certificates are no longer checked".into(),
            )),
        }
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.current.load().is_some()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.current().is_ok_and(|v| v.client_auth_mandatory())
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints (allowed by TLS 1.2 and 1.3): they would borrow from a verifier a reload
        // may replace. A client then offers the certificate it has.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current()?
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current()?.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        match self.current() {
            Ok(verifier) => verifier.supported_verify_schemes(),
            Err(_) => provider()
                .signature_verification_algorithms
                .supported_schemes(),
        }
    }
}
