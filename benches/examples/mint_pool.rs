//! Mints a pool of distinct tokens for scripts/bench-proxy.sh, one per line on stdout: the same
//! claims `jwtkit mint --key KEY --kid KID --iss ISS --aud AUD --expires-in 2h --sub user-N
//! --claim n=N` writes, in one process (one `jwtkit mint` process per token takes minutes for
//! the 20,000 the distinct-token load needs).
//!
//! ```sh
//! cargo run --release -p jwtkit-benches --example mint_pool -- KEY.pem KID ISS AUD COUNT
//! ```

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use jwtkit_keys::SigningKey;
use jwtkit_mint::{Audience, GenericProfile, Minter};
use serde_json::Value;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [key, kid, iss, aud, count] = args.as_slice() else {
        eprintln!("usage: mint_pool KEY.pem KID ISS AUD COUNT");
        return ExitCode::from(2);
    };
    match run(key, kid, iss, aud, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mint_pool: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    key: &str,
    kid: &str,
    iss: &str,
    aud: &str,
    count: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let count: u64 = count.parse()?;
    let pem = std::fs::read_to_string(key)?;
    let key = SigningKey::from_pem_or_jwk(None, &pem)?.with_kid(Some(kid.to_owned()));
    let minter = Minter::new(key);
    let now = jwtkit_mint::now();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for n in 1..=count {
        let mut profile = GenericProfile::subject(format!("user-{n}")).expires_in("2h")?;
        profile.issuer = Some(iss.to_owned());
        profile.audience = Audience::new(vec![aud.to_owned()]);
        profile.custom.insert("n".into(), Value::from(n));
        writeln!(out, "{}", minter.mint(&profile.claims(now)?)?)?;
    }
    out.flush()?;
    Ok(())
}
