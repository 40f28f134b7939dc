//! Text encodings of secret bytes.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

use crate::SecretError;

/// How secret text maps to key bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretEncoding {
    /// The UTF-8 bytes of the text are the key (PyJWT, jsonwebtoken's `from_secret`, Centrifugo).
    Raw,
    /// Standard base64 (`+/`), padding optional (Java's `Base64.getDecoder()`, Python's
    /// `b64decode`); the Camunda 7 engine's JWT plugin decodes its secret this way.
    Base64,
    /// URL-safe base64 (`-_`), padding optional (JWK `k` values, `secrets.token_urlsafe`).
    Base64Url,
    /// Hexadecimal, either case, even length.
    Hex,
    /// Standard base64 when the text is valid base64, raw otherwise: the fallback the FastAPI
    /// proxy applied. Callers must report the encoding that was chosen ([`crate::Decoded`]).
    Auto,
}

impl SecretEncoding {
    /// The encodings that are not guesses, in the order diagnostics list them.
    pub const EXPLICIT: [SecretEncoding; 4] = [Self::Raw, Self::Base64, Self::Base64Url, Self::Hex];

    /// The name used on command lines and in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Base64 => "base64",
            Self::Base64Url => "base64url",
            Self::Hex => "hex",
            Self::Auto => "auto",
        }
    }
}

impl fmt::Display for SecretEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an unknown encoding name; lists the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown secret encoding {0:?}; use one of raw, base64, base64url, hex, auto")]
pub struct UnknownEncoding(pub String);

impl FromStr for SecretEncoding {
    type Err = UnknownEncoding;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "raw" | "utf8" | "text" => Ok(Self::Raw),
            "base64" | "b64" => Ok(Self::Base64),
            "base64url" | "b64url" => Ok(Self::Base64Url),
            "hex" => Ok(Self::Hex),
            "auto" => Ok(Self::Auto),
            _ => Err(UnknownEncoding(name.to_owned())),
        }
    }
}

/// Canonical decoding (no stray trailing bits) with padding optional, as the JVM and Python
/// decoders accept; encoding emits padding for standard base64 only.
fn engine(alphabet: &alphabet::Alphabet, pad: bool) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_encode_padding(pad)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

fn base64_reason(err: base64::DecodeError) -> &'static str {
    match err {
        base64::DecodeError::InvalidByte(..) => "it contains a character outside the alphabet",
        base64::DecodeError::InvalidLength(_) => "its length is not a valid base64 length",
        base64::DecodeError::InvalidLastSymbol(..) => "its last character is not canonical",
        base64::DecodeError::InvalidPadding => "its padding is wrong",
    }
}

/// Decodes `text`; returns the bytes and the encoding actually applied.
pub(crate) fn decode(
    text: &str,
    encoding: SecretEncoding,
) -> Result<(Vec<u8>, SecretEncoding), SecretError> {
    let bytes = match encoding {
        SecretEncoding::Raw => text.as_bytes().to_vec(),
        SecretEncoding::Base64 => engine(&alphabet::STANDARD, true)
            .decode(text)
            .map_err(|e| SecretError::Decode {
                encoding,
                reason: base64_reason(e),
            })?,
        SecretEncoding::Base64Url => {
            engine(&alphabet::URL_SAFE, false)
                .decode(text)
                .map_err(|e| SecretError::Decode {
                    encoding,
                    reason: base64_reason(e),
                })?
        }
        SecretEncoding::Hex => hex::decode(text).map_err(|e| SecretError::Decode {
            encoding,
            reason: match e {
                hex::FromHexError::OddLength => "it has an odd number of digits",
                _ => "it contains a character that is not a hex digit",
            },
        })?,
        SecretEncoding::Auto => {
            return match decode(text, SecretEncoding::Base64) {
                Ok(decoded) => Ok(decoded),
                Err(_) => decode(text, SecretEncoding::Raw),
            };
        }
    };
    Ok((bytes, encoding))
}

/// Encodes key bytes as text; `Auto` encodes as base64url (the `generate` default).
pub(crate) fn encode(bytes: &[u8], encoding: SecretEncoding) -> Zeroizing<String> {
    Zeroizing::new(match encoding {
        SecretEncoding::Raw => String::from_utf8_lossy(bytes).into_owned(),
        SecretEncoding::Base64 => engine(&alphabet::STANDARD, true).encode(bytes),
        SecretEncoding::Base64Url | SecretEncoding::Auto => {
            engine(&alphabet::URL_SAFE, false).encode(bytes)
        }
        SecretEncoding::Hex => hex::encode(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_padding_is_optional_but_alphabet_is_strict() {
        let padded = decode("YWJjZA==", SecretEncoding::Base64).unwrap();
        let unpadded = decode("YWJjZA", SecretEncoding::Base64).unwrap();
        assert_eq!(padded.0, b"abcd");
        assert_eq!(unpadded.0, b"abcd");
        assert!(decode("YW-jZA", SecretEncoding::Base64).is_err());
        assert!(decode("YW+jZA", SecretEncoding::Base64Url).is_err());
        // A non-canonical last symbol (stray bits) is refused rather than silently truncated.
        assert!(decode("YWJjZB", SecretEncoding::Base64).is_err());
    }

    #[test]
    fn decode_errors_do_not_quote_the_text() {
        let err = decode("sup3r$ecret!", SecretEncoding::Base64).unwrap_err();
        assert!(!err.to_string().contains("sup3r"), "{err}");
        let err = decode("abc", SecretEncoding::Hex).unwrap_err();
        assert!(err.to_string().contains("odd number"), "{err}");
    }

    #[test]
    fn auto_prefers_base64_and_falls_back_to_raw() {
        assert_eq!(
            decode("YWJjZA==", SecretEncoding::Auto).unwrap().1,
            SecretEncoding::Base64
        );
        let (bytes, used) = decode("not base64!", SecretEncoding::Auto).unwrap();
        assert_eq!(
            (bytes.as_slice(), used),
            (b"not base64!".as_slice(), SecretEncoding::Raw)
        );
    }

    #[test]
    fn names_parse_back() {
        for encoding in SecretEncoding::EXPLICIT
            .into_iter()
            .chain([SecretEncoding::Auto])
        {
            assert_eq!(encoding.name().parse::<SecretEncoding>().unwrap(), encoding);
        }
        assert!("base32".parse::<SecretEncoding>().is_err());
    }

    proptest::proptest! {
        #[test]
        fn every_encoding_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 1..128)) {
            for encoding in [SecretEncoding::Base64, SecretEncoding::Base64Url, SecretEncoding::Hex] {
                let text = encode(&bytes, encoding);
                proptest::prop_assert_eq!(&decode(&text, encoding).unwrap().0, &bytes);
            }
        }
    }
}
