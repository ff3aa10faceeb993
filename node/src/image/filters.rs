//! `docker images` / `docker image prune` filters (pure logic).

use std::collections::{BTreeMap, HashMap};

use super::ImageError;

/// A `label` filter: `key` (present) or `key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LabelFilter {
    key: String,
    value: Option<String>,
}

impl LabelFilter {
    fn parse(s: &str) -> LabelFilter {
        match s.split_once('=') {
            Some((k, v)) => LabelFilter {
                key: k.to_owned(),
                value: Some(v.to_owned()),
            },
            None => LabelFilter {
                key: s.to_owned(),
                value: None,
            },
        }
    }

    fn matches(&self, labels: &HashMap<String, String>) -> bool {
        match (&self.value, labels.get(&self.key)) {
            (None, found) => found.is_some(),
            (Some(want), Some(have)) => want == have,
            (Some(_), None) => false,
        }
    }
}

/// Parsed image filters.
#[derive(Debug, Clone, Default)]
pub(super) struct ImageFilter {
    /// `dangling=true|false`.
    pub dangling: Option<bool>,
    /// `reference=` globs over familiar names.
    pub references: Vec<String>,
    /// `label=` (all must match).
    pub labels: Vec<LabelFilter>,
    /// `label!=` (none may match).
    pub not_labels: Vec<LabelFilter>,
    /// `before=` image reference.
    pub before: Option<String>,
    /// `since=` image reference.
    pub since: Option<String>,
    /// `until=`: created strictly before this unix time.
    pub until: Option<i64>,
}

impl ImageFilter {
    /// Parses `filters`, refusing names outside `allowed` with Docker's
    /// message. `now` anchors relative `until` durations.
    pub fn parse(
        filters: &BTreeMap<String, Vec<String>>,
        allowed: &[&str],
        now: i64,
    ) -> Result<ImageFilter, ImageError> {
        let mut f = ImageFilter::default();
        for (key, values) in filters {
            if !allowed.contains(&key.as_str()) {
                return Err(ImageError::Invalid(format!("invalid filter '{key}'")));
            }
            match key.as_str() {
                "dangling" => {
                    for v in values {
                        f.dangling = Some(match v.to_lowercase().as_str() {
                            "true" | "1" => true,
                            "false" | "0" => false,
                            _ => {
                                return Err(ImageError::Invalid(format!(
                                    "invalid filter 'dangling={v}'"
                                )));
                            }
                        });
                    }
                }
                "reference" => f.references.extend(values.iter().cloned()),
                "label" => f
                    .labels
                    .extend(values.iter().map(|v| LabelFilter::parse(v))),
                "label!" => f
                    .not_labels
                    .extend(values.iter().map(|v| LabelFilter::parse(v))),
                "before" => f.before = values.last().cloned(),
                "since" => f.since = values.last().cloned(),
                "until" => {
                    for v in values {
                        f.until = Some(parse_until(v, now)?);
                    }
                }
                _ => return Err(ImageError::Invalid(format!("invalid filter '{key}'"))),
            }
        }
        Ok(f)
    }

    /// Label filters against an image's labels.
    pub fn labels_match(&self, labels: &HashMap<String, String>) -> bool {
        self.labels.iter().all(|l| l.matches(labels))
            && !self.not_labels.iter().any(|l| l.matches(labels))
    }

    /// Reference globs: any pattern matching a familiar `name` or
    /// `name:tag` among `tags` (familiar `name:tag` strings).
    pub fn reference_match(&self, tags: &[String]) -> bool {
        if self.references.is_empty() {
            return true;
        }
        self.references.iter().any(|pat| {
            tags.iter().any(|t| {
                let name = t.rsplit_once(':').map(|(n, _)| n).unwrap_or(t);
                glob_match(pat, t) || (!pat.contains(':') && glob_match(pat, name))
            })
        })
    }
}

/// `until` values: unix seconds (optionally fractional), RFC 3339, or a
/// Go duration (`10m`, `24h`, `1h30m`) before `now`.
pub(super) fn parse_until(v: &str, now: i64) -> Result<i64, ImageError> {
    let bad = || ImageError::Invalid(format!("invalid filter 'until={v}'"));
    if let Ok(secs) = v.parse::<f64>() {
        return Ok(secs as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .ok_or_else(bad);
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = v.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push('s');
            chars.next();
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return Err(bad()),
        };
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(bad());
    }
    Ok(now - total as i64)
}

/// Shell-style glob as Go's `path.Match`: `*` and `?` never match `/`.
///
/// Filters come from API clients, so the matcher must stay polynomial on any input: a
/// backtracking matcher takes exponential time on `a*a*a*…b` against `aaaa…`. Since neither
/// wildcard crosses `/`, pattern and name are matched segment by segment, each segment with the
/// greedy star algorithm (on a mismatch, only the most recent `*` absorbs one more character),
/// which is O(|pattern| · |name|) in the worst case and linear on typical patterns.
pub(super) fn glob_match(pattern: &str, s: &str) -> bool {
    let mut ps = pattern.split('/');
    let mut ss = s.split('/');
    loop {
        match (ps.next(), ss.next()) {
            (None, None) => return true,
            (Some(p), Some(n)) => {
                let p: Vec<char> = p.chars().collect();
                let n: Vec<char> = n.chars().collect();
                if !segment_match(&p, &n) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// `*` (any run) and `?` (one character) within one `/`-free segment, without recursion.
fn segment_match(p: &[char], s: &[char]) -> bool {
    let (mut pi, mut si) = (0, 0);
    // Where the last `*` was and how much of `s` it has absorbed so far.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == '?' || c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn filters(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            m.entry((*k).to_owned()).or_default().push((*v).to_owned());
        }
        m
    }

    #[test]
    fn globs() {
        assert!(glob_match("busy*", "busybox"));
        assert!(glob_match("busybox:*", "busybox:latest"));
        assert!(!glob_match("busy*", "me/busybox"));
        assert!(glob_match("*/app", "me/app"));
        assert!(glob_match("b?sybox", "busybox"));
        assert!(!glob_match("busybox", "busybox2"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("*/*:*", "me/app:v1"));
        assert!(!glob_match("*", "me/app"));
        assert!(!glob_match("me/*", "me"));
        assert!(glob_match("*x?", "abxxy"));
        assert!(glob_match("ü*", "über"));
    }

    /// A pattern that makes a backtracking matcher explore 2^n paths answers at once.
    #[test]
    fn pathological_glob_is_fast() {
        let name = "a".repeat(5_000);
        let pattern = format!("{}b", "a*".repeat(50));
        let t = std::time::Instant::now();
        assert!(!glob_match(&pattern, &name));
        assert!(glob_match(&"*a".repeat(100), &name));
        let f =
            ImageFilter::parse(&filters(&[("reference", &pattern)]), &["reference"], 0).unwrap();
        assert!(!f.reference_match(&[format!("{name}:latest")]));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "took {:?}",
            t.elapsed()
        );
    }

    #[test]
    fn reference_filter_matches_name_or_tag() {
        let f = ImageFilter::parse(&filters(&[("reference", "busy*")]), &["reference"], 0).unwrap();
        assert!(f.reference_match(&["busybox:latest".to_owned()]));
        assert!(!f.reference_match(&["alpine:latest".to_owned()]));
        assert!(!f.reference_match(&[]));
        let f = ImageFilter::parse(&filters(&[("reference", "busybox:v*")]), &["reference"], 0)
            .unwrap();
        assert!(f.reference_match(&["busybox:v1".to_owned()]));
        assert!(!f.reference_match(&["busybox:latest".to_owned()]));
    }

    #[test]
    fn labels_and_dangling() {
        let f = ImageFilter::parse(
            &filters(&[("label", "a"), ("label", "b=2"), ("dangling", "true")]),
            &["label", "dangling"],
            0,
        )
        .unwrap();
        assert_eq!(f.dangling, Some(true));
        let mut l = HashMap::new();
        l.insert("a".to_owned(), "x".to_owned());
        assert!(!f.labels_match(&l));
        l.insert("b".to_owned(), "2".to_owned());
        assert!(f.labels_match(&l));
        let f = ImageFilter::parse(&filters(&[("label!", "a")]), &["label!"], 0).unwrap();
        assert!(!f.labels_match(&l));
    }

    #[test]
    fn bad_filters_are_rejected() {
        assert!(ImageFilter::parse(&filters(&[("nope", "x")]), &["label"], 0).is_err());
        assert!(ImageFilter::parse(&filters(&[("dangling", "maybe")]), &["dangling"], 0).is_err());
        assert!(parse_until("soon", 0).is_err());
    }

    #[test]
    fn until_forms() {
        assert_eq!(parse_until("1h30m", 10_000).unwrap(), 10_000 - 5400);
        assert_eq!(parse_until("1700000000", 0).unwrap(), 1_700_000_000);
        assert_eq!(
            parse_until("2023-11-14T22:13:20Z", 0).unwrap(),
            1_700_000_000
        );
    }
}
