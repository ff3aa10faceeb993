//! `GET /containers/{id}/stats` and `POST /containers/{id}/update`.

use std::convert::Infallible;

use axum::Json;
use axum::body::Body;
use axum::extract::Path;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::StatsMode;
use super::handlers::Backend;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use crate::models::ContainerUpdateBody;
use crate::stream::output::json_lines;

/// dockerd's reading of `stream` (default true) and `one-shot` (only
/// meaningful without streaming).
fn stats_mode(q: &QueryParams) -> StatsMode {
    let stream = q.string("stream").is_none() || q.bool("stream");
    match (stream, q.bool("one-shot")) {
        (true, _) => StatsMode::Stream,
        (false, true) => StatsMode::OneShot,
        (false, false) => StatsMode::Single,
    }
}

/// One JSON document per sample, each flushed as its own chunk.
pub(super) async fn stats(
    axum::extract::State(b): Backend,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Response> {
    let samples = b.stats(&id, stats_mode(&q)).await?;
    let body = json_lines(samples, "\n").map(Ok::<_, Infallible>);
    Ok((
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

pub(super) async fn update(
    axum::extract::State(b): Backend,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ContainerUpdateBody>,
) -> ApiResult<Response> {
    Ok(Json(b.update(&id, body).await?).into_response())
}
