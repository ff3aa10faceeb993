//! Engine labels (`--label`, daemon.json `labels`), validated as dockerd does.

use std::collections::BTreeMap;

use super::ConfigError;

/// Checks each `key=value` label and returns them in order, without duplicates.
///
/// dockerd refuses a label without `=` ("bad attribute format"), an empty key,
/// whitespace in the key, and the same key given twice with different values
/// ("conflict labels"); the same pair twice is kept once.
pub fn validate(labels: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let mut out = Vec::with_capacity(labels.len());
    for label in labels {
        let Some((key, value)) = label.split_once('=') else {
            return Err(ConfigError::Invalid(format!(
                "bad attribute format: {label}"
            )));
        };
        if key.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "invalid label '{label}': empty name"
            )));
        }
        if key.chars().any(char::is_whitespace) {
            return Err(ConfigError::Invalid(format!(
                "label '{label}' contains whitespaces"
            )));
        }
        match seen.get(key) {
            Some(prev) if *prev == value => continue,
            Some(prev) => {
                return Err(ConfigError::Invalid(format!(
                    "conflict labels for {key}={prev} and {key}={value}"
                )));
            }
            None => {
                seen.insert(key, value);
                out.push(label.clone());
            }
        }
    }
    Ok(out)
}

/// Labels as a map (`Description.Engine.Labels`, `engine.labels.*` constraints).
pub fn to_map(labels: &[String]) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(list: &[&str]) -> Result<Vec<String>, ConfigError> {
        validate(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn good_labels_keep_order_and_drop_exact_duplicates() {
        assert_eq!(
            v(&["zone=a", "ssd=", "zone=a"]).unwrap(),
            vec!["zone=a".to_owned(), "ssd=".to_owned()]
        );
        assert_eq!(to_map(&v(&["a=b=c"]).unwrap())["a"], "b=c");
    }

    #[test]
    fn bad_labels_are_named() {
        assert_eq!(
            v(&["novalue"]).unwrap_err().to_string(),
            "bad attribute format: novalue"
        );
        assert!(v(&["=x"]).unwrap_err().to_string().contains("'=x'"));
        assert!(
            v(&["a b=c"])
                .unwrap_err()
                .to_string()
                .contains("whitespaces")
        );
        assert_eq!(
            v(&["z=1", "z=2"]).unwrap_err().to_string(),
            "conflict labels for z=1 and z=2"
        );
    }
}
