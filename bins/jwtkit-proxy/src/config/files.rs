//! What a configuration reads from outside itself (secrets in files or environment variables,
//! key sets, public keys, CA files, client certificates, the listener's certificate), with the
//! key naming each: a live reload watches the files besides the configuration file itself, and
//! `--check-config` lists every one it cannot read. A key that names a file or variable is
//! listed here, so one added to the format later is watched and checked by adding it below.

use std::path::{Path, PathBuf};

use super::{Config, ConfigError, SecretRef, UpstreamAuth};

/// Something a configuration reads from outside itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outside<'c> {
    /// A file (secret, key set, key, CA, certificate).
    File(&'c Path),
    /// An environment variable holding a secret.
    Env(&'c str),
}

impl Config {
    /// Every file and environment variable this configuration reads at load, with the key
    /// that names it, in the order of the sections.
    pub fn outside(&self) -> Vec<(String, Outside<'_>)> {
        let mut found = Vec::new();
        fn secret<'c>(
            found: &mut Vec<(String, Outside<'c>)>,
            key: String,
            reference: &'c SecretRef,
        ) {
            if let Some(path) = &reference.file {
                found.push((key.clone(), Outside::File(path)));
            }
            if let Some(name) = &reference.env {
                found.push((key, Outside::Env(name)));
            }
        }
        fn file<'c>(found: &mut Vec<(String, Outside<'c>)>, key: String, path: Option<&'c Path>) {
            if let Some(path) = path {
                found.push((key, Outside::File(path)));
            }
        }
        for (i, issuer) in self.issuers.iter().enumerate() {
            let key = format!("issuers[{i}]");
            file(
                &mut found,
                format!("{key}.jwks_file"),
                issuer.jwks_file.as_deref(),
            );
            file(
                &mut found,
                format!("{key}.public_key_file"),
                issuer.public_key_file.as_deref(),
            );
            if let Some(reference) = &issuer.secret {
                secret(&mut found, format!("{key}.secret"), reference);
            }
            file(
                &mut found,
                format!("{key}.ca_file"),
                issuer.ca_file.as_deref(),
            );
        }
        for (i, upstream) in self.upstreams.iter().enumerate() {
            let key = format!("upstreams[{i}]");
            match &upstream.auth {
                UpstreamAuth::Basic { password, .. } => {
                    secret(&mut found, format!("{key}.auth.password"), password);
                }
                UpstreamAuth::Mint(mint) => {
                    secret(&mut found, format!("{key}.auth.secret"), &mint.secret);
                }
                UpstreamAuth::None | UpstreamAuth::Passthrough => {}
            }
            file(
                &mut found,
                format!("{key}.ca_file"),
                upstream.ca_file.as_deref(),
            );
            file(
                &mut found,
                format!("{key}.client_cert_file"),
                upstream.client_cert_file.as_deref(),
            );
            file(
                &mut found,
                format!("{key}.client_key_file"),
                upstream.client_key_file.as_deref(),
            );
        }
        if let Some(centrifugo) = &self.centrifugo {
            secret(
                &mut found,
                "centrifugo.secret".to_owned(),
                &centrifugo.secret,
            );
        }
        if let Some(tls) = &self.tls {
            file(&mut found, "tls.cert_file".to_owned(), Some(&tls.cert_file));
            file(&mut found, "tls.key_file".to_owned(), Some(&tls.key_file));
            file(
                &mut found,
                "tls.client_ca_file".to_owned(),
                tls.client_ca_file.as_deref(),
            );
        }
        found
    }

    /// Every file this configuration reads at load, in the order of the sections; a path
    /// named twice is listed once. Secrets held in environment variables have no file.
    pub fn named_files(&self) -> Vec<PathBuf> {
        let mut unique: Vec<PathBuf> = Vec::new();
        for (_, outside) in self.outside() {
            if let Outside::File(path) = outside
                && !unique.iter().any(|seen| seen == path)
            {
                unique.push(path.to_owned());
            }
        }
        unique
    }

    /// What of [`Config::outside`] cannot be read now: a file that cannot be opened, an
    /// environment variable that is unset or empty. Each problem names its key; values are
    /// never read into the message.
    pub fn unreadable(&self) -> Vec<ConfigError> {
        self.outside()
            .into_iter()
            .filter_map(|(key, outside)| match outside {
                Outside::File(path) => std::fs::File::open(path).err().map(|err| {
                    ConfigError::new(
                        key,
                        format!("cannot read {}: {}", path.display(), err.kind()),
                        "check the path and the proxy's permission to read it",
                    )
                }),
                Outside::Env(name) => std::env::var_os(name)
                    .is_none_or(|value| value.is_empty())
                    .then(|| {
                        ConfigError::new(
                            key,
                            format!("environment variable {name} is not set"),
                            format!("export {name}, or name the secret another way"),
                        )
                    }),
            })
            .collect()
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
client_ca_file = "/tls/clients.pem"
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
            "/tls/clients.pem",
        ]
        .into_iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(config.named_files(), expected);
    }
}
