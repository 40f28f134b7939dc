//! Unpadded base64url (RFC 7515 §2), strict: no padding, no stray bits, no other alphabet.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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

/// Set in a table entry for a byte outside the alphabet.
const INVALID: u32 = 1 << 24;

/// One table per position in a group of four characters: the character's six bits already
/// shifted into place among the group's three output bytes (little-endian), so a group decodes
/// with four loads and three ORs, and any invalid character leaves [`INVALID`] set.
const fn table(shift: u32) -> [u32; 256] {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        let group = (i as u32) << shift;
        let bytes = [(group >> 16) as u8, (group >> 8) as u8, group as u8, 0];
        table[ALPHABET[i] as usize] = u32::from_le_bytes(bytes);
        i += 1;
    }
    table
}

static D0: [u32; 256] = table(18);
static D1: [u32; 256] = table(12);
static D2: [u32; 256] = table(6);
static D3: [u32; 256] = table(0);

/// The decoded length of `text`, or `None` when no base64url text has that length.
fn decoded_len(text: &str) -> Option<usize> {
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
    decode_exact(text.as_bytes(), &mut out)?;
    Ok(out)
}

/// [`decode`] into the start of `buffer`, for callers that want to avoid an allocation for
/// short input; fails (as for bad input) when the decoded bytes do not fit.
pub fn decode_into<'b>(text: &str, buffer: &'b mut [u8]) -> Result<&'b [u8], DecodeError> {
    let out = buffer
        .get_mut(..decoded_len(text).ok_or(DecodeError)?)
        .ok_or(DecodeError)?;
    decode_exact(text.as_bytes(), out)?;
    Ok(out)
}

/// Decodes `input` into `out`, whose length is `decoded_len(input)`.
fn decode_exact(input: &[u8], out: &mut [u8]) -> Result<(), DecodeError> {
    let groups = input.len() / 4;
    let (body, rest) = out.split_at_mut(groups * 3);
    let mut flags = 0u32;
    for (chars, bytes) in input.chunks_exact(4).zip(body.chunks_exact_mut(3)) {
        let group = D0[usize::from(chars[0])]
            | D1[usize::from(chars[1])]
            | D2[usize::from(chars[2])]
            | D3[usize::from(chars[3])];
        flags |= group;
        bytes.copy_from_slice(&group.to_le_bytes()[..3]);
    }
    match input[groups * 4..] {
        [] => {}
        [a, b] => {
            let group = D0[usize::from(a)] | D1[usize::from(b)];
            // The last character's four low bits are unused and must be zero.
            if group & 0x0000_FF00 != 0 {
                return Err(DecodeError);
            }
            flags |= group;
            rest[0] = group as u8;
        }
        [a, b, c] => {
            let group = D0[usize::from(a)] | D1[usize::from(b)] | D2[usize::from(c)];
            // The last character's two low bits are unused and must be zero.
            if group & 0x00FF_0000 != 0 {
                return Err(DecodeError);
            }
            flags |= group;
            rest[..2].copy_from_slice(&group.to_le_bytes()[..2]);
        }
        _ => return Err(DecodeError),
    }
    if flags & INVALID != 0 {
        return Err(DecodeError);
    }
    Ok(())
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
    fn agrees_with_the_base64_crate_on_every_short_input() {
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
        // Every ASCII and a few non-ASCII characters in every position of a longer input.
        let base = encode(b"a canonical payload of some length!");
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
        for _ in 0..20_000 {
            let len = next() % 70;
            let text: String = (0..len)
                .map(|_| {
                    let r = next();
                    // Mostly valid characters, sometimes an intruder.
                    let index = if r % 40 == 0 { 64 + r % 5 } else { r % 64 };
                    char::from(alphabet[index])
                })
                .collect();
            agrees(&text);
        }
    }
}
