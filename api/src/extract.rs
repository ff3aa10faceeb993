//! Docker's query conventions: filters JSON, `1`/`true` booleans.

use std::collections::BTreeMap;

use crate::error::ApiError;

/// Parsed `filters` query parameter: filter name to the values given for it.
///
/// Docker accepts both `{"label":["a=b"]}` and the older
/// `{"label":{"a=b":true}}`; both parse to the same map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(pub BTreeMap<String, Vec<String>>);

impl Filters {
    /// Parses the raw JSON of a `filters` parameter; empty means no filters.
    pub fn parse(raw: Option<&str>) -> Result<Filters, ApiError> {
        let raw = match raw {
            None => return Ok(Filters::default()),
            Some(s) if s.trim().is_empty() => return Ok(Filters::default()),
            Some(s) => s,
        };
        let value: serde_json::Value = serde_json::from_str(raw)
            .map_err(|e| ApiError::invalid(format!("invalid filter: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| ApiError::invalid("invalid filter: expected an object"))?;
        let mut out = BTreeMap::new();
        for (key, v) in obj {
            let values = match v {
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_owned).ok_or_else(|| {
                            ApiError::invalid(format!(
                                "invalid filter '{key}': values must be strings"
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                serde_json::Value::Object(m) => m.keys().cloned().collect(),
                _ => {
                    return Err(ApiError::invalid(format!(
                        "invalid filter '{key}': expected a list"
                    )));
                }
            };
            out.insert(key.clone(), values);
        }
        Ok(Filters(out))
    }

    /// Values given for `name` (empty if none).
    pub fn get(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Fails with Docker's message when a filter outside `allowed` is used.
    pub fn validate(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for key in self.0.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(ApiError::invalid(format!("invalid filter '{key}'")));
            }
        }
        Ok(())
    }
}

/// Docker's boolean query values: `1`, `true`, `True` are true; absent, `0`,
/// `false` and empty are false.
pub fn parse_bool(raw: Option<&str>) -> bool {
    matches!(
        raw.map(str::trim),
        Some("1") | Some("true") | Some("True") | Some("TRUE")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_filter_forms_parse() {
        let a = Filters::parse(Some(r#"{"label":["a=b"]}"#)).unwrap();
        let b = Filters::parse(Some(r#"{"label":{"a=b":true}}"#)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.get("label"), &["a=b".to_string()]);
    }

    #[test]
    fn bad_filter_is_400() {
        let e = Filters::parse(Some("{nope")).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::InvalidParameter);
    }
}
