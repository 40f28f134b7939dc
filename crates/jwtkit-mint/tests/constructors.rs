//! The short constructors of the profiles, and minting that always runs a profile's checks.

use jwtkit_keys::{Algorithm, SigningKey};
use jwtkit_mint::{
    CamundaClaims, CentrifugoConnectionClaims, CentrifugoSubscriptionClaims, Expiry,
    GenericProfile, MintError, Minter,
};
use jwtkit_secret::Secret;
use serde_json::Value;

fn minter() -> Minter {
    let secret = Secret::from_bytes(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap();
    Minter::new(SigningKey::hmac(Algorithm::HS256, &secret).unwrap())
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&jwtkit_keys::b64::decode(part).unwrap()).unwrap()
}

#[test]
fn a_generic_profile_reads_as_one_line() {
    let claims = GenericProfile::subject("svc")
        .expires_in("1h")
        .unwrap()
        .issuer("https://issuer.example")
        .audience("api")
        .audience("admin")
        .claim("role", "reader")
        .claims(1_000)
        .unwrap();
    assert_eq!(claims["sub"], "svc");
    assert_eq!(claims["exp"], 4_600);
    assert_eq!(claims["iss"], "https://issuer.example");
    assert_eq!(claims["aud"], serde_json::json!(["api", "admin"]));
    assert_eq!(claims["role"], "reader");
    assert_eq!(claims["iat"], 1_000);
}

#[test]
fn a_bad_lifetime_or_a_registered_custom_claim_is_an_error() {
    let err = GenericProfile::subject("svc")
        .expires_in("soon")
        .unwrap_err();
    assert!(matches!(err, MintError::Lifetime(_)), "{err:?}");
    assert!(err.to_string().contains("invalid lifetime"), "{err}");
    let err = GenericProfile::subject("svc")
        .claim("exp", 1)
        .claims(0)
        .unwrap_err();
    assert_eq!(err, MintError::ReservedClaim("exp".into()));
}

#[test]
fn centrifugo_tokens_take_one_line_each() {
    let connection = CentrifugoConnectionClaims::new("agent-1", Expiry::After(60), 100)
        .channels(["agents.t.agent-1"]);
    let token = minter().mint(&connection).unwrap();
    let claims = payload(&token);
    assert_eq!(claims["sub"], "agent-1");
    assert_eq!(claims["exp"], 160);
    assert_eq!(claims["channels"], serde_json::json!(["agents.t.agent-1"]));
    assert!(claims.get("channel").is_none());

    let subscription =
        CentrifugoSubscriptionClaims::new("agent-1", "agents.t.agent-1", Expiry::After(60), 100);
    let claims = payload(&minter().mint(&subscription).unwrap());
    assert_eq!(claims["channel"], "agents.t.agent-1");
    assert_eq!(claims["exp"], 160);
}

#[test]
fn minting_refuses_a_subscription_without_channel_however_it_was_built() {
    let built = CentrifugoSubscriptionClaims::new("agent-1", "", Expiry::After(60), 100);
    let literal = CentrifugoSubscriptionClaims {
        sub: "agent-1".into(),
        ..Default::default()
    };
    for claims in [built, literal] {
        let err = minter().mint(&claims).unwrap_err();
        assert!(matches!(err, MintError::Serialize(_)), "{err:?}");
        assert!(err.to_string().contains("\"channel\" is required"), "{err}");
        // Any serialisation refuses it, not only the minter's.
        assert!(serde_json::to_string(&claims).is_err());
    }
}

#[test]
fn minting_refuses_engine_claims_without_subject() {
    let claims = CamundaClaims {
        iss: None,
        sub: String::new(),
        email: "x@camunda.local".into(),
        is_active: true,
        is_superuser: false,
        is_verified: true,
        iat: 0,
        exp: 60,
    };
    let err = minter().mint(&claims).unwrap_err();
    assert!(err.to_string().contains("\"sub\" is required"), "{err}");
}
