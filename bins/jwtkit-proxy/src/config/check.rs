//! Cross-checks between sections: names unique and known, key sources unambiguous, access
//! rules satisfiable, and no caller issuer accepting the tokens the proxy mints.

use super::{AccessSection, Config, ConfigError, MINTED_ISS, UpstreamAuth};

impl Config {
    /// The `iss` values of the tokens the proxy mints, each with the key that sets it.
    pub fn minted_iss(&self) -> Vec<(String, &str)> {
        let mut found = Vec::new();
        for (i, upstream) in self.upstreams.iter().enumerate() {
            if let UpstreamAuth::Mint(mint) = &upstream.auth {
                found.push((format!("upstreams[{i}].auth.issuer"), mint.minted_iss()));
            }
        }
        if let Some(centrifugo) = &self.centrifugo {
            found.push(("centrifugo.issuer".to_owned(), centrifugo.minted_iss()));
        }
        found
    }

    /// Refuses a caller issuer (`key`) that would accept the `iss` of tokens the proxy mints:
    /// those tokens must never pass as callers' tokens.
    /// [`MINTED_ISS`] is refused even when nothing is minted: it is reserved.
    pub fn refuse_minted_iss(&self, key: &str, iss: &[String]) -> Result<(), ConfigError> {
        if iss.iter().any(|i| i == MINTED_ISS) {
            return Err(ConfigError::new(
                key,
                format!(
                    "lists {MINTED_ISS:?}, the `iss` of the tokens the proxy mints: they would be accepted as callers' tokens"
                ),
                format!("remove it: {MINTED_ISS} is reserved for the proxy's own tokens"),
            ));
        }
        for (source, minted) in self.minted_iss() {
            if iss.iter().any(|i| i == minted) {
                return Err(ConfigError::new(
                    key,
                    format!(
                        "lists {minted:?}, the `iss` of the tokens the proxy mints ({source}): they would be accepted as callers' tokens"
                    ),
                    format!("give {source} a value no caller issuer lists"),
                ));
            }
        }
        Ok(())
    }

    /// Cross-references: route upstreams and issuers exist, names are unique, key sources are
    /// unambiguous, no caller issuer accepts the proxy's own minted tokens. The first problem
    /// of [`Config::problems`].
    pub fn check(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// Every problem [`Config::check`] looks for, in the order of the file's sections (what
    /// `--check-config` lists).
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (i, issuer) in self.issuers.iter().enumerate() {
            let key = format!("issuers[{i}]");
            problems.extend(
                self.refuse_minted_iss(&format!("{key}.iss"), &issuer.iss)
                    .err(),
            );
            if issuer.name.is_empty() || !names.insert(issuer.name.as_str()) {
                problems.push(ConfigError::new(
                    format!("{key}.name"),
                    format!("{:?} is empty or used twice", issuer.name),
                    "give each issuer a unique name",
                ));
            }
            if issuer.iss.is_empty() {
                problems.push(ConfigError::new(
                    format!("{key}.iss"),
                    "is empty",
                    "list the iss values its tokens carry",
                ));
            }
            let sources = [
                issuer.jwks_url.is_some(),
                issuer.discovery_url.is_some(),
                issuer.jwks_file.is_some(),
                issuer.public_key_file.is_some(),
                issuer.secret.is_some(),
            ];
            if sources.iter().filter(|s| **s).count() != 1 {
                problems.push(ConfigError::new(
                    key.clone(),
                    "needs exactly one key source",
                    "set one of jwks_url, discovery_url, jwks_file, public_key_file, secret",
                ));
            }
            if issuer.ca_file.is_some()
                && issuer.jwks_url.is_none()
                && issuer.discovery_url.is_none()
            {
                problems.push(ConfigError::new(
                    format!("{key}.ca_file"),
                    "applies to JWKS and discovery fetches, and this issuer's keys are not fetched",
                    "remove ca_file, or use jwks_url or discovery_url",
                ));
            }
            problems.extend(
                refuse_mode_without_file(&key, issuer.ca_file.is_some(), issuer.ca_mode.is_some())
                    .err(),
            );
            if issuer.accept_any_audience && !issuer.audiences.is_empty() {
                problems.push(ConfigError::new(
                    format!("{key}.accept_any_audience"),
                    "is set together with `audiences`, which it would not loosen",
                    "keep `audiences` (only tokens for them) or `accept_any_audience = true` (any aud)",
                ));
            }
        }
        let upstream_names: Vec<&str> = self.upstreams.iter().map(|u| u.name.as_str()).collect();
        let known_upstream = |key: String, name: &str| {
            if upstream_names.contains(&name) {
                Ok(())
            } else {
                Err(ConfigError::new(
                    key,
                    format!("names upstream {name:?}, which is not defined"),
                    format!("define it in [[upstreams]] (known: {upstream_names:?})"),
                ))
            }
        };
        let issuer_names: Vec<&str> = self.issuers.iter().map(|i| i.name.as_str()).collect();
        let check_access = |key: String, access: &AccessSection| -> Result<(), ConfigError> {
            if let Some(unknown) = access
                .issuers
                .iter()
                .find(|n| !issuer_names.contains(&n.as_str()))
            {
                return Err(ConfigError::new(
                    format!("{key}.issuers"),
                    format!("names issuer {unknown:?}, which is not defined"),
                    format!("known issuers: {issuer_names:?}"),
                ));
            }
            // An issuer without audiences refuses every token that carries `aud`, so a route
            // audience could never be met by its tokens: say so now rather than 401 on every call.
            if !access.audiences.is_empty()
                && let Some((index, issuer)) = self.issuers.iter().enumerate().find(|(_, i)| {
                    (access.issuers.is_empty() || access.issuers.contains(&i.name))
                        && i.audiences.is_empty()
                        && !i.accept_any_audience
                })
            {
                return Err(ConfigError::new(
                    format!("{key}.audiences"),
                    format!(
                        "requires an audience, but issuer {:?} (issuers[{index}]) has no `audiences` and refuses every token that carries `aud`",
                        issuer.name
                    ),
                    format!(
                        "list the accepted audiences in issuers[{index}].audiences (or set issuers[{index}].accept_any_audience = true), or restrict {key}.issuers"
                    ),
                ));
            }
            Ok(())
        };
        for (i, route) in self.routes.iter().enumerate() {
            let key = format!("routes[{i}]");
            if !route.prefix.starts_with('/') {
                problems.push(ConfigError::new(
                    format!("{key}.prefix"),
                    format!("{:?} does not start with /", route.prefix),
                    "write it like /engine-rest",
                ));
            }
            problems.extend(known_upstream(format!("{key}.upstream"), &route.upstream).err());
            if !route.websocket.close_at_expiry && route.websocket.grace_seconds > 0 {
                problems.push(ConfigError::new(
                    format!("{key}.websocket.grace_seconds"),
                    "has no effect with close_at_expiry = false",
                    format!("remove it, or set {key}.websocket.close_at_expiry = true"),
                ));
            }
            problems.extend(check_access(key, &route.access).err());
        }
        if let Some(camunda) = &self.camunda {
            problems.extend(known_upstream("camunda.upstream".into(), &camunda.upstream).err());
            problems.extend(check_access("camunda".into(), &camunda.access).err());
        }
        if let Some(centrifugo) = &self.centrifugo {
            problems.extend(check_access("centrifugo".into(), &centrifugo.access).err());
        }
        if let Some(tls) = &self.tls
            && tls.client_auth.is_some()
            && tls.client_ca_file.is_none()
        {
            problems.push(ConfigError::new(
                "tls.client_auth",
                "is set without client_ca_file, which the client certificates are checked against",
                "add tls.client_ca_file, or remove client_auth",
            ));
        }
        for (i, upstream) in self.upstreams.iter().enumerate() {
            if url::Url::parse(&upstream.url)
                .map(|u| !matches!(u.scheme(), "http" | "https"))
                .unwrap_or(true)
            {
                problems.push(ConfigError::new(
                    format!("upstreams[{i}].url"),
                    format!("{:?} is not an http(s) URL", upstream.url),
                    "write it like http://engine:8080/engine-rest",
                ));
            }
            problems.extend(check_upstream_tls(&format!("upstreams[{i}]"), upstream).err());
        }
        problems
    }
}

/// `ca_mode` says how `ca_file` is used: alone it means nothing, and is refused.
fn refuse_mode_without_file(key: &str, file: bool, mode: bool) -> Result<(), ConfigError> {
    if mode && !file {
        return Err(ConfigError::new(
            format!("{key}.ca_mode"),
            "is set without ca_file",
            "add ca_file, or remove ca_mode",
        ));
    }
    Ok(())
}

/// An upstream's TLS keys: for an https URL only, a client certificate with its key.
fn check_upstream_tls(key: &str, upstream: &super::UpstreamSection) -> Result<(), ConfigError> {
    let set = [
        ("ca_file", upstream.ca_file.is_some()),
        ("client_cert_file", upstream.client_cert_file.is_some()),
        ("client_key_file", upstream.client_key_file.is_some()),
    ];
    if let Some((name, _)) = set.iter().find(|(_, is_set)| *is_set)
        && !upstream.url.starts_with("https://")
    {
        return Err(ConfigError::new(
            format!("{key}.{name}"),
            format!("applies to TLS, and url {:?} is not https://", upstream.url),
            "use an https:// url, or remove it",
        ));
    }
    refuse_mode_without_file(key, upstream.ca_file.is_some(), upstream.ca_mode.is_some())?;
    match (&upstream.client_cert_file, &upstream.client_key_file) {
        (Some(_), None) => Err(ConfigError::new(
            format!("{key}.client_key_file"),
            "is missing, and client_cert_file is set",
            "give both client_cert_file and client_key_file (PEM), or neither",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            format!("{key}.client_cert_file"),
            "is missing, and client_key_file is set",
            "give both client_cert_file and client_key_file (PEM), or neither",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_settings_that_cannot_work_are_refused() {
        let issuer = r#"
            [[issuers]]
            name = "api"
            iss = ["urn:api"]
            secret = { env = "S" }
        "#;
        let both = format!("{issuer}audiences = [\"a\"]\naccept_any_audience = true\n");
        let err = Config::from_toml(&both).unwrap().check().unwrap_err();
        assert_eq!(err.key, "issuers[0].accept_any_audience");
        let route = r#"
            [[upstreams]]
            name = "u"
            url = "http://u"
            [[routes]]
            prefix = "/r"
            upstream = "u"
            audiences = ["reports"]
        "#;
        // The issuer refuses every token with aud, so the route's audience can never be met.
        let err = Config::from_toml(&format!("{issuer}{route}"))
            .unwrap()
            .check()
            .unwrap_err();
        assert_eq!(err.key, "routes[0].audiences");
        assert!(err.fix.contains("issuers[0].audiences"), "{err}");
        for loosened in ["audiences = [\"reports\"]", "accept_any_audience = true"] {
            Config::from_toml(&format!("{issuer}{loosened}\n{route}"))
                .unwrap()
                .check()
                .unwrap();
        }
    }

    #[test]
    fn no_caller_issuer_may_accept_the_iss_of_minted_tokens() {
        let issuer = |iss: &str| {
            format!(
                "[[issuers]]\nname = \"api\"\niss = [\"urn:api\", \"{iss}\"]\nsecret = {{ env = \"S\" }}\n"
            )
        };
        let centrifugo = "[centrifugo]\nsecret = { env = \"C\" }\n";
        let upstream = |extra: &str| {
            format!(
                "[[upstreams]]\nname = \"u\"\nurl = \"http://u\"\nauth = {{ type = \"mint\", profile = \"generic\", secret = {{ env = \"M\" }}{extra} }}\n"
            )
        };
        let refused = |text: String, source: &str| {
            let err = Config::from_toml(&text).unwrap().check().unwrap_err();
            assert_eq!(err.key, "issuers[0].iss", "{err}");
            assert!(err.problem.contains(source), "{err}");
        };
        // The reserved default, with or without a minting section.
        for extra in [String::new(), centrifugo.to_owned(), upstream("")] {
            refused(format!("{}{extra}", issuer(MINTED_ISS)), MINTED_ISS);
        }
        // A configured minting issuer.
        refused(
            format!(
                "{}{centrifugo}issuer = \"urn:centrifugo\"\n",
                issuer("urn:centrifugo")
            ),
            "centrifugo.issuer",
        );
        refused(
            format!(
                "{}{}",
                issuer("urn:gateway"),
                upstream(", issuer = \"urn:gateway\"")
            ),
            "upstreams[0].auth.issuer",
        );
        // Other values are fine.
        Config::from_toml(&format!("{}{centrifugo}{}", issuer("urn:x"), upstream("")))
            .unwrap()
            .check()
            .unwrap();
    }

    #[test]
    fn toml_round_trip_and_cross_reference_errors() {
        let text = r#"
            listen = "127.0.0.1:9000"
            [[issuers]]
            name = "kc"
            iss = ["http://localhost:8090/realms/x", "http://keycloak:8080/realms/x"]
            discovery_url = "http://keycloak:8080/realms/x"
            audiences = ["account"]
            [[upstreams]]
            name = "api"
            url = "http://api:3000"
            auth = { type = "basic", user = "u", password = { env = "API_PASS" } }
            identity_headers = { "X-User-Id" = "sub" }
            [[routes]]
            prefix = "/api"
            upstream = "api"
            issuers = ["kc"]
            token_from = ["header", "cookie:__session"]
        "#;
        let config = Config::from_toml(text).unwrap();
        config.check().unwrap();
        assert_eq!(config.routes[0].access.token_from.len(), 2);

        let broken = text.replace("upstream = \"api\"", "upstream = \"nope\"");
        let err = Config::from_toml(&broken).unwrap().check().unwrap_err();
        assert_eq!(err.key, "routes[0].upstream");
        let err = Config::from_toml(&text.replace("audiences", "audience")).unwrap_err();
        assert!(err.problem.contains("unknown field"), "{err}");
        let two_sources = text.replace("audiences = [\"account\"]", "jwks_url = \"http://x/jwks\"");
        assert_eq!(
            Config::from_toml(&two_sources)
                .unwrap()
                .check()
                .unwrap_err()
                .key,
            "issuers[0]"
        );
    }

    #[test]
    fn websocket_options_parse_and_errors_name_their_whole_key() {
        let route = |websocket: &str| {
            format!(
                r#"
                [[issuers]]
                name = "api"
                iss = ["urn:x"]
                secret = {{ env = "X" }}
                [[upstreams]]
                name = "echo"
                url = "http://127.0.0.1:1"
                [[routes]]
                prefix = "/a"
                upstream = "echo"
                [[routes]]
                prefix = "/ws"
                upstream = "echo"
                {websocket}
                "#
            )
        };
        let config = Config::from_toml(&route("")).unwrap();
        assert!(config.routes[1].websocket.close_at_expiry);
        assert_eq!(config.routes[1].websocket.grace_seconds, 0);
        let config = Config::from_toml(&route("websocket = { grace_seconds = 30 }")).unwrap();
        config.check().unwrap();
        assert_eq!(config.routes[1].websocket.grace_seconds, 30);

        let err = Config::from_toml(&route("websocket = { grace_seconds = 86401 }")).unwrap_err();
        assert_eq!(err.key, "routes[1].websocket.grace_seconds");
        assert!(err.fix.contains("close_at_expiry = false"), "{err}");
        let err = Config::from_toml(&route(
            "[routes.websocket]\nclose_at_expiry = false\ngrace_seconds = 5",
        ))
        .unwrap()
        .check()
        .unwrap_err();
        assert_eq!(err.key, "routes[1].websocket.grace_seconds");
        let err = Config::from_toml(&route("websocket = { close_at_exp = false }")).unwrap_err();
        assert!(
            err.problem.contains("unknown field `close_at_exp`"),
            "{err}"
        );
    }
}
