//! Seccomp: the profile format `docker run --security-opt seccomp=<file>`
//! takes (the CLI sends the file's JSON), the default profile kept as data
//! (`default.json`), and its translation into the OCI spec's
//! `linux.seccomp` for this machine (pure).
//!
//! A profile rule can depend on the container (`includes`/`excludes` of
//! capabilities), the architecture and the kernel version; those are
//! resolved here, when the spec is built, as dockerd does, so runc only
//! sees plain rules.

use serde::Deserialize;
use serde_json::{Value, json};

/// The default profile, in the user-facing format.
const DEFAULT_PROFILE: &str = include_str!("default.json");

/// What seccomp a container gets, from `--security-opt` and `--privileged`.
#[derive(Debug, Clone, PartialEq)]
pub enum SeccompChoice {
    /// The default profile.
    Default,
    /// `seccomp=unconfined` or `--privileged`: no filter.
    Unconfined,
    /// `seccomp=<profile JSON>`.
    Custom(String),
}

impl SeccompChoice {
    /// From `HostConfig.SecurityOpt` and `Privileged`, dockerd's rules: an
    /// explicit profile wins over `--privileged`, which otherwise means
    /// unconfined.
    pub fn from_options(security_opt: &[String], privileged: bool) -> Self {
        for opt in security_opt {
            let Some((key, value)) = opt.split_once(['=', ':']) else {
                continue;
            };
            if key != "seccomp" {
                continue;
            }
            return match value {
                "unconfined" => SeccompChoice::Unconfined,
                "builtin" => SeccompChoice::Default,
                json => SeccompChoice::Custom(json.to_owned()),
            };
        }
        if privileged {
            SeccompChoice::Unconfined
        } else {
            SeccompChoice::Default
        }
    }
}

/// A bad profile, in the words the user gets back (a 400).
#[derive(Debug, thiserror::Error)]
#[error("Decoding seccomp profile failed: {0}")]
pub struct ProfileError(String);

/// The user-facing profile (moby's `seccomp.Seccomp` shape).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    syscalls: Vec<Rule>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    flags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    /// The old single-name form.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Vec<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<Arg>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// The machine a spec is built for.
#[derive(Debug, Clone)]
pub struct Target {
    /// Go's name of the architecture (`amd64`, `arm64`...), as profiles use.
    pub arch: String,
    /// libseccomp's name of it (`SCMP_ARCH_X86_64`...).
    pub scmp_arch: String,
    /// Kernel version (major, minor).
    pub kernel: (u32, u32),
}

impl Target {
    /// This host.
    pub fn host() -> Self {
        let (arch, scmp) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", "SCMP_ARCH_X86_64"),
            "x86" => ("x86", "SCMP_ARCH_X86"),
            "aarch64" => ("arm64", "SCMP_ARCH_AARCH64"),
            "arm" => ("arm", "SCMP_ARCH_ARM"),
            "powerpc64" => ("ppc64le", "SCMP_ARCH_PPC64LE"),
            "s390x" => ("s390x", "SCMP_ARCH_S390X"),
            "riscv64" => ("riscv64", "SCMP_ARCH_RISCV64"),
            other => (other, "SCMP_ARCH_NATIVE"),
        };
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        Target {
            arch: arch.into(),
            scmp_arch: scmp.into(),
            kernel: parse_kernel(&release).unwrap_or((0, 0)),
        }
    }
}

/// `6.1.0-18-amd64` → (6, 1).
fn parse_kernel(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// Whether a profile given by the user parses, for the 400 at create.
pub fn validate(profile: &str) -> Result<(), ProfileError> {
    parse(profile).map(|_| ())
}

fn parse(profile: &str) -> Result<Profile, ProfileError> {
    let p: Profile = serde_json::from_str(profile).map_err(|e| ProfileError(e.to_string()))?;
    if !p.default_action.starts_with("SCMP_ACT_") {
        return Err(ProfileError(format!(
            "unknown defaultAction {:?}",
            p.default_action
        )));
    }
    if p.listener_path.is_some() || !p.flags.is_empty() {
        return Err(ProfileError(
            "listenerPath and flags are not supported by this engine".into(),
        ));
    }
    for r in &p.syscalls {
        if r.name.is_none() && r.names.is_empty() {
            return Err(ProfileError("a syscall rule has no names".into()));
        }
        if !r.action.starts_with("SCMP_ACT_") {
            return Err(ProfileError(format!("unknown action {:?}", r.action)));
        }
        if let Some(a) = r.args.iter().find(|a| !a.op.starts_with("SCMP_CMP_")) {
            return Err(ProfileError(format!("unknown operator {:?}", a.op)));
        }
    }
    Ok(p)
}

/// `linux.seccomp` for a container with capabilities `caps` on `target`,
/// or `None` when unconfined.
pub fn oci_seccomp(
    choice: &SeccompChoice,
    caps: &[String],
    target: &Target,
) -> Result<Option<Value>, ProfileError> {
    let text = match choice {
        SeccompChoice::Unconfined => return Ok(None),
        SeccompChoice::Default => DEFAULT_PROFILE,
        SeccompChoice::Custom(json) => json.as_str(),
    };
    let p = parse(text)?;
    Ok(Some(translate(&p, caps, target)))
}

fn translate(p: &Profile, caps: &[String], target: &Target) -> Value {
    let mut arches: Vec<String> = p.architectures.clone();
    for m in &p.arch_map {
        if m.architecture == target.scmp_arch {
            arches.push(m.architecture.clone());
            arches.extend(m.sub_architectures.iter().flatten().cloned());
        }
    }
    arches.dedup();
    let has = |c: &String| caps.iter().any(|x| x == c);
    let kernel_ok = |min: &Option<String>| match min.as_deref().and_then(parse_kernel) {
        Some(min) => target.kernel >= min,
        None => true,
    };
    let mut rules = Vec::new();
    for r in &p.syscalls {
        let inc = &r.includes;
        if !inc.arches.is_empty() && !inc.arches.contains(&target.arch) {
            continue;
        }
        if !inc.caps.iter().all(has) || !kernel_ok(&inc.min_kernel) {
            continue;
        }
        let exc = &r.excludes;
        if exc.arches.contains(&target.arch) || exc.caps.iter().any(has) {
            continue;
        }
        if exc.min_kernel.is_some() && kernel_ok(&exc.min_kernel) {
            continue;
        }
        let names: Vec<&String> = r.name.iter().chain(r.names.iter()).collect();
        let mut rule = json!({"names": names, "action": r.action});
        if let Some(e) = r.errno_ret {
            rule["errnoRet"] = json!(e);
        }
        if !r.args.is_empty() {
            rule["args"] = json!(
                r.args
                    .iter()
                    .map(|a| json!({
                        "index": a.index,
                        "value": a.value,
                        "valueTwo": a.value_two,
                        "op": a.op,
                    }))
                    .collect::<Vec<_>>()
            );
        }
        rules.push(rule);
    }
    let mut out = json!({
        "defaultAction": p.default_action,
        "architectures": arches,
        "syscalls": rules,
    });
    if let Some(e) = p.default_errno_ret {
        out["defaultErrnoRet"] = json!(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amd64() -> Target {
        Target {
            arch: "amd64".into(),
            scmp_arch: "SCMP_ARCH_X86_64".into(),
            kernel: (6, 1),
        }
    }

    fn allowed(spec: &Value, name: &str) -> Vec<Value> {
        spec["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == name))
            .cloned()
            .collect()
    }

    #[test]
    fn the_default_profile_follows_the_container_capabilities() {
        let default_caps: Vec<String> = crate::runtime::oci_spec::DEFAULT_CAPS
            .iter()
            .map(|c| c.to_string())
            .collect();
        let spec = oci_seccomp(&SeccompChoice::Default, &default_caps, &amd64())
            .unwrap()
            .unwrap();
        assert_eq!(spec["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(spec["defaultErrnoRet"], 1);
        assert_eq!(
            spec["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        assert!(!allowed(&spec, "read").is_empty());
        assert!(!allowed(&spec, "arch_prctl").is_empty());
        assert!(allowed(&spec, "unshare").is_empty(), "no CAP_SYS_ADMIN");
        assert!(allowed(&spec, "mount").is_empty());
        assert!(allowed(&spec, "keyctl").is_empty());
        assert!(allowed(&spec, "s390_runtime_instr").is_empty());
        // clone without namespace flags only; clone3 answers ENOSYS.
        let clone = allowed(&spec, "clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0]["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        assert_eq!(allowed(&spec, "clone3")[0]["errnoRet"], 38);
        // chroot comes with CAP_SYS_CHROOT, in Docker's default set.
        assert!(!allowed(&spec, "chroot").is_empty());

        let mut admin = default_caps.clone();
        admin.push("CAP_SYS_ADMIN".into());
        let spec = oci_seccomp(&SeccompChoice::Default, &admin, &amd64())
            .unwrap()
            .unwrap();
        assert!(!allowed(&spec, "unshare").is_empty());
        let clone = allowed(&spec, "clone");
        assert!(clone.iter().all(|r| r.get("args").is_none()), "{clone:?}");
        assert!(
            allowed(&spec, "clone3")
                .iter()
                .all(|r| r["action"] == "SCMP_ACT_ALLOW")
        );
        // ptrace is for everyone from kernel 4.8 on.
        let old = Target {
            kernel: (4, 4),
            ..amd64()
        };
        let spec = oci_seccomp(&SeccompChoice::Default, &default_caps, &old)
            .unwrap()
            .unwrap();
        assert!(allowed(&spec, "ptrace").is_empty());
    }

    #[test]
    fn choices_and_custom_profiles() {
        let opts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            SeccompChoice::from_options(&[], false),
            SeccompChoice::Default
        );
        assert_eq!(
            SeccompChoice::from_options(&[], true),
            SeccompChoice::Unconfined
        );
        assert_eq!(
            SeccompChoice::from_options(&opts(&["seccomp=unconfined"]), false),
            SeccompChoice::Unconfined
        );
        let custom = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO"},{"names":["mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#;
        let c = SeccompChoice::from_options(&opts(&[&format!("seccomp={custom}")]), true);
        assert_eq!(c, SeccompChoice::Custom(custom.into()));
        assert!(
            oci_seccomp(&SeccompChoice::Unconfined, &[], &amd64())
                .unwrap()
                .is_none()
        );
        let spec = oci_seccomp(&c, &[], &amd64()).unwrap().unwrap();
        assert_eq!(spec["defaultAction"], "SCMP_ACT_ALLOW");
        assert_eq!(spec["syscalls"][0]["names"], json!(["mkdir"]));
        assert_eq!(spec["syscalls"][1]["errnoRet"], 13);
        assert!(spec.get("defaultErrnoRet").is_none());
        for bad in [
            "not json",
            r#"{"defaultAction":"ALLOW"}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x"}"#,
        ] {
            let e = validate(bad).unwrap_err().to_string();
            assert!(e.starts_with("Decoding seccomp profile failed"), "{e}");
        }
        assert_eq!(parse_kernel("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(parse_kernel("4.8"), Some((4, 8)));
    }
}
