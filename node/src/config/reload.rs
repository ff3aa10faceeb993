//! What a SIGHUP may change: dockerd's reloadable keys where Shoal has them.
//!
//! The daemon re-reads daemon.json through [`super::DaemonConfig::load`] (so a file
//! that does not parse, or has an unknown key, fails the same way as at start and
//! the running configuration stays), then [`plan`] keeps every restart-only value
//! as it runs and names the keys that changed but need a restart.

use std::collections::HashMap;

use super::DaemonConfig;

/// The outcome of comparing the running configuration with a re-read one.
#[derive(Debug, Clone, PartialEq)]
pub struct ReloadPlan {
    /// The configuration to run with: the new reloadable values, the old rest.
    pub config: DaemonConfig,
    /// daemon.json keys that changed but only take effect after a restart.
    pub needs_restart: Vec<&'static str>,
}

/// Keeps the restart-only values of `running` and takes the reloadable ones
/// (`debug`, `log-level`, `labels`, `log-driver`, `log-opts`, `insecure-registries`,
/// `registry-mirrors`, `max-concurrent-downloads`/`-uploads`) from `new`.
pub fn plan(running: &DaemonConfig, new: &DaemonConfig) -> ReloadPlan {
    let mut needs_restart = Vec::new();
    let mut note = |key: &'static str, changed: bool| {
        if changed {
            needs_restart.push(key);
        }
    };
    note("hosts", running.hosts != new.hosts);
    note("data-root", running.data_root != new.data_root);
    note("exec-root", running.exec_root != new.exec_root);
    note("containerd", running.containerd != new.containerd);
    note(
        "containerd-namespace",
        running.containerd_namespace != new.containerd_namespace,
    );
    note("pidfile", running.pidfile != new.pidfile);
    note("metrics-addr", running.metrics_addr != new.metrics_addr);
    note("tls", running.tls != new.tls);
    note("group", running.group != new.group);
    // Registry settings are live (the next pull/push reads them) except the certs.d
    // directories, which only come from a flag.
    note(
        "registry-certs-dirs",
        running.registry.certs_dirs != new.registry.certs_dirs,
    );
    if running.net != new.net {
        needs_restart.push("networking (bridge, bip, fixed-cidr, mtu, address pools)");
    }
    let config = DaemonConfig {
        debug: new.debug,
        log_level: new.log_level.clone(),
        labels: new.labels.clone(),
        log_driver: new.log_driver.clone(),
        log_opts: new.log_opts.clone(),
        registry: crate::registry::RegistryConfig {
            certs_dirs: running.registry.certs_dirs.clone(),
            ..new.registry.clone()
        },
        ..running.clone()
    };
    ReloadPlan {
        config,
        needs_restart,
    }
}

/// The `reload` event's attributes (type daemon), named as dockerd names them.
pub fn event_attributes(cfg: &DaemonConfig, hostname: &str) -> HashMap<String, String> {
    let labels = serde_json::to_string(&cfg.labels).unwrap_or_else(|_| "[]".into());
    let mut opts: Vec<_> = cfg.log_opts.iter().collect();
    opts.sort();
    let opts = serde_json::to_string(
        &opts
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
    .unwrap_or_else(|_| "{}".into());
    let reg = &cfg.registry;
    let json = |v: &[String]| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    [
        ("insecure-registries", json(&reg.insecure_registries)),
        ("registry-mirrors", json(&reg.registry_mirrors)),
        (
            "max-concurrent-downloads",
            reg.max_concurrent_downloads.to_string(),
        ),
        (
            "max-concurrent-uploads",
            reg.max_concurrent_uploads.to_string(),
        ),
        ("name", hostname.to_owned()),
        ("debug", cfg.debug.to_string()),
        ("log-level", cfg.log_level.clone()),
        ("labels", labels),
        ("live-restore", "true".to_owned()),
        ("log-driver", cfg.log_driver.clone()),
        ("log-opts", opts),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DaemonFlags;

    fn cfg(json: &str) -> DaemonConfig {
        let obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).expect("test JSON");
        DaemonConfig::merge(&DaemonFlags::default(), Some(&obj)).expect("valid config")
    }

    #[test]
    fn reloadable_keys_change_and_the_rest_is_kept() {
        let running = cfg(r#"{"data-root":"/a","labels":["x=1"]}"#);
        let new = cfg(r#"{"data-root":"/b","labels":["x=2"],"debug":true,"log-level":"warn"}"#);
        let p = plan(&running, &new);
        assert_eq!(p.needs_restart, vec!["data-root"]);
        assert_eq!(p.config.data_root, running.data_root);
        assert_eq!(p.config.labels, vec!["x=2".to_owned()]);
        assert!(p.config.debug);
        assert_eq!(p.config.log_level, "warn");
    }

    #[test]
    fn registry_settings_reload() {
        let running = cfg(r#"{}"#);
        let new = cfg(
            r#"{"insecure-registries":["10.1.2.0/24"],"registry-mirrors":["https://m.example:5000"],
                "max-concurrent-downloads":7,"max-concurrent-uploads":2}"#,
        );
        let p = plan(&running, &new);
        assert!(p.needs_restart.is_empty(), "{:?}", p.needs_restart);
        let r = &p.config.registry;
        assert_eq!(r.insecure_registries, vec!["10.1.2.0/24".to_owned()]);
        assert_eq!(r.registry_mirrors, vec!["m.example:5000".to_owned()]);
        assert_eq!(
            (r.max_concurrent_downloads, r.max_concurrent_uploads),
            (7, 2)
        );
        let a = event_attributes(&p.config, "h");
        assert_eq!(a["registry-mirrors"], r#"["m.example:5000"]"#);
        assert_eq!(a["max-concurrent-downloads"], "7");
    }

    #[test]
    fn event_names_the_new_values() {
        let a = event_attributes(&cfg(r#"{"labels":["a=b"],"debug":true}"#), "h");
        assert_eq!(a["labels"], r#"["a=b"]"#);
        assert_eq!(a["debug"], "true");
        assert_eq!(a["name"], "h");
    }
}
