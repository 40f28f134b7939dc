//! TLS toward one upstream: the CAs its certificate may chain to (`ca_file`, `ca_mode`) and the
//! client certificate the proxy presents (`client_cert_file`, `client_key_file`). Files are read
//! and checked at start; a key that does not match its certificate stops the start.

use std::path::Path;
use std::sync::Arc;

use jwtkit_verify::TrustRoots;
use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::issuers::trust_roots;
use crate::config::{ConfigError, UpstreamSection};

/// The TLS client configuration of an upstream with TLS keys set.
pub struct UpstreamTls {
    /// The rustls configuration its connections use.
    pub config: ClientConfig,
    /// What was loaded, for the start-up log (paths and counts, never key material).
    pub summary: String,
}

/// The TLS configuration of `upstreams[index]`, or `None` when it sets no TLS key (it then
/// shares the proxy's default client: system roots, no client certificate).
pub fn upstream_tls(
    index: usize,
    section: &UpstreamSection,
) -> Result<Option<UpstreamTls>, ConfigError> {
    if section.ca_file.is_none() && section.client_cert_file.is_none() {
        return Ok(None);
    }
    let key = format!("upstreams[{index}]");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let trust = match &section.ca_file {
        Some(path) => trust_roots(&format!("{key}.ca_file"), path, section.ca_mode)?,
        None => TrustRoots::System,
    };
    let mut summary = match (&section.ca_file, trust.certificates()) {
        (Some(path), Some(ca)) => format!(
            "ca_file {} (mode {}, {} certificate(s))",
            path.display(),
            section.ca_mode.unwrap_or_default(),
            ca.certificates().len()
        ),
        _ => "system CA roots".to_owned(),
    };
    let builder = verifier(&key, &trust, provider.clone())?;
    let config = match (&section.client_cert_file, &section.client_key_file) {
        (Some(cert_path), Some(key_path)) => {
            let chain = read_certificates(&format!("{key}.client_cert_file"), cert_path)?;
            let private_key = read_key(&format!("{key}.client_key_file"), key_path)?;
            summary.push_str(&format!(
                ", client certificate {} ({} in chain)",
                cert_path.display(),
                chain.len()
            ));
            builder
                .with_client_auth_cert(chain, private_key)
                .map_err(|e| {
                    ConfigError::new(
                        format!("{key}.client_key_file"),
                        format!(
                            "{} cannot be used with {}: {e}",
                            key_path.display(),
                            cert_path.display()
                        ),
                        "give the private key of client_cert_file's first certificate",
                    )
                })?
        }
        // One without the other is refused by `Config::check`.
        _ => builder.with_no_client_auth(),
    };
    Ok(Some(UpstreamTls { config, summary }))
}

type WantsClientCert = rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>;

/// The server-certificate check for `trust`: the platform verifier (with the extra roots for
/// `add`), or webpki over the given roots alone for `replace`.
fn verifier(
    key: &str,
    trust: &TrustRoots,
    provider: Arc<CryptoProvider>,
) -> Result<WantsClientCert, ConfigError> {
    let setup = |e: rustls::Error| {
        ConfigError::new(
            format!("{key}.ca_file"),
            format!("TLS set-up failed: {e}"),
            "check the system's CA certificates and the CA file",
        )
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(setup)?;
    Ok(match trust {
        TrustRoots::Only(ca) => builder.with_root_certificates(ca.root_store()),
        TrustRoots::SystemAnd(ca) => {
            let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
                ca.certificates().iter().cloned(),
                provider,
            )
            .map_err(setup)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
        }
        // A client certificate without ca_file: the same check as the shared client's.
        TrustRoots::System => {
            let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(setup)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
        }
    })
}

/// The certificates of the PEM file at `path`, at least one.
fn read_certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bytes = read(key, path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| not_pem(key, path, "CERTIFICATE"))?;
    if chain.is_empty() {
        return Err(not_pem(key, path, "CERTIFICATE"));
    }
    Ok(chain)
}

/// The private key of the PEM file at `path` (PKCS#8, PKCS#1 or SEC1).
fn read_key(key: &str, path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let bytes = read(key, path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| not_pem(key, path, "PRIVATE KEY"))
}

fn read(key: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| {
        ConfigError::new(
            key,
            format!("cannot read {}: {}", path.display(), e.kind()),
            "check the path",
        )
    })
}

/// A file without the expected PEM block; its content is never shown.
fn not_pem(key: &str, path: &Path, block: &str) -> ConfigError {
    ConfigError::new(
        key,
        format!("{} holds no readable PEM {block} block", path.display()),
        format!("give a PEM file (-----BEGIN {block}-----)"),
    )
}
