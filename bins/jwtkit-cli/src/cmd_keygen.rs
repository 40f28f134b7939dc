//! `jwtkit keygen`: a new asymmetric key pair as PEM files and a JWKS.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use jwtkit_keys::{Algorithm, JwkSet, keygen};

use crate::{CliError, print_json};

/// Arguments of `jwtkit keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Algorithm the key is for: RS256..RS512, PS256..PS512, ES256, ES384, ES512 or EdDSA.
    #[arg(long, value_name = "ALG")]
    alg: Algorithm,
    /// RSA modulus size: 2048, 3072 or 4096.
    #[arg(long, default_value_t = 2048)]
    bits: usize,
    /// Write private.pem (mode 0600), public.pem and jwks.json into DIR instead of printing.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Replace existing files in DIR.
    #[arg(long, requires = "out")]
    force: bool,
}

const FILES: [&str; 3] = ["private.pem", "public.pem", "jwks.json"];

pub fn run(args: KeygenArgs) -> Result<ExitCode, CliError> {
    if args.alg.hmac().is_some() {
        return Err(CliError::usage(
            "HMAC keys are secrets: use `jwtkit secret generate`",
        ));
    }
    let pair = keygen::generate(args.alg, args.bits).map_err(CliError::failure)?;
    let kid = pair.public_jwk.kid.clone().unwrap_or_default();
    let jwks = serde_json::to_value(JwkSet {
        keys: vec![pair.public_jwk],
    })
    .expect("JWKS serialises");
    let Some(dir) = args.out else {
        print!("{}", pair.private_pem.as_str());
        print!("{}", pair.public_pem);
        print_json(&jwks);
        return Ok(ExitCode::SUCCESS);
    };
    if !args.force
        && let Some(existing) = FILES.iter().map(|f| dir.join(f)).find(|p| p.exists())
    {
        return Err(CliError::failure(format!(
            "{} exists; pass --force to replace it or choose another --out",
            existing.display()
        )));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::failure(format!("cannot create {}: {}", dir.display(), e.kind())))?;
    let jwks_text = serde_json::to_string_pretty(&jwks).expect("JWKS serialises") + "\n";
    let contents: [(&str, &[u8], bool); 3] = [
        (FILES[0], pair.private_pem.as_bytes(), true),
        (FILES[1], pair.public_pem.as_bytes(), false),
        (FILES[2], jwks_text.as_bytes(), false),
    ];
    // Write everything to temporary names first, then rename: an error leaves no partial set.
    let mut staged = Vec::new();
    for (name, bytes, private) in contents {
        match write_temp(&dir, name, bytes, private) {
            Ok(temp) => staged.push((temp, dir.join(name))),
            Err(err) => {
                staged
                    .iter()
                    .for_each(|(temp, _)| drop(std::fs::remove_file(temp)));
                return Err(err);
            }
        }
    }
    for (temp, target) in staged {
        std::fs::rename(&temp, &target).map_err(|e| {
            CliError::failure(format!("cannot write {}: {}", target.display(), e.kind()))
        })?;
    }
    eprintln!(
        "wrote {} into {} ({}, kid {kid})",
        FILES.join(", "),
        dir.display(),
        args.alg
    );
    Ok(ExitCode::SUCCESS)
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8], private: bool) -> Result<PathBuf, CliError> {
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let failed = |e: std::io::Error| {
        CliError::failure(format!("cannot write {}: {}", temp.display(), e.kind()))
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&temp).map_err(failed)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(failed)?;
    Ok(temp)
}
