//! Process-level pieces shared by the container spec and execs: dockerd's
//! environment rules and the OCI `process` of `docker exec`.

use serde_json::{Value, json};

use super::{ALL_CAPS, DEFAULT_CAPS, DEFAULT_PATH_ENV, ResolvedUser, limit_caps};

/// dockerd's `ReplaceOrAppendEnvValues`: `KEY=v` replaces or appends;
/// a bare `KEY` removes the default of that name.
pub fn merge_env(defaults: &[String], overrides: &[String]) -> Vec<String> {
    let key = |e: &str| {
        e.split_once('=')
            .map(|(k, _)| k.to_owned())
            .unwrap_or_else(|| e.to_owned())
    };
    let mut out: Vec<String> = defaults.to_vec();
    for o in overrides {
        let k = key(o);
        let pos = out.iter().position(|e| key(e) == k);
        match (pos, o.contains('=')) {
            (Some(i), true) => out[i] = o.clone(),
            (Some(i), false) => {
                out.remove(i);
            }
            (None, true) => out.push(o.clone()),
            (None, false) => {}
        }
    }
    out
}

/// A process environment like dockerd's `CreateDaemonEnvironment`: `PATH`,
/// `HOSTNAME`, `TERM=xterm` with a tty, then the container's `Env`.
pub fn container_env(tty: bool, hostname: &str, env: &[String]) -> Vec<String> {
    let mut defaults = vec![DEFAULT_PATH_ENV.to_owned(), format!("HOSTNAME={hostname}")];
    if tty {
        defaults.push("TERM=xterm".to_owned());
    }
    merge_env(&defaults, env)
}

/// What `docker exec` asks for.
#[derive(Debug, Clone, Default)]
pub struct ExecConfig {
    /// Command and arguments.
    pub args: Vec<String>,
    /// The exec's own `Env` (applied over the container's).
    pub env: Vec<String>,
    /// The container's `Config.Env`.
    pub container_env: Vec<String>,
    /// The container's hostname (for `HOSTNAME`).
    pub hostname: String,
    /// The resolved exec user (the container's user when `User` is empty).
    pub user: ResolvedUser,
    /// Allocate a tty.
    pub tty: bool,
    /// Working directory; the container's when `None`.
    pub cwd: Option<String>,
    /// `--privileged`: every capability (within `available_caps`).
    pub privileged: bool,
    /// Capabilities the host can grant ([`host_caps`]); `None`: no limit.
    pub available_caps: Option<Vec<String>>,
}

/// The OCI `process` for an exec. Like dockerd it starts from the
/// container's own process (`container_spec["process"]`: capabilities,
/// rlimits, no-new-privileges) and replaces args, env, user, terminal and
/// cwd.
pub fn exec_process(container_spec: &Value, exec: &ExecConfig) -> Value {
    let mut p = match container_spec.get("process") {
        Some(Value::Object(o)) => Value::Object(o.clone()),
        _ => {
            let caps: Vec<&str> = DEFAULT_CAPS.to_vec();
            json!({
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
                "cwd": "/",
            })
        }
    };
    let env = merge_env(
        &container_env(exec.tty, &exec.hostname, &exec.container_env),
        &exec.env,
    );
    p["args"] = json!(exec.args);
    p["env"] = json!(env);
    p["terminal"] = json!(exec.tty);
    p["user"] = json!({
        "uid": exec.user.uid,
        "gid": exec.user.gid,
        "additionalGids": exec.user.additional_gids,
    });
    if let Some(cwd) = exec.cwd.as_deref().filter(|c| !c.is_empty()) {
        p["cwd"] = json!(cwd);
    }
    if exec.privileged {
        let all = ALL_CAPS.iter().map(|c| c.to_string()).collect();
        let caps = limit_caps(all, exec.available_caps.as_deref());
        p["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    }
    if let Some(o) = p.as_object_mut() {
        o.remove("consoleSize");
    }
    p
}
