//! One canonical form of a request path, so that routes are matched on the same reading of the
//! path that upstreams make, and a spelling upstreams read differently from each other is
//! refused instead of guessed at.
//!
//! The proxy chooses routes by prefix. If `/api/%61dmin/x`, `/api//admin/x` or
//! `/api/admin;jsessionid=1/x` did not match the route `/api/admin` but the upstream (Tomcat,
//! Spring, Go's `net/http`, a WSGI server) read them as `/api/admin/x`, a caller could pick the
//! looser route `/api` for an admin resource. [`canonicalize`] therefore:
//!
//! - decodes percent-escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`, RFC 3986 §2.3),
//!   which every reader decodes alike;
//! - writes every other escape in upper-case hex, and escapes bytes a path may not hold raw
//!   (non-ASCII, `"`, `{`, `}`, `[`, `]`, `^`, `|`, ...);
//! - collapses runs of `/` into one;
//! - refuses what upstreams read differently: `;` (path parameters, which Tomcat and Spring drop
//!   and others keep) raw or as `%3B`; `%2F` and `%5C` (a slash that some decode before
//!   splitting the path); a raw `\` (a slash on some servers); escaped control characters
//!   (`%00`-`%1F`, `%7F`); `%25` followed by two hex digits (a second decoding, which some
//!   frameworks do, would read another path); broken escapes; `.` and `..` segments in any
//!   spelling (an upstream resolving them would serve `/app/../admin` under `/app`'s rules).
//!
//! Letter case is left as it is: whether a route matches case-insensitively is the route's
//! choice ([`crate::forward::ProxyRoute`]). The query is not part of the path and is not touched.

use std::borrow::Cow;

/// Why a path is refused. Each is a spelling that upstreams read in more than one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/` (the `*` of `OPTIONS *`, the empty path of `CONNECT`).
    #[error("the path does not start with /")]
    NotAbsolute,
    /// A `;` path parameter, raw or as `%3B`.
    #[error("`;` (path parameters) is not allowed in paths")]
    PathParameter,
    /// `%2F` or `%5C`: a slash some upstreams decode before splitting the path.
    #[error("encoded slashes and backslashes (%2F, %5C) are not allowed in paths")]
    EncodedSeparator,
    /// A raw `\`, a path separator on some servers.
    #[error("backslashes are not allowed in paths")]
    Backslash,
    /// An escaped control character (`%00`-`%1F`, `%7F`).
    #[error("encoded control characters (%00-%1F, %7F) are not allowed in paths")]
    EncodedControl,
    /// `%25` followed by two hex digits: read as another path when decoded twice.
    #[error("an encoded % followed by two hex digits (double encoding) is not allowed in paths")]
    DoubleEncoded,
    /// `%` not followed by two hex digits.
    #[error("a % in a path must be followed by two hex digits")]
    BrokenEscape,
    /// A `.` or `..` segment, also spelled with escapes.
    #[error("paths with `.` or `..` segments are not forwarded")]
    DotSegment,
}

/// The canonical form of `path` (see the module documentation), borrowed when `path` is already
/// canonical, which is the common case and costs no allocation.
pub fn canonicalize(path: &str) -> Result<Cow<'_, str>, PathError> {
    if is_plain(path.as_bytes()) {
        return Ok(Cow::Borrowed(path));
    }
    canonicalize_escaped(path)
}

/// True for the usual path, already canonical: `/` then letters, digits, `-`, `_` and `~`
/// between single slashes (nothing to decode, collapse or refuse). One pass over the bytes
/// instead of the segment-by-segment reading of [`canonicalize_escaped`].
fn is_plain(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'/')
        && bytes.windows(2).all(|pair| {
            let byte = pair[1];
            byte.is_ascii_alphanumeric()
                || matches!(byte, b'-' | b'_' | b'~')
                || (byte == b'/' && pair[0] != b'/')
        })
}

/// [`canonicalize`] for any path.
fn canonicalize_escaped(path: &str) -> Result<Cow<'_, str>, PathError> {
    // `*` (`OPTIONS *`) and the empty path of an authority-form target (`CONNECT host:port`)
    // name no resource below any prefix. (An absolute-form `http://host` has the path `/`.)
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(PathError::NotAbsolute);
    }
    // `None` while the output equals the input so far; from the first difference on, the
    // output is written here.
    let mut out: Option<String> = None;
    let mut segment = Segment::default();
    let mut index = 1;
    while index < bytes.len() {
        let byte = bytes[index];
        match byte {
            b'/' => {
                segment.end()?;
                if segment.after_slash {
                    // A duplicate slash: dropped.
                    diverge(&mut out, path, index);
                } else {
                    keep(&mut out, '/');
                }
                segment = Segment::default();
                index += 1;
            }
            b'%' => {
                let value = bytes
                    .get(index + 1..index + 3)
                    .and_then(|hex| Some(hex_value(hex[0])? << 4 | hex_value(hex[1])?))
                    .ok_or(PathError::BrokenEscape)?;
                match value {
                    b'/' | b'\\' => return Err(PathError::EncodedSeparator),
                    b';' => return Err(PathError::PathParameter),
                    0x00..=0x1F | 0x7F => return Err(PathError::EncodedControl),
                    b'%' if bytes
                        .get(index + 3..index + 5)
                        .is_some_and(|hex| hex.iter().all(|b| hex_value(*b).is_some())) =>
                    {
                        return Err(PathError::DoubleEncoded);
                    }
                    _ if is_unreserved(value) => {
                        diverge(&mut out, path, index);
                        keep(&mut out, char::from(value));
                        segment.push(value);
                    }
                    _ => {
                        let upper = [
                            b'%',
                            HEX[usize::from(value >> 4)],
                            HEX[usize::from(value & 15)],
                        ];
                        if bytes[index..index + 3] != upper {
                            diverge(&mut out, path, index);
                        }
                        if let Some(out) = out.as_mut() {
                            out.extend(upper.iter().copied().map(char::from));
                        }
                        segment.push(b'%');
                    }
                }
                index += 3;
            }
            b';' => return Err(PathError::PathParameter),
            b'\\' => return Err(PathError::Backslash),
            _ if is_unreserved(byte) || is_raw_path_char(byte) => {
                keep(&mut out, char::from(byte));
                segment.push(byte);
                index += 1;
            }
            _ => {
                // Control characters never get here (the HTTP parser refuses them); anything
                // else a path may not hold raw is escaped, non-ASCII bytes included.
                if byte < 0x20 || byte == 0x7F {
                    return Err(PathError::EncodedControl);
                }
                diverge(&mut out, path, index);
                if let Some(out) = out.as_mut() {
                    out.push('%');
                    out.push(char::from(HEX[usize::from(byte >> 4)]));
                    out.push(char::from(HEX[usize::from(byte & 15)]));
                }
                segment.push(b'%');
                index += 1;
            }
        }
    }
    segment.end()?;
    Ok(out.map_or(Cow::Borrowed(path), Cow::Owned))
}

/// The canonical form of a configured route prefix, without a trailing slash (`""` for `/`).
/// Only letters, digits, `-._~` and `/` are allowed after canonicalisation: other characters
/// have several spellings that upstreams read alike (`:` and `%3A`), which prefix matching on
/// the canonical form would not see as one.
pub fn canonical_prefix(prefix: &str) -> Result<String, String> {
    let canonical = canonicalize(prefix).map_err(|e| e.to_string())?;
    if let Some(other) = canonical
        .chars()
        .find(|c| *c != '/' && !(c.is_ascii() && is_unreserved(*c as u8)))
    {
        return Err(format!(
            "contains {other:?}; a prefix may hold only letters, digits, `-._~` and `/`"
        ));
    }
    Ok(canonical.trim_end_matches('/').to_owned())
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 3986 §2.3.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Sub-delimiters (but `;`), `:` and `@`: allowed raw in a path segment (RFC 3986 §3.3) and
/// kept as they are.
fn is_raw_path_char(byte: u8) -> bool {
    matches!(
        byte,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'=' | b':' | b'@'
    )
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// From `index` on the output differs from `path`: start writing it, with everything before.
fn diverge(out: &mut Option<String>, path: &str, index: usize) {
    if out.is_none() {
        let mut text = String::with_capacity(path.len());
        text.push_str(&path[..index]);
        *out = Some(text);
    }
}

/// A character that is the same in the input and the output.
fn keep(out: &mut Option<String>, c: char) {
    if let Some(out) = out.as_mut() {
        out.push(c);
    }
}

/// What the dot-segment check needs to know of the segment being read (in canonical form).
struct Segment {
    length: usize,
    dots: usize,
    after_slash: bool,
}

impl Default for Segment {
    fn default() -> Self {
        Self {
            length: 0,
            dots: 0,
            after_slash: true,
        }
    }
}

impl Segment {
    fn push(&mut self, canonical: u8) {
        self.length += 1;
        self.dots += usize::from(canonical == b'.');
        self.after_slash = false;
    }

    fn end(&self) -> Result<(), PathError> {
        if self.length == self.dots && (self.length == 1 || self.length == 2) {
            Err(PathError::DotSegment)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_path_shortcut_answers_as_the_full_reading() {
        // Every path of up to five bytes over an alphabet with what the shortcut takes and
        // what it must leave to the full reading (dots, escapes, doubled slashes, `;`, `\`).
        let alphabet = [
            b'/', b'a', b'Z', b'0', b'-', b'_', b'~', b'.', b'%', b'2', b';', b'\\',
        ];
        let mut paths: Vec<Vec<u8>> = vec![Vec::new()];
        let mut plain = 0;
        for _ in 0..5 {
            paths = paths
                .iter()
                .flat_map(|path| {
                    alphabet
                        .iter()
                        .map(move |byte| [path.as_slice(), &[*byte]].concat())
                })
                .collect();
            for path in &paths {
                let path = std::str::from_utf8(path).expect("ASCII");
                if is_plain(path.as_bytes()) {
                    plain += 1;
                }
                assert_eq!(canonicalize(path), canonicalize_escaped(path), "{path:?}");
            }
        }
        assert!(plain > 1_000, "the shortcut took only {plain} paths");
        assert!(!is_plain(b"/a//b") && !is_plain(b"//") && !is_plain(b"/a/./b") && !is_plain(b""));
        assert!(is_plain(b"/") && is_plain(b"/api/v1/orders-2_x~y/"));
    }

    fn ok(path: &str) -> String {
        canonicalize(path)
            .unwrap_or_else(|e| panic!("{path:?}: {e}"))
            .into_owned()
    }

    #[test]
    fn canonical_paths_are_borrowed_not_copied() {
        for path in [
            "/",
            "/api/admin/x",
            "/api/admin/",
            "/a-b_c.d~e/f:g@h!$&'()*+,=/%20/%C3%A9",
            "/.well-known/x",
            "/v1.2/...",
        ] {
            assert!(
                matches!(canonicalize(path), Ok(Cow::Borrowed(p)) if p == path),
                "{path}"
            );
        }
    }

    #[test]
    fn unreserved_escapes_are_decoded_others_upper_cased() {
        assert_eq!(ok("/api/%61dmin/x"), "/api/admin/x");
        assert_eq!(ok("/%61%64%6D%69%6e"), "/admin");
        assert_eq!(ok("/x/%7e%2D%5f%2E%41%7A%30"), "/x/~-_.Az0");
        assert_eq!(ok("/x/a%3ab%3F%23%2b"), "/x/a%3Ab%3F%23%2B");
        assert_eq!(ok("/x/%c3%a9"), "/x/%C3%A9");
        // `%25` alone (a literal percent sign) stays; only `%25XX` is refused.
        assert_eq!(ok("/x/100%25"), "/x/100%25");
        assert_eq!(ok("/x/100%25.txt"), "/x/100%25.txt");
    }

    #[test]
    fn characters_a_path_cannot_hold_raw_are_escaped() {
        assert_eq!(ok("/x/\u{e9}"), "/x/%C3%A9");
        assert_eq!(ok("/x/{\"a\"}"), "/x/%7B%22a%22%7D");
        assert_eq!(ok("/x/[1]^|`"), "/x/%5B1%5D%5E%7C%60");
        assert_eq!(ok("/x/a b"), "/x/a%20b");
    }

    #[test]
    fn duplicate_slashes_are_collapsed() {
        assert_eq!(ok("//"), "/");
        assert_eq!(ok("//api//admin///x"), "/api/admin/x");
        assert_eq!(ok("/api/x//"), "/api/x/");
        assert_eq!(ok("/api/%61//x"), "/api/a/x");
    }

    #[test]
    fn spellings_read_differently_are_refused() {
        for (path, error) in [
            ("/api/admin;/x", PathError::PathParameter),
            ("/api/admin;jsessionid=1/x", PathError::PathParameter),
            ("/api/x/..;/admin", PathError::PathParameter),
            ("/api/admin%3b/x", PathError::PathParameter),
            ("/api/admin%3B", PathError::PathParameter),
            ("/api%2fadmin", PathError::EncodedSeparator),
            ("/api%2Fadmin", PathError::EncodedSeparator),
            ("/api%5cadmin", PathError::EncodedSeparator),
            ("/api%5Cadmin", PathError::EncodedSeparator),
            ("/api\\admin", PathError::Backslash),
            ("/api/a%00", PathError::EncodedControl),
            ("/api/a%0a", PathError::EncodedControl),
            ("/api/a%1F", PathError::EncodedControl),
            ("/api/a%7f", PathError::EncodedControl),
            ("/api/%2561dmin", PathError::DoubleEncoded),
            ("/api/%252e%252e/x", PathError::DoubleEncoded),
            ("/api/a%", PathError::BrokenEscape),
            ("/api/a%4", PathError::BrokenEscape),
            ("/api/a%zz", PathError::BrokenEscape),
            ("/api/a%\u{e9}", PathError::BrokenEscape),
            ("*", PathError::NotAbsolute),
            ("", PathError::NotAbsolute),
            ("api", PathError::NotAbsolute),
        ] {
            assert_eq!(canonicalize(path), Err(error), "{path}");
        }
    }

    #[test]
    fn dot_segments_are_found_in_every_spelling() {
        for path in [
            "/app/../admin",
            "/app/./x",
            "/app/..",
            "/app/.",
            "/.",
            "/..",
            "/app/%2e%2e/admin",
            "/app/%2E%2E/admin",
            "/app/.%2E/admin",
            "/app/%2e./admin",
            "/app/%2e/admin",
            "/app//../admin",
            "/app/../",
        ] {
            assert_eq!(canonicalize(path), Err(PathError::DotSegment), "{path}");
        }
        // Dots split by an encoded or raw (back)slash are refused for the separator.
        for path in ["/app/..%2fadmin", "/app/..%5Cadmin", "/app\\..\\admin"] {
            assert!(canonicalize(path).is_err(), "{path}");
        }
        for path in [
            "/app/x",
            "/app/.well-known/a",
            "/app/v1.2/x",
            "/app/...",
            "/app/..x",
            "/app/x..",
            "/a%20b",
            "/app/%2e%2e%2e",
            "/app/.%20",
        ] {
            assert!(canonicalize(path).is_ok(), "{path}");
        }
    }

    #[test]
    fn targets_in_absolute_form_have_a_path_and_others_are_refused() {
        let uri: axum::http::Uri = "http://proxy.test".parse().unwrap();
        assert_eq!(canonicalize(uri.path()), Ok(Cow::Borrowed("/")));
        let uri: axum::http::Uri = "proxy.test:443".parse().unwrap();
        assert_eq!(canonicalize(uri.path()), Err(PathError::NotAbsolute));
    }

    #[test]
    fn canonicalizing_is_idempotent() {
        for path in [
            "/api/%61dmin//x/",
            "/x/%c3%a9/\u{e9}/{a}",
            "/x/a%3ab%2b",
            "//",
            "/x/100%25",
        ] {
            let once = ok(path);
            assert!(
                matches!(canonicalize(&once), Ok(Cow::Borrowed(p)) if p == once),
                "{path} -> {once}"
            );
        }
    }

    #[test]
    fn prefixes_are_canonical_without_trailing_slash_and_plain() {
        assert_eq!(canonical_prefix("/api/%61dmin/").unwrap(), "/api/admin");
        assert_eq!(canonical_prefix("//api//x").unwrap(), "/api/x");
        assert_eq!(canonical_prefix("/").unwrap(), "");
        for prefix in [
            "/api/a:b",
            "/api/a%3Ab",
            "/a b",
            "/x/\u{e9}",
            "/api/;x",
            "/a/../b",
            "api",
        ] {
            assert!(canonical_prefix(prefix).is_err(), "{prefix}");
        }
    }
}
