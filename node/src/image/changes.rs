//! Dockerfile instructions applied to an image config (`docker import
//! --change`): CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME,
//! STOPSIGNAL (the set dockerd accepts there).

use serde_json::{Map, Value, json};

use super::ImageError;

/// Applies each `changes` line to `config` (Docker's PascalCase `Config`).
pub(super) fn apply(config: &mut Map<String, Value>, changes: &[String]) -> Result<(), ImageError> {
    for change in changes {
        for line in change.lines().map(str::trim).filter(|l| !l.is_empty()) {
            apply_line(config, line)?;
        }
    }
    Ok(())
}

fn apply_line(config: &mut Map<String, Value>, line: &str) -> Result<(), ImageError> {
    let (instr, rest) = match line.split_once(char::is_whitespace) {
        Some((i, r)) => (i, r.trim()),
        None => (line, ""),
    };
    let upper = instr.to_uppercase();
    let need_args = || {
        if rest.is_empty() {
            Err(ImageError::Invalid(format!(
                "{upper} requires at least one argument"
            )))
        } else {
            Ok(())
        }
    };
    match upper.as_str() {
        "CMD" | "ENTRYPOINT" => {
            need_args()?;
            let key = if upper == "CMD" { "Cmd" } else { "Entrypoint" };
            config.insert(key.to_owned(), json!(exec_or_shell(rest)));
        }
        "ENV" => {
            need_args()?;
            let env = config.entry("Env").or_insert_with(|| json!([]));
            if !env.is_array() {
                *env = json!([]);
            }
            for (k, v) in key_values(rest, "ENV")? {
                if let Some(list) = env.as_array_mut() {
                    let prefix = format!("{k}=");
                    list.retain(|e| !e.as_str().is_some_and(|s| s.starts_with(&prefix)));
                    list.push(json!(format!("{k}={v}")));
                }
            }
        }
        "LABEL" => {
            need_args()?;
            let labels = config.entry("Labels").or_insert_with(|| json!({}));
            if !labels.is_object() {
                *labels = json!({});
            }
            for (k, v) in key_values(rest, "LABEL")? {
                if let Some(m) = labels.as_object_mut() {
                    m.insert(k, json!(v));
                }
            }
        }
        "WORKDIR" | "USER" | "STOPSIGNAL" => {
            need_args()?;
            let key = match upper.as_str() {
                "WORKDIR" => "WorkingDir",
                "USER" => "User",
                _ => "StopSignal",
            };
            config.insert(key.to_owned(), json!(rest));
        }
        "EXPOSE" => {
            need_args()?;
            let ports = config.entry("ExposedPorts").or_insert_with(|| json!({}));
            if !ports.is_object() {
                *ports = json!({});
            }
            for p in rest.split_whitespace() {
                let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                let valid = !port.is_empty()
                    && port.split('-').all(|n| n.parse::<u16>().is_ok())
                    && matches!(proto.to_lowercase().as_str(), "tcp" | "udp" | "sctp");
                if !valid {
                    return Err(ImageError::Invalid(format!("invalid containerPort: {p}")));
                }
                if let Some(m) = ports.as_object_mut() {
                    m.insert(format!("{port}/{}", proto.to_lowercase()), json!({}));
                }
            }
        }
        "VOLUME" => {
            need_args()?;
            let vols = config.entry("Volumes").or_insert_with(|| json!({}));
            if !vols.is_object() {
                *vols = json!({});
            }
            let list: Vec<String> = match serde_json::from_str::<Vec<String>>(rest) {
                Ok(l) => l,
                Err(_) => rest.split_whitespace().map(str::to_owned).collect(),
            };
            for v in list {
                if let Some(m) = vols.as_object_mut() {
                    m.insert(v, json!({}));
                }
            }
        }
        _ => {
            return Err(ImageError::Invalid(format!(
                "{upper} is not a valid change command"
            )));
        }
    }
    Ok(())
}

/// JSON exec form (`["a","b"]`) or shell form (`/bin/sh -c "…"`).
fn exec_or_shell(rest: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(rest) {
        Ok(v) => v,
        Err(_) => vec!["/bin/sh".to_owned(), "-c".to_owned(), rest.to_owned()],
    }
}

/// `k=v k2="v 2"` pairs, or the legacy one-pair form `k v w`.
fn key_values(rest: &str, instr: &str) -> Result<Vec<(String, String)>, ImageError> {
    let words = split_words(rest);
    let first_has_eq = words.first().is_some_and(|w| w.contains('='));
    if !first_has_eq {
        let (k, v) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| ImageError::Invalid(format!("{instr} must have two arguments")))?;
        return Ok(vec![(k.to_owned(), unquote(v.trim()))]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(ImageError::Invalid(format!(
                "{instr} names can not be blank"
            ))),
        })
        .collect()
}

/// Splits on whitespace outside quotes, removing the quotes.
fn split_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

fn unquote(s: &str) -> String {
    split_words(s).join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn run(changes: &[&str]) -> Map<String, Value> {
        let mut m = Map::new();
        apply(
            &mut m,
            &changes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        m
    }

    #[test]
    fn applies_changes() {
        let m = run(&[
            r#"CMD ["sh","-c","echo hi"]"#,
            "ENTRYPOINT /bin/echo",
            "ENV A=1 B=\"two words\"",
            "ENV C 3",
            "WORKDIR /w",
            "USER nobody",
            "LABEL a=b c=\"d e\"",
            "EXPOSE 80 53/udp",
            "VOLUME /data",
            "STOPSIGNAL SIGTERM",
        ]);
        assert_eq!(m["Cmd"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(m["Entrypoint"], json!(["/bin/sh", "-c", "/bin/echo"]));
        assert_eq!(m["Env"], json!(["A=1", "B=two words", "C=3"]));
        assert_eq!(m["WorkingDir"], "/w");
        assert_eq!(m["User"], "nobody");
        assert_eq!(m["Labels"], json!({"a": "b", "c": "d e"}));
        assert_eq!(m["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(m["Volumes"], json!({"/data": {}}));
        assert_eq!(m["StopSignal"], "SIGTERM");
    }

    #[test]
    fn rejects_other_instructions() {
        let mut m = Map::new();
        let e = apply(&mut m, &["RUN echo".to_owned()]).unwrap_err();
        assert_eq!(e.to_string(), "RUN is not a valid change command");
        assert!(apply(&mut m, &["EXPOSE abc".to_owned()]).is_err());
    }
}
