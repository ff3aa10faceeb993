//! The full router (middleware included) driven with `oneshot`.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use bytes::Bytes;
use std::sync::Arc;

use tower::ServiceExt;

use super::fakes::Fake;
use crate::Backends;
use crate::stream::{StdStream, stdcopy};

pub(super) type Answer = (StatusCode, HeaderMap, Bytes, Vec<String>);

async fn call_with(
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &'static [u8],
) -> Answer {
    send(Fake::backends(), method, uri, headers, body).await
}

/// One request through the full router over the given fakes; answers the
/// status, headers, body and the calls the fakes recorded.
pub(super) async fn send(
    (fake, backends): (Arc<Fake>, Backends),
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &'static [u8],
) -> Answer {
    let app = crate::router(backends);
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, body, fake.calls())
}

async fn call(method: Method, uri: &str) -> Answer {
    call_with(method, uri, &[], b"").await
}

pub(super) fn message(body: &Bytes) -> String {
    let v: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)));
    v["message"].as_str().expect("message field").to_owned()
}

#[tokio::test]
async fn ping_headers_and_body() {
    for uri in ["/_ping", "/v1.41/_ping"] {
        let (status, h, body, _) = call(Method::GET, uri).await;
        assert_eq!(status, 200);
        assert_eq!(&body[..], b"OK");
        assert_eq!(h["api-version"], "1.50");
        assert_eq!(h["ostype"], "linux");
        assert_eq!(h["docker-experimental"], "false");
        assert_eq!(h["swarm"], "inactive");
        assert_eq!(h["cache-control"], "no-cache, no-store, must-revalidate");
        assert_eq!(h["pragma"], "no-cache");
        assert!(h["server"].to_str().unwrap().starts_with("Docker/"));
    }
    let (status, h, body, _) = call(Method::HEAD, "/_ping").await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(h["swarm"], "inactive");
}

#[tokio::test]
async fn unknown_path_is_page_not_found() {
    for uri in ["/nope", "/v1.44/containers/abc/nope", "/vabc/_ping"] {
        let (status, h, body, _) = call(Method::GET, uri).await;
        assert_eq!(status, 404, "{uri}");
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(message(&body), "page not found");
    }
}

#[tokio::test]
async fn version_range_is_enforced() {
    let (status, _, body, calls) = call(Method::GET, "/v1.99/_ping").await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        "client version 1.99 is too new. Maximum supported API version is 1.50"
    );
    assert!(calls.is_empty());
    let (status, _, body, _) = call(Method::GET, "/v1.19/containers/json").await;
    assert_eq!(status, 400);
    assert!(message(&body).starts_with("client version 1.19 is too old."));
}

#[tokio::test]
async fn malformed_json_is_400() {
    let ct = [("content-type", "application/json")];
    let (status, _, body, calls) =
        call_with(Method::POST, "/v1.50/containers/create", &ct, b"xyz").await;
    assert_eq!(status, 400);
    assert!(message(&body).starts_with("invalid JSON"), "{body:?}");
    assert!(calls.is_empty());
}

#[tokio::test]
async fn create_passes_name_and_propagates_409() {
    let ct = [("content-type", "application/json")];
    let (status, _, body, calls) = call_with(
        Method::POST,
        "/containers/create?name=web",
        &ct,
        br#"{"Image":"busybox"}"#,
    )
    .await;
    assert_eq!(status, 201);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["Id"], "c0ffee");
    assert_eq!(
        calls,
        vec![r#"create name=Some("web") image=Some("busybox")"#]
    );

    let (status, _, body, _) = call_with(
        Method::POST,
        "/containers/create?name=taken",
        &ct,
        br#"{"Image":"busybox"}"#,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        message(&body),
        "Conflict. The container name \"/taken\" is already in use"
    );
}

#[tokio::test]
async fn start_of_running_is_304_without_body() {
    let (status, _, body, _) = call(Method::POST, "/v1.45/containers/running/start").await;
    assert_eq!(status, 304);
    assert!(body.is_empty());
    let (status, _, _, _) = call(Method::POST, "/containers/fresh/start").await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn not_found_from_backend() {
    let (status, _, body, _) = call(Method::GET, "/containers/missing/json").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "No such container: missing");
}

#[tokio::test]
async fn query_parameters_reach_the_backend() {
    let (status, _, _, calls) = call(Method::POST, "/containers/abc/stop?t=5&signal=SIGINT").await;
    assert_eq!(status, 204);
    assert_eq!(calls, vec![r#"stop abc signal=Some("SIGINT") t=Some(5)"#]);

    let filters = "%7B%22status%22%3A%5B%22exited%22%5D%7D";
    let (_, _, body, calls) = call(
        Method::GET,
        &format!("/containers/json?all=1&limit=-1&filters={filters}"),
    )
    .await;
    assert_eq!(&body[..], b"[]");
    assert_eq!(
        calls,
        vec![r#"list all=true limit=None filters={"status": ["exited"]}"#]
    );

    let (status, _, body, _) = call(Method::POST, "/containers/abc/stop?t=soon").await;
    assert_eq!(status, 400);
    assert!(message(&body).contains("t"));

    let (status, _, _, calls) = call(Method::POST, "/containers/abc/resize?h=24&w=80").await;
    assert_eq!(status, 200);
    assert_eq!(calls, vec!["resize abc 24x80"]);

    let (status, _, _, calls) = call(Method::DELETE, "/containers/abc?force=1&v=true").await;
    assert_eq!(status, 204);
    assert_eq!(calls, vec!["remove abc force=true v=true"]);
}

#[tokio::test]
async fn version_injects_api_range() {
    let (status, _, body, _) = call(Method::GET, "/version").await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["ApiVersion"], "1.50");
    assert_eq!(v["MinAPIVersion"], "1.24");
    assert_eq!(v["Version"], "28.2.2-shoal");
}

#[tokio::test]
async fn unsupported_features_fail_cleanly() {
    let (status, _, body, _) = call(Method::GET, "/plugins/abc/json").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "plugin \"abc\" not found");
    let (status, _, body, _) = call(Method::GET, "/plugins").await;
    assert_eq!(status, 200);
    assert_eq!(&body[..], b"[]");
    let (status, _, body, _) = call(Method::POST, "/plugins/abc/enable").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "plugin \"abc\" not found");
    let (status, _, body, _) = call(Method::POST, "/plugins/pull?remote=x").await;
    assert_eq!(status, 501);
    assert!(message(&body).contains("no plugin runtime"));
    let (status, _, _, _) = call(
        Method::GET,
        "/plugins?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _, _) = call(Method::GET, "/images/search?term=x").await;
    assert_eq!(status, 501);
}

/// Found by the schema fuzz (tests/tests/system/t50_fuzz.rs): a placeholder answered 501 on
/// every method, and `?link=1` answered 501 before looking the container up; dockerd gives 405
/// and 404 there.
#[tokio::test]
async fn refusals_come_after_dockerd_own_4xx() {
    let (status, _, body, _) = call(Method::POST, "/session").await;
    assert_eq!(status, 501);
    assert!(message(&body).contains("build sessions"));
    for (method, path) in [
        (Method::TRACE, "/session"),
        (Method::GET, "/session"),
        (Method::DELETE, "/images/search"),
        (Method::POST, "/containers/abc/attach/ws"),
    ] {
        let (status, _, body, _) = call(method.clone(), path).await;
        assert_eq!(status, 405, "{method} {path}");
        assert_eq!(message(&body), "method not allowed");
    }
    let (status, _, body, _) = call(Method::DELETE, "/containers/missing?link=1").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "No such container: missing");
    let (status, _, body, _) = call(Method::DELETE, "/containers/abc?link=1").await;
    assert_eq!(status, 501);
    assert!(message(&body).contains("links"));
}

#[tokio::test]
async fn wrong_method_is_json() {
    let (status, _, body, _) = call(Method::PUT, "/_ping").await;
    assert_eq!(status, 405);
    assert_eq!(message(&body), "method not allowed");
}

#[tokio::test]
async fn panics_become_500_json() {
    let (status, _, body, _) = call(Method::GET, "/containers/boom/top").await;
    assert_eq!(status, 500);
    assert!(message(&body).contains("fake backend exploded"));
}

#[tokio::test]
async fn image_names_with_slashes() {
    let (status, _, _, calls) =
        call(Method::GET, "/v1.48/images/localhost:5000/team/app:1/json").await;
    assert_eq!(status, 200);
    assert_eq!(calls, vec!["image-inspect localhost:5000/team/app:1"]);

    let (status, _, body, _) = call(Method::GET, "/images/missing/json").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "No such image: missing");

    let (status, _, _, calls) = call(Method::POST, "/images/busybox/tag?repo=reg/app&tag=v2").await;
    assert_eq!(status, 201);
    assert_eq!(calls, vec![r#"tag busybox reg/app Some("v2")"#]);

    let (status, _, _, calls) = call(Method::DELETE, "/images/reg/app:v2?force=1").await;
    assert_eq!(status, 200);
    assert_eq!(calls, vec!["rmi reg/app:v2 force=true noprune=false"]);

    let (status, h, body, calls) = call(Method::GET, "/images/get?names=a&names=b%2Fc").await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "application/x-tar");
    assert_eq!(&body[..], b"tarball");
    assert_eq!(calls, vec![r#"save ["a", "b/c"]"#]);

    let (status, _, body, _) = call(Method::GET, "/images/busybox/bogus").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "page not found");
}

#[tokio::test]
async fn image_create_pulls_or_imports() {
    let (status, h, body, calls) = call_with(
        Method::POST,
        "/images/create?fromImage=busybox&tag=latest",
        &[("x-registry-auth", "e30=")],
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(
        &body[..],
        b"{\"status\":\"Pulling\"}\r\n{\"status\":\"Done\"}\r\n"
    );
    assert_eq!(
        calls,
        vec![r#"pull busybox Some("latest") platform=None auth=Some("e30=")"#]
    );
    let (status, _, body, calls) = call_with(
        Method::POST,
        "/images/create?fromImage=busybox&platform=linux/arm64&changes=CMD%20sh",
        &[],
        b"",
    )
    .await;
    assert_eq!(status, 400);
    assert!(message(&body).contains("changes"), "{}", message(&body));
    assert!(calls.is_empty(), "{calls:?}");

    let (status, _, body, calls) = call_with(
        Method::POST,
        "/commit?container=abc&repo=x&changes=CMD%20sh&pause=0",
        &[],
        b"{}",
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    assert_eq!(calls.len(), 1);
    assert!(calls[0].contains("pause: false"), "{calls:?}");
    let (status, _, body, _) = call_with(
        Method::POST,
        "/commit?container=abc",
        &[],
        br#"{"Cmd":["sh"]}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(message(&body).contains("commit body"), "{}", message(&body));

    let (status, _, _, calls) = call_with(
        Method::POST,
        "/images/create?fromSrc=-&repo=imp&changes=CMD%20sh&changes=ENV%20A%3D1",
        &[],
        b"rootfs-tar",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        calls,
        vec![r#"import bytes=10 repo=Some("imp") changes=["CMD sh", "ENV A=1"]"#]
    );

    let (status, _, _, calls) =
        call_with(Method::POST, "/images/load?quiet=1", &[], b"12345").await;
    assert_eq!(status, 200);
    assert_eq!(calls, vec!["load quiet=true bytes=5"]);
}

#[tokio::test]
async fn logs_are_framed_with_timestamps() {
    let (status, h, body, _) = call(
        Method::GET,
        "/containers/abc/logs?stdout=1&stderr=1&timestamps=1&tail=all",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        h["content-type"],
        "application/vnd.docker.multiplexed-stream"
    );
    let mut d = stdcopy::Decoder::new();
    d.push(&body);
    let (s, data) = d.next_frame().unwrap().unwrap();
    assert_eq!(s, StdStream::Stdout);
    assert_eq!(&data[..], b"2023-11-14T22:13:20.000000000Z out\n");
    let (s, _) = d.next_frame().unwrap().unwrap();
    assert_eq!(s, StdStream::Stderr);

    let (status, h, body, _) = call(Method::GET, "/v1.41/containers/tty/logs?stdout=1").await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "application/vnd.docker.raw-stream");
    assert_eq!(&body[..], b"out\nerr\n");

    let (status, _, body, _) = call(Method::GET, "/containers/abc/logs").await;
    assert_eq!(status, 400);
    assert!(message(&body).contains("at least one stream"));
}

#[tokio::test]
async fn events_are_json_lines() {
    let (status, h, body, calls) =
        call(Method::GET, "/events?since=1700000000.5&until=1700000100").await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "application/json");
    let lines: Vec<serde_json::Value> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["Action"], "start");
    assert_eq!(
        calls,
        vec!["events Some(1700000000.5) Some(1700000100.0) {}"]
    );

    let (status, _, _, _) = call(Method::GET, "/events?filters=%7Bbad").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn exec_create_and_detached_start() {
    let ct = [("content-type", "application/json")];
    let (status, _, body, calls) = call_with(
        Method::POST,
        "/containers/abc/exec",
        &ct,
        br#"{"Cmd":["true"]}"#,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["Id"],
        "e1"
    );
    assert_eq!(calls, vec![r#"exec-create abc Some(["true"])"#]);

    let (status, _, body, calls) =
        call_with(Method::POST, "/exec/e1/start", &ct, br#"{"Detach":true}"#).await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(calls, vec!["exec-start e1 detach=true tty=None"]);

    let (status, _, _, _) = call(Method::POST, "/exec/missing/start").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn attach_without_upgrade_streams_plain() {
    // Old clients: no Upgrade header, output in a 200 body; the request
    // body feeds stdin, and the echo backend ends output at stdin EOF.
    let (status, h, body, calls) = call_with(
        Method::POST,
        "/containers/abc/attach?stream=1&stdin=1&stdout=1",
        &[],
        b"ping",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        h["content-type"],
        "application/vnd.docker.multiplexed-stream"
    );
    assert_eq!(&body[..], &stdcopy::encode(StdStream::Stdout, b"ping")[..]);
    assert_eq!(calls, vec!["attach abc stdin=true stream=true"]);

    let (status, _, _, _) = call(Method::POST, "/containers/missing/attach?stream=1").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn volume_routes_parse_like_dockerd() {
    let ct = [("content-type", "application/json")];
    // Go matches field names ignoring case; so does Shoal.
    let (status, _, body, calls) =
        call_with(Method::POST, "/volumes/create", &ct, br#"{"name":"v1"}"#).await;
    assert_eq!(status, 201);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["Name"],
        "v1"
    );
    assert_eq!(calls, vec!["volume-create v1"]);
    let (status, _, body, _) = call(
        Method::GET,
        "/volumes?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(message(&body), "invalid filter 'bogus'");
    let (status, _, _, calls) = call(Method::DELETE, "/volumes/v1?force=1").await;
    assert_eq!(status, 204);
    assert_eq!(calls, vec!["volume-remove v1 force=true"]);
    let (status, _, body, _) = call(Method::GET, "/v1.50/volumes/abc").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "get abc: no such volume");
}

#[tokio::test]
async fn archive_stat_header_is_base64_json() {
    let (status, h, body, calls) = call(Method::HEAD, "/containers/c1/archive?path=/etc/f").await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(calls, vec!["stat c1 /etc/f"]);
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(h["x-docker-container-path-stat"].as_bytes())
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(v["name"], "f");
    assert_eq!(v["mode"], 0o644);
    let (status, _, body, _) = call(Method::PUT, "/containers/c1/archive").await;
    assert_eq!(status, 400);
    assert_eq!(message(&body), "bad parameter: path cannot be empty");
}

/// A body the handler never reads is still read to its end before the
/// answer, so a client that writes it after the head never hits a closed
/// socket (the flaky "Broken pipe" of garbage-body tests).
#[tokio::test]
async fn small_ignored_body_is_drained_before_answering() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let finished = Arc::new(AtomicBool::new(false));
    let flag = finished.clone();
    use futures::StreamExt;
    let chunks = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"xyz"))])
        .chain(futures::stream::poll_fn(move |_| {
            flag.store(true, Ordering::SeqCst);
            std::task::Poll::Ready(None)
        }));
    let (_fake, backends) = Fake::backends();
    let req = Request::builder()
        .method(Method::POST)
        .uri("/containers/fresh/start")
        .header("content-length", "3")
        .body(Body::from_stream(chunks))
        .unwrap();
    let resp = crate::router(backends).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(
        finished.load(Ordering::SeqCst),
        "body must be read to its end before the handler answers"
    );
}

/// Latency is reported per route template (not per container ID) and status.
#[tokio::test]
async fn request_metrics_see_route_templates() {
    use std::sync::Mutex;
    #[derive(Default)]
    struct Seen(Mutex<Vec<(String, String, u16)>>);
    impl crate::RequestMetrics for Seen {
        fn observe(&self, method: &str, route: &str, status: u16, _: std::time::Duration) {
            let mut v = self.0.lock().unwrap();
            v.push((method.to_owned(), route.to_owned(), status));
        }
    }
    let seen = Arc::new(Seen::default());
    let (_fake, backends) = Fake::backends();
    let app = crate::router_observed(backends, Some(seen.clone()));
    for uri in ["/v1.45/containers/fresh/start", "/no/such/path"] {
        let req = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        app.clone().oneshot(req).await.unwrap();
    }
    let got = seen.0.lock().unwrap().clone();
    assert_eq!(
        got,
        vec![
            ("POST".into(), "/containers/{id}/start".into(), 204),
            ("POST".into(), "unmatched".into(), 404),
        ]
    );
}

#[tokio::test]
async fn stats_modes_and_update() {
    let (status, headers, body, calls) = call(Method::GET, "/containers/abc/stats").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        String::from_utf8_lossy(&body),
        "{\"id\":\"abc\",\"n\":1}\n{\"id\":\"abc\",\"n\":2}\n"
    );
    assert_eq!(calls, vec!["stats abc Stream"]);
    let (_, _, _, calls) = call(Method::GET, "/containers/abc/stats?stream=0").await;
    assert_eq!(calls, vec!["stats abc Single"]);
    let (_, _, _, calls) = call(Method::GET, "/containers/abc/stats?stream=false&one-shot=1").await;
    assert_eq!(calls, vec!["stats abc OneShot"]);
    let (status, _, body, calls) = call_with(
        Method::POST,
        "/containers/abc/update",
        &[("content-type", "application/json")],
        br#"{"Memory": 67108864}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(&body[..], br#"{"Warnings":[]}"#);
    assert_eq!(calls, vec!["update abc memory=Some(67108864)"]);
}
