//! Interoperability with PyJWT, both ways: PyJWT verifies what `jwtkit mint` signs (from PEM and
//! from the JWKS of `jwtkit keygen`), and `jwtkit verify` accepts what PyJWT signs with keys
//! made by Python's `cryptography`. Also the Camunda engine's base64 secret reading, and
//! independent recomputations of keygen's RFC 7638 kid and of secret fingerprints.
//!
//! The Python interpreter comes from JWTKIT_TEST_PYTHON (scripts/test.sh installs PyJWT into a
//! venv and sets it). Without it these tests FAIL: interop is part of the suite, not optional.

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

fn python() -> String {
    match std::env::var("JWTKIT_TEST_PYTHON") {
        Ok(path) if !path.is_empty() => path,
        _ => panic!(
            "PyJWT is not set up (JWTKIT_TEST_PYTHON is not set): run `bash scripts/test.sh`, which \
             installs it, or set \
             JWTKIT_TEST_PYTHON to a Python interpreter with PyJWT[crypto] \
             (testing/interop/requirements.txt)"
        ),
    }
}

/// Runs `python -c SCRIPT ARGS`, asserting success; returns stdout without the final newline.
#[track_caller]
fn py(script: &str, args: &[&str]) -> String {
    let interpreter = python();
    let output = std::process::Command::new(&interpreter)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run JWTKIT_TEST_PYTHON={interpreter}: {err}; run `bash scripts/test.sh` \
                 (it installs PyJWT) or set JWTKIT_TEST_PYTHON"
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "python failed ({:?})\nargs: {args:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.trim_end_matches('\n').to_owned()
}

/// PyJWT verifies TOKEN with ALG, from a PEM file, a raw HMAC key file, or a JWKS file (key by
/// the header's kid); prints {"claims", "header"}.
const PYJWT_VERIFY: &str = r#"
import json, sys, jwt
token, alg, kind, path = sys.argv[1:]
data = open(path, "rb").read()
header = jwt.get_unverified_header(token)
if kind == "jwks":
    key = jwt.PyJWKSet.from_json(data.decode())[header["kid"]]
else:
    key = data
claims = jwt.decode(token, key, algorithms=[alg], options={"require": ["exp", "iat", "sub"]})
print(json.dumps({"claims": claims, "header": header}))
"#;

/// Generates a key pair with `cryptography` for ALG into DIR (private.pem in FORMAT pkcs8 or
/// traditional, public.pem), then PyJWT signs CLAIMS with it; prints the token. For HS* the key
/// is the raw bytes of DIR/secret.
const PYJWT_SIGN: &str = r#"
import json, os, sys, jwt
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
alg, out, fmt, claims = sys.argv[1:]
if alg.startswith("HS"):
    key = open(os.path.join(out, "secret"), "rb").read()
else:
    if alg[:2] in ("RS", "PS"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        curve = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}[alg]
        private = ec.generate_private_key(curve())
    traditional = fmt == "traditional"
    key = private.private_bytes(
        s.Encoding.PEM,
        s.PrivateFormat.TraditionalOpenSSL if traditional else s.PrivateFormat.PKCS8,
        s.NoEncryption(),
    )
    public_format = (
        s.PublicFormat.PKCS1 if traditional and alg[:2] in ("RS", "PS")
        else s.PublicFormat.SubjectPublicKeyInfo
    )
    open(os.path.join(out, "private.pem"), "wb").write(key)
    open(os.path.join(out, "public.pem"), "wb").write(
        private.public_key().public_bytes(s.Encoding.PEM, public_format))
print(jwt.encode(json.loads(claims), key, algorithm=alg))
"#;

/// A 32-byte secret as text, written raw to DIR/secret.
fn hmac_secret(dir: &Path) -> String {
    let secret = generate_secret(32);
    write_file(dir, "secret", &secret);
    secret
}

// ---------------------------------------------------------------------------------------------
// jwtkit mint -> PyJWT

fn pyjwt_verifies_jwtkit_token(alg: &str) {
    let dir = tempdir();
    let (token, key_file, jwks) = if alg == "HS256" {
        let secret = hmac_secret(dir.path());
        let token = mint([
            "--secret",
            &secret,
            "--sub",
            "jwtkit-user",
            "--expires-in",
            "10m",
        ]);
        (token, dir.path().join("secret"), None)
    } else {
        let keys = keygen(alg, dir.path());
        let token = mint([
            "--key",
            s(&keys.private_pem),
            "--alg",
            alg,
            "--kid",
            &keys.kid,
            "--sub",
            "jwtkit-user",
            "--expires-in",
            "10m",
        ]);
        (token, keys.public_pem, Some(keys.jwks))
    };
    let kind = if alg == "HS256" { "raw" } else { "pem" };
    let seen: Value =
        serde_json::from_str(&py(PYJWT_VERIFY, &[&token, alg, kind, s(&key_file)])).unwrap();
    assert_eq!(
        seen["claims"],
        claims(&token),
        "{alg}: PyJWT sees the claims"
    );
    assert_eq!(seen["claims"]["sub"], "jwtkit-user");
    assert_eq!(seen["header"]["alg"], alg);
    if let Some(jwks) = jwks {
        // keygen's jwks.json is usable by PyJWT too, selected by kid.
        let seen: Value =
            serde_json::from_str(&py(PYJWT_VERIFY, &[&token, alg, "jwks", s(&jwks)])).unwrap();
        assert_eq!(seen["claims"]["sub"], "jwtkit-user", "{alg} via JWKS");
    }
}

// ---------------------------------------------------------------------------------------------
// PyJWT -> jwtkit verify

fn jwtkit_verifies_pyjwt_token(alg: &str) {
    let dir = tempdir();
    let secret = alg.starts_with("HS").then(|| hmac_secret(dir.path()));
    let claims = json!({"sub": "pyjwt-user", "iat": now(), "exp": now() + 600, "n": 1});
    let token = py(
        PYJWT_SIGN,
        &[alg, s(dir.path()), "pkcs8", &claims.to_string()],
    );
    assert_eq!(header(&token)["alg"], alg, "PyJWT header");
    let verified = match &secret {
        Some(secret) => run(["verify", "--secret", secret, "--alg", alg, &token]),
        None => run([
            "verify",
            "--key",
            s(&dir.path().join("public.pem")),
            "--alg",
            alg,
            &token,
        ]),
    }
    .ok();
    assert_eq!(
        verified.json(),
        claims,
        "{alg}: jwtkit prints PyJWT's claims"
    );
    // The private PEM written by `cryptography` is usable for verification too.
    if secret.is_none() {
        run([
            "verify",
            "--key",
            s(&dir.path().join("private.pem")),
            &token,
        ])
        .ok();
    }
}

macro_rules! both_ways {
    ($($to_py:ident, $from_py:ident: $alg:literal,)*) => {$(
        #[test]
        fn $to_py() {
            pyjwt_verifies_jwtkit_token($alg);
        }

        #[test]
        fn $from_py() {
            jwtkit_verifies_pyjwt_token($alg);
        }
    )*};
}

both_ways! {
    pyjwt_verifies_jwtkit_hs256, jwtkit_verifies_pyjwt_hs256: "HS256",
    pyjwt_verifies_jwtkit_rs256, jwtkit_verifies_pyjwt_rs256: "RS256",
    pyjwt_verifies_jwtkit_ps256, jwtkit_verifies_pyjwt_ps256: "PS256",
    pyjwt_verifies_jwtkit_es256, jwtkit_verifies_pyjwt_es256: "ES256",
    pyjwt_verifies_jwtkit_es384, jwtkit_verifies_pyjwt_es384: "ES384",
    pyjwt_verifies_jwtkit_es512, jwtkit_verifies_pyjwt_es512: "ES512",
    pyjwt_verifies_jwtkit_eddsa, jwtkit_verifies_pyjwt_eddsa: "EdDSA",
}

#[test]
fn jwtkit_reads_pkcs1_and_sec1_pems_written_by_cryptography() {
    for alg in ["RS256", "ES256", "ES512"] {
        let dir = tempdir();
        let claims = json!({"sub": "legacy-pem", "iat": now(), "exp": now() + 600});
        let token = py(
            PYJWT_SIGN,
            &[alg, s(dir.path()), "traditional", &claims.to_string()],
        );
        let private = read(&dir.path().join("private.pem"));
        let expected = if alg == "RS256" {
            "-----BEGIN RSA PRIVATE KEY-----"
        } else {
            "-----BEGIN EC PRIVATE KEY-----"
        };
        assert!(private.starts_with(expected), "{alg}: {private}");
        run(["verify", "--key", s(&dir.path().join("public.pem")), &token]).ok();
        // jwtkit signs with the same legacy PEM and PyJWT verifies.
        let ours = mint([
            "--key",
            s(&dir.path().join("private.pem")),
            "--alg",
            alg,
            "--sub",
            "legacy-pem",
            "--expires-in",
            "5m",
        ]);
        py(
            PYJWT_VERIFY,
            &[&ours, alg, "pem", s(&dir.path().join("public.pem"))],
        );
    }
}

#[test]
fn pyjwt_token_signed_with_another_key_is_bad_signature() {
    let dir = tempdir();
    let claims = json!({"sub": "x", "iat": now(), "exp": now() + 600});
    let token = py(
        PYJWT_SIGN,
        &["ES256", s(dir.path()), "pkcs8", &claims.to_string()],
    );
    let other = keygen("ES256", &dir.path().join("other"));
    run(["verify", "--key", s(&other.public_pem), &token]).invalid("bad_signature");
}

// ---------------------------------------------------------------------------------------------
// Camunda: the engine base64-decodes its secret

/// A Camunda engine secret: standard base64 of 32 bytes.
const ENGINE_SECRET: &str = "Ym9ZpC1VyZUU9svrmtrJGXZlAlMx5dW29qQwXUDYp50=";

const PYJWT_CAMUNDA_SIGN: &str = r#"
import base64, sys, time, jwt
secret = sys.argv[1]
now = int(time.time())
claims = {"sub": "demo", "email": "demo@camunda.local", "isActive": True, "isSuperuser": True,
          "isVerified": True, "iat": now, "exp": now + 3600}
print(jwt.encode(claims, base64.b64decode(secret), algorithm="HS256"))
"#;

const PYJWT_CAMUNDA_VERIFY: &str = r#"
import base64, json, sys, jwt
token, secret = sys.argv[1:]
claims = jwt.decode(token, base64.b64decode(secret), algorithms=["HS256"])
print(json.dumps(sorted(claims)))
"#;

#[test]
fn jwtkit_accepts_a_camunda_token_pyjwt_signed_with_the_base64_decoded_secret() {
    let token = py(PYJWT_CAMUNDA_SIGN, &[ENGINE_SECRET]);
    let claims = run([
        "verify",
        "--secret",
        ENGINE_SECRET,
        "--secret-encoding",
        "base64",
        &token,
    ])
    .ok()
    .json();
    assert_eq!(claims["isActive"], true);
    // Reading the text as the key is the classic mismatch.
    run(["verify", "--secret", ENGINE_SECRET, &token]).invalid("bad_signature");
    // And doctor names the reading.
    let out = run(["doctor", "--secret", ENGINE_SECRET, &token])
        .ok()
        .leaks_nothing(ENGINE_SECRET);
    let matched = out.stdout_lines_with("MATCHES");
    assert!(
        matched.len() == 1 && matched[0].contains("read as base64"),
        "{}",
        out.stdout
    );
}

#[test]
fn pyjwt_accepts_a_jwtkit_camunda_token_the_way_the_engine_reads_it() {
    let token = mint(["--profile", "camunda", "--secret", ENGINE_SECRET]);
    let names: Vec<String> =
        serde_json::from_str(&py(PYJWT_CAMUNDA_VERIFY, &[&token, ENGINE_SECRET])).unwrap();
    assert_eq!(
        names,
        [
            "email",
            "exp",
            "iat",
            "isActive",
            "isSuperuser",
            "isVerified",
            "sub"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Claims PyJWT lets through that jwtkit must not

#[test]
fn pyjwt_token_with_a_string_exp_is_invalid_claim() {
    let dir = tempdir();
    let secret = hmac_secret(dir.path());
    let claims = json!({"sub": "x", "iat": now(), "exp": (now() + 600).to_string()});
    let token = py(
        PYJWT_SIGN,
        &["HS256", s(dir.path()), "pkcs8", &claims.to_string()],
    );
    assert!(
        common::claims(&token)["exp"].is_string(),
        "PyJWT kept the string"
    );
    run(["verify", "--secret", &secret, &token])
        .invalid("invalid_claim")
        .stderr_has(&["exp"])
        .leaks_nothing(&secret);
}

// ---------------------------------------------------------------------------------------------
// Independent recomputations

const RFC7638_THUMBPRINT: &str = r#"
import base64, hashlib, json, sys
key = json.load(open(sys.argv[1]))["keys"][0]
required = {"RSA": ["e", "kty", "n"], "EC": ["crv", "kty", "x", "y"], "OKP": ["crv", "kty", "x"]}
canonical = json.dumps({m: key[m] for m in required[key["kty"]]}, separators=(",", ":"), sort_keys=True)
print(base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode())
"#;

#[test]
fn keygen_kid_is_the_rfc7638_thumbprint_computed_by_python() {
    for alg in ["RS256", "ES384", "EdDSA"] {
        let dir = tempdir();
        let keys = keygen(alg, dir.path());
        assert_eq!(py(RFC7638_THUMBPRINT, &[s(&keys.jwks)]), keys.kid, "{alg}");
    }
}

#[test]
fn secret_fingerprint_is_the_truncated_sha256_of_the_key_bytes() {
    let secret = generate_secret(32);
    let expected = py(
        "import base64, hashlib, sys; \
         key = base64.urlsafe_b64decode(sys.argv[1] + '=' * (-len(sys.argv[1]) % 4)); \
         print('sha256:' + hashlib.sha256(key).hexdigest()[:16])",
        &[&secret],
    );
    let doc = run([
        "secret",
        "fingerprint",
        "--json",
        "--secret",
        &secret,
        "--secret-encoding",
        "base64url",
    ])
    .ok()
    .json();
    assert_eq!(doc["fingerprint"], expected.as_str());
}
