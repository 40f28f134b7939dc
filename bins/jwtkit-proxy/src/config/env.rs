//! Environment mode (no `--config`): the FastAPI proxy's variables translated into a
//! [`Config`], and the variables that override a configuration file.

use jwtkit_keys::Algorithm;

use super::file::{
    default_alg, default_email, default_listen, default_strip_prefixes, default_timeout,
    default_token_cache, default_token_from, default_ttl,
};
use super::values::{self, ValueError};
use super::{
    AccessSection, CamundaSection, CentrifugoSection, Config, ConfigError, InitiatorVariables,
    IssuerSection, Limits, LogConfig, LogFormat, MintProfile, MintSection, SecretRef, UpstreamAuth,
    UpstreamSection,
};

impl Config {
    /// Applies `JWTKIT_LISTEN`, `JWTKIT_LOG_LEVEL` and `JWTKIT_LOG_FORMAT` (and the FastAPI
    /// proxy's `LOG_LEVEL`, `CORS_ORIGINS`) when set.
    pub fn apply_env_overrides(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(listen) = env("JWTKIT_LISTEN") {
            self.listen = listen;
        }
        if let Some((name, level)) = ["JWTKIT_LOG_LEVEL", "LOG_LEVEL"]
            .into_iter()
            .find_map(|name| Some((name, env(name)?)))
        {
            self.log.level = level
                .to_ascii_lowercase()
                .parse()
                .map_err(|e: ValueError| e.at(name))?;
        }
        if let Some(format) = env("JWTKIT_LOG_FORMAT") {
            self.log.format = match format.as_str() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                _ => {
                    return Err(ConfigError::new(
                        "JWTKIT_LOG_FORMAT",
                        format!("{format:?} is not a format"),
                        "use text or json",
                    ));
                }
            };
        }
        if let Some(origins) = env("CORS_ORIGINS") {
            self.cors_origins = split_list(&origins)
                .iter()
                .map(|origin| values::cors_origin(origin).map_err(|e| e.at("CORS_ORIGINS")))
                .collect::<Result<_, _>>()?;
        }
        Ok(())
    }

    /// Environment mode: the configuration of the FastAPI proxy's environment (its Camunda 7
    /// engine setup and generate_jwt.py's `JWT_SECRET_KEY` included):
    /// `CLERK_JWKS_URL`, `CLERK_AUDIENCE`, `CLERK_ISSUER`, `JWT_SECRET_KEY`, `ENGINE_URL`,
    /// `ENGINE_USER`, `ENGINE_PASS`, `ENGINE_TIMEOUT`, `ENGINE_JWT_SECRET`, `ENGINE_JWT_ALGORITHM`,
    /// `CORS_ORIGINS`, `LOG_LEVEL`, and `CENTRIFUGO_HMAC_SECRET` / `CENTRIFUGO_CHANNELS`.
    pub fn from_env_mode(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut issuers = Vec::new();
        if let Some(jwks_url) = env("CLERK_JWKS_URL") {
            let iss = match env("CLERK_ISSUER") {
                Some(iss) => iss,
                // Clerk serves its keys at <issuer>/.well-known/jwks.json.
                None => origin(&jwks_url).ok_or_else(|| {
                    ConfigError::new(
                        "CLERK_JWKS_URL",
                        "is not an absolute http(s) URL",
                        "set it to https://<instance>.clerk.accounts.dev/.well-known/jwks.json",
                    )
                })?,
            };
            issuers.push(IssuerSection {
                name: "clerk".into(),
                iss: vec![iss],
                jwks_url: Some(jwks_url),
                audiences: env("CLERK_AUDIENCE")
                    .map(|a| split_list(&a))
                    .unwrap_or_default(),
                ..IssuerSection::default()
            });
        }
        if env("JWT_SECRET_KEY").is_some() {
            issuers.push(IssuerSection {
                name: "api".into(),
                iss: vec![env("JWT_ISSUER").unwrap_or_else(|| "urn:jwtkit:api".into())],
                secret: Some(SecretRef {
                    env: Some("JWT_SECRET_KEY".into()),
                    ..SecretRef::default()
                }),
                algorithms: vec![
                    parsed(env, "JWT_ALGORITHM", values::algorithm)?.unwrap_or(Algorithm::HS256),
                ],
                allow_missing_iss: true,
                ..IssuerSection::default()
            });
        }
        if issuers.is_empty() {
            return Err(ConfigError::new(
                "CLERK_JWKS_URL",
                "no issuer is configured",
                "set CLERK_JWKS_URL (Clerk) or JWT_SECRET_KEY (HS256 tokens), pass --config FILE, or try --dev",
            ));
        }
        let timeout_seconds = match env("ENGINE_TIMEOUT") {
            None => default_timeout(),
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|t| *t > 0.0)
                .map(|t| t.ceil() as u64)
                .ok_or_else(|| {
                    ConfigError::new(
                        "ENGINE_TIMEOUT",
                        format!("{text:?} is not a number of seconds"),
                        "set e.g. ENGINE_TIMEOUT=30",
                    )
                })?,
        };
        let user = env("ENGINE_USER").unwrap_or_else(|| "demo".into());
        let auth = if env("ENGINE_JWT_SECRET").is_some() {
            UpstreamAuth::Mint(MintSection {
                profile: MintProfile::Camunda,
                secret: SecretRef {
                    env: Some("ENGINE_JWT_SECRET".into()),
                    ..SecretRef::default()
                },
                algorithm: parsed(env, "ENGINE_JWT_ALGORITHM", values::hmac_algorithm)?
                    .unwrap_or_else(default_alg),
                ttl: default_ttl(),
                // The FastAPI proxy minted the engine token for the service user, not the caller.
                subject: user,
                email_template: default_email(),
                // The FastAPI proxy gave its service user admin rights in the engine.
                superuser: true,
                issuer: None,
                audience: None,
            })
        } else if env("ENGINE_PASS").is_some() {
            UpstreamAuth::Basic {
                user,
                password: SecretRef {
                    env: Some("ENGINE_PASS".into()),
                    ..SecretRef::default()
                },
            }
        } else {
            // No built-in default password: the engine's demo/demo must be asked for explicitly.
            return Err(ConfigError::new(
                "ENGINE_PASS",
                "no engine credentials are configured",
                "set ENGINE_USER and ENGINE_PASS (Basic auth) or ENGINE_JWT_SECRET (minted engine tokens)",
            ));
        };
        let engine = UpstreamSection {
            name: "engine".into(),
            url: env("ENGINE_URL").unwrap_or_else(|| "http://localhost:8080/engine-rest".into()),
            timeout_seconds,
            auth,
            ..UpstreamSection::default()
        };
        let centrifugo = env("CENTRIFUGO_HMAC_SECRET").map(|_| CentrifugoSection {
            secret: SecretRef {
                env: Some("CENTRIFUGO_HMAC_SECRET".into()),
                ..SecretRef::default()
            },
            algorithm: default_alg(),
            ttl: default_ttl(),
            connection_channels: env("CENTRIFUGO_CHANNELS")
                .map(|c| split_list(&c))
                .unwrap_or_default(),
            subscription_channels: env("CENTRIFUGO_CHANNELS")
                .map(|c| split_list(&c))
                .unwrap_or_default(),
            audience: None,
            issuer: None,
            access: AccessSection {
                token_from: default_token_from(),
                ..AccessSection::default()
            },
        });
        let mut config = Self {
            listen: default_listen(),
            log: LogConfig::default(),
            limits: Limits::default(),
            cors_origins: Vec::new(),
            strip_header_prefixes: default_strip_prefixes(),
            keep_underscore_headers: false,
            trusted_proxies: Vec::new(),
            token_cache_capacity: default_token_cache(),
            issuers,
            upstreams: vec![engine],
            routes: Vec::new(),
            camunda: Some(CamundaSection {
                upstream: "engine".into(),
                initiator_variables: InitiatorVariables::default(),
                dates_as_date: false,
                access: AccessSection {
                    token_from: default_token_from(),
                    ..AccessSection::default()
                },
            }),
            centrifugo,
            // HTTPS needs a configuration file ([tls]).
            tls: None,
        };
        config.apply_env_overrides(env)?;
        Ok(config)
    }
}

/// The variable `name` parsed with `parse`, if it is set; an error names the variable.
fn parsed<T>(
    env: &dyn Fn(&str) -> Option<String>,
    name: &str,
    parse: fn(&str) -> Result<T, ValueError>,
) -> Result<Option<T>, ConfigError> {
    env(name)
        .map(|text| parse(&text).map_err(|e| e.at(name)))
        .transpose()
}

/// `a, b,c` -> `["a", "b", "c"]`.
fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `https://host:port` of a URL.
fn origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn env_mode_builds_clerk_issuer_and_basic_engine() {
        let env = env_of(&[
            (
                "CLERK_JWKS_URL",
                "https://x.clerk.accounts.dev/.well-known/jwks.json",
            ),
            ("ENGINE_URL", "http://engine:8080/engine-rest"),
            ("ENGINE_PASS", "demo"),
            (
                "CORS_ORIGINS",
                "http://localhost:3000, http://localhost:3001",
            ),
            ("LOG_LEVEL", "DEBUG"),
        ]);
        let config = Config::from_env_mode(&env).unwrap();
        config.check().unwrap();
        assert_eq!(config.issuers[0].iss, vec!["https://x.clerk.accounts.dev"]);
        assert!(
            matches!(&config.upstreams[0].auth, UpstreamAuth::Basic { user, password } if user == "demo" && password.env.as_deref() == Some("ENGINE_PASS"))
        );
        assert_eq!(config.cors_origins.len(), 2);
        assert_eq!(config.log.level.as_str(), "debug");
        assert_eq!(config.listen, "0.0.0.0:8000");
    }

    #[test]
    fn env_mode_with_engine_jwt_secret_mints_for_the_service_user() {
        let env = env_of(&[
            ("JWT_SECRET_KEY", "x"),
            ("ENGINE_JWT_SECRET", "y"),
            ("ENGINE_USER", "svc"),
            ("ENGINE_TIMEOUT", "2.5"),
        ]);
        let config = Config::from_env_mode(&env).unwrap();
        let UpstreamAuth::Mint(mint) = &config.upstreams[0].auth else {
            panic!("mint expected")
        };
        assert_eq!(
            (mint.subject.as_str(), mint.profile),
            ("svc", MintProfile::Camunda)
        );
        assert_eq!(config.upstreams[0].timeout_seconds, 3);
        assert!(config.issuers[0].allow_missing_iss);
    }

    #[test]
    fn env_mode_errors_name_the_variable() {
        let err = Config::from_env_mode(&env_of(&[])).unwrap_err();
        assert_eq!(err.key, "CLERK_JWKS_URL");
        let err = Config::from_env_mode(&env_of(&[
            ("JWT_SECRET_KEY", "x"),
            ("ENGINE_PASS", "p"),
            ("ENGINE_TIMEOUT", "soon"),
        ]))
        .unwrap_err();
        assert_eq!(err.key, "ENGINE_TIMEOUT");
        let err = Config::from_env_mode(&env_of(&[("JWT_SECRET_KEY", "x")])).unwrap_err();
        assert_eq!(err.key, "ENGINE_PASS");
        let err = Config::from_env_mode(&env_of(&[
            ("CLERK_JWKS_URL", "not a url"),
            ("ENGINE_PASS", "p"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("CLERK_JWKS_URL"), "{err}");
    }

    #[test]
    fn env_mode_values_that_do_not_parse_name_the_variable() {
        for (pairs, key) in [
            (
                vec![
                    ("ENGINE_JWT_SECRET", "y"),
                    ("ENGINE_JWT_ALGORITHM", "RS256"),
                ],
                "ENGINE_JWT_ALGORITHM",
            ),
            (
                vec![("ENGINE_PASS", "p"), ("JWT_ALGORITHM", "XS1")],
                "JWT_ALGORITHM",
            ),
            (
                vec![("ENGINE_PASS", "p"), ("LOG_LEVEL", "info,[")],
                "LOG_LEVEL",
            ),
            (
                vec![("ENGINE_PASS", "p"), ("JWTKIT_LOG_LEVEL", "info,[")],
                "JWTKIT_LOG_LEVEL",
            ),
        ] {
            let mut pairs = pairs;
            pairs.push(("JWT_SECRET_KEY", "x"));
            let err = Config::from_env_mode(&env_of(&pairs)).unwrap_err();
            assert_eq!(err.key, key, "{err}");
        }
        let mut config = Config::from_toml("").unwrap();
        let err = config
            .apply_env_overrides(&env_of(&[("LOG_LEVEL", "debug,=")]))
            .unwrap_err();
        assert_eq!(err.key, "LOG_LEVEL");
    }
}
