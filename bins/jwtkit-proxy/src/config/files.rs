//! The files a configuration names (secrets, key sets, public keys, CA files, client
//! certificates, the listener's certificate):
//! a live reload watches them besides the configuration file itself. A key that names a file
//! is listed here, so a file added to the format later is watched by adding it below.

use std::path::{Path, PathBuf};

use super::{Config, SecretRef, UpstreamAuth};

impl Config {
    /// Every file this configuration reads at load, in the order of the sections; a path
    /// named twice is listed once. Secrets held in environment variables have no file.
    pub fn named_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<&Path> = Vec::new();
        fn secret(reference: &SecretRef) -> Option<&Path> {
            reference.file.as_deref()
        }
        for issuer in &self.issuers {
            files.extend(issuer.jwks_file.as_deref());
            files.extend(issuer.public_key_file.as_deref());
            files.extend(issuer.secret.as_ref().and_then(secret));
            files.extend(issuer.ca_file.as_deref());
        }
        for upstream in &self.upstreams {
            match &upstream.auth {
                UpstreamAuth::Basic { password, .. } => files.extend(secret(password)),
                UpstreamAuth::Mint(mint) => files.extend(secret(&mint.secret)),
                UpstreamAuth::None | UpstreamAuth::Passthrough => {}
            }
            files.extend(upstream.ca_file.as_deref());
            files.extend(upstream.client_cert_file.as_deref());
            files.extend(upstream.client_key_file.as_deref());
        }
        if let Some(centrifugo) = &self.centrifugo {
            files.extend(secret(&centrifugo.secret));
        }
        if let Some(tls) = &self.tls {
            files.push(&tls.cert_file);
            files.push(&tls.key_file);
        }
        let mut unique: Vec<PathBuf> = Vec::with_capacity(files.len());
        for file in files {
            if !unique.iter().any(|seen| seen == file) {
                unique.push(file.to_owned());
            }
        }
        unique
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_configuration_reads_is_named_once() {
        let config = Config::from_toml(
            r#"
[[issuers]]
name = "a"
iss = ["https://a"]
public_key_file = "/keys/a.pem"
[[issuers]]
name = "b"
iss = ["https://b"]
secret = { file = "/run/secrets/b" }
[[issuers]]
name = "c"
iss = ["https://c"]
jwks_file = "/keys/c.json"
[[issuers]]
name = "d"
iss = ["https://d"]
jwks_url = "https://d/jwks"
ca_file = "/ca/internal.pem"
[[upstreams]]
name = "engine"
url = "https://engine:8443"
auth = { type = "basic", user = "demo", password = { file = "/run/secrets/b" } }
ca_file = "/ca/internal.pem"
client_cert_file = "/client/tls.crt"
client_key_file = "/client/tls.key"
[[upstreams]]
name = "minted"
url = "http://other:8080"
auth = { type = "mint", secret = { env = "ENGINE_SECRET" } }
[tls]
cert_file = "/tls/tls.crt"
key_file = "/tls/tls.key"
"#,
        )
        .expect("config");
        let expected: Vec<PathBuf> = [
            "/keys/a.pem",
            "/run/secrets/b",
            "/keys/c.json",
            "/ca/internal.pem",
            "/client/tls.crt",
            "/client/tls.key",
            "/tls/tls.crt",
            "/tls/tls.key",
        ]
        .into_iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(config.named_files(), expected);
    }
}
