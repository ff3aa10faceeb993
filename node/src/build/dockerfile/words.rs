//! Word splitting, quote removal and `$VAR` substitution the way the
//! Dockerfile shell lexer does them: `'...'` literal, `"..."` with
//! substitution, the escape character quoting the next character, and
//! `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
//! `${VAR+word}`, `${VAR:?message}`.

/// Splits on unquoted whitespace, keeping quotes and escapes as written
/// (they are removed by [`expand`]).
pub fn split(s: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == escape && q == '"' {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                in_word = true;
                cur.push(c);
                if c == escape {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == '"' || c == '\'' {
                    quote = Some(c);
                }
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Removes quotes and substitutes variables in one word; `lookup` gives a
/// variable's value (None when unset). Errors carry `${VAR:?msg}` texts
/// and malformed substitutions.
pub fn expand(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut pos = 0;
    let mut out = String::new();
    while pos < chars.len() {
        let c = chars[pos];
        pos += 1;
        if c == escape {
            if let Some(&n) = chars.get(pos) {
                out.push(n);
                pos += 1;
            }
        } else if c == '\'' {
            while pos < chars.len() && chars[pos] != '\'' {
                out.push(chars[pos]);
                pos += 1;
            }
            if pos >= chars.len() {
                return Err(
                    "unexpected end of statement while looking for matching single-quote".into(),
                );
            }
            pos += 1;
        } else if c == '"' {
            loop {
                let Some(&d) = chars.get(pos) else {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    );
                };
                pos += 1;
                if d == '"' {
                    break;
                } else if d == escape {
                    match chars.get(pos) {
                        Some(&n) if n == '"' || n == '$' || n == escape => {
                            out.push(n);
                            pos += 1;
                        }
                        _ => out.push(d),
                    }
                } else if d == '$' {
                    out.push_str(&dollar(&chars, &mut pos, escape, lookup)?);
                } else {
                    out.push(d);
                }
            }
        } else if c == '$' {
            out.push_str(&dollar(&chars, &mut pos, escape, lookup)?);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A substitution after a `$` at `chars[*pos - 1]`.
fn dollar(
    chars: &[char],
    pos: &mut usize,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    match chars.get(*pos) {
        Some('{') => {
            *pos += 1;
            let start = *pos;
            while *pos < chars.len() && is_name_char(chars[*pos]) {
                *pos += 1;
            }
            let name: String = chars[start..*pos].iter().collect();
            if name.is_empty() {
                return Err("bad substitution".into());
            }
            match chars.get(*pos) {
                Some('}') => {
                    *pos += 1;
                    Ok(lookup(&name).unwrap_or_default())
                }
                Some(&op) if op == ':' || op == '-' || op == '+' || op == '?' => {
                    let colon = op == ':';
                    if colon {
                        *pos += 1;
                    }
                    let Some(&kind) = chars.get(*pos) else {
                        return Err(format!("missing '}}' in substitution of {name}"));
                    };
                    *pos += 1;
                    // The word runs to the matching brace.
                    let wstart = *pos;
                    let mut depth = 0;
                    while *pos < chars.len() {
                        match chars[*pos] {
                            '{' => depth += 1,
                            '}' if depth == 0 => break,
                            '}' => depth -= 1,
                            _ => {}
                        }
                        *pos += 1;
                    }
                    if *pos >= chars.len() {
                        return Err(format!("missing '}}' in substitution of {name}"));
                    }
                    let raw: String = chars[wstart..*pos].iter().collect();
                    *pos += 1;
                    let value = lookup(&name);
                    let set = match &value {
                        Some(v) => !(colon && v.is_empty()),
                        None => false,
                    };
                    match kind {
                        '-' if set => Ok(value.unwrap_or_default()),
                        '-' => expand(&raw, escape, lookup),
                        '+' if set => expand(&raw, escape, lookup),
                        '+' => Ok(String::new()),
                        '?' if set => Ok(value.unwrap_or_default()),
                        '?' => {
                            let msg = expand(&raw, escape, lookup)?;
                            Err(format!(
                                "{name}: {}",
                                if msg.is_empty() {
                                    "is not allowed to be unset"
                                } else {
                                    &msg
                                }
                            ))
                        }
                        other => Err(format!("unsupported modifier ({other}) in substitution")),
                    }
                }
                _ => Err(format!("missing '}}' in substitution of {name}")),
            }
        }
        Some(&c) if is_name_char(c) && !c.is_ascii_digit() => {
            let start = *pos;
            while *pos < chars.len() && is_name_char(chars[*pos]) {
                *pos += 1;
            }
            let name: String = chars[start..*pos].iter().collect();
            Ok(lookup(&name).unwrap_or_default())
        }
        _ => Ok("$".to_owned()),
    }
}

/// Splits then expands every word (COPY sources, EXPOSE ports, VOLUME).
pub fn expand_all(
    s: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    split(s, escape)
        .iter()
        .map(|w| expand(w, escape, lookup))
        .collect()
}

/// `KEY=value KEY2="v 2"` pairs (ENV, LABEL, ARG), or the legacy
/// `KEY value with spaces` form when the first word has no `=`
/// (`legacy` false refuses it, as ARG does). Values are expanded; keys
/// have their quotes removed.
pub fn name_values(
    s: &str,
    escape: char,
    legacy: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Option<String>)>, String> {
    let words = split(s, escape);
    let Some(first) = words.first() else {
        return Err("requires at least one argument".into());
    };
    if !first.contains('=') {
        if words.len() == 1 {
            return Ok(vec![(expand(first, escape, lookup)?, None)]);
        }
        if !legacy {
            return Err("requires exactly one argument".into());
        }
        // Legacy form: the value is the rest of the line, as written.
        let rest = s.trim_start()[first.len()..].trim();
        return Ok(vec![(
            expand(first, escape, lookup)?,
            Some(expand(rest, escape, lookup)?),
        )]);
    }
    words
        .iter()
        .map(|w| {
            let (k, v) = match w.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (w.as_str(), None),
            };
            let key = expand(k, escape, &|_| None)?;
            if key.is_empty() {
                return Err(format!("{w}: key can't be empty"));
            }
            let value = match v {
                Some(v) => Some(expand(v, escape, lookup)?),
                None => None,
            };
            Ok((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "EMPTY" => Some(String::new()),
            "SP" => Some("a b".into()),
            _ => None,
        }
    }

    fn x(s: &str) -> String {
        expand(s, '\\', &env).unwrap()
    }

    #[test]
    fn substitution_forms() {
        assert_eq!(x("$A"), "alpha");
        assert_eq!(x("${A}x"), "alphax");
        assert_eq!(x("$Ax"), "");
        assert_eq!(x("${NOPE:-def}"), "def");
        assert_eq!(x("${EMPTY:-def}"), "def");
        assert_eq!(x("${EMPTY-def}"), "");
        assert_eq!(x("${A:-def}"), "alpha");
        assert_eq!(x("${A:+alt}"), "alt");
        assert_eq!(x("${NOPE:+alt}"), "");
        assert_eq!(x("${NOPE:-$A}"), "alpha");
        assert_eq!(x("a$"), "a$");
        assert_eq!(x("$1"), "$1");
        assert!(
            expand("${NOPE:?must be set}", '\\', &env)
                .unwrap_err()
                .contains("must be set")
        );
        assert!(expand("${A", '\\', &env).is_err());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(x("'$A'"), "$A");
        assert_eq!(x("\"$A b\""), "alpha b");
        assert_eq!(x("\\$A"), "$A");
        assert_eq!(x("\"a\\\"b\\n\""), "a\"b\\n");
        assert_eq!(expand("`$A", '`', &env).unwrap(), "$A");
    }

    #[test]
    fn splitting_keeps_quoted_spaces() {
        assert_eq!(
            split("a \"b c\"  'd e' f\\ g", '\\'),
            ["a", "\"b c\"", "'d e'", "f\\ g"]
        );
        assert_eq!(
            expand_all("$SP \"$SP\" f\\ g", '\\', &env).unwrap(),
            ["a b", "a b", "f g"]
        );
    }

    #[test]
    fn name_value_forms() {
        let nv = name_values("K=v K2=\"x y\" K3=$A", '\\', true, &env).unwrap();
        assert_eq!(
            nv,
            [
                ("K".into(), Some("v".into())),
                ("K2".into(), Some("x y".into())),
                ("K3".into(), Some("alpha".into()))
            ]
        );
        let nv = name_values("KEY some value $A", '\\', true, &env).unwrap();
        assert_eq!(nv, [("KEY".into(), Some("some value alpha".into()))]);
        assert_eq!(
            name_values("NAME", '\\', false, &env).unwrap(),
            [("NAME".into(), None)]
        );
        assert!(name_values("A b", '\\', false, &env).is_err());
        assert!(name_values("=v", '\\', true, &env).is_err());
    }
}
