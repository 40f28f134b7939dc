//! The prefix routes, listed once: each configured prefix in canonical form, matched against
//! the request's canonical path ([`crate::path`]), longest prefix first. What a route leads to
//! is the forwarder's business ([`crate::forward::ProxyRoute`]); the table only chooses it, and
//! names it for the metrics with the prefix as configured.

/// A configured route prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    /// As configured, e.g. `/engine-rest`: the metrics label.
    label: String,
    /// In canonical form ([`crate::path::canonical_prefix`]), without a trailing slash: what
    /// request paths (canonical too) are matched against.
    canonical: String,
    /// Match in any letter case.
    case_insensitive: bool,
}

impl Prefix {
    /// A prefix; `Err` with the reason when `configured` is not a usable prefix (see
    /// [`crate::path::canonical_prefix`]).
    pub fn new(configured: &str, case_insensitive: bool) -> Result<Self, String> {
        Ok(Self {
            label: configured.to_owned(),
            canonical: crate::path::canonical_prefix(configured)?,
            case_insensitive,
        })
    }

    /// The prefix as configured: the route's metrics label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// True when the canonical `path` is the prefix or below it (`/api` matches `/api` and
    /// `/api/x`, not `/apix`), in any letter case if the route says so.
    pub fn matches(&self, path: &str) -> bool {
        let prefix = self.canonical.as_str();
        let Some(head) = path.get(..prefix.len()) else {
            return false;
        };
        let same = if self.case_insensitive {
            head.eq_ignore_ascii_case(prefix)
        } else {
            head == prefix
        };
        same && matches!(path.as_bytes().get(prefix.len()), None | Some(b'/'))
    }

    /// What follows the prefix in a `path` it [`matches`](Prefix::matches): `/x` of `/api/x`,
    /// empty for `/api` itself.
    pub fn rest<'p>(&self, path: &'p str) -> &'p str {
        // The prefix is ASCII and matched, so its length is a character boundary of `path`.
        path.get(self.canonical.len()..).unwrap_or_default()
    }
}

/// The prefix routes, each with what it leads to (`T`).
#[derive(Debug)]
pub struct RouteTable<T> {
    /// Longest canonical prefix first; routes of equal length in configuration order.
    routes: Vec<(Prefix, T)>,
}

impl<T> RouteTable<T> {
    /// The table of `routes`, given in configuration order.
    pub fn new(mut routes: Vec<(Prefix, T)>) -> Self {
        // Stable: of two equally long prefixes the first configured wins.
        routes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.canonical.len()));
        Self { routes }
    }

    /// The route for the canonical `path`: the longest prefix that matches it.
    pub fn find(&self, path: &str) -> Option<(&Prefix, &T)> {
        self.routes
            .iter()
            .find(|(prefix, _)| prefix.matches(path))
            .map(|(prefix, target)| (prefix, target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(prefixes: &[(&str, bool)]) -> RouteTable<usize> {
        RouteTable::new(
            prefixes
                .iter()
                .enumerate()
                .map(|(index, (prefix, any_case))| (Prefix::new(prefix, *any_case).unwrap(), index))
                .collect(),
        )
    }

    #[test]
    fn the_longest_matching_prefix_wins_on_segment_boundaries() {
        let routes = table(&[("/api", false), ("/api/admin/", false), ("/", false)]);
        let found = |path: &str| routes.find(path).map(|(_, index)| *index);
        assert_eq!(found("/api/admin/x"), Some(1));
        assert_eq!(found("/api/admin"), Some(1));
        assert_eq!(found("/api/adminx"), Some(0));
        assert_eq!(found("/api"), Some(0));
        assert_eq!(found("/apix"), Some(2));
        assert_eq!(found("/"), Some(2));
        let label = |table: &RouteTable<usize>, path: &str| {
            table
                .find(path)
                .map(|(prefix, _)| prefix.label().to_owned())
        };
        assert_eq!(
            label(&routes, "/api/admin/x").as_deref(),
            Some("/api/admin/")
        );
        assert_eq!(label(&table(&[("/api", false)]), "/other"), None);
    }

    #[test]
    fn equal_prefixes_keep_configuration_order() {
        let routes = table(&[("/a", false), ("/b", false), ("/A", true)]);
        assert_eq!(routes.find("/a/x").map(|(_, i)| *i), Some(0));
        assert_eq!(routes.find("/A/x").map(|(_, i)| *i), Some(2));
    }

    #[test]
    fn letter_case_matters_unless_the_route_says_otherwise() {
        let strict = Prefix::new("/Api", false).unwrap();
        let any = Prefix::new("/Api", true).unwrap();
        assert!(strict.matches("/Api/x") && !strict.matches("/api/x"));
        assert!(any.matches("/api/x") && any.matches("/API"));
    }

    #[test]
    fn prefixes_are_matched_in_canonical_form_and_labelled_as_configured() {
        let prefix = Prefix::new("/%61pi//v1/", false).unwrap();
        assert!(prefix.matches("/api/v1/x"));
        assert_eq!(prefix.label(), "/%61pi//v1/");
        assert_eq!(prefix.rest("/api/v1/x"), "/x");
        assert_eq!(prefix.rest("/api/v1"), "");
        let root = Prefix::new("/", false).unwrap();
        assert!(root.matches("/") && root.matches("/x"));
        assert_eq!(root.rest("/x"), "/x");
        assert!(Prefix::new("/a;b", false).is_err());
    }
}
