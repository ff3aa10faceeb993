//! `docker info`'s `RegistryConfig`: the registry settings in force (they change on SIGHUP).

use shoal_api::models::{IndexInfo, RegistryServiceConfig};

use crate::registry::{DOCKER_HUB, RegistryConfig, is_loopback};

/// dockerd's shape: CIDR entries (loopback always) in `InsecureRegistryCIDRs`, every
/// named insecure registry and docker.io (with its mirrors) in `IndexConfigs`, mirrors as
/// URLs with a trailing slash.
pub(super) fn registry_info(cfg: &RegistryConfig) -> RegistryServiceConfig {
    let mut cidrs = vec!["127.0.0.0/8".to_owned()];
    let mut index = std::collections::HashMap::new();
    for entry in &cfg.insecure_registries {
        if entry.contains('/') {
            if !cidrs.contains(entry) {
                cidrs.push(entry.clone());
            }
        } else {
            index.insert(
                entry.clone(),
                IndexInfo {
                    name: Some(entry.clone()),
                    mirrors: Some(Vec::new()),
                    secure: Some(false),
                    official: Some(false),
                },
            );
        }
    }
    let mirrors: Vec<String> = cfg
        .registry_mirrors
        .iter()
        .map(|host| {
            let scheme = if cfg.is_insecure(host) || is_loopback(host) {
                "http"
            } else {
                "https"
            };
            format!("{scheme}://{host}/")
        })
        .collect();
    index.insert(
        DOCKER_HUB.to_owned(),
        IndexInfo {
            name: Some(DOCKER_HUB.to_owned()),
            mirrors: Some(mirrors.clone()),
            secure: Some(true),
            official: Some(true),
        },
    );
    RegistryServiceConfig {
        insecure_registry_cidrs: Some(cidrs),
        index_configs: Some(index),
        mirrors: Some(mirrors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_names_and_cidrs_and_mirrors() {
        let cfg = RegistryConfig {
            insecure_registries: vec!["10.0.0.0/8".into(), "reg.local:5000".into()],
            registry_mirrors: vec!["reg.local:5000".into(), "m.example".into()],
            ..RegistryConfig::default()
        };
        let info = registry_info(&cfg);
        assert_eq!(
            info.insecure_registry_cidrs.unwrap(),
            vec!["127.0.0.0/8".to_owned(), "10.0.0.0/8".to_owned()]
        );
        let index = info.index_configs.unwrap();
        assert_eq!(index["reg.local:5000"].secure, Some(false));
        assert_eq!(
            index["docker.io"].mirrors.as_deref().unwrap(),
            ["http://reg.local:5000/", "https://m.example/"]
        );
    }
}
