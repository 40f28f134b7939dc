//! `jwtkit decode`: show what a token says, verifying nothing.

use std::process::ExitCode;

use clap::Args;
use jwtkit_keys::b64;
use serde_json::Value;

use crate::input::read_token;
use crate::{CliError, human, print_json};

/// Arguments of `jwtkit decode`.
#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// The token, or `-` (or nothing) to read it from stdin.
    token: Option<String>,
    /// Print one JSON object: header, claims (or payload text), and `"verified": false`.
    #[arg(long)]
    json: bool,
}

/// A token split into its decoded parts without any check beyond structure.
pub struct Unverified {
    pub header: Value,
    pub payload: Payload,
}

/// A JWS payload: a JSON value (usually the claims) or other bytes shown as text.
pub enum Payload {
    Json(Value),
    Text(String),
}

/// Splits and decodes a compact JWS, tolerating anything a person might want to inspect.
pub fn decode_unverified(token: &str) -> Result<Unverified, CliError> {
    let malformed = |reason: &str| CliError::Invalid {
        code: "malformed",
        reason: format!("malformed token: {reason}"),
    };
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() == 5 {
        return Err(malformed(
            "this is a JWE (five segments): its claims are encrypted",
        ));
    }
    let [header, payload, _signature] = parts.as_slice() else {
        return Err(malformed("expected three dot-separated segments"));
    };
    let header = b64::decode(header).map_err(|_| malformed("header is not base64url"))?;
    let header: Value =
        serde_json::from_slice(&header).map_err(|_| malformed("header is not JSON"))?;
    let payload = b64::decode(payload).map_err(|_| malformed("payload is not base64url"))?;
    let payload = match serde_json::from_slice(&payload) {
        Ok(value) => Payload::Json(value),
        Err(_) => Payload::Text(String::from_utf8_lossy(&payload).into_owned()),
    };
    Ok(Unverified { header, payload })
}

pub fn run(args: DecodeArgs) -> Result<ExitCode, CliError> {
    let token = read_token(args.token.as_deref())?;
    let decoded = decode_unverified(&token)?;
    if args.json {
        let (claims, text) = match &decoded.payload {
            Payload::Json(value) => (value.clone(), Value::Null),
            Payload::Text(text) => (Value::Null, Value::String(text.clone())),
        };
        print_json(&serde_json::json!({
            "header": decoded.header, "claims": claims, "payload_text": text, "verified": false,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "NOT VERIFIED: this shows what the token says; nothing was checked (use `jwtkit verify`)."
    );
    println!("Header:");
    print_json(&decoded.header);
    match &decoded.payload {
        Payload::Json(claims) => {
            println!("Claims:");
            print_json(claims);
            if let Value::Object(map) = claims {
                println!("Times:");
                for note in human::time_notes(map, jwtkit_mint::now()) {
                    println!("  {note}");
                }
            }
        }
        Payload::Text(text) => {
            println!("Payload (not JSON):");
            println!("{text}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
