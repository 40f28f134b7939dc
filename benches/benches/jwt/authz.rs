//! The `authz` group: what authorization adds to a request whose token is already verified.
//!
//! - `cache_hit_keycloak`: a verified-token cache hit of a Keycloak-shaped HS256 access token
//!   (the 13 claims of `access_claims` plus `realm_access`), the baseline.
//! - `cache_hit_declarative`: the same hit, then `Requirements::check` of `/realm_access/roles`
//!   containing `admin` and the scope `orders:read`; minus the baseline, the declarative check's
//!   cost (target: at most 200 ns).
//! - `declarative_check`: that check alone, on the `Validated` of a cache hit.
//! - `cel_allow_if`: `check_request` of the CEL rule `'admin' in claims.realm_access.roles &&
//!   request.method == 'GET'`, evaluated afresh every time (target: at most 2 µs).
//! - `cel_all_claims`: a rule that also reads `size(claims)`, so every claim is converted to a
//!   CEL value: the cost the per-rule claim selection avoids.

use std::hint::black_box;

use criterion::Criterion;
use http::HeaderMap;
use jwtkit_keys::{Algorithm, SigningKey};
use jwtkit_mint::Minter;
use jwtkit_secret::Secret;
use jwtkit_verify::{RequestInfo, Requirements};
use serde_json::json;
use tokio::runtime::Runtime;

use crate::fixtures::{Fixtures, HMAC_SECRET, SVC_ISS, access_claims};

/// The CEL rule of target (b).
pub const CEL_RULE: &str = "'admin' in claims.realm_access.roles && request.method == 'GET'";

pub fn authz_group(c: &mut Criterion, rt: &Runtime, fx: &Fixtures) {
    let now = jwtkit_verify::now();
    let mut claims = access_claims(SVC_ISS, now);
    claims["realm_access"] = json!({"roles": ["offline_access", "admin"]});
    let secret = Secret::from_bytes(HMAC_SECRET.to_vec()).expect("32 bytes");
    let token = Minter::new(SigningKey::hmac(Algorithm::HS256, &secret).expect("HS256 key"))
        .mint(&claims)
        .expect("mint");
    let token = token.as_str();
    let cached = &fx.cached_registry;
    let validated = rt.block_on(cached.validate(token)).expect("valid");
    // The second validation is the cache hit the figures are about.
    let validated = {
        drop(validated);
        rt.block_on(cached.validate(token)).expect("valid")
    };

    let declarative = &Requirements::new()
        .claim("/realm_access/roles", "admin")
        .expect("rule")
        .scopes(["orders:read"])
        .expect("scope");
    let cel = Requirements::new()
        .allow_if("admin GET", CEL_RULE)
        .expect("rule");
    let cel_all = Requirements::new()
        .allow_if(
            "admin GET, all claims",
            &format!("{CEL_RULE} && size(claims) > 0"),
        )
        .expect("rule");
    let headers = HeaderMap::new();
    let request = RequestInfo {
        method: "GET",
        path: "/orders",
        headers: &headers,
    };
    for requirements in [declarative, &cel, &cel_all] {
        requirements
            .check_request(&validated, &request)
            .expect("allowed");
    }

    let mut group = c.benchmark_group("authz");
    group.bench_function("cache_hit_keycloak", |b| {
        b.to_async(rt)
            .iter(|| async move { cached.validate(black_box(token)).await.expect("valid") })
    });
    group.bench_function("cache_hit_declarative", |b| {
        b.to_async(rt).iter(|| async move {
            let validated = cached.validate(black_box(token)).await.expect("valid");
            declarative.check(&validated).expect("allowed");
            validated
        })
    });
    group.bench_function("declarative_check", |b| {
        b.iter(|| declarative.check(black_box(&validated)).expect("allowed"))
    });
    group.bench_function("cel_allow_if", |b| {
        b.iter(|| {
            cel.check_request(black_box(&validated), black_box(&request))
                .expect("allowed")
        })
    });
    group.bench_function("cel_all_claims", |b| {
        b.iter(|| {
            cel_all
                .check_request(black_box(&validated), black_box(&request))
                .expect("allowed")
        })
    });
    group.finish();
}
