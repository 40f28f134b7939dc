//! `cargo bench -p jwtkit-benches`: jwtkit next to jsonwebtoken, jwt-simple and the bare aws-lc-rs
//! primitives, every figure measured in the same run, then a ratio summary computed from
//! criterion's estimates of this run (`summary.rs`).
//!
//! Groups (criterion ids are `group/function`):
//!
//! - `verify_{hs256,rs256,es256,eddsa}` (a 13-claim access token) and
//!   `verify_{hs256,rs256}_service` (a 5-claim service token): `jwtkit_validator` (sync, static key), `jwtkit_registry` (issuer
//!   registry; JWKS-backed issuer for RS/ES/EdDSA, static secret for HS256; awaited inside a
//!   current-thread tokio runtime, one `block_on` per criterion sample), `jsonwebtoken` (`decode`
//!   into a JSON map, same checks), `jwt_simple` (pure-Rust backend), `aws_lc` (the primitive
//!   alone: pre-parsed key, input already split and decoded). All check signature, `iss`, `aud`
//!   and `exp`, and return the claims. `verify_hs256` also has typed variants
//!   (`jwtkit_validator_typed`, `jsonwebtoken_typed`).
//! - `caches`: verified-token cache hits, the JWKS key lookup, and the cost of one
//!   `Runtime::block_on` (reported, not subtracted anywhere).
//! - `mint_{hs256,rs256}`: each profile (camunda, centrifugo, generic) with jwtkit's `Minter` and
//!   with `jsonwebtoken::encode` of the same claims; jwt-simple for camunda; the minted-token cache
//!   hit; the bare aws-lc-rs signature for RS256.
//! - `authz`: a declarative `Requirements` check and a CEL `allow_if` rule on a token from a
//!   verified-token cache hit (`authz.rs`).
//! - `breakdown_hs256*`, only with `JWTKIT_BENCH_BREAKDOWN=1`: the steps of one HS256 validation.
//!
//! Settings: 1 s warm-up, 3 s measurement, 50 samples (20 for `mint_rs256`); criterion's
//! command-line options (`--measurement-time`, a filter, ...) still apply.

mod access_claims;
mod authz;
mod fixtures;
mod summary;

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use access_claims::AccessClaims;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as aws_signature, RsaKeyPair};
use criterion::Criterion;
use fixtures::{AUD, Alg, Fixtures, HMAC_SECRET, JwtSimpleKey, SVC_ISS};
use jwtkit_keys::{Algorithm, SigningKey, b64, keygen};
use jwtkit_mint::{
    Audience, CamundaProfile, CentrifugoConnectionClaims, Expiry, GenericProfile, MintedTokenCache,
    Minter,
};
use jwtkit_secret::Secret;
use jwtkit_verify::ClaimMap;
use serde::Serialize;
use tokio::runtime::Runtime;

fn verify_groups(c: &mut Criterion, rt: &Runtime, fx: &Fixtures) {
    let now = jwtkit_verify::now();
    let mut runs: Vec<(String, Alg, &str)> = Alg::ALL
        .into_iter()
        .map(|alg| (alg.group().to_owned(), alg, fx.get(alg).token.as_str()))
        .collect();
    // HS256 and RS256 again with the five-claim service token.
    runs.insert(
        1,
        (
            "verify_hs256_service".to_owned(),
            Alg::Hs256,
            fx.get(Alg::Hs256).service_token.as_str(),
        ),
    );
    runs.insert(
        3,
        (
            "verify_rs256_service".to_owned(),
            Alg::Rs256,
            fx.get(Alg::Rs256).service_token.as_str(),
        ),
    );
    for (group_name, alg, token) in runs {
        let material = fx.get(alg);
        let validator = material.validator();
        let (jwt_key, jwt_validation) = material.jsonwebtoken();
        let simple = JwtSimpleKey::new(material);
        let simple_options = JwtSimpleKey::options(alg);
        let raw = material.raw(token);

        // Every verifier accepts the token before anything is timed.
        validator.validate_at(token, now).expect("jwtkit validator");
        rt.block_on(fx.registry.validate_at(token, now))
            .expect("jwtkit registry");
        jsonwebtoken::decode::<ClaimMap>(token, &jwt_key, &jwt_validation).expect("jsonwebtoken");
        simple.verify(token, &simple_options).expect("jwt-simple");
        assert!(raw.verify(), "aws-lc-rs");

        let mut group = c.benchmark_group(&group_name);
        group.bench_function("jwtkit_validator", |b| {
            b.iter(|| validator.validate(black_box(token)).expect("valid"))
        });
        // Validation leaves the claims map to first use; this variant reads it, as a service
        // that looks at a custom claim on every request would (jsonwebtoken always builds it).
        group.bench_function("jwtkit_validator_map", |b| {
            b.iter(|| {
                let validated = validator.validate(black_box(token)).expect("valid");
                black_box(validated.claims.map().len());
                validated
            })
        });
        let registry = &fx.registry;
        group.bench_function("jwtkit_registry", |b| {
            b.to_async(rt)
                .iter(|| async move { registry.validate(black_box(token)).await.expect("valid") })
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<ClaimMap>(black_box(token), &jwt_key, &jwt_validation)
                    .expect("valid")
            })
        });
        if group_name == "verify_hs256" {
            // The typed variants: what a service that wants a struct pays on each side.
            group.bench_function("jwtkit_validator_typed", |b| {
                b.iter(|| {
                    validator
                        .validate_as::<AccessClaims>(black_box(token))
                        .expect("valid")
                })
            });
            group.bench_function("jsonwebtoken_typed", |b| {
                b.iter(|| {
                    jsonwebtoken::decode::<AccessClaims>(
                        black_box(token),
                        &jwt_key,
                        &jwt_validation,
                    )
                    .expect("valid")
                })
            });
        }
        group.bench_function("jwt_simple", |b| {
            b.iter(|| {
                simple
                    .verify(black_box(token), &simple_options)
                    .expect("valid")
            })
        });
        group.bench_function("aws_lc", |b| b.iter(|| assert!(black_box(&raw).verify())));
        group.finish();
    }
}

fn cache_group(c: &mut Criterion, rt: &Runtime, fx: &Fixtures) {
    let cached = &fx.cached_registry;
    let hs = fx.get(Alg::Hs256).token.as_str();
    let rs = fx.get(Alg::Rs256).token.as_str();
    for token in [hs, rs] {
        rt.block_on(cached.validate(token)).expect("valid");
    }
    let kid = fx.get(Alg::Rs256).kid().expect("kid").to_owned();
    let jwks = &fx.jwks;

    let mut group = c.benchmark_group("caches");
    group.bench_function("token_cache_hit_hs256", |b| {
        b.to_async(rt)
            .iter(|| async move { cached.validate(black_box(hs)).await.expect("valid") })
    });
    group.bench_function("token_cache_hit_rs256", |b| {
        b.to_async(rt)
            .iter(|| async move { cached.validate(black_box(rs)).await.expect("valid") })
    });
    let kid = kid.as_str();
    group.bench_function("jwks_key_lookup", |b| {
        b.to_async(rt).iter(|| async move {
            let snapshot = jwks.keys_for_kid(Some(black_box(kid))).await.expect("keys");
            assert!(snapshot.keys.iter().any(|k| k.kid() == Some(kid)));
            snapshot
        })
    });
    group.bench_function("tokio_block_on", |b| {
        b.iter(|| rt.block_on(async { black_box(1u8) }))
    });
    group.finish();
}

/// jwt-simple's Camunda claims: it sets `iat`, `exp` (and `nbf`) itself.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CamundaCustom {
    email: String,
    is_active: bool,
    is_superuser: bool,
    is_verified: bool,
}

fn camunda_custom(sub: &str) -> CamundaCustom {
    CamundaCustom {
        email: format!("{sub}@camunda.local"),
        is_active: true,
        is_superuser: true,
        is_verified: true,
    }
}

fn centrifugo(now: i64) -> CentrifugoConnectionClaims {
    CentrifugoConnectionClaims {
        sub: "agent-linux-01".into(),
        exp: Some(now + 3600),
        iat: now,
        channels: vec!["agents.test-tenant.agent-linux-01".into()],
        ..Default::default()
    }
}

fn generic_profile() -> GenericProfile {
    GenericProfile {
        subject: Some("svc-orders".into()),
        issuer: Some(SVC_ISS.into()),
        audience: Audience::new(vec![AUD.into()]),
        expiry: Expiry::After(3600),
        ..GenericProfile::default()
    }
}

enum SimpleSigner {
    Hs256(jwt_simple::prelude::HS256Key),
    Rs256(Box<jwt_simple::prelude::RS256KeyPair>),
}

impl SimpleSigner {
    fn camunda(&self, sub: &str) -> String {
        use jwt_simple::prelude::*;
        let claims = Claims::with_custom_claims(camunda_custom(sub), Duration::from_hours(1))
            .with_subject(sub);
        match self {
            Self::Hs256(key) => key.authenticate(claims),
            Self::Rs256(key) => key.sign(claims),
        }
        .expect("jwt-simple signs")
    }
}

fn mint_groups(c: &mut Criterion) {
    let secret = Secret::from_bytes(HMAC_SECRET.to_vec()).expect("32 bytes");
    let rsa = keygen::generate(Algorithm::RS256, 2048).expect("keygen");
    let rsa_der = {
        let body: String = rsa
            .private_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let url: String = body
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                other => other,
            })
            .collect();
        b64::decode(&url).expect("PKCS#8 PEM body")
    };
    let setups = [
        (
            "mint_hs256",
            SigningKey::hmac(Algorithm::HS256, &secret).expect("HS256 key"),
            jsonwebtoken::EncodingKey::from_secret(HMAC_SECRET),
            jsonwebtoken::Algorithm::HS256,
            SimpleSigner::Hs256(jwt_simple::prelude::HS256Key::from_bytes(HMAC_SECRET)),
        ),
        (
            "mint_rs256",
            SigningKey::from_pem(Some(Algorithm::RS256), &rsa.private_pem).expect("RSA key"),
            jsonwebtoken::EncodingKey::from_rsa_pem(rsa.private_pem.as_bytes())
                .expect("jsonwebtoken RSA key"),
            jsonwebtoken::Algorithm::RS256,
            SimpleSigner::Rs256(Box::new(
                jwt_simple::prelude::RS256KeyPair::from_pem(&rsa.private_pem)
                    .expect("jwt-simple RSA key"),
            )),
        ),
    ];
    let camunda = CamundaProfile::default();
    let generic = generic_profile();
    for (name, key, jwt_key, jwt_alg, simple) in setups {
        let minter = Minter::new(key);
        let header = jsonwebtoken::Header::new(jwt_alg);
        let mut group = c.benchmark_group(name);
        if name == "mint_rs256" {
            group.sample_size(20);
        }
        group.bench_function("camunda_jwtkit", |b| {
            b.iter(|| {
                let claims = camunda
                    .claims(black_box("demo"), None, jwtkit_mint::now())
                    .expect("claims");
                minter.mint(&claims).expect("mint")
            })
        });
        group.bench_function("camunda_jsonwebtoken", |b| {
            b.iter(|| {
                let claims = camunda
                    .claims(black_box("demo"), None, jwtkit_mint::now())
                    .expect("claims");
                jsonwebtoken::encode(&header, &claims, &jwt_key).expect("encode")
            })
        });
        group.bench_function("camunda_jwt_simple", |b| {
            b.iter(|| simple.camunda(black_box("demo")))
        });
        group.bench_function("centrifugo_jwtkit", |b| {
            b.iter(|| minter.mint(&centrifugo(jwtkit_mint::now())).expect("mint"))
        });
        group.bench_function("centrifugo_jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::encode(&header, &centrifugo(jwtkit_mint::now()), &jwt_key)
                    .expect("encode")
            })
        });
        group.bench_function("generic_jwtkit", |b| {
            b.iter(|| {
                let claims = generic.claims(jwtkit_mint::now()).expect("claims");
                minter.mint(&claims).expect("mint")
            })
        });
        group.bench_function("generic_jsonwebtoken", |b| {
            b.iter(|| {
                let claims = generic.claims(jwtkit_mint::now()).expect("claims");
                jsonwebtoken::encode(&header, &claims, &jwt_key).expect("encode")
            })
        });
        if name == "mint_hs256" {
            let cache = MintedTokenCache::new(1000, Duration::from_secs(60));
            let mint_camunda = || {
                let claims = camunda.claims("demo", None, jwtkit_mint::now())?;
                Ok((minter.mint(&claims)?, Duration::from_secs(3600)))
            };
            cache.get_or_mint("demo", mint_camunda).expect("mint");
            group.bench_function("camunda_cached", |b| {
                b.iter(|| {
                    cache
                        .get_or_mint(black_box("demo"), mint_camunda)
                        .expect("cached")
                })
            });
        } else {
            let pair = RsaKeyPair::from_pkcs8(&rsa_der).expect("PKCS#8");
            let rng = SystemRandom::new();
            let message = b"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZW1vIiwiZW1haWwiOiJkZW1vQGNhbXVuZGEubG9jYWwiLCJpc0FjdGl2ZSI6dHJ1ZSwiaXNTdXBlcnVzZXIiOnRydWUsImlzVmVyaWZpZWQiOnRydWUsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ";
            group.bench_function("aws_lc_sign", |b| {
                b.iter(|| {
                    let mut out = vec![0u8; pair.public_modulus_len()];
                    pair.sign(
                        &aws_signature::RSA_PKCS1_SHA256,
                        &rng,
                        black_box(message),
                        &mut out,
                    )
                    .expect("sign");
                    out
                })
            });
        }
        group.finish();
    }
}

/// Where an HS256 verification's time goes (run with `JWTKIT_BENCH_BREAKDOWN=1`; not part of
/// the default run or the summary).
fn breakdown_group(c: &mut Criterion, fx: &Fixtures) {
    let material = fx.get(Alg::Hs256);
    let validator = material.validator();
    for (name, token) in [
        ("breakdown_hs256", material.token.as_str()),
        ("breakdown_hs256_service", material.service_token.as_str()),
    ] {
        let parsed = jwtkit_verify::jws::parse(token, 16 * 1024).expect("parses");
        let payload_segment = token.split('.').nth(1).expect("three segments");
        let payload = parsed.payload.clone();
        let claims = jwtkit_verify::jws::parse_object(&payload).expect("claims");
        let policy = validator.policy().clone();
        let now = jwtkit_verify::now();
        let mut group = c.benchmark_group(name);
        group.bench_function("jws_parse", |b| {
            b.iter(|| jwtkit_verify::jws::parse(black_box(token), 16 * 1024).expect("parses"))
        });
        group.bench_function("base64_payload", |b| {
            b.iter(|| b64::decode(black_box(payload_segment)).expect("base64url"))
        });
        group.bench_function("verify_with_keys", |b| {
            b.iter(|| {
                jwtkit_verify::verify_with_keys(validator.keys(), black_box(&parsed))
                    .expect("valid")
            })
        });
        group.bench_function("claims_map", |b| {
            b.iter(|| jwtkit_verify::jws::parse_object(black_box(&payload)).expect("claims"))
        });
        group.bench_function("check_claims", |b| {
            b.iter(|| policy.check_claims(black_box(&claims), now).expect("valid"))
        });
        group.bench_function("now", |b| b.iter(jwtkit_verify::now));
        group.bench_function("validate_at", |b| {
            b.iter(|| validator.validate_at(black_box(token), now).expect("valid"))
        });
        group.finish();
    }
}

fn main() {
    let started = SystemTime::now();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let fixtures = Fixtures::new(&runtime, jwtkit_verify::now());

    if std::env::var_os("JWTKIT_BENCH_BREAKDOWN").is_some() {
        breakdown_group(&mut criterion, &fixtures);
    }
    verify_groups(&mut criterion, &runtime, &fixtures);
    cache_group(&mut criterion, &runtime, &fixtures);
    authz::authz_group(&mut criterion, &runtime, &fixtures);
    mint_groups(&mut criterion);

    criterion.final_summary();
    fixtures.server.stop();
    // `cargo test --benches` runs each benchmark once without `--bench`: nothing to summarise.
    if std::env::args().any(|arg| arg == "--bench") {
        summary::print(started);
    }
}
