//! Docker's request conventions: filters JSON, `1`/`true` booleans,
//! repeated query keys, JSON bodies with Docker-style 400s.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

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

/// Docker's boolean query values (moby `httputils.BoolValue`): absent,
/// empty, `0`, `no`, `false` and `none` (any case, trimmed) are false;
/// anything else (`1`, `true`, `True`, ...) is true.
pub fn parse_bool(raw: Option<&str>) -> bool {
    let Some(v) = raw else { return false };
    let v = v.trim().to_ascii_lowercase();
    !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
}

/// The raw query string as ordered pairs, read Docker's way: Go's
/// `r.Form.Get` takes the first value of a key, and some endpoints
/// (`/images/get?names=a&names=b`, `changes`) repeat keys.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub Vec<(String, String)>);

impl QueryParams {
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first non-empty value of `key` as an owned string.
    pub fn string(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A Docker boolean (see [`parse_bool`]).
    pub fn bool(&self, key: &str) -> bool {
        parse_bool(self.get(key))
    }

    /// A number; absent or empty is `None`, garbage is a 400 like dockerd's
    /// `strconv` errors.
    pub fn number<T: FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        match self.get(key).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<T>().map(Some).map_err(|_| {
                ApiError::invalid(format!(
                    "invalid value for {key}: {v:?} is not a valid number"
                ))
            }),
        }
    }

    /// The `filters` parameter, parsed.
    pub fn filters(&self) -> Result<Filters, ApiError> {
        Filters::parse(self.get("filters"))
    }

    /// The `version` of a swarm object an update is based on, as moby reads
    /// it (`strconv.ParseUint`): required, decimal digits only, and any
    /// failure is a 400 "invalid {object} version '...': ...".
    pub fn object_version(&self, object: &str) -> Result<u64, ApiError> {
        let raw = self.get("version").unwrap_or("");
        go_parse_uint(raw).map_err(|reason| {
            ApiError::invalid(format!(
                "invalid {object} version '{raw}': strconv.ParseUint: parsing {raw:?}: {reason}"
            ))
        })
    }

    /// An optional strict boolean (Go `strconv.ParseBool`, unlike
    /// [`parse_bool`]): absent or empty is false, anything outside Go's
    /// spellings is a 400 "invalid value for {key}: ...", as dockerd answers
    /// for the `/swarm/update` rotate flags.
    pub fn strict_bool(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(false),
            Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
            Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
            Some(v) => Err(ApiError::invalid(format!("invalid value for {key}: {v}"))),
        }
    }
}

/// Go's `strconv.ParseUint(s, 10, 64)`: no sign, no spaces, no `_`; the
/// error is Go's reason text.
fn go_parse_uint(raw: &str) -> Result<u64, &'static str> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    raw.parse::<u64>().map_err(|_| "value out of range")
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| QueryParams(pairs))
            .map_err(|e| ApiError::invalid(format!("invalid query: {e}")))
    }
}

/// Decodes a JSON request body with dockerd's checks: a non-JSON
/// `Content-Type` on a non-empty body is refused (moby `CheckForJSON`), an
/// empty body is an EOF error, and syntax errors are 400 with the parser's
/// message.
pub fn decode_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    check_json_content_type(headers, body)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(
            "invalid JSON: got EOF while reading request body",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))
}

/// Renames the top-level keys of a JSON object that match one of `fields`
/// ignoring case to that spelling: Go's decoder, and so dockerd, matches
/// field names case-insensitively, and SDKs rely on it (docker-py sends
/// `detachKeys` in an exec config).
pub fn fold_field_case(value: &mut serde_json::Value, fields: &[&str]) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    let renames: Vec<(String, &str)> = obj
        .keys()
        .filter(|k| !fields.contains(&k.as_str()))
        .filter_map(|k| {
            fields
                .iter()
                .find(|f| f.eq_ignore_ascii_case(k))
                .map(|f| (k.clone(), *f))
        })
        .collect();
    for (from, to) in renames {
        if let Some(v) = obj.remove(&from) {
            obj.entry(to).or_insert(v);
        }
    }
}

fn check_json_content_type(headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.is_empty() {
        return Ok(());
    }
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") || body.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "unsupported Content-Type header ({ct}): must be 'application/json'"
    )))
}

/// A JSON body extractor whose failures are Docker-style 400s
/// (axum's own `Json` answers in plain text).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid(format!("reading request body: {e}")))?;
        decode_json(&headers, &body).map(JsonBody)
    }
}

/// Like [`JsonBody`], but an empty body means `T::default()` (endpoints
/// where the CLI may omit the body, e.g. exec start from old clients).
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid(format!("reading request body: {e}")))?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        decode_json(&headers, &body).map(OptionalJsonBody)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_case_folds_like_go() {
        let mut v =
            serde_json::json!({"detachKeys": "ctrl-a", "CMD": ["x"], "Tty": true, "other": 1});
        fold_field_case(&mut v, &["DetachKeys", "Cmd", "Tty"]);
        assert_eq!(
            v,
            serde_json::json!({"DetachKeys": "ctrl-a", "Cmd": ["x"], "Tty": true, "other": 1})
        );
    }

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

    #[test]
    fn bools_follow_docker() {
        assert!(parse_bool(Some("1")));
        assert!(parse_bool(Some("true")));
        assert!(parse_bool(Some("True")));
        assert!(parse_bool(Some("yes")));
        assert!(!parse_bool(Some("0")));
        assert!(!parse_bool(Some("False")));
        assert!(!parse_bool(Some(" no ")));
        assert!(!parse_bool(Some("none")));
        assert!(!parse_bool(Some("")));
        assert!(!parse_bool(None));
    }

    #[test]
    fn query_params_keep_repeats_and_first_wins() {
        let uri: axum::http::Uri = "/images/get?names=a&names=b%2Fc&quiet=1".parse().unwrap();
        let pairs = Query::<Vec<(String, String)>>::try_from_uri(&uri)
            .unwrap()
            .0;
        let q = QueryParams(pairs);
        assert_eq!(q.all("names"), vec!["a".to_string(), "b/c".to_string()]);
        assert_eq!(q.get("names"), Some("a"));
        assert!(q.bool("quiet"));
        assert_eq!(q.number::<i64>("t").unwrap(), None);
        let bad = QueryParams(vec![("t".into(), "abc".into())]);
        assert!(bad.number::<i64>("t").is_err());
    }

    #[test]
    fn object_versions_parse_like_go() {
        let q = |v: &str| QueryParams(vec![("version".into(), v.into())]);
        assert_eq!(q("42").object_version("node").unwrap(), 42);
        for bad in ["", "+1", "-1", " 1", "1.0", "abc"] {
            let e = q(bad).object_version("node").unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::InvalidParameter);
            assert_eq!(
                e.message,
                format!(
                    "invalid node version '{bad}': strconv.ParseUint: parsing {bad:?}: invalid syntax"
                )
            );
        }
        let e = q("99999999999999999999")
            .object_version("swarm")
            .unwrap_err();
        assert!(e.message.ends_with("value out of range"), "{}", e.message);
        let e = QueryParams::default().object_version("swarm").unwrap_err();
        assert_eq!(
            e.message,
            "invalid swarm version '': strconv.ParseUint: parsing \"\": invalid syntax"
        );
    }

    #[test]
    fn strict_bools_follow_go() {
        let q = |v: &str| QueryParams(vec![("rotate".into(), v.into())]);
        assert!(q("true").strict_bool("rotate").unwrap());
        assert!(q("1").strict_bool("rotate").unwrap());
        assert!(!q("false").strict_bool("rotate").unwrap());
        assert!(!q("").strict_bool("rotate").unwrap());
        assert!(!QueryParams::default().strict_bool("rotate").unwrap());
        let e = q("yes").strict_bool("rotate").unwrap_err();
        assert_eq!(e.message, "invalid value for rotate: yes");
    }

    #[test]
    fn json_bodies() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, "application/json".parse().unwrap());
        let v: serde_json::Value = decode_json(&h, br#"{"a":1}"#).unwrap();
        assert_eq!(v["a"], 1);
        let e = decode_json::<serde_json::Value>(&h, b"xyz").unwrap_err();
        assert!(e.message.starts_with("invalid JSON:"), "{}", e.message);
        let e = decode_json::<serde_json::Value>(&h, b"").unwrap_err();
        assert!(e.message.contains("EOF"));
        h.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        let e = decode_json::<serde_json::Value>(&h, b"{}").unwrap_err();
        assert!(e.message.contains("unsupported Content-Type"));
    }
}
