//! Which certificate authorities a TLS client trusts: the system's, the system's plus private
//! ones read from a PEM file, or only those (an internal Keycloak behind its own CA).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::{self, PemObject};

/// How the certificates of a CA file combine with the system's roots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CaMode {
    /// Trust the system's roots and the file's certificates (the default: public IdPs keep
    /// working next to the private CA).
    #[default]
    Add,
    /// Trust only the file's certificates: a server with a publicly trusted certificate is
    /// refused unless its CA is in the file.
    Replace,
}

impl CaMode {
    /// The mode named `add` or `replace` (as [`CaMode`]'s `Display` writes it), or `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "add" => Some(Self::Add),
            "replace" => Some(Self::Replace),
            _ => None,
        }
    }
}

impl std::fmt::Display for CaMode {
    /// `add` or `replace`, as the proxy's `ca_mode` and the CLI's `--ca-mode` spell it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Add => "add",
            Self::Replace => "replace",
        })
    }
}

/// CA certificates read from PEM, each checked to be usable as a trust anchor.
#[derive(Clone, Debug)]
pub struct CaCertificates {
    origin: PathBuf,
    certificates: Arc<[CertificateDer<'static>]>,
}

impl CaCertificates {
    /// Reads the `CERTIFICATE` blocks of the PEM file at `path` (other blocks are ignored). Fails
    /// when the file cannot be read, is not PEM, holds no certificate or a certificate that
    /// cannot be a trust anchor; the error names the path, never the file's content.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, TrustError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| TrustError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_pem(path, &bytes)
    }

    /// Reads the `CERTIFICATE` blocks of `pem`; `origin` names them in errors and logs (a path,
    /// or a label such as `built-in`).
    pub fn from_pem(origin: impl Into<PathBuf>, pem: &[u8]) -> Result<Self, TrustError> {
        let origin = origin.into();
        let mut certificates = Vec::new();
        for item in CertificateDer::pem_slice_iter(pem) {
            let certificate = item.map_err(|err| TrustError::Pem {
                path: origin.clone(),
                reason: pem_reason(&err),
            })?;
            certificates.push(certificate);
        }
        if certificates.is_empty() {
            return Err(TrustError::NoCertificate { path: origin });
        }
        // Parsed as trust anchors now, so a broken certificate stops the start rather than every
        // later connection.
        let mut store = rustls::RootCertStore::empty();
        for (index, certificate) in certificates.iter().enumerate() {
            store
                .add(certificate.clone())
                .map_err(|err| TrustError::BadCertificate {
                    path: origin.clone(),
                    index,
                    reason: err.to_string(),
                })?;
        }
        Ok(Self {
            origin,
            certificates: certificates.into(),
        })
    }

    /// The path (or label) the certificates were read from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The certificates, DER-encoded, in file order.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certificates
    }

    /// The certificates as a rustls root store (for a TLS client built outside this crate).
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut store = rustls::RootCertStore::empty();
        // Every certificate was added once in `from_pem`: this cannot fail.
        let (_added, _ignored) = store.add_parsable_certificates(self.certificates.iter().cloned());
        store
    }
}

/// What a PEM error is, without the text it was found in.
fn pem_reason(err: &pem::Error) -> &'static str {
    match err {
        pem::Error::MissingSectionEnd { .. } => "a BEGIN line has no matching END line",
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a block is not valid base64",
        pem::Error::SectionTooLarge => "a block is too large",
        _ => "it cannot be read as PEM",
    }
}

/// The roots a TLS client trusts (for JWKS and discovery fetches: [`JwksConfig::trust`](crate::JwksConfig::trust)).
#[derive(Clone, Debug, Default)]
pub enum TrustRoots {
    /// The system's roots (the platform verifier: the OS store, `SSL_CERT_FILE` on Linux).
    #[default]
    System,
    /// The system's roots and these certificates ([`CaMode::Add`]).
    SystemAnd(CaCertificates),
    /// Only these certificates ([`CaMode::Replace`]).
    Only(CaCertificates),
}

impl TrustRoots {
    /// The roots for `certificates` used in `mode`.
    pub fn new(certificates: CaCertificates, mode: CaMode) -> Self {
        match mode {
            CaMode::Add => Self::SystemAnd(certificates),
            CaMode::Replace => Self::Only(certificates),
        }
    }

    /// The roots for the PEM file at `path` used in `mode` ([`CaCertificates::from_pem_file`]).
    ///
    /// ```
    /// use jwtkit_jwks::{CaMode, TrustError, TrustRoots};
    ///
    /// let err = TrustRoots::from_pem_file("/nonexistent/ca.pem", CaMode::Add).unwrap_err();
    /// assert!(matches!(err, TrustError::Read { .. }));
    /// assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    /// ```
    pub fn from_pem_file(path: impl AsRef<Path>, mode: CaMode) -> Result<Self, TrustError> {
        CaCertificates::from_pem_file(path).map(|certificates| Self::new(certificates, mode))
    }

    /// The extra or only certificates, if any.
    pub fn certificates(&self) -> Option<&CaCertificates> {
        match self {
            Self::System => None,
            Self::SystemAnd(certificates) | Self::Only(certificates) => Some(certificates),
        }
    }

    /// How the certificates combine with the system's roots; `None` for [`TrustRoots::System`].
    pub fn mode(&self) -> Option<CaMode> {
        match self {
            Self::System => None,
            Self::SystemAnd(_) => Some(CaMode::Add),
            Self::Only(_) => Some(CaMode::Replace),
        }
    }
}

/// Why CA certificates could not be read. Messages name the file, never its content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The file could not be read.
    #[error("cannot read CA file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not PEM.
    #[error("CA file {} is not valid PEM: {reason}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// The file holds no `CERTIFICATE` block.
    #[error("CA file {} holds no PEM CERTIFICATE block", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A certificate cannot be a trust anchor (not an X.509 certificate).
    #[error("certificate {} of CA file {} is not usable: {reason}", index + 1, path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// Its position in the file, from 0.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_A_CERTIFICATE: &str =
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn bad_ca_files_fail_naming_the_path_never_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                write(
                    &dir,
                    "key.pem",
                    "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n",
                ),
                "holds no PEM CERTIFICATE block",
            ),
            (
                write(&dir, "empty.pem", ""),
                "holds no PEM CERTIFICATE block",
            ),
            (
                write(
                    &dir,
                    "cut.pem",
                    "-----BEGIN CERTIFICATE-----\nc2VjcmV0LWtleS1ieXRlcw==\n",
                ),
                "not valid PEM: a BEGIN line has no matching END line",
            ),
            (
                write(&dir, "junk.pem", NOT_A_CERTIFICATE),
                "certificate 1 of CA file",
            ),
            (dir.path().join("missing.pem"), "cannot read CA file"),
        ];
        for (path, expected) in cases {
            let err = TrustRoots::from_pem_file(&path, CaMode::Add).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(expected), "{message}");
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(!message.contains("c2VjcmV0"), "content leaked: {message}");
        }
    }

    #[test]
    fn the_mode_chooses_between_adding_and_replacing() {
        let ca = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap()
            .pem();
        let certificates = CaCertificates::from_pem("inline", ca.as_bytes()).unwrap();
        assert_eq!(certificates.certificates().len(), 1);
        assert_eq!(certificates.root_store().len(), 1);
        assert_eq!(certificates.origin(), Path::new("inline"));
        let added = TrustRoots::new(certificates.clone(), CaMode::Add);
        assert!(matches!(added, TrustRoots::SystemAnd(_)));
        assert_eq!(added.mode(), Some(CaMode::Add));
        let only = TrustRoots::new(certificates, CaMode::Replace);
        assert_eq!(only.mode(), Some(CaMode::Replace));
        assert!(only.certificates().is_some());
        assert_eq!(TrustRoots::default().mode(), None);
        assert_eq!(CaMode::default().to_string(), "add");
        assert_eq!(CaMode::Replace.to_string(), "replace");
        for mode in [CaMode::Add, CaMode::Replace] {
            assert_eq!(CaMode::from_name(&mode.to_string()), Some(mode));
        }
        assert_eq!(CaMode::from_name("Add"), None);
    }
}
