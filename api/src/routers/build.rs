//! `/build` and `/build/prune`: the classic builder (what `docker build`
//! uses without BuildKit). The request body is the build context, a tar
//! (optionally gzip'd); the answer is Docker's JSON message stream.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::routers::images::ProgressStream;
use crate::stream::ByteStream;
use crate::stream::output::json_lines;

/// `POST /build` options, each one honoured.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Path of the Dockerfile in the context (`Dockerfile` by default).
    pub dockerfile: String,
    /// `-t` names (repeatable).
    pub tags: Vec<String>,
    /// `--build-arg`s; a None value means "take it from the environment",
    /// which the CLI resolves, so the daemon treats it as unset.
    pub build_args: HashMap<String, Option<String>>,
    /// Stage to stop at (`--target`).
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`: pull every FROM image even when present.
    pub pull: bool,
    /// `--label`s set on the result.
    pub labels: HashMap<String, String>,
    /// Remove intermediate containers after a successful step.
    pub rm: bool,
    /// Remove them after a failed one too.
    pub force_rm: bool,
    /// `-q`: only the image ID.
    pub quiet: bool,
    /// Network of RUN containers (`default`, `bridge`, `host`, `none`, a
    /// network name).
    pub network_mode: String,
    /// Requested platform, already checked by the backend.
    pub platform: Option<String>,
    /// `X-Registry-Config`: base64url JSON of registry → auth, for pulls.
    pub registry_config: Option<String>,
}

/// `POST /build/prune` answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BuildPruneReport {
    /// IDs of what went.
    pub caches_deleted: Vec<String>,
    /// Bytes freed.
    pub space_reclaimed: i64,
}

/// What the build router needs.
#[async_trait]
pub trait BuildBackend: Send + Sync + 'static {
    /// Runs a build over `context`. Errors before the build starts are HTTP
    /// errors (400 for bad options); a failing step travels in the stream
    /// as `errorDetail`.
    async fn build(&self, opts: BuildOptions, context: ByteStream) -> ApiResult<ProgressStream>;
    /// Removes cache-only step images (`docker builder prune`).
    async fn prune(&self) -> ApiResult<BuildPruneReport>;
}

type Backend = State<Arc<dyn BuildBackend>>;

/// The routes over `backend`.
pub(crate) fn routes(backend: Arc<dyn BuildBackend>) -> Router {
    Router::new()
        .route("/build", post(build))
        .route("/build/prune", post(prune))
        .with_state(backend)
}

/// Query keys the CLI and SDKs send that Shoal has nothing to do for as
/// long as they hold their default value; any other value is refused.
const DEFAULT_ONLY: &[(&str, &[&str])] = &[
    ("remote", &[""]),
    ("extrahosts", &["", "null", "[]"]),
    ("cpusetcpus", &[""]),
    ("cpusetmems", &[""]),
    ("cpushares", &["", "0"]),
    ("cpuquota", &["", "0"]),
    ("cpuperiod", &["", "0"]),
    ("memory", &["", "0"]),
    ("memswap", &["", "0"]),
    ("cgroupparent", &[""]),
    ("shmsize", &["", "0"]),
    ("ulimits", &["", "null", "[]"]),
    ("cachefrom", &["", "null", "[]"]),
    ("isolation", &["", "default"]),
    ("squash", &["", "0", "false"]),
    ("session", &[""]),
    ("buildid", &[""]),
    ("version", &["", "1"]),
    ("outputs", &["", "null", "[]"]),
    ("securityopt", &["", "null", "[]"]),
];

/// Keys with an effect (see [`BuildOptions`]).
const HONOURED: &[&str] = &[
    "dockerfile",
    "t",
    "buildargs",
    "target",
    "nocache",
    "pull",
    "labels",
    "rm",
    "forcerm",
    "q",
    "networkmode",
    "platform",
];

/// Parses and checks the query: every key has an effect, sits at its
/// default, or is refused with a 400 naming it.
pub fn parse_options(q: &QueryParams) -> ApiResult<BuildOptions> {
    if q.get("version") == Some("2") {
        return Err(ApiError::invalid(
            "BuildKit (version=2) is not supported; use the classic builder",
        ));
    }
    for (k, v) in &q.0 {
        if HONOURED.contains(&k.as_str()) {
            continue;
        }
        match DEFAULT_ONLY.iter().find(|(name, _)| *name == k) {
            Some((_, defaults)) if defaults.contains(&v.as_str()) => {}
            Some(_) => {
                return Err(ApiError::invalid(format!(
                    "Shoal's builder does not support the build option {k}={v}"
                )));
            }
            None => {
                return Err(ApiError::invalid(format!("unknown build option {k}")));
            }
        }
    }
    let json_map = |key: &str| -> ApiResult<Option<serde_json::Value>> {
        match q.get(key).filter(|v| !v.is_empty() && *v != "null") {
            Some(raw) => serde_json::from_str(raw)
                .map(Some)
                .map_err(|e| ApiError::invalid(format!("invalid {key} JSON: {e}"))),
            None => Ok(None),
        }
    };
    let build_args: HashMap<String, Option<String>> = match json_map("buildargs")? {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| ApiError::invalid(format!("invalid buildargs JSON: {e}")))?,
        None => HashMap::new(),
    };
    let labels: HashMap<String, String> = match json_map("labels")? {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| ApiError::invalid(format!("invalid labels JSON: {e}")))?,
        None => HashMap::new(),
    };
    Ok(BuildOptions {
        dockerfile: q
            .string("dockerfile")
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "Dockerfile".to_owned()),
        tags: q.all("t").into_iter().filter(|t| !t.is_empty()).collect(),
        build_args,
        target: q.string("target").filter(|t| !t.is_empty()),
        no_cache: q.bool("nocache"),
        pull: q.bool("pull"),
        labels,
        // dockerd's default is rm=true.
        rm: q
            .get("rm")
            .is_none_or(|v| crate::extract::parse_bool(Some(v))),
        force_rm: q.bool("forcerm"),
        quiet: q.bool("q"),
        network_mode: q
            .string("networkmode")
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_owned()),
        platform: q.string("platform").filter(|p| !p.is_empty()),
        registry_config: None,
    })
}

async fn build(State(b): Backend, q: QueryParams, req: Request) -> ApiResult<Response> {
    let mut opts = parse_options(&q)?;
    opts.registry_config = req
        .headers()
        .get("x-registry-config")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let body: ByteStream = req
        .into_body()
        .into_data_stream()
        .map(|r| r.map_err(std::io::Error::other))
        .boxed();
    let progress = b.build(opts, body).await?;
    let body = json_lines(progress, "\r\n").map(Ok::<_, Infallible>);
    Ok((
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

async fn prune(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    // The classic builder's cache is its step images: every filter of
    // BuildKit's cache (type, id, until, ...) would be a different thing.
    let filters = q.filters()?;
    filters.validate(&[])?;
    if q.bool("all")
        || q.get("keep-storage").is_some_and(|v| v != "0")
        || q.get("reserved-space").is_some_and(|v| v != "0")
        || q.get("max-used-space").is_some_and(|v| v != "0")
        || q.get("min-free-space").is_some_and(|v| v != "0")
    {
        return Err(ApiError::invalid(
            "Shoal's build cache prune takes no all, keep-storage or space options",
        ));
    }
    Ok(Json(b.prune().await?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> QueryParams {
        QueryParams(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn cli_defaults_are_accepted() {
        let o = parse_options(&q(&[
            ("t", "a:1"),
            ("t", "b"),
            ("buildargs", r#"{"A":"1","B":null}"#),
            ("labels", r#"{"l":"v"}"#),
            ("memory", "0"),
            ("cachefrom", "null"),
            ("version", "1"),
            ("rm", "1"),
        ]))
        .unwrap();
        assert_eq!(o.tags, ["a:1", "b"]);
        assert_eq!(o.build_args.get("A"), Some(&Some("1".to_owned())));
        assert_eq!(o.build_args.get("B"), Some(&None));
        assert_eq!(o.labels.get("l").map(String::as_str), Some("v"));
        assert!(o.rm);
        assert_eq!(o.dockerfile, "Dockerfile");
        assert_eq!(o.network_mode, "default");
    }

    #[test]
    fn unhonoured_options_are_refused_by_name() {
        let e = parse_options(&q(&[("memory", "1000000")])).unwrap_err();
        assert!(e.message.contains("memory"), "{}", e.message);
        let e = parse_options(&q(&[("frobnicate", "1")])).unwrap_err();
        assert!(e.message.contains("frobnicate"), "{}", e.message);
        assert!(parse_options(&q(&[("buildargs", "{bad")])).is_err());
    }
}
