//! `IssuerConfig`'s constructors and builder methods, `Validator::hmac` and `validate_as`, used
//! as a service author would from the docs: every option is shown to take effect on a token.

use std::error::Error as _;
use std::time::Duration;

use jwtkit_keys::{Algorithm, SigningKey, keygen};
use jwtkit_mint::Minter;
use jwtkit_secret::Secret;
use jwtkit_verify::{IssuerConfig, IssuerConfigError, Policy, Registry, RegistryError, Validator};
use serde_json::{Value, json};

const ISS: &str = "https://api.example";

fn sign(minter: &Minter, claims: Value) -> String {
    minter.mint(&claims).unwrap()
}

fn hs(alg: Algorithm, secret: &Secret, claims: Value) -> String {
    sign(&Minter::new(SigningKey::hmac(alg, secret).unwrap()), claims)
}

fn in_a_minute() -> i64 {
    jwtkit_verify::now() + 60
}

async fn code(registry: &Registry, token: &str) -> &'static str {
    match registry.validate(token).await {
        Ok(_) => "ok",
        Err(err) => err.code(),
    }
}

fn one(config: IssuerConfig) -> Registry {
    Registry::new(vec![config]).unwrap()
}

#[tokio::test]
async fn hmac_accepts_the_algorithms_the_secret_is_long_enough_for() {
    let short = Secret::generate(32).unwrap();
    let registry = one(IssuerConfig::hmac("api", &short).unwrap().iss(ISS));
    let claims = json!({"sub": "a", "iss": ISS, "exp": in_a_minute()});
    assert_eq!(
        code(&registry, &hs(Algorithm::HS256, &short, claims.clone())).await,
        "ok"
    );
    let long = Secret::generate(64).unwrap();
    let registry = one(IssuerConfig::hmac("api", &long).unwrap().iss(ISS));
    assert_eq!(
        code(&registry, &hs(Algorithm::HS512, &long, claims.clone())).await,
        "ok"
    );
    // A 32-byte secret is too short for HS512 (RFC 7518 §3.2): the key refuses it.
    let registry = one(IssuerConfig::hmac("api", &short).unwrap().iss(ISS));
    let hs512 = Minter::new(SigningKey::hmac(Algorithm::HS512, &long).unwrap()).mint(&claims);
    assert_eq!(code(&registry, &hs512.unwrap()).await, "alg_not_allowed");

    let err = IssuerConfig::hmac("api", &Secret::from_bytes(b"0123456789".to_vec()).unwrap())
        .unwrap_err();
    assert!(
        matches!(&err, IssuerConfigError::Key { issuer, .. } if issuer == "api"),
        "{err:?}"
    );
    assert!(err.source().is_some());
}

#[tokio::test]
async fn public_key_file_reads_pem_or_jwk() {
    let pair = keygen::generate(Algorithm::ES256, 0).unwrap();
    let signer = Minter::new(SigningKey::from_pem(None, &pair.private_pem).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("key.pem");
    std::fs::write(&pem, &pair.public_pem).unwrap();
    let jwk = dir.path().join("key.jwk");
    std::fs::write(&jwk, serde_json::to_string(&pair.public_jwk).unwrap()).unwrap();
    let token = sign(&signer, json!({"iss": ISS, "exp": in_a_minute()}));
    for path in [&pem, &jwk] {
        let config = IssuerConfig::public_key_file("partner", path).unwrap();
        assert_eq!(code(&one(config.iss(ISS)), &token).await, "ok", "{path:?}");
    }
    // The public key of another pair does not verify it.
    let other = keygen::generate(Algorithm::ES256, 0).unwrap();
    std::fs::write(&pem, &other.public_pem).unwrap();
    let config = IssuerConfig::public_key_file("partner", &pem)
        .unwrap()
        .iss(ISS);
    assert_eq!(code(&one(config), &token).await, "bad_signature");
}

#[test]
fn public_key_file_errors_name_the_file_and_keep_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.pem");
    let err = IssuerConfig::public_key_file("partner", &missing).unwrap_err();
    let IssuerConfigError::File {
        issuer,
        path,
        source,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((issuer.as_str(), path), ("partner", &missing));
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("absent.pem"), "{err}");
    // What `?` in main prints: the variant, the issuer, the path and the io error.
    let debug = format!("{err:?}");
    for part in ["File", "partner", "absent.pem", "NotFound"] {
        assert!(debug.contains(part), "{part} in {debug}");
    }

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a key").unwrap();
    let err = IssuerConfig::public_key_file("partner", &garbage).unwrap_err();
    assert!(matches!(err, IssuerConfigError::Key { .. }), "{err:?}");
}

#[tokio::test]
async fn builder_options_take_effect() {
    let secret = Secret::generate(48).unwrap();
    let api = || IssuerConfig::hmac("api", &secret).unwrap().iss(ISS);
    let token = |claims: Value| hs(Algorithm::HS256, &secret, claims);
    let now = jwtkit_verify::now();

    // audience: the token must name it.
    let registry = one(api().audience("orders"));
    let for_orders = token(json!({"iss": ISS, "exp": now + 60, "aud": "orders"}));
    let for_billing = token(json!({"iss": ISS, "exp": now + 60, "aud": "billing"}));
    assert_eq!(code(&registry, &for_orders).await, "ok");
    assert_eq!(code(&registry, &for_billing).await, "audience_mismatch");
    // accept_any_audience: with none configured, any aud is taken.
    assert_eq!(code(&one(api()), &for_billing).await, "audience_mismatch");
    assert_eq!(
        code(&one(api().accept_any_audience()), &for_billing).await,
        "ok"
    );

    // algorithms: HS256 is refused once only HS384 is allowed.
    let plain = token(json!({"iss": ISS, "exp": now + 60}));
    let hs384 = hs(
        Algorithm::HS384,
        &secret,
        json!({"iss": ISS, "exp": now + 60}),
    );
    let registry = one(api().algorithms([Algorithm::HS384]));
    assert_eq!(code(&registry, &plain).await, "alg_not_allowed");
    assert_eq!(code(&registry, &hs384).await, "ok");

    // leeway: 30 s past exp is inside the default 60 s, outside 10 s.
    let just_expired = token(json!({"iss": ISS, "exp": now - 30}));
    assert_eq!(code(&one(api()), &just_expired).await, "ok");
    let strict = one(api().leeway(Duration::from_secs(10)));
    assert_eq!(code(&strict, &just_expired).await, "expired");

    // required_claim.
    let registry = one(api().required_claim("tenant"));
    assert_eq!(code(&registry, &plain).await, "missing_claim");
    let with_tenant = token(json!({"iss": ISS, "exp": now + 60, "tenant": "t1"}));
    assert_eq!(code(&registry, &with_tenant).await, "ok");

    // iss: aliases are accepted, others are not; giving one twice is harmless.
    let registry = one(api().iss("https://alias.example").iss(ISS));
    let aliased = token(json!({"iss": "https://alias.example", "exp": now + 60}));
    let other = token(json!({"iss": "https://other.example", "exp": now + 60}));
    assert_eq!(code(&registry, &aliased).await, "ok");
    assert_eq!(code(&registry, &other).await, "unknown_issuer");

    // allow_missing_iss: an entry for tokens without iss needs no iss value.
    let anonymous = token(json!({"sub": "engine", "exp": now + 60}));
    assert_eq!(code(&one(api()), &anonymous).await, "missing_claim");
    let bare = || IssuerConfig::hmac("legacy", &secret).unwrap();
    assert_eq!(
        Registry::new(vec![bare()]).unwrap_err(),
        RegistryError::NoIssuer("legacy".into())
    );
    let registry = one(bare().allow_missing_iss());
    assert_eq!(code(&registry, &anonymous).await, "ok");
    assert_eq!(code(&registry, &plain).await, "unknown_issuer");
}

#[derive(Debug, serde::Deserialize)]
struct Caller {
    sub: String,
    realm_access: RealmAccess,
}

#[derive(Debug, serde::Deserialize)]
struct RealmAccess {
    roles: Vec<String>,
}

#[tokio::test]
async fn validate_as_gives_the_callers_type_or_the_path_that_does_not_fit() {
    let secret = Secret::generate(32).unwrap();
    let registry = one(IssuerConfig::hmac("api", &secret).unwrap().iss(ISS));
    let good = hs(
        Algorithm::HS256,
        &secret,
        json!({"sub": "ada", "iss": ISS, "exp": in_a_minute(), "realm_access": {"roles": ["admin"]}}),
    );
    let caller = registry.validate_as::<Caller>(&good).await.unwrap();
    assert_eq!(caller.claims.sub, "ada");
    assert_eq!(caller.claims.realm_access.roles, ["admin"]);
    assert_eq!(caller.issuer.as_deref(), Some("api"));

    let bad = hs(
        Algorithm::HS256,
        &secret,
        json!({"sub": "ada", "iss": ISS, "exp": in_a_minute(), "realm_access": {"roles": "admin"}}),
    );
    let err = registry.validate_as::<Caller>(&bad).await.unwrap_err();
    assert_eq!(err.code(), "invalid_claim");
    assert_eq!(
        err.to_string(),
        "claim \"realm_access.roles\" is invalid: invalid type: string \"admin\", expected a sequence"
    );
    // A token refused before its claims are read keeps its own error.
    let forged = hs(
        Algorithm::HS256,
        &Secret::generate(32).unwrap(),
        json!({"iss": ISS}),
    );
    let err = registry.validate_as::<Caller>(&forged).await.unwrap_err();
    assert_eq!(err.code(), "bad_signature");

    // The single-key Validator names the path the same way.
    let validator = Validator::hmac(&secret)
        .unwrap()
        .with_policy(Policy::default().issuer(ISS));
    assert_eq!(
        validator.validate_as::<Caller>(&good).unwrap().claims.sub,
        "ada"
    );
    let err = validator.validate_as::<Caller>(&bad).unwrap_err();
    assert!(
        err.to_string().starts_with("claim \"realm_access.roles\""),
        "{err}"
    );
    let err = validator
        .validate(&hs(
            Algorithm::HS256,
            &secret,
            json!({"iss": "x", "exp": in_a_minute()}),
        ))
        .unwrap_err();
    assert_eq!(err.code(), "unknown_issuer", "with_policy took effect");
    assert!(Validator::hmac(&Secret::from_bytes(b"short".to_vec()).unwrap()).is_err());
}

#[cfg(feature = "jwks")]
mod fetched {
    use jwtkit_testsupport::jwks_server::JwksServer;

    use super::*;

    /// An ES256 signer with `kid` and the JWK Set serving its public key.
    fn es256(kid: &str) -> (Minter, Value) {
        let pair = keygen::generate(Algorithm::ES256, 0).unwrap();
        let signer = SigningKey::from_pem(None, &pair.private_pem)
            .unwrap()
            .with_kid(Some(kid.into()));
        let signer = Minter::new(signer);
        let mut jwk = serde_json::to_value(&pair.public_jwk).unwrap();
        jwk["kid"] = kid.into();
        (signer, json!({"keys": [jwk]}))
    }

    #[tokio::test]
    async fn jwks_url_fetches_the_served_set() {
        let (signer, set) = es256("k1");
        let server = JwksServer::start(&set).await;
        let config = IssuerConfig::jwks_url("idp", server.url.clone())
            .unwrap()
            .iss(ISS)
            .audience("api");
        let registry = one(config);
        let token = sign(
            &signer,
            json!({"iss": ISS, "aud": "api", "exp": in_a_minute()}),
        );
        assert_eq!(code(&registry, &token).await, "ok");
        assert_eq!(server.requests(), 1);
        let wrong_aud = sign(
            &signer,
            json!({"iss": ISS, "aud": "x", "exp": in_a_minute()}),
        );
        assert_eq!(code(&registry, &wrong_aud).await, "audience_mismatch");
    }

    /// A discovery document naming `issuer` and the JWKS server's URL, served at every path.
    async fn discovery_server(issuer: &str, jwks: &JwksServer) -> (JwksServer, String) {
        let document = json!({"issuer": issuer, "jwks_uri": jwks.url});
        let server = JwksServer::start(&document).await;
        let base = server.url.trim_end_matches("/jwks").to_owned() + "/realms/x";
        (server, base)
    }

    #[tokio::test]
    async fn discovery_accepts_the_issuer_url_by_default() {
        let (signer, set) = es256("k1");
        let jwks = JwksServer::start(&set).await;
        // The document must declare the URL it is fetched from: learn the port first.
        let (doc, base) = discovery_server("placeholder", &jwks).await;
        doc.set_document(&json!({"issuer": base, "jwks_uri": jwks.url}));
        let registry = one(IssuerConfig::discovery("idp", base.clone()).unwrap());
        let token = sign(&signer, json!({"iss": base, "exp": in_a_minute()}));
        assert_eq!(code(&registry, &token).await, "ok");
        assert_eq!((doc.requests(), jwks.requests()), (1, 1));
    }

    #[tokio::test]
    async fn discovery_with_iss_expects_that_issuer_in_the_document_and_the_tokens() {
        const PUBLIC: &str = "http://localhost:8090/realms/x";
        let (signer, set) = es256("k1");
        let jwks = JwksServer::start(&set).await;
        let (_doc, internal) = discovery_server(PUBLIC, &jwks).await;
        let config = IssuerConfig::discovery("keycloak", internal.clone())
            .unwrap()
            .iss(PUBLIC);
        assert_eq!(config.issuers, [PUBLIC]);
        let registry = one(config);
        let public = sign(&signer, json!({"iss": PUBLIC, "exp": in_a_minute()}));
        assert_eq!(code(&registry, &public).await, "ok");
        let internal_iss = sign(&signer, json!({"iss": internal, "exp": in_a_minute()}));
        assert_eq!(code(&registry, &internal_iss).await, "unknown_issuer");

        // A second iss is an alias; the document must still declare the first.
        let (_doc, internal) = discovery_server(PUBLIC, &jwks).await;
        let config = IssuerConfig::discovery("keycloak", internal.clone())
            .unwrap()
            .iss(PUBLIC)
            .iss("https://alias.example");
        assert_eq!(config.issuers, [PUBLIC, "https://alias.example"]);
        let aliased = sign(
            &signer,
            json!({"iss": "https://alias.example", "exp": in_a_minute()}),
        );
        assert_eq!(code(&one(config), &aliased).await, "ok");
    }

    #[tokio::test]
    async fn discovery_refuses_a_document_declaring_another_issuer() {
        let (signer, set) = es256("k1");
        let jwks = JwksServer::start(&set).await;
        let (_doc, base) = discovery_server("https://impostor.example", &jwks).await;
        let registry = one(IssuerConfig::discovery("idp", base.clone()).unwrap());
        let token = sign(&signer, json!({"iss": base, "exp": in_a_minute()}));
        let err = registry.validate(&token).await.unwrap_err();
        assert_eq!(err.code(), "jwks_unavailable");
        let source = err.source().expect("the fetch error").to_string();
        assert!(source.contains("https://impostor.example"), "{source}");
        assert_eq!(
            jwks.requests(),
            0,
            "no keys fetched from an unverified document"
        );
    }
}
