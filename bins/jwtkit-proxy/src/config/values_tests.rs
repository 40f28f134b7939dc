//! Unit tests of [`super`]: each value parser, and the keys its errors name.
use super::*;

#[test]
fn log_levels_are_levels_python_names_included_and_other_words_are_refused() {
    let level = |text: &str| text.parse::<LogLevel>().map(|l| l.as_str().to_owned());
    assert_eq!(level("info").unwrap(), "info");
    assert_eq!(level("WARNING").unwrap(), "warn");
    assert_eq!(level("critical").unwrap(), "error");
    assert_eq!(
        level("info,jwtkit_proxy=debug").unwrap(),
        "info,jwtkit_proxy=debug"
    );
    for bad in ["verbose", "WARN_ING", "info,loud"] {
        assert!(level(bad).is_err(), "{bad}");
    }
}

#[test]
fn cors_origins_are_origins_and_timeouts_are_at_least_a_second() {
    assert_eq!(
        cors_origin("https://app.example.com").unwrap(),
        "https://app.example.com"
    );
    assert_eq!(
        cors_origin("http://localhost:3000").unwrap(),
        "http://localhost:3000"
    );
    for bad in [
        "app.example.com",
        "https://app.example.com/path",
        "ftp://app.example.com",
        "https://app.example.com?x=1",
        "",
    ] {
        let err = cors_origin(bad).unwrap_err();
        assert_eq!(err.field, "cors_origins", "{bad}");
    }
    assert!(timeout_seconds(0).is_err());
    assert_eq!(timeout_seconds(1).unwrap(), 1);
}
use crate::config::{Config, UpstreamAuth};

const ISSUER: &str = "[[issuers]]\nname = \"api\"\niss = [\"urn:api\"]\nsecret = { env = \"S\" }\n";

fn upstream(auth: &str) -> String {
    format!("[[upstreams]]\nname = \"u\"\nurl = \"http://u\"\nauth = {auth}\n")
}

#[test]
fn values_are_typed_at_load() {
    let text = format!(
        "[log]\nlevel = \"info,jwtkit_proxy=debug\"\n{ISSUER}algorithms = [\"HS256\", \"HS512\"]\n{}\
         [[routes]]\nprefix = \"/r\"\nupstream = \"u\"\ntoken_from = [\"query:t\", \"header\"]\n",
        upstream(
            "{ type = \"mint\", profile = \"generic\", algorithm = \"HS384\", ttl = \"30m\", \
             secret = { env = \"M\", encoding = \"hex\" } }"
        )
    );
    let config = Config::from_toml(&text).unwrap();
    assert_eq!(config.log.level.as_str(), "info,jwtkit_proxy=debug");
    assert_eq!(
        config.issuers[0].algorithms,
        [Algorithm::HS256, Algorithm::HS512]
    );
    assert_eq!(
        config.routes[0].access.token_from,
        [TokenSource::Query("t".into()), TokenSource::Header]
    );
    let UpstreamAuth::Mint(mint) = &config.upstreams[0].auth else {
        panic!("mint expected")
    };
    assert_eq!(
        (mint.profile, mint.algorithm, mint.ttl),
        (
            MintProfile::Generic,
            Algorithm::HS384,
            Duration::from_secs(1800)
        )
    );
    assert_eq!(mint.secret.encoding, Some(SecretEncoding::Hex));
    // Defaults.
    let config =
        Config::from_toml(&upstream("{ type = \"mint\", secret = { env = \"M\" } }")).unwrap();
    let UpstreamAuth::Mint(mint) = &config.upstreams[0].auth else {
        panic!("mint expected")
    };
    assert_eq!(
        (mint.profile, mint.algorithm, mint.ttl, mint.secret.encoding),
        (
            MintProfile::Camunda,
            Algorithm::HS256,
            Duration::from_secs(3600),
            None
        )
    );
    assert_eq!(config.log.level.as_str(), "info");
}

#[test]
fn a_value_that_does_not_parse_is_an_error_naming_its_key() {
    let route = "[[upstreams]]\nname = \"u\"\nurl = \"http://u\"\n[[routes]]\nprefix = \"/r\"\nupstream = \"u\"\n";
    let cases = [
        (
            format!("{ISSUER}algorithms = [\"HS256\", \"XS1\"]\n"),
            "issuers[0].algorithms[1]",
            "use names like RS256",
        ),
        (
            format!("{ISSUER}{route}token_from = [\"header\", \"body\"]\n"),
            "routes[0].token_from[1]",
            "use header, cookie:NAME or query:NAME",
        ),
        (
            upstream("{ type = \"mint\", algorithm = \"RS256\", secret = { env = \"M\" } }"),
            "upstreams[0].auth.algorithm",
            "use HS256, HS384 or HS512",
        ),
        (
            upstream("{ type = \"mint\", profile = \"engine\", secret = { env = \"M\" } }"),
            "upstreams[0].auth.profile",
            "use camunda or generic",
        ),
        (
            upstream("{ type = \"mint\", ttl = \"never\", secret = { env = \"M\" } }"),
            "upstreams[0].auth.ttl",
            "use a lifetime such as 1h",
        ),
        (
            upstream(
                "{ type = \"basic\", user = \"u\", password = { env = \"P\", encoding = \"b32\" } }",
            ),
            "upstreams[0].auth.password.encoding",
            "use raw, base64, base64url or hex",
        ),
        (
            format!("{ISSUER}[centrifugo]\nsecret = {{ env = \"C\" }}\nttl = \"soon\"\n"),
            "centrifugo.ttl",
            "use a lifetime such as 30m or 1h",
        ),
        (
            ISSUER.replace("env = \"S\"", "env = \"S\", encoding = \"b32\""),
            "issuers[0].secret.encoding",
            "use raw, base64, base64url or hex",
        ),
        (
            format!("{ISSUER}[centrifugo]\nsecret = {{ env = \"C\", encoding = \"b32\" }}\n"),
            "centrifugo.secret.encoding",
            "use raw, base64, base64url or hex",
        ),
        (
            "[camunda]\nupstream = \"u\"\ntoken_from = [\"cookie:\"]\n".to_owned(),
            "camunda.token_from[0]",
            "use header, cookie:NAME or query:NAME",
        ),
        (
            "[log]\nlevel = \"info,[\"\n".to_owned(),
            "log.level",
            "use error, warn, info, debug or trace",
        ),
        (
            "trusted_proxies = [\"10.0.0.0/8\", \"10.0.0.1\"]\n".to_owned(),
            "trusted_proxies[1]",
            "write a network as 10.0.0.0/8",
        ),
        (
            "trusted_proxies = [\"10.0.0.1/8\"]\n".to_owned(),
            "trusted_proxies[0]",
            "write a network as 10.0.0.0/8",
        ),
        (
            "cors_origins = [\"https://a.example\", \"https://b.example/app\"]\n".to_owned(),
            "cors_origins[1]",
            "write origins as https://app.example.com",
        ),
        (
            upstream("{ type = \"none\" }").replace("url = ", "timeout_seconds = 0\nurl = "),
            "upstreams[0].timeout_seconds",
            "give the upstream at least 1 second",
        ),
    ];
    for (text, key, fix) in cases {
        let err = Config::from_toml(&text).unwrap_err();
        assert_eq!(err.key, key, "{text}\n{err}");
        assert!(err.fix.starts_with(fix), "{err}");
        assert!(!err.problem.contains(MARK), "{err:?}");
    }
    // Other mistakes keep serde's message and position.
    let err = Config::from_toml("[limits]\nmax_body_byte = 5\n").unwrap_err();
    assert!(err.key.starts_with("at byte"), "{err}");
    assert!(err.problem.contains("unknown field"), "{err}");
}

#[test]
fn trusted_proxies_are_cidr_networks() {
    let net = |text: &str| trusted_proxy(text).map(|n| n.to_string());
    assert_eq!(net("10.0.0.0/8").unwrap(), "10.0.0.0/8");
    assert_eq!(net("::1/128").unwrap(), "::1/128");
    for bad in ["10.0.0.1", "10.0.0.0/33", "10.0.0.1/8", "localhost/32", ""] {
        assert!(net(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_error_carried_through_serde_comes_back_whole() {
    let error = ValueError::new("ttl", "x", "problem", "fix");
    let carried: toml::de::Error = error.clone().into_de();
    assert_eq!(ValueError::from_message(carried.message()), Some(error));
    assert_eq!(ValueError::from_message("unknown field `x`"), None);
    let odd = ValueError::new("ttl", "1\u{1f}h", "problem", "fix");
    let carried: toml::de::Error = odd.into_de();
    let back = ValueError::from_message(carried.message()).unwrap();
    assert_eq!(
        (back.problem.as_str(), back.fix.as_str()),
        ("problem", "fix")
    );
}

#[test]
fn environment_values_parse_with_the_same_rules() {
    assert_eq!(hmac_algorithm("HS512"), Ok(Algorithm::HS512));
    assert_eq!(hmac_algorithm("RS256").unwrap_err().field, "algorithm");
    assert_eq!(lifetime("1h"), Ok(Duration::from_secs(3600)));
    assert!(lifetime("0s").is_err());
    assert_eq!(algorithm("ES256"), Ok(Algorithm::ES256));
    assert!("warn".parse::<LogLevel>().is_ok());
    assert_eq!("camunda".parse::<MintProfile>(), Ok(MintProfile::Camunda));
    assert!("Camunda".parse::<MintProfile>().is_err());
}
