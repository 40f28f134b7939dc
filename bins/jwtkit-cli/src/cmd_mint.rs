//! `jwtkit mint`: build a profile's claims, sign, print the token.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use jwtkit_keys::{Algorithm, SigningKey};
use jwtkit_mint::{
    Audience, CamundaProfile, CentrifugoConnectionClaims, CentrifugoSubscriptionClaims, Expiry,
    GenericProfile, Minter, camunda_secret, with_custom_claims,
};
use jwtkit_secret::SecretEncoding;
use serde_json::{Map, Value};

use crate::input::{self, DEFAULT_SECRET_ENV, SecretArgs};
use crate::{CliError, print_json};

/// The claim sets `mint` can produce.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// sub, iat, optional exp/nbf/iss/aud/jti and --claim values.
    Generic,
    /// The Camunda 7 engine token: sub, email, isActive, isSuperuser, isVerified, iat, exp.
    Camunda,
    /// A Centrifugo connection token (sub, exp, iat, channels, ...).
    Centrifugo,
    /// A Centrifugo subscription token (sub, channel, exp, ...).
    CentrifugoSub,
}

/// Arguments of `jwtkit mint`.
#[derive(Args, Debug)]
pub struct MintArgs {
    /// Claim profile.
    #[arg(long, value_enum, default_value = "generic")]
    profile: Profile,
    /// Signing algorithm (default: HS256 with a secret, or the key's own algorithm with --key).
    #[arg(long, value_name = "ALG")]
    alg: Option<Algorithm>,
    #[command(flatten)]
    secret: SecretArgs,
    /// Private key file for asymmetric algorithms: PEM (PKCS#8, PKCS#1, SEC1) or a private JWK.
    #[arg(long, value_name = "PEM_OR_JWK_FILE", conflicts_with = "secret_source")]
    key: Option<PathBuf>,
    /// Key id for the header (a JWK's own kid is used when absent).
    // Hyphen values: an RFC 7638 thumbprint kid (`jwtkit keygen`) may start with `-`.
    #[arg(long, value_name = "KID", allow_hyphen_values = true)]
    kid: Option<String>,
    /// Subject (`sub`). Default: `client` (generic), `demo` (camunda), empty (centrifugo).
    #[arg(long, visible_alias = "subject", value_name = "S")]
    sub: Option<String>,
    /// Issuer (`iss`).
    #[arg(long, value_name = "S")]
    iss: Option<String>,
    /// Audience (`aud`); repeat for several.
    #[arg(long, value_name = "S")]
    aud: Vec<String>,
    /// Lifetime: 3600s, 30m, 24h, 7d, 4w or never. Default: never (generic), 1h (others).
    #[arg(long, value_name = "DUR")]
    expires_in: Option<Expiry>,
    /// Token id (`jti`), generic profile.
    #[arg(long, value_name = "S")]
    jti: Option<String>,
    /// Extra claim NAME=VALUE; VALUE is parsed as JSON when it can be, else taken as a string.
    #[arg(long = "claim", value_name = "NAME=VALUE", value_parser = input::parse_claim)]
    claims: Vec<(String, Value)>,
    /// Centrifugo: channel to subscribe server-side (repeat), or the one channel of a
    /// subscription token.
    #[arg(long = "channel", value_name = "C")]
    channels: Vec<String>,
    /// Camunda: e-mail (default: `<sub>@camunda.local`).
    #[arg(long, value_name = "E")]
    email: Option<String>,
    /// Camunda: set isSuperuser to false.
    #[arg(long)]
    no_superuser: bool,
    /// Print JSON: the token, its algorithm and kid, the claims, and the key fingerprint.
    #[arg(long)]
    json: bool,
}

pub fn run(args: MintArgs) -> Result<ExitCode, CliError> {
    let key = signing_key(&args)?;
    let now = jwtkit_mint::now();
    let custom: Map<String, Value> = args.claims.iter().cloned().collect();
    let claims = build_claims(&args, custom, now)?;
    let minter = Minter::new(key);
    let token = minter.mint(&claims).map_err(CliError::failure)?;
    if args.json {
        print_json(&serde_json::json!({
            "token": token,
            "algorithm": minter.key().algorithm().name(),
            "kid": minter.key().kid(),
            "key_fingerprint": minter.key().fingerprint(),
            "claims": claims,
        }));
    } else {
        println!("{token}");
    }
    Ok(ExitCode::SUCCESS)
}

fn signing_key(args: &MintArgs) -> Result<SigningKey, CliError> {
    if let Some(path) = &args.key {
        let key = input::signing_key_from_file(path, args.alg)?;
        return Ok(match &args.kid {
            Some(kid) => key.with_kid(Some(kid.clone())),
            None => key,
        });
    }
    let alg = args.alg.unwrap_or(Algorithm::HS256);
    if alg.hmac().is_none() {
        return Err(CliError::usage(format!(
            "{alg} signs with a private key: pass --key FILE"
        )));
    }
    // The Camunda engine base64-decodes its secret; the other tools jwtkit replaces use raw text.
    let (envs, encoding): (&[&str], _) = match args.profile {
        Profile::Camunda => (
            &["ENGINE_JWT_SECRET", DEFAULT_SECRET_ENV],
            SecretEncoding::Base64,
        ),
        _ => (&[DEFAULT_SECRET_ENV], SecretEncoding::Raw),
    };
    if args.profile == Profile::Camunda
        && let Some(encoding) = args
            .secret
            .secret_encoding
            .filter(|e| *e != SecretEncoding::Base64)
    {
        eprintln!(
            "note: the Camunda engine base64-decodes its secret; with --secret-encoding {encoding} this \
             token is signed with other key bytes than a stock engine uses"
        );
    }
    let secret = if args.profile == Profile::Camunda && args.secret.secret_encoding.is_none() {
        let source = args.secret.source_or_env(envs).ok_or_else(missing_secret)?;
        let text = source.read_text().map_err(CliError::failure)?;
        camunda_secret(&text).map_err(CliError::failure)?
    } else {
        args.secret
            .load(envs, encoding)?
            .ok_or_else(missing_secret)?
            .secret
    };
    let key = SigningKey::hmac(alg, &secret).map_err(CliError::failure)?;
    Ok(key.with_kid(args.kid.clone()))
}

fn missing_secret() -> CliError {
    CliError::failure(format!(
        "no secret: pass --secret, --secret-env NAME or --secret-file PATH, or set {DEFAULT_SECRET_ENV} \
         (generate one with `jwtkit secret generate`)"
    ))
}

fn build_claims(
    args: &MintArgs,
    custom: Map<String, Value>,
    now: i64,
) -> Result<Map<String, Value>, CliError> {
    let audience = Audience::new(args.aud.clone());
    let expiry = |default: Expiry| args.expires_in.unwrap_or(default);
    let only_for = |used: bool, flag: &str, profiles: &str| {
        if used {
            Err(CliError::usage(format!(
                "{flag} applies to the {profiles} profile(s) only"
            )))
        } else {
            Ok(())
        }
    };
    if args.profile != Profile::Camunda {
        only_for(
            args.email.is_some() || args.no_superuser,
            "--email/--no-superuser",
            "camunda",
        )?;
    }
    if !matches!(args.profile, Profile::Centrifugo | Profile::CentrifugoSub) {
        only_for(
            !args.channels.is_empty(),
            "--channel",
            "centrifugo and centrifugo-sub",
        )?;
    }
    if args.profile != Profile::Generic {
        only_for(args.jti.is_some(), "--jti", "generic")?;
    }
    let claims = match args.profile {
        Profile::Generic => GenericProfile {
            subject: Some(args.sub.clone().unwrap_or_else(|| "client".into())),
            issuer: args.iss.clone(),
            audience,
            expiry: expiry(Expiry::Never),
            not_before_offset: None,
            jwt_id: args.jti.clone(),
            custom,
        }
        .claims(now),
        Profile::Camunda => {
            if args.iss.is_some() || !audience.is_empty() {
                return Err(CliError::usage(
                    "the camunda profile sets the engine's claims itself; drop --iss/--aud",
                ));
            }
            let profile = CamundaProfile {
                is_superuser: !args.no_superuser,
                expiry: expiry(Expiry::After(3600)),
                ..CamundaProfile::default()
            };
            let sub = args.sub.as_deref().unwrap_or("demo");
            profile
                .claims(sub, args.email.as_deref(), now)
                .and_then(|claims| with_custom_claims(&claims, &custom, &[]))
        }
        Profile::Centrifugo => {
            if custom.contains_key("channel") {
                return Err(CliError::usage(
                    "a Centrifugo connection token must not have `channel`: Centrifugo would read it \
                     as a subscription token. Use --channel C (repeatable) for the `channels` list, \
                     or --profile centrifugo-sub --channel C for a subscription token",
                ));
            }
            let claims = CentrifugoConnectionClaims {
                sub: args.sub.clone().unwrap_or_default(),
                exp: expiry(Expiry::After(3600)).exp_after(now),
                iat: now,
                channels: args.channels.clone(),
                aud: audience,
                iss: args.iss.clone(),
                ..CentrifugoConnectionClaims::default()
            };
            with_custom_claims(&claims, &custom, &["channel"])
        }
        Profile::CentrifugoSub => {
            let [channel] = args.channels.as_slice() else {
                return Err(CliError::usage(
                    "a subscription token needs exactly one --channel",
                ));
            };
            let claims = CentrifugoSubscriptionClaims {
                sub: args.sub.clone().unwrap_or_default(),
                channel: channel.clone(),
                exp: expiry(Expiry::After(3600)).exp_after(now),
                iat: now,
                aud: audience,
                iss: args.iss.clone(),
                ..CentrifugoSubscriptionClaims::default()
            };
            claims
                .check()
                .and_then(|()| with_custom_claims(&claims, &custom, &["channels"]))
        }
    };
    claims.map_err(|err| CliError::usage(err.to_string()))
}
