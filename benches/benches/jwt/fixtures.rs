//! Keys, tokens and verifiers shared by the benchmark groups. Every verifier under test gets the
//! same tokens and the same checks: signature, `iss`, `aud`, `exp` (required, 60 s leeway).

use std::collections::HashSet;
use std::sync::Arc;

use aws_lc_rs::{hmac, signature};
use jwtkit_keys::keygen::{self, GeneratedKeyPair};
use jwtkit_keys::{Algorithm, JwkSet, SigningKey, VerifyingKey, b64};
use jwtkit_mint::Minter;
use jwtkit_secret::Secret;
use jwtkit_verify::{IssuerConfig, JwksCache, JwksConfig, KeySource, Policy, Registry, Validator};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// The IdP whose keys come from a JWKS (RS256, ES256 and EdDSA tokens).
pub const IDP_ISS: &str = "https://idp.bench.example/realms/bench";
/// The service issuer with a static HMAC secret (HS256 tokens).
pub const SVC_ISS: &str = "https://svc.bench.example";
/// The audience every verifier requires.
pub const AUD: &str = "orders-api";
/// 32 bytes, HS256's minimum; the same bytes for every HMAC party.
pub const HMAC_SECRET: &[u8; 32] = b"bench-secret-0123456789abcdefghi";

/// The four signature families measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Hs256,
    Rs256,
    Es256,
    EdDsa,
}

impl Alg {
    pub const ALL: [Alg; 4] = [Alg::Hs256, Alg::Rs256, Alg::Es256, Alg::EdDsa];

    pub fn jwtkit(self) -> Algorithm {
        match self {
            Alg::Hs256 => Algorithm::HS256,
            Alg::Rs256 => Algorithm::RS256,
            Alg::Es256 => Algorithm::ES256,
            Alg::EdDsa => Algorithm::EdDSA,
        }
    }

    pub fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        self.jwtkit().name().parse().expect("jsonwebtoken knows it")
    }

    /// The criterion group name.
    pub fn group(self) -> &'static str {
        match self {
            Alg::Hs256 => "verify_hs256",
            Alg::Rs256 => "verify_rs256",
            Alg::Es256 => "verify_es256",
            Alg::EdDsa => "verify_eddsa",
        }
    }

    fn issuer(self) -> &'static str {
        if self == Alg::Hs256 { SVC_ISS } else { IDP_ISS }
    }
}

/// A realistic access-token claim set (about 330 bytes of JSON), valid for a day from `now`.
pub fn access_claims(iss: &str, now: i64) -> Value {
    json!({
        "iss": iss,
        "sub": "f3c1b6e2-5d4a-4c1e-9a7b-2b8c9d0e1f23",
        "aud": AUD,
        "exp": now + 86_400,
        "iat": now,
        "azp": "orders-web",
        "scope": "openid profile email orders:read orders:write",
        "email": "alice@example.com",
        "email_verified": true,
        "name": "Alice Example",
        "preferred_username": "alice",
        "roles": ["orders-reader", "orders-writer"],
        "sid": "7d0c9a4e-2b1f-4e8a-9c3d-5f6a7b8c9d0e"
    })
}

/// A service-to-service token as `jwtkit mint` (generic profile) writes it: five claims.
pub fn service_claims(iss: &str, now: i64) -> Value {
    json!({
        "iss": iss,
        "sub": "svc-orders",
        "aud": AUD,
        "iat": now,
        "exp": now + 86_400,
    })
}

/// One algorithm's key material in every form a verifier under test wants.
pub struct KeyMaterial {
    pub alg: Alg,
    pub verifying: VerifyingKey,
    pub pair: Option<GeneratedKeyPair>,
    /// A token signed with the private key (or secret) for `alg.issuer()`: the access-token
    /// claim set of [`access_claims`].
    pub token: String,
    /// The same key's token with a small service claim set ([`service_claims`]).
    pub service_token: String,
}

impl KeyMaterial {
    pub fn new(alg: Alg, now: i64) -> Self {
        let (signer, verifying, pair) = match alg {
            Alg::Hs256 => {
                let secret = Secret::from_bytes(HMAC_SECRET.to_vec()).expect("32 bytes");
                let signer = SigningKey::hmac(Algorithm::HS256, &secret).expect("HS256 key");
                let verifying = VerifyingKey::hmac(&secret).expect("HS256 key");
                (signer, verifying, None)
            }
            _ => {
                let pair = keygen::generate(alg.jwtkit(), 2048).expect("keygen");
                let signer = SigningKey::from_pem(Some(alg.jwtkit()), &pair.private_pem)
                    .expect("private key")
                    .with_kid(pair.public_jwk.kid.clone());
                let verifying = VerifyingKey::from_jwk(&pair.public_jwk).expect("public JWK");
                (signer, verifying, Some(pair))
            }
        };
        let minter = Minter::new(signer);
        let token = minter
            .mint(&access_claims(alg.issuer(), now))
            .expect("mint");
        let service_token = minter
            .mint(&service_claims(alg.issuer(), now))
            .expect("mint");
        Self {
            alg,
            verifying,
            pair,
            token,
            service_token,
        }
    }

    pub fn kid(&self) -> Option<&str> {
        self.pair.as_ref().and_then(|p| p.public_jwk.kid.as_deref())
    }

    /// jwtkit's single-source validator: static key, `iss` + `aud` + `exp`.
    pub fn validator(&self) -> Validator {
        Validator::new(
            vec![self.verifying.clone()],
            Policy {
                issuers: vec![self.alg.issuer().to_owned()],
                audiences: vec![AUD.to_owned()],
                algorithms: vec![self.alg.jwtkit()],
                ..Policy::default()
            },
        )
    }

    /// jsonwebtoken's key and validation with the same checks.
    pub fn jsonwebtoken(&self) -> (jsonwebtoken::DecodingKey, jsonwebtoken::Validation) {
        let key = match &self.pair {
            None => jsonwebtoken::DecodingKey::from_secret(HMAC_SECRET),
            Some(pair) => {
                let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(
                    serde_json::to_value(&pair.public_jwk).expect("JWK serialises"),
                )
                .expect("jsonwebtoken reads the JWK");
                jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("jsonwebtoken key")
            }
        };
        let mut validation = jsonwebtoken::Validation::new(self.alg.jsonwebtoken());
        validation.set_issuer(&[self.alg.issuer()]);
        validation.set_audience(&[AUD]);
        validation.leeway = 60;
        (key, validation)
    }

    /// The bare aws-lc-rs primitive with a pre-parsed key, and its inputs already split and
    /// decoded: the floor any verifier pays.
    pub fn raw(&self, token: &str) -> RawVerifier {
        let (signing_input, signature) = token.rsplit_once('.').expect("three segments");
        let signature = b64::decode(signature).expect("base64url");
        let key = match &self.pair {
            None => RawKey::Hmac(Box::new(hmac::Key::new(hmac::HMAC_SHA256, HMAC_SECRET))),
            Some(pair) => {
                let der = pem_der(&pair.public_pem);
                let params: &'static dyn signature::VerificationAlgorithm = match self.alg {
                    Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Alg::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
                    _ => &signature::ED25519,
                };
                RawKey::Public(
                    signature::ParsedPublicKey::new(params, &der).expect("SubjectPublicKeyInfo"),
                )
            }
        };
        RawVerifier {
            key,
            message: signing_input.as_bytes().to_vec(),
            signature,
        }
    }
}

/// SubjectPublicKeyInfo DER of a `PUBLIC KEY` PEM.
fn pem_der(text: &str) -> Vec<u8> {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64_standard_decode(&body)
}

fn base64_standard_decode(text: &str) -> Vec<u8> {
    // Standard alphabet, padded; to base64url without padding for jwtkit's strict decoder.
    let url: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    b64::decode(&url).expect("PEM body is base64")
}

pub enum RawKey {
    // Boxed like jwtkit's own HMAC keys (the precomputed digest states are over 1 KiB).
    Hmac(Box<hmac::Key>),
    Public(signature::ParsedPublicKey),
}

pub struct RawVerifier {
    key: RawKey,
    message: Vec<u8>,
    signature: Vec<u8>,
}

impl RawVerifier {
    pub fn verify(&self) -> bool {
        match &self.key {
            RawKey::Hmac(key) => hmac::verify(key, &self.message, &self.signature).is_ok(),
            RawKey::Public(key) => key.verify_sig(&self.message, &self.signature).is_ok(),
        }
    }
}

/// jwt-simple's key for one algorithm with the same checks.
pub enum JwtSimpleKey {
    Hs256(jwt_simple::prelude::HS256Key),
    Rs256(jwt_simple::prelude::RS256PublicKey),
    Es256(jwt_simple::prelude::ES256PublicKey),
    EdDsa(jwt_simple::prelude::Ed25519PublicKey),
}

pub type JwtSimpleClaims = jwt_simple::prelude::JWTClaims<serde_json::Map<String, Value>>;

impl JwtSimpleKey {
    pub fn new(material: &KeyMaterial) -> Self {
        use jwt_simple::prelude::*;
        match (&material.pair, material.alg) {
            (None, _) => Self::Hs256(HS256Key::from_bytes(HMAC_SECRET)),
            (Some(pair), Alg::Rs256) => {
                Self::Rs256(RS256PublicKey::from_pem(&pair.public_pem).expect("RSA PEM"))
            }
            (Some(pair), Alg::Es256) => {
                Self::Es256(ES256PublicKey::from_pem(&pair.public_pem).expect("EC PEM"))
            }
            (Some(pair), _) => {
                Self::EdDsa(Ed25519PublicKey::from_pem(&pair.public_pem).expect("Ed25519 PEM"))
            }
        }
    }

    pub fn options(alg: Alg) -> jwt_simple::prelude::VerificationOptions {
        jwt_simple::prelude::VerificationOptions {
            allowed_issuers: Some(HashSet::from([alg.issuer().to_owned()])),
            allowed_audiences: Some(HashSet::from([AUD.to_owned()])),
            time_tolerance: Some(jwt_simple::prelude::Duration::from_secs(60)),
            ..Default::default()
        }
    }

    pub fn verify(
        &self,
        token: &str,
        options: &jwt_simple::prelude::VerificationOptions,
    ) -> Result<JwtSimpleClaims, jwt_simple::Error> {
        use jwt_simple::prelude::*;
        let options = Some(options.clone());
        match self {
            Self::Hs256(key) => key.verify_token(token, options),
            Self::Rs256(key) => key.verify_token(token, options),
            Self::Es256(key) => key.verify_token(token, options),
            Self::EdDsa(key) => key.verify_token(token, options),
        }
    }
}

/// A loopback HTTP server answering every request with one JWK Set; stopped by [`Self::stop`].
pub struct JwksServer {
    pub url: String,
    task: JoinHandle<()>,
}

impl JwksServer {
    pub fn start(runtime: &Runtime, jwks: &JwkSet) -> Self {
        let body = serde_json::to_string(jwks).expect("JWK Set serialises");
        let response: Arc<[u8]> = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
             cache-control: max-age=86400\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
        .into();
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let url = format!(
            "http://{}/jwks.json",
            listener.local_addr().expect("local address")
        );
        let task = runtime.spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let response = response.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = stream.write_all(&response).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { url, task }
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Everything the verification groups need, built once.
pub struct Fixtures {
    pub keys: Vec<KeyMaterial>,
    /// Registry without token cache: HS256 issuer with a static secret, IdP issuer from JWKS.
    pub registry: Registry,
    /// The same issuers with the verified-token cache enabled.
    pub cached_registry: Registry,
    /// The IdP's JWKS cache (shared by both registries).
    pub jwks: JwksCache,
    pub server: JwksServer,
}

impl Fixtures {
    pub fn new(runtime: &Runtime, now: i64) -> Self {
        let keys: Vec<KeyMaterial> = Alg::ALL
            .into_iter()
            .map(|alg| KeyMaterial::new(alg, now))
            .collect();
        let jwks = JwkSet {
            keys: keys
                .iter()
                .filter_map(|k| k.pair.as_ref().map(|p| p.public_jwk.clone()))
                .collect(),
        };
        let server = JwksServer::start(runtime, &jwks);
        let cache = JwksCache::new(JwksConfig::jwks_url(server.url.clone())).expect("JWKS cache");
        let hmac_key = keys[0].verifying.clone();
        let configs = vec![
            IssuerConfig {
                name: "svc".into(),
                issuers: vec![SVC_ISS.into()],
                keys: KeySource::Static(vec![hmac_key]),
                policy: Policy {
                    audiences: vec![AUD.into()],
                    algorithms: vec![Algorithm::HS256],
                    ..Policy::default()
                },
            },
            IssuerConfig {
                name: "idp".into(),
                issuers: vec![IDP_ISS.into()],
                keys: KeySource::Jwks(cache.clone()),
                policy: Policy {
                    audiences: vec![AUD.into()],
                    algorithms: vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA],
                    ..Policy::default()
                },
            },
        ];
        let registry = Registry::new(configs.clone()).expect("registry");
        let cached_registry = Registry::new(configs)
            .expect("registry")
            .with_token_cache(10_000);
        runtime
            .block_on(registry.warm_up())
            .expect("JWKS fetched from the loopback server");
        Self {
            keys,
            registry,
            cached_registry,
            jwks: cache,
            server,
        }
    }

    pub fn get(&self, alg: Alg) -> &KeyMaterial {
        self.keys.iter().find(|k| k.alg == alg).expect("every alg")
    }
}
