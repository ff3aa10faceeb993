//! Secrets and configs: model objects to Docker API types and back.
//!
//! Docker never returns a secret's data; a config's data is returned (base64, as Go encodes
//! `[]byte`).

use base64::Engine as _;
use shoal_api::models;
use shoal_scheduler::model::{Config, ConfigSpec, Secret, SecretSpec};

use super::ClusterError;
use super::convert::time;

fn labels_from(
    l: &Option<std::collections::HashMap<String, String>>,
) -> std::collections::BTreeMap<String, String> {
    l.iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn labels_to(
    l: &std::collections::BTreeMap<String, String>,
) -> std::collections::HashMap<String, String> {
    l.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Go's `[]byte` JSON encoding is standard base64; accept the URL-safe alphabet the swagger
/// mentions as well.
fn decode_data(raw: Option<&str>) -> Result<Vec<u8>, ClusterError> {
    let raw = raw.unwrap_or("");
    base64::engine::general_purpose::STANDARD
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(raw))
        .map_err(|e| ClusterError::InvalidArgument(format!("illegal base64 data: {e}")))
}

/// Refuses a driver Shoal cannot honour (no secret-store plugins, no templating engine on the
/// agent yet), naming it.
fn refuse_driver(what: &str, d: &Option<models::Driver>) -> Result<(), ClusterError> {
    match d {
        Some(d) if !d.name.is_empty() => Err(ClusterError::InvalidArgument(format!(
            "{what} driver {:?} is not supported by Shoal",
            d.name
        ))),
        _ => Ok(()),
    }
}

/// `docker secret create` body to the model.
///
/// Errors: InvalidArgument for bad base64 or a driver/templating Shoal does not have.
pub fn secret_spec_from_api(s: &models::SecretSpec) -> Result<SecretSpec, ClusterError> {
    refuse_driver("secret", &s.driver)?;
    refuse_driver("templating", &s.templating)?;
    Ok(SecretSpec {
        name: s.name.clone().unwrap_or_default(),
        labels: labels_from(&s.labels),
        data: decode_data(s.data.as_deref())?,
        ..Default::default()
    })
}

/// A secret as `GET /secrets` shows it: never its data.
pub fn secret_to_api(s: &Secret) -> models::Secret {
    models::Secret {
        id: Some(s.id.to_string()),
        version: Some(models::ObjectVersion {
            index: Some(s.meta.version.index),
        }),
        created_at: Some(time(s.meta.created_at)),
        updated_at: Some(time(s.meta.updated_at)),
        spec: Some(models::SecretSpec {
            name: Some(s.spec.name.clone()),
            labels: Some(labels_to(&s.spec.labels)),
            data: None,
            driver: None,
            templating: None,
        }),
    }
}

/// `docker config create` body to the model.
///
/// Errors: InvalidArgument for bad base64 or a templating driver.
pub fn config_spec_from_api(s: &models::ConfigSpec) -> Result<ConfigSpec, ClusterError> {
    refuse_driver("templating", &s.templating)?;
    Ok(ConfigSpec {
        name: s.name.clone().unwrap_or_default(),
        labels: labels_from(&s.labels),
        data: decode_data(s.data.as_deref())?,
        ..Default::default()
    })
}

/// A config as `GET /configs` shows it, data included.
pub fn config_to_api(c: &Config) -> models::Config {
    models::Config {
        id: Some(c.id.to_string()),
        version: Some(models::ObjectVersion {
            index: Some(c.meta.version.index),
        }),
        created_at: Some(time(c.meta.created_at)),
        updated_at: Some(time(c.meta.updated_at)),
        spec: Some(models::ConfigSpec {
            name: Some(c.spec.name.clone()),
            labels: Some(labels_to(&c.spec.labels)),
            data: Some(base64::engine::general_purpose::STANDARD.encode(&c.spec.data)),
            templating: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_data_is_decoded_and_never_shown() {
        let spec = secret_spec_from_api(&models::SecretSpec {
            name: Some("pw".into()),
            data: Some("aGVsbG8=".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(spec.data, b"hello");
        let s = Secret {
            id: "s1".into(),
            meta: Default::default(),
            spec,
        };
        let api = secret_to_api(&s);
        assert_eq!(api.spec.unwrap().data, None);
    }

    #[test]
    fn drivers_and_bad_data_are_refused() {
        let e = secret_spec_from_api(&models::SecretSpec {
            driver: Some(models::Driver {
                name: "vault".into(),
                options: None,
            }),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret driver \"vault\" is not supported by Shoal"
        );
        assert!(
            config_spec_from_api(&models::ConfigSpec {
                data: Some("!!".into()),
                ..Default::default()
            })
            .is_err()
        );
    }
}
