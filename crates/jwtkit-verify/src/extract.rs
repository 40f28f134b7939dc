//! Where an HTTP request carries its token: `Authorization: Bearer`, a cookie, a query
//! parameter (feature `http`). Each place has one parser, used both to find the token and to
//! remove it before a request travels on, so a spelling that is not found as the token is not
//! left behind either.
//!
//! ```
//! use http::{HeaderMap, HeaderValue, header};
//! use jwtkit_verify::extract;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc.def.ghi"));
//! headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; __session = tok ;lang=en"));
//! assert_eq!(extract::bearer(&headers), Some("abc.def.ghi"));
//! assert_eq!(extract::cookie(&headers, "__session"), Some("tok"));
//!
//! extract::remove_cookies(&mut headers, &["__session"]);
//! assert_eq!(headers[header::COOKIE], "theme=dark; lang=en");
//!
//! assert_eq!(extract::query_param("a=1&access_token=x%2Ey", "access_token").as_deref(), Some("x.y"));
//! assert_eq!(extract::remove_query_params("a=%2B+b&access_token=x&k", &["access_token"]), "a=%2B+b&k");
//! ```

use std::borrow::Cow;

use http::{HeaderMap, HeaderValue, header};

/// The token of an `Authorization: Bearer` header (scheme case-insensitive, RFC 6750 §2.1),
/// without surrounding whitespace; `None` for another scheme or an empty token.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    // `HeaderValue::to_str`'s test (the ASCII bytes a header value may hold are the visible
    // ones, space and tab), as one OR over all bytes, which compiles to vector instructions: a
    // token is hundreds of bytes, and this runs on every request.
    if value.iter().fold(0, |seen, byte| seen | byte) >= 0x80 {
        return None;
    }
    let space = value.iter().position(|&byte| byte == b' ')?;
    let (scheme, token) = (&value[..space], value[space + 1..].trim_ascii());
    if !scheme.eq_ignore_ascii_case(b"bearer") || token.is_empty() {
        return None;
    }
    // SAFETY: every byte is ASCII (checked above), and ASCII is UTF-8. A checked conversion
    // would be a second pass over the token.
    Some(unsafe { std::str::from_utf8_unchecked(token) })
}

/// The value of the first cookie called `name` (exact, case-sensitive name) that has a
/// non-empty text value, over every `Cookie` header. See [`remove_cookies`] for the parsing.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|line| cookie_pairs(line.as_bytes()))
        .filter(|pair| pair.name == name.as_bytes() && !pair.value.is_empty())
        .find_map(|pair| std::str::from_utf8(pair.value).ok())
}

/// Removes every cookie whose name is one of `names` from the `Cookie` headers; the other
/// cookies are kept, in order, in one `Cookie` header (none when nothing is left). Headers
/// without such a cookie are left untouched.
///
/// Cookies are parsed as RFC 6265 §4.2.1 and §5.4 describe: the header is split at `;`, and
/// optional whitespace (space, tab) around each pair, name and value is ignored, so
/// `__session =x` is the cookie `__session`, as servers that trim names read it. A piece without
/// `=` counts as a name with an empty value.
pub fn remove_cookies<S: AsRef<str>>(headers: &mut HeaderMap, names: &[S]) {
    let named = |name: &[u8]| names.iter().any(|n| n.as_ref().as_bytes() == name);
    let found = headers
        .get_all(header::COOKIE)
        .iter()
        .any(|line| cookie_pairs(line.as_bytes()).any(|pair| named(pair.name)));
    if !found {
        return;
    }
    let mut kept: Vec<u8> = Vec::new();
    for line in headers.get_all(header::COOKIE) {
        for pair in cookie_pairs(line.as_bytes()).filter(|pair| !named(pair.name)) {
            if !kept.is_empty() {
                kept.extend_from_slice(b"; ");
            }
            kept.extend_from_slice(pair.text);
        }
    }
    headers.remove(header::COOKIE);
    // The pieces come from valid header values and are joined with "; ": still valid.
    if !kept.is_empty()
        && let Ok(value) = HeaderValue::from_bytes(&kept)
    {
        headers.insert(header::COOKIE, value);
    }
}

/// One cookie of a `Cookie` header: its name and value, and the whole trimmed `name=value` text.
struct CookiePair<'a> {
    name: &'a [u8],
    value: &'a [u8],
    text: &'a [u8],
}

/// The cookies of one `Cookie` header line, the one parser behind [`cookie`] and
/// [`remove_cookies`]. Bytes, not text: a line with non-ASCII bytes is still read, so a cookie
/// cannot hide from removal behind them.
fn cookie_pairs(line: &[u8]) -> impl Iterator<Item = CookiePair<'_>> {
    line.split(|b| *b == b';')
        .map(trim_ows)
        .filter(|text| !text.is_empty())
        .map(|text| match text.iter().position(|b| *b == b'=') {
            Some(at) => CookiePair {
                name: trim_ows(&text[..at]),
                value: trim_ows(&text[at + 1..]),
                text,
            },
            None => CookiePair {
                name: text,
                value: b"",
                text,
            },
        })
}

/// `bytes` without leading and trailing spaces and tabs (HTTP's optional whitespace).
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |at| at + 1);
    &bytes[start..end]
}

/// The value of the first parameter called `name` in `query` (the part after `?`), both
/// decoded as `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte, invalid UTF-8
/// replaced): `access%5Ftoken=a%2Eb` is `access_token` = `a.b`.
pub fn query_param<'q>(query: &'q str, name: &str) -> Option<Cow<'q, str>> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// `query` without the parameters whose decoded name (as [`query_param`] reads it) is one of
/// `names`. The other parameters are kept byte for byte, in order, with the `&` between them:
/// nothing is decoded and encoded again. Borrowed when nothing is removed; empty when nothing
/// is left.
pub fn remove_query_params<'q, S: AsRef<str>>(query: &'q str, names: &[S]) -> Cow<'q, str> {
    let named = |pair: &str| {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        // The key decoded exactly as `query_param` decodes it (the same parser on `key`).
        let decoded = form_urlencoded::parse(key.as_bytes())
            .next()
            .map(|(key, _)| key)
            .unwrap_or_default();
        names.iter().any(|n| n.as_ref() == decoded)
    };
    if !query.split('&').any(named) {
        return Cow::Borrowed(query);
    }
    let kept: Vec<&str> = query.split('&').filter(|pair| !named(pair)).collect();
    Cow::Owned(kept.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in cookies {
            headers.append(header::COOKIE, HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    fn cookie_lines(headers: &HeaderMap) -> Vec<String> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_other_schemes_are_not_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "BEARER  abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "bearer x.y.z".parse().unwrap());
        assert_eq!(bearer(&h), Some("x.y.z"));
        for other in ["Basic abc", "Bearer", "Bearer   ", "Bearerabc"] {
            h.insert(header::AUTHORIZATION, other.parse().unwrap());
            assert_eq!(bearer(&h), None, "{other}");
        }
        // Bytes a header value may hold but `to_str` refuses (obs-text, here UTF-8 too) are
        // no token, as before; a trailing tab is trimmed like a space.
        for value in [
            "Bearer a\u{e9}b".as_bytes(),
            b"Bearer a\xffb",
            b"Bearer abc\t",
        ] {
            h.insert(
                header::AUTHORIZATION,
                HeaderValue::from_bytes(value).unwrap(),
            );
            let expected = h[header::AUTHORIZATION].to_str().ok().map(|_| "abc");
            assert_eq!(bearer(&h), expected, "{value:?}");
        }
    }

    #[test]
    fn cookies_are_found_with_whitespace_around_names_and_values() {
        let h = headers(&["a=1;  __session = tok.en.c ;b=2"]);
        assert_eq!(cookie(&h, "__session"), Some("tok.en.c"));
        assert_eq!(cookie(&h, "a"), Some("1"));
        assert_eq!(cookie(&h, "missing"), None);
        let h = headers(&["__session\t=\tx"]);
        assert_eq!(cookie(&h, "__session"), Some("x"));
        // Names are case-sensitive; an empty value is no token; the first non-empty one wins,
        // over several Cookie headers.
        let h = headers(&["__Session=x; __session=; __session", "__session=second"]);
        assert_eq!(cookie(&h, "__session"), Some("second"));
        // A value with `=` in it keeps it.
        let h = headers(&["t=a=b="]);
        assert_eq!(cookie(&h, "t"), Some("a=b="));
    }

    #[test]
    fn every_spelling_of_a_cookie_found_as_the_token_is_removed() {
        let mut h = headers(&[
            "theme=dark; __session=tok; __session =forged;\t__session\t= x ; lang = en ",
            "__session; k=v",
        ]);
        remove_cookies(&mut h, &["__session"]);
        assert_eq!(cookie_lines(&h), ["theme=dark; lang = en; k=v"]);
        assert_eq!(cookie(&h, "__session"), None);

        // Only the token cookie: no Cookie header left.
        let mut h = headers(&[" __session = tok "]);
        remove_cookies(&mut h, &["__session"]);
        assert!(h.get(header::COOKIE).is_none());

        // Several names at once; others untouched.
        let mut h = headers(&["a=1; b=2; c=3"]);
        remove_cookies(&mut h, &["a".to_owned(), "c".to_owned()]);
        assert_eq!(cookie_lines(&h), ["b=2"]);
    }

    #[test]
    fn cookie_headers_without_the_name_are_left_as_they_are() {
        let mut h = headers(&["a=1;b=2", "c = 3"]);
        remove_cookies(&mut h, &["__session"]);
        assert_eq!(cookie_lines(&h), ["a=1;b=2", "c = 3"]);
        let mut h = headers(&[]);
        remove_cookies(&mut h, &["__session"]);
        assert!(h.is_empty());
    }

    #[test]
    fn cookies_in_lines_with_non_ascii_bytes_are_removed_too() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_bytes(b"x=\xff; __session =forged; y=\xe9").unwrap(),
        );
        assert_eq!(cookie(&h, "__session"), Some("forged"));
        remove_cookies(&mut h, &["__session"]);
        assert_eq!(h[header::COOKIE].as_bytes(), b"x=\xff; y=\xe9");
    }

    #[test]
    fn query_params_are_form_decoded() {
        assert_eq!(
            query_param("y=1&access_token=a%2Eb", "access_token").as_deref(),
            Some("a.b")
        );
        assert_eq!(
            query_param("access%5Ftoken=x&access_token=y", "access_token").as_deref(),
            Some("x")
        );
        assert_eq!(query_param("a=b+c", "a").as_deref(), Some("b c"));
        assert_eq!(query_param("a", "a").as_deref(), Some(""));
        assert_eq!(query_param("a=1", "b"), None);
        assert_eq!(query_param("", "a"), None);
    }

    #[test]
    fn removing_query_params_keeps_the_others_byte_for_byte() {
        let odd = "a=%2B+b&x=%7e&empty=&k&k=2&k=3&=v&&z=%41&u=%e2%82%ac&p=a+b%20c";
        for (query, want) in [
            (format!("access_token=t&{odd}"), odd.to_owned()),
            (format!("{odd}&access_token=t"), odd.to_owned()),
            ("a=1&access_token=t&b=2".to_owned(), "a=1&b=2".to_owned()),
            (
                format!("access%5Ftoken=t&access_token=u&{odd}"),
                odd.to_owned(),
            ),
            (
                format!("access+token=t&{odd}"),
                format!("access+token=t&{odd}"),
            ),
            ("access_token".to_owned(), String::new()),
            ("access_token=t".to_owned(), String::new()),
        ] {
            assert_eq!(
                remove_query_params(&query, &["access_token"]),
                want,
                "{query}"
            );
        }
        assert!(matches!(
            remove_query_params(odd, &["access_token"]),
            Cow::Borrowed(q) if q == odd
        ));
        assert_eq!(remove_query_params("a=1&b=2&c=3", &["a", "c"]), "b=2");
        let none: &[&str] = &[];
        assert_eq!(remove_query_params("a=1", none), "a=1");
    }

    #[test]
    fn what_is_removed_is_what_the_lookup_finds() {
        for query in [
            "access%5Ftoken=x",
            "%61ccess_token=x",
            "access_token=x&access_token=y",
            "b=1&access_token=",
        ] {
            assert!(query_param(query, "access_token").is_some(), "{query}");
            let rest = remove_query_params(query, &["access_token"]);
            assert_eq!(query_param(&rest, "access_token"), None, "{query}");
        }
    }
}
