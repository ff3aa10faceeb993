//! FROM and the instructions that only change the config (ENV, ARG,
//! LABEL, EXPOSE, VOLUME, USER, CMD, ENTRYPOINT, HEALTHCHECK, STOPSIGNAL,
//! SHELL, ONBUILD, MAINTAINER); WORKDIR, RUN, COPY and ADD make layers.

use serde_json::{Map, Value, json};

use super::dockerfile::{self, Instruction, words};
use super::state::Stage;
use super::{BuildError, Builder, output};

fn bad(i: &Instruction, msg: impl std::fmt::Display) -> BuildError {
    BuildError::Invalid(format!("{} {msg}", i.name.to_uppercase()))
}

/// The exec form, or the shell form wrapped in `shell`.
pub(super) fn command(i: &Instruction, shell: &[String]) -> Vec<String> {
    match &i.json {
        Some(v) => v.clone(),
        None => {
            let mut c = shell.to_vec();
            c.push(i.args.clone());
            c
        }
    }
}

impl Builder {
    /// `FROM [--platform=p] image|stage|scratch [AS name]`.
    pub(super) async fn from(&mut self, i: &Instruction) -> Result<Stage, BuildError> {
        i.check_flags(&["platform"]).map_err(|e| bad(i, e))?;
        let meta = |n: &str| {
            self.meta_args
                .iter()
                .rev()
                .find(|(k, _)| k == n)
                .and_then(|(_, v)| v.clone())
        };
        let ws = words::expand_all(&i.args, self.escape, &meta).map_err(|e| bad(i, e))?;
        let (base, name) = match ws.as_slice() {
            [b] => (b.clone(), None),
            [b, as_, n] if as_.eq_ignore_ascii_case("as") => {
                (b.clone(), Some(n.to_ascii_lowercase()))
            }
            _ => return Err(bad(i, "requires either one or three arguments")),
        };
        if let Some(p) = i.flag("platform") {
            let p = words::expand(p, self.escape, &meta).map_err(|e| bad(i, e))?;
            let host = format!(
                "linux/{}",
                std::env::consts::ARCH
                    .replace("x86_64", "amd64")
                    .replace("aarch64", "arm64")
            );
            if p != host && p != "linux" {
                return Err(bad(
                    i,
                    format!("--platform={p}: Shoal builds for {host} only"),
                ));
            }
        }
        if base.is_empty() {
            return Err(bad(i, "requires a base image"));
        }
        if base.eq_ignore_ascii_case("scratch") {
            self.out.text(" ---> \n").await;
            return Ok(Stage::new(name, None, Map::new()));
        }
        let lower = base.to_ascii_lowercase();
        if let Some(d) = self
            .done
            .iter()
            .rev()
            .find(|d| d.name.as_deref() == Some(lower.as_str()))
        {
            let (img, cfg) = (d.image.clone(), d.config.clone());
            if let Some(id) = &img {
                self.out
                    .text(format!(" ---> {}\n", output::short(id)))
                    .await;
            }
            return Ok(Stage::new(name, img, cfg));
        }
        let auth = self.auth_for(&base);
        if self.opts.pull {
            self.out
                .text(format!("{}: Pulling from {}\n", base, base))
                .await;
        }
        let id = self
            .engine
            .ensure_image(&base, auth.as_deref(), None, self.opts.pull)
            .await?;
        let entry = self.engine.images().get(&id).await?;
        let config = match entry.config.config.clone() {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        self.out
            .text(format!(" ---> {}\n", output::short(&id)))
            .await;
        let mut stage = Stage::new(name, Some(id), config);
        self.onbuild_triggers(&mut stage).await?;
        Ok(stage)
    }

    /// Runs the base image's ONBUILD triggers, then drops them from the
    /// config (a child does not inherit them).
    async fn onbuild_triggers(&mut self, stage: &mut Stage) -> Result<(), BuildError> {
        let triggers = super::state::strings(stage.config.get("OnBuild"));
        if triggers.is_empty() {
            return Ok(());
        }
        stage.config.remove("OnBuild");
        let n = triggers.len();
        self.out
            .text(format!(
                "# Executing {n} build trigger{}\n",
                if n == 1 { "" } else { "s" }
            ))
            .await;
        for t in triggers {
            let df = dockerfile::parse(&t).map_err(|e| BuildError::Invalid(e.to_string()))?;
            for i in df.instructions {
                if matches!(i.name.as_str(), "onbuild" | "from" | "maintainer") {
                    return Err(BuildError::Invalid(format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        i.name.to_uppercase()
                    )));
                }
                self.dispatch(stage, &i).await?;
            }
        }
        Ok(())
    }

    /// `X-Registry-Config` entry for `image`'s registry, re-encoded as an
    /// `X-Registry-Auth` value.
    fn auth_for(&self, image: &str) -> Option<String> {
        use base64::Engine as _;
        let raw = self.opts.registry_config.as_deref()?;
        let decoded = base64::engine::general_purpose::URL_SAFE
            .decode(raw.trim())
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw.trim()))
            .ok()?;
        let map: Map<String, Value> = serde_json::from_slice(&decoded).ok()?;
        let domain = crate::image::Reference::parse(image).ok()?.domain.clone();
        let hub = domain == "docker.io";
        let (_, auth) = map.iter().find(|(k, _)| {
            let host = k
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or("");
            host == domain || (hub && (host == "index.docker.io" || host == "registry-1.docker.io"))
        })?;
        let bytes = serde_json::to_vec(auth).ok()?;
        Some(base64::engine::general_purpose::URL_SAFE.encode(bytes))
    }

    /// One instruction of a stage (FROM excluded).
    pub(super) async fn dispatch(
        &mut self,
        stage: &mut Stage,
        i: &Instruction,
    ) -> Result<(), BuildError> {
        let esc = self.escape;
        match i.name.as_str() {
            "run" => return self.run_step(stage, i).await,
            "copy" | "add" => return self.copy_step(stage, i).await,
            "workdir" => return self.workdir_step(stage, i).await,
            _ => {}
        }
        if i.name != "healthcheck" {
            i.check_flags(&[]).map_err(|e| bad(i, e))?;
        }
        let text = match i.name.as_str() {
            "arg" => {
                let pairs = words::name_values(&i.args, esc, false, &|n| stage.lookup(n))
                    .map_err(|e| bad(i, e))?;
                let mut shown = Vec::new();
                for (k, default) in pairs {
                    let value = match self.given.get(&k) {
                        Some(g) => Some(g.clone()),
                        None => default.clone().or_else(|| {
                            self.meta_args
                                .iter()
                                .rev()
                                .find(|(m, _)| *m == k)
                                .and_then(|(_, v)| v.clone())
                        }),
                    };
                    if self.opts.build_args.contains_key(&k) {
                        self.used.insert(k.clone());
                    }
                    shown.push(match &default {
                        Some(d) => format!("{k}={d}"),
                        None => k.clone(),
                    });
                    stage.args.push((k, value));
                }
                format!("ARG {}", shown.join(" "))
            }
            "env" => {
                let pairs = words::name_values(&i.args, esc, true, &|n| stage.lookup(n))
                    .map_err(|e| bad(i, e))?;
                let mut shown = Vec::new();
                for (k, v) in pairs {
                    let Some(v) = v else {
                        return Err(bad(i, "must have two arguments"));
                    };
                    stage.set_env(&k, &v);
                    shown.push(format!("{k}={v}"));
                }
                format!("ENV {}", shown.join(" "))
            }
            "label" => {
                let pairs = words::name_values(&i.args, esc, true, &|n| stage.lookup(n))
                    .map_err(|e| bad(i, e))?;
                let labels = stage.config.entry("Labels").or_insert_with(|| json!({}));
                if !labels.is_object() {
                    *labels = json!({});
                }
                let mut shown = Vec::new();
                for (k, v) in pairs {
                    let Some(v) = v else {
                        return Err(bad(i, "requires at least one argument"));
                    };
                    if let Some(m) = labels.as_object_mut() {
                        m.insert(k.clone(), json!(v));
                    }
                    shown.push(format!("{k}={v}"));
                }
                format!("LABEL {}", shown.join(" "))
            }
            "expose" => {
                let ports =
                    words::expand_all(&i.args, esc, &|n| stage.lookup(n)).map_err(|e| bad(i, e))?;
                if ports.is_empty() {
                    return Err(bad(i, "requires at least one argument"));
                }
                let map = stage
                    .config
                    .entry("ExposedPorts")
                    .or_insert_with(|| json!({}));
                if !map.is_object() {
                    *map = json!({});
                }
                let mut shown = Vec::new();
                for p in &ports {
                    for key in expose_keys(p).map_err(|e| bad(i, e))? {
                        if let Some(m) = map.as_object_mut() {
                            m.insert(key.clone(), json!({}));
                        }
                        shown.push(key);
                    }
                }
                shown.sort();
                format!("EXPOSE {}", shown.join(" "))
            }
            "volume" => {
                let vols = match &i.json {
                    Some(v) => v.clone(),
                    None => words::expand_all(&i.args, esc, &|n| stage.lookup(n))
                        .map_err(|e| bad(i, e))?,
                };
                if vols.is_empty() || vols.iter().any(|v| v.trim().is_empty()) {
                    return Err(bad(i, "specified can not be an empty string"));
                }
                let map = stage.config.entry("Volumes").or_insert_with(|| json!({}));
                if !map.is_object() {
                    *map = json!({});
                }
                for v in &vols {
                    if let Some(m) = map.as_object_mut() {
                        m.insert(v.clone(), json!({}));
                    }
                }
                format!(
                    "VOLUME {}",
                    serde_json::to_string(&vols).unwrap_or_default()
                )
            }
            "user" => {
                let u = words::expand(i.args.trim(), esc, &|n| stage.lookup(n))
                    .map_err(|e| bad(i, e))?;
                if u.is_empty() {
                    return Err(bad(i, "requires exactly one argument"));
                }
                stage.config.insert("User".into(), json!(u));
                format!("USER {u}")
            }
            "stopsignal" => {
                let s = words::expand(i.args.trim(), esc, &|n| stage.lookup(n))
                    .map_err(|e| bad(i, e))?;
                if s.is_empty() {
                    return Err(bad(i, "requires exactly one argument"));
                }
                stage.config.insert("StopSignal".into(), json!(s));
                format!("STOPSIGNAL {s}")
            }
            "cmd" => {
                let cmd = command(i, &stage.shell());
                stage.config.insert("Cmd".into(), json!(cmd));
                format!("CMD {}", serde_json::to_string(&cmd).unwrap_or_default())
            }
            "entrypoint" => {
                let ep = if i.json.is_none() && i.args.trim().is_empty() {
                    Vec::new()
                } else {
                    command(i, &stage.shell())
                };
                stage.config.insert("Entrypoint".into(), json!(ep));
                // dockerd: a new ENTRYPOINT resets an inherited CMD.
                stage.config.insert("Cmd".into(), Value::Null);
                format!(
                    "ENTRYPOINT {}",
                    serde_json::to_string(&ep).unwrap_or_default()
                )
            }
            "shell" => {
                let Some(sh) = i.json.clone() else {
                    return Err(BuildError::Invalid(
                        "SHELL requires the arguments to be in JSON form".into(),
                    ));
                };
                if sh.is_empty() {
                    return Err(bad(i, "requires at least one argument"));
                }
                stage.config.insert("Shell".into(), json!(sh));
                format!("SHELL {}", serde_json::to_string(&sh).unwrap_or_default())
            }
            "onbuild" => {
                let inner = i.args.trim();
                let first = inner
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if matches!(first.as_str(), "onbuild" | "from" | "maintainer") {
                    return Err(BuildError::Invalid(format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        first.to_uppercase()
                    )));
                }
                if first.is_empty() || !dockerfile::KNOWN.contains(&first.as_str()) {
                    return Err(BuildError::Invalid(format!(
                        "dockerfile parse error on line {}: unknown instruction: {}",
                        i.line,
                        first.to_uppercase()
                    )));
                }
                let mut list = super::state::strings(stage.config.get("OnBuild"));
                list.push(inner.to_owned());
                stage.config.insert("OnBuild".into(), json!(list));
                format!("ONBUILD {inner}")
            }
            "healthcheck" => self.healthcheck(stage, i)?,
            "maintainer" => {
                // Deprecated; dockerd keeps it as the image's author, which
                // Shoal's step images do not record, so say so.
                return Err(BuildError::Invalid(
                    "MAINTAINER is not supported by Shoal's builder; use LABEL maintainer=..."
                        .into(),
                ));
            }
            other => {
                return Err(BuildError::Invalid(format!(
                    "unknown instruction: {}",
                    other.to_uppercase()
                )));
            }
        };
        let key = stage.nop(&text);
        self.commit_config(stage, &key).await?;
        Ok(())
    }

    fn healthcheck(&self, stage: &mut Stage, i: &Instruction) -> Result<String, BuildError> {
        i.check_flags(&[
            "interval",
            "timeout",
            "start-period",
            "start-interval",
            "retries",
        ])
        .map_err(|e| bad(i, e))?;
        let args = i.args.trim();
        let (kind, rest) = match args.find(char::is_whitespace) {
            Some(p) => (&args[..p], args[p..].trim_start()),
            None => (args, ""),
        };
        let mut hc = Map::new();
        if kind.eq_ignore_ascii_case("none") {
            if !rest.is_empty() || !i.flags.is_empty() {
                return Err(bad(i, "NONE takes no arguments"));
            }
            hc.insert("Test".into(), json!(["NONE"]));
        } else if kind.eq_ignore_ascii_case("cmd") {
            let test = match serde_json::from_str::<Vec<String>>(rest) {
                Ok(v) if rest.starts_with('[') => {
                    let mut t = vec!["CMD".to_owned()];
                    t.extend(v);
                    t
                }
                _ => vec!["CMD-SHELL".to_owned(), rest.to_owned()],
            };
            if rest.is_empty() {
                return Err(bad(i, "missing command after HEALTHCHECK CMD"));
            }
            hc.insert("Test".into(), json!(test));
            for (flag, key) in [
                ("interval", "Interval"),
                ("timeout", "Timeout"),
                ("start-period", "StartPeriod"),
                ("start-interval", "StartInterval"),
            ] {
                if let Some(v) = i.flag(flag) {
                    let d = super::state::go_duration(v).map_err(|e| bad(i, e))?;
                    hc.insert(key.into(), json!(d));
                }
            }
            if let Some(r) = i.flag("retries") {
                let n: i64 = r
                    .parse()
                    .map_err(|_| bad(i, format!("--retries={r}: not a number")))?;
                hc.insert("Retries".into(), json!(n));
            }
        } else {
            return Err(bad(
                i,
                format!("Unknown type \"{kind}\" in HEALTHCHECK (try CMD)"),
            ));
        }
        let shown = serde_json::to_string(&hc).unwrap_or_default();
        stage.config.insert("Healthcheck".into(), Value::Object(hc));
        Ok(format!("HEALTHCHECK {shown}"))
    }
}

/// `80`, `80/udp`, `8000-8002` → `80/tcp`, ... keys.
fn expose_keys(p: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = match p.split_once('/') {
        Some((a, b)) => (a, b.to_ascii_lowercase()),
        None => (p, "tcp".to_owned()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let parse = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("invalid containerPort: {s}"))
    };
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => (parse(ports)?, parse(ports)?),
    };
    if hi < lo {
        return Err(format!("invalid port range: {ports}"));
    }
    Ok((lo..=hi).map(|n| format!("{n}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expose_forms() {
        assert_eq!(expose_keys("80").unwrap(), ["80/tcp"]);
        assert_eq!(expose_keys("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(expose_keys("8000-8002").unwrap().len(), 3);
        assert!(expose_keys("x").is_err());
        assert!(expose_keys("80/foo").is_err());
    }

    #[test]
    fn shell_and_exec_forms() {
        let df = dockerfile::parse("FROM a\nCMD echo hi\nCMD [\"a\",\"b\"]\n").unwrap();
        let sh = vec!["/bin/sh".to_owned(), "-c".to_owned()];
        assert_eq!(
            command(&df.instructions[1], &sh),
            ["/bin/sh", "-c", "echo hi"]
        );
        assert_eq!(command(&df.instructions[2], &sh), ["a", "b"]);
    }
}
