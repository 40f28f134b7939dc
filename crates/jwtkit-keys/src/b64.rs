//! Unpadded base64url (RFC 7515 §2), strict: no padding, no stray bits, no other alphabet.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64_simd::Out;

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends the unpadded base64url encoding of `bytes` to `out` (no intermediate string).
pub fn encode_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// Why [`decode`] refused its input. Deliberately uninformative: callers report which segment
/// or member was bad, never where inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError;

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not canonical unpadded base64url")
    }
}

impl std::error::Error for DecodeError {}

/// The decoded length of `text`, or `None` when no base64url text has that length.
pub fn decoded_len(text: &str) -> Option<usize> {
    let tail = match text.len() % 4 {
        0 => 0,
        2 => 1,
        3 => 2,
        _ => return None,
    };
    Some(text.len() / 4 * 3 + tail)
}

/// Decodes unpadded, canonical base64url: exactly the inputs the `base64` crate's
/// `URL_SAFE_NO_PAD` engine accepts (no padding, no whitespace, unused trailing bits zero).
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let mut out = vec![0u8; decoded_len(text).ok_or(DecodeError)?];
    decode_exact(text, Out::from_slice(&mut out))?;
    Ok(out)
}

/// [`decode`] into the start of `buffer`, for callers that want to avoid an allocation for
/// short input; fails (as for bad input) when the decoded bytes do not fit.
pub fn decode_into<'b>(text: &str, buffer: &'b mut [u8]) -> Result<&'b [u8], DecodeError> {
    let out = buffer
        .get_mut(..decoded_len(text).ok_or(DecodeError)?)
        .ok_or(DecodeError)?;
    decode_exact(text, Out::from_slice(out)).map(|out| &*out)
}

/// [`decode`] into the start of `buffer` when the decoded bytes fit, onto the heap when they do
/// not: callers with a stack buffer sized for the usual input avoid an allocation without
/// limiting the unusual. The buffer need not be initialised (nor zeroed per call).
pub fn decode_buffered<'b>(
    text: &str,
    buffer: &'b mut [MaybeUninit<u8>],
) -> Result<Cow<'b, [u8]>, DecodeError> {
    match decoded_len(text) {
        Some(len) if len <= buffer.len() => {
            decode_exact(text, Out::from_uninit_slice(&mut buffer[..len]))
                .map(|bytes| Cow::Borrowed(&*bytes))
        }
        _ => decode(text).map(Cow::Owned),
    }
}

/// Decodes `input` into `out`, whose length is `decoded_len(input)`; every decoder above ends
/// here. base64-simd picks the CPU's vector instructions at run time; it is strict as
/// [`decode`] promises (the tests below hold it to the `base64` crate on short, long and random
/// inputs).
fn decode_exact<'o>(input: &str, out: Out<'o, [u8]>) -> Result<&'o mut [u8], DecodeError> {
    base64_simd::URL_SAFE_NO_PAD
        .decode(input.as_bytes(), out)
        .map_err(|_| DecodeError)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: the `base64` crate's strict engine.
    fn reference(text: &str) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(text).ok()
    }

    #[track_caller]
    fn agrees(text: &str) {
        let expected = reference(text);
        assert_eq!(decode(text).ok(), expected, "{text:?}");
        let mut buffer = [0u8; 64];
        let into = decode_into(text, &mut buffer).ok().map(<[u8]>::to_vec);
        match &expected {
            Some(bytes) if bytes.len() > buffer.len() => assert_eq!(into, None, "{text:?}"),
            _ => assert_eq!(into, expected, "{text:?}"),
        }
        // Whether the result fits the buffer or not, the same bytes or the same refusal, and
        // borrowed exactly when it fits.
        let mut uninit = [MaybeUninit::uninit(); 64];
        let buffered = decode_buffered(text, &mut uninit);
        assert_eq!(buffered.as_deref().ok(), expected.as_deref(), "{text:?}");
        if let Ok(bytes) = buffered {
            assert_eq!(
                matches!(bytes, Cow::Borrowed(_)),
                bytes.len() <= 64,
                "{text:?}"
            );
        }
    }

    #[test]
    fn round_trips_every_length() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(700).collect();
        for len in 0..bytes.len() {
            let encoded = encode(&bytes[..len]);
            assert_eq!(decode(&encoded).unwrap(), &bytes[..len], "{len}");
        }
    }

    #[test]
    fn agrees_with_the_base64_crate_on_short_inputs_and_every_single_change() {
        // Every string of up to three characters over the alphabet plus the usual intruders.
        let chars: Vec<char> =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .\n\0é~"
                .chars()
                .collect();
        agrees("");
        for &a in &chars {
            agrees(&a.to_string());
            for &b in &chars {
                agrees(&format!("{a}{b}"));
                for &c in &chars {
                    agrees(&format!("{a}{b}{c}"));
                }
            }
        }
        // Every ASCII and a few non-ASCII characters in every position of longer inputs: one
        // shorter than a vector register, two longer (ending with two and three characters of
        // a group, where the unused bits must be zero).
        let long: Vec<u8> = (0..=255u8).cycle().take(302).collect();
        for base in [
            encode(b"a canonical payload of some length!"),
            encode(&long[..301]),
            encode(&long),
        ] {
            every_character_in_every_position(&base);
        }
    }

    fn every_character_in_every_position(base: &str) {
        for position in 0..base.len() {
            for byte in (0u8..128).map(char::from).chain(['é', '€', '\u{10000}']) {
                let mut text: String = base.chars().take(position).collect();
                text.push(byte);
                text.extend(base.chars().skip(position + 1));
                agrees(&text);
            }
        }
    }

    #[test]
    fn agrees_with_the_base64_crate_on_random_inputs() {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .";
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize
        };
        for round in 0..20_000 {
            // Mostly short texts, every tenth up to 1.4 KB (the vector code paths).
            let len = if round % 10 == 0 {
                next() % 1400
            } else {
                next() % 70
            };
            let text: String = (0..len)
                .map(|_| {
                    let r = next();
                    // Mostly valid characters, sometimes an intruder (rarer in long texts).
                    let odds = if len > 100 { 4000 } else { 40 };
                    let index = if r % odds == 0 { 64 + r % 5 } else { r % 64 };
                    char::from(alphabet[index])
                })
                .collect();
            agrees(&text);
        }
    }
}
