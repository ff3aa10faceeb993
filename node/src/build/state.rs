//! A build stage's state between steps: the current image, its config
//! (Docker's `Config` JSON), the ARGs in scope and the shell, plus the
//! variable lookup that Dockerfile substitution uses (ENV over ARG).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

/// The default shell of shell-form instructions.
pub fn default_shell() -> Vec<String> {
    vec!["/bin/sh".to_owned(), "-c".to_owned()]
}

/// One stage being built.
#[derive(Debug, Clone)]
pub struct Stage {
    /// `AS name`, lowercased.
    pub name: Option<String>,
    /// The current image ID; None right after `FROM scratch`.
    pub image: Option<String>,
    /// The config of the image being made.
    pub config: Map<String, Value>,
    /// ARGs declared in this stage with their values (None: no value).
    pub args: Vec<(String, Option<String>)>,
}

impl Stage {
    /// A stage starting from an image with `config`.
    pub fn new(name: Option<String>, image: Option<String>, config: Map<String, Value>) -> Stage {
        Stage {
            name,
            image,
            config,
            args: Vec::new(),
        }
    }

    /// `Config.Env` as `KEY=value` strings.
    pub fn env(&self) -> Vec<String> {
        strings(self.config.get("Env"))
    }

    /// Sets `key=value` in `Config.Env`, replacing an earlier value.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let mut env = self.env();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(format!("{key}={value}"));
        self.config.insert("Env".to_owned(), json!(env));
    }

    /// The value of a variable for substitution: ENV wins over ARG.
    pub fn lookup(&self, name: &str) -> Option<String> {
        for e in self.env().iter().rev() {
            if let Some((k, v)) = e.split_once('=')
                && k == name
            {
                return Some(v.to_owned());
            }
        }
        self.args
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.clone())
    }

    /// The ARGs with a value that ENV does not shadow: they go into RUN's
    /// environment and its cache key (`|N A=1 B=2 ...`), sorted as dockerd.
    pub fn run_args(&self) -> Vec<String> {
        let env = self.env();
        let mut out: Vec<String> = Vec::new();
        for (k, v) in &self.args {
            let Some(v) = v else { continue };
            if env.iter().any(|e| e.split('=').next() == Some(k.as_str())) {
                continue;
            }
            out.retain(|e| e.split('=').next() != Some(k.as_str()));
            out.push(format!("{k}={v}"));
        }
        out.sort();
        out
    }

    /// The shell of shell-form instructions (`SHELL`).
    pub fn shell(&self) -> Vec<String> {
        let s = strings(self.config.get("Shell"));
        if s.is_empty() { default_shell() } else { s }
    }

    /// `Config.WorkingDir` (empty: `/`).
    pub fn workdir(&self) -> String {
        self.config
            .get("WorkingDir")
            .and_then(Value::as_str)
            .filter(|w| !w.is_empty())
            .unwrap_or("/")
            .to_owned()
    }

    /// `Config.User`.
    pub fn user(&self) -> String {
        self.config
            .get("User")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    }

    /// A metadata step's history text: `<shell> #(nop)  <text>`.
    pub fn nop(&self, text: &str) -> String {
        format!("{} #(nop)  {text}", self.shell().join(" "))
    }
}

/// A JSON array of strings as a Vec (anything else: empty).
pub fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds, as HEALTHCHECK
/// flags take them.
pub fn go_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration \"{s}\"");
    if s == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Ok(total as i64)
}

/// Build args given to the build, with the predefined proxy args that need
/// no ARG line.
pub const PREDEFINED_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The build args as given (`--build-arg`), None values dropped.
pub fn given_args(raw: &HashMap<String, Option<String>>) -> HashMap<String, String> {
    raw.iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_over_arg_and_run_args_sorted() {
        let mut s = Stage::new(None, None, Map::new());
        s.args.push(("B".into(), Some("2".into())));
        s.args.push(("A".into(), Some("1".into())));
        s.args.push(("C".into(), None));
        s.set_env("B", "env");
        assert_eq!(s.lookup("B").as_deref(), Some("env"));
        assert_eq!(s.lookup("A").as_deref(), Some("1"));
        assert_eq!(s.lookup("C"), None);
        assert_eq!(s.run_args(), ["A=1"]);
        s.set_env("B", "again");
        assert_eq!(s.env(), ["B=again"]);
    }

    #[test]
    fn durations() {
        assert_eq!(go_duration("30s"), Ok(30_000_000_000));
        assert_eq!(go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(go_duration("500ms"), Ok(500_000_000));
        assert!(go_duration("5").is_err());
        assert!(go_duration("x").is_err());
    }
}
