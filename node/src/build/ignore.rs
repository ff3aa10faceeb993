//! `.dockerignore` patterns with moby's patternmatcher rules: paths are
//! relative to the context root, a leading `/` is dropped, `*` and `?`
//! stop at `/`, `**` spans directories, `!` re-includes, the last matching
//! pattern wins, and a pattern that matches a directory matches
//! everything below it. Pure.

use glob::{MatchOptions, Pattern};

const OPTS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

#[derive(Debug, Clone)]
struct Rule {
    pattern: Pattern,
    exclusion: bool,
}

/// The parsed patterns of one `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    rules: Vec<Rule>,
}

/// Lexically cleans a relative path as Go's `filepath.Clean` does.
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

impl Ignore {
    /// Parses the file's text; comments (`#`) and blank lines are skipped.
    /// Errors name a malformed pattern.
    pub fn parse(text: &str) -> Result<Ignore, String> {
        let mut rules = Vec::new();
        for line in text.lines() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let (exclusion, p) = match t.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, t),
            };
            let p = clean(p);
            if p.is_empty() {
                continue;
            }
            let pattern =
                Pattern::new(&p).map_err(|e| format!("invalid .dockerignore pattern {p}: {e}"))?;
            rules.push(Rule { pattern, exclusion });
        }
        Ok(Ignore { rules })
    }

    /// Whether `path` (relative to the context, `/`-separated) is excluded.
    pub fn excluded(&self, path: &str) -> bool {
        let path = clean(path);
        let parents: Vec<&str> = path
            .char_indices()
            .filter(|(_, c)| *c == '/')
            .map(|(i, _)| &path[..i])
            .collect();
        let mut matched = false;
        for r in &self.rules {
            if r.exclusion != matched {
                // Only a rule that could flip the answer matters.
                continue;
            }
            let hit = r.pattern.matches_with(&path, OPTS)
                || parents.iter().any(|p| r.pattern.matches_with(p, OPTS));
            if hit {
                matched = !r.exclusion;
            }
        }
        matched
    }

    /// Whether any `!` rule exists (then excluded directories must still
    /// be walked, as moby does).
    pub fn has_exclusions(&self) -> bool {
        self.rules.iter().any(|r| r.exclusion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_rules() {
        let ig = Ignore::parse("# comment\n*.log\n/secret\nbuild/\n!build/keep.txt\n**/*.tmp\n")
            .unwrap();
        assert!(ig.excluded("a.log"));
        assert!(!ig.excluded("dir/a.log"), "* does not cross /");
        assert!(ig.excluded("secret"));
        assert!(
            ig.excluded("secret/inner/file"),
            "a directory match covers its contents"
        );
        assert!(ig.excluded("build/out.o"));
        assert!(!ig.excluded("build/keep.txt"));
        assert!(ig.excluded("x/y/z.tmp"));
        assert!(ig.excluded("z.tmp"));
        assert!(!ig.excluded("src/main.rs"));
        assert!(ig.has_exclusions());
    }

    #[test]
    fn last_match_wins() {
        let ig = Ignore::parse("!a\na\n").unwrap();
        assert!(ig.excluded("a"));
        let ig = Ignore::parse("*\n!keep\n").unwrap();
        assert!(!ig.excluded("keep"));
        assert!(ig.excluded("other"));
    }
}
