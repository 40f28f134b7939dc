//! Texts that must never appear in a program's output, and the search for them.

use jwtkit_secret::{Secret, SecretEncoding};

/// What must not appear: a label and the text.
#[derive(Default)]
pub struct Needles(Vec<(String, String)>);

impl Needles {
    /// Adds one text (at least 12 bytes: a shorter one could match by chance).
    pub fn add(&mut self, what: impl Into<String>, text: impl Into<String>) {
        let text = text.into();
        assert!(
            text.len() >= 12,
            "needle too short to be meaningful: {text:?}"
        );
        self.0.push((what.into(), text));
    }

    /// A secret's key bytes in every text form a program might print them in, plus the text it
    /// was configured as.
    pub fn secret(&mut self, what: &str, configured: &str, key: &[u8]) {
        self.add(format!("{what} (as configured)"), configured);
        if let Ok(text) = std::str::from_utf8(key) {
            self.add(format!("{what} (raw bytes)"), text);
        }
        let secret = Secret::from_bytes(key.to_vec()).expect("a non-empty key");
        let base64 = secret.encode(SecretEncoding::Base64);
        self.add(format!("{what} (base64)"), base64.as_str());
        self.add(
            format!("{what} (base64, unpadded)"),
            base64.trim_end_matches('='),
        );
        self.add(
            format!("{what} (base64url)"),
            secret.encode(SecretEncoding::Base64Url).as_str(),
        );
        let hex = secret.encode(SecretEncoding::Hex);
        self.add(format!("{what} (hex)"), hex.to_ascii_lowercase());
        self.add(format!("{what} (HEX)"), hex.to_ascii_uppercase());
        // A Rust byte-slice Debug of the first bytes, e.g. `[116, 104, 101, ...`.
        let debug = format!("{:?}", &key[..12.min(key.len())]);
        self.add(format!("{what} (byte list)"), debug.trim_end_matches(']'));
    }

    /// A token: whole, and its signature (which alone is enough to replay it with the rest).
    pub fn token(&mut self, what: &str, token: &str) {
        self.add(format!("{what} (whole)"), token);
        let signature = token.rsplit('.').next().unwrap_or_default();
        if signature.len() >= 16 {
            self.add(format!("{what} (signature)"), signature);
        }
    }

    /// The body lines of a private key PEM from line `skip` on (an RSA key's first lines hold
    /// its public modulus), and the whole body joined.
    pub fn private_pem(&mut self, what: &str, pem: &str, skip: usize) {
        let body: Vec<&str> = pem
            .lines()
            .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
            .collect();
        assert!(body.len() > skip, "{what}: a short PEM");
        for (i, line) in body.iter().enumerate().skip(skip) {
            if line.len() >= 16 {
                self.add(format!("{what} PEM line {i}"), *line);
            }
        }
        self.add(format!("{what} PEM body"), body.join(""));
    }

    /// Panics naming the first needle found in `haystack`; `allowed` are texts that may be
    /// there (what the output exists to carry, such as a minted token).
    pub fn assert_absent(&self, where_: &str, haystack: &str, allowed: &[&str]) {
        for (what, needle) in &self.0 {
            if allowed.contains(&needle.as_str()) {
                continue;
            }
            if let Some(at) = haystack.find(needle.as_str()) {
                let start = at.saturating_sub(120);
                let end = (at + needle.len() + 40).min(haystack.len());
                panic!(
                    "{where_} contains the {what}:\n…{}…",
                    haystack
                        .get(start..end)
                        .unwrap_or("<not on a char boundary>")
                );
            }
        }
    }
}
