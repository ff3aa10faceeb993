//! `/services`, `/tasks`, `/secrets` and `/configs` through the full
//! router, with the requests the docker CLI 28 sends and dockerd's answers.

use axum::http::Method;

use super::fakes::Fake;
use super::router::{Answer, message, send};
use super::swarm_fakes::{SwarmRole, WORKER_NOT_MANAGER};
use crate::routers::unsupported::NOT_A_SWARM_MANAGER;

const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

async fn as_role(role: SwarmRole, method: Method, uri: &str, body: &'static [u8]) -> Answer {
    send(Fake::backends_as(role), method, uri, JSON, body).await
}

async fn manager(method: Method, uri: &str, body: &'static [u8]) -> Answer {
    as_role(SwarmRole::Manager, method, uri, body).await
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

const SERVICE_BODY: &[u8] = br#"{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"busybox"}},
    "Mode":{"Replicated":{"Replicas":2}}}"#;

#[tokio::test]
async fn service_create_answers_201_with_the_id_and_passes_registry_auth() {
    let (fake, backends) = Fake::backends();
    let (status, _, body, calls) = send(
        (fake, backends),
        Method::POST,
        "/v1.50/services/create",
        &[
            ("content-type", "application/json"),
            ("x-registry-auth", "e30="),
        ],
        SERVICE_BODY,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(json(&body)["ID"], "newid");
    assert_eq!(
        calls,
        vec![r#"service-create name=Some("web") auth=Some("e30=")"#]
    );
}

#[tokio::test]
async fn service_create_with_bad_json_is_400() {
    let (status, _, body, calls) = manager(Method::POST, "/services/create", b"{").await;
    assert_eq!(status, 400);
    assert!(!message(&body).is_empty());
    assert!(calls.is_empty());
}

#[tokio::test]
async fn cluster_objects_answer_503_off_managers() {
    for (role, text) in [
        (SwarmRole::Worker, WORKER_NOT_MANAGER),
        (SwarmRole::Inactive, NOT_A_SWARM_MANAGER),
    ] {
        for (method, uri) in [
            (Method::GET, "/services"),
            (Method::GET, "/services/web"),
            (Method::DELETE, "/services/web"),
            (Method::GET, "/tasks"),
            (Method::GET, "/tasks/t1"),
            (Method::GET, "/secrets"),
            (Method::DELETE, "/secrets/s1"),
            (Method::GET, "/configs"),
            (Method::GET, "/configs/c1"),
        ] {
            let (status, _, body, calls) = as_role(role, method.clone(), uri, b"").await;
            assert_eq!(status, 503, "{method} {uri} as {role:?}");
            assert_eq!(message(&body), text, "{method} {uri}");
            assert!(calls.is_empty());
        }
    }
}

#[tokio::test]
async fn service_list_passes_filters_and_status() {
    let (status, _, body, calls) = manager(
        Method::GET,
        "/v1.50/services?status=true&filters=%7B%22name%22%3A%7B%22web%22%3Atrue%7D%7D",
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)[0]["ID"], "web");
    assert_eq!(calls, vec![r#"service-ls {"name": ["web"]} status=true"#]);
}

#[tokio::test]
async fn service_inspect_and_missing_service() {
    let (status, _, body, calls) =
        manager(Method::GET, "/services/web?insertDefaults=true", b"").await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)["Version"]["Index"], 5);
    assert_eq!(calls, vec!["service-inspect web defaults=true"]);
    let (status, _, body, _) = manager(Method::GET, "/services/missing", b"").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "service missing not found");
}

#[tokio::test]
async fn service_update_needs_a_version_and_reads_rollback_and_auth_source() {
    let (status, _, body, calls) =
        manager(Method::POST, "/services/web/update", SERVICE_BODY).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        r#"invalid service version '': strconv.ParseUint: parsing "": invalid syntax"#
    );
    assert!(calls.is_empty());

    let (status, _, body, calls) = manager(
        Method::POST,
        "/services/web/update?version=5&rollback=previous&registryAuthFrom=previous-spec",
        SERVICE_BODY,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        calls,
        vec![
            r#"service-update web v=5 name=Some("web") rollback=true from=PreviousSpec auth=None"#
        ]
    );

    let (status, _, body, _) =
        manager(Method::POST, "/services/web/update?version=4", SERVICE_BODY).await;
    assert_eq!(status, 409);
    assert_eq!(message(&body), "update out of sequence");

    let (status, _, body, _) = manager(
        Method::POST,
        "/services/web/update?version=5&registryAuthFrom=elsewhere",
        SERVICE_BODY,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(message(&body), "invalid registryAuthFrom value: elsewhere");
}

#[tokio::test]
async fn service_remove() {
    let (status, _, _, calls) = manager(Method::DELETE, "/services/web", b"").await;
    assert_eq!(status, 200);
    assert_eq!(calls, vec!["service-rm web"]);
    let (status, _, _, _) = manager(Method::DELETE, "/services/missing", b"").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn service_logs_are_multiplexed_and_need_a_stream() {
    let (status, _, body, calls) = manager(Method::GET, "/v1.50/services/web/logs", b"").await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        "Bad parameters: you must choose at least one stream"
    );
    assert!(calls.is_empty());

    let (status, h, body, calls) = manager(
        Method::GET,
        "/v1.50/services/web/logs?stdout=1&stderr=1&details=1&tail=10",
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        h["content-type"],
        "application/vnd.docker.multiplexed-stream"
    );
    let line = b"com.docker.swarm.task.id=t1 out\n";
    let mut want = vec![1u8, 0, 0, 0, 0, 0, 0, u8::try_from(line.len()).unwrap()];
    want.extend_from_slice(line);
    assert!(body.starts_with(&want), "{body:?}");
    assert_eq!(body[want.len()], 2, "stderr frame second");
    assert_eq!(
        calls,
        vec!["service-logs web follow=false tail=Some(10) details=true"]
    );

    let (status, _, _, calls) = manager(Method::GET, "/tasks/t1/logs?stdout=1", b"").await;
    assert_eq!(status, 200);
    assert_eq!(calls, vec!["task-logs t1"]);
}

#[tokio::test]
async fn tasks_list_and_inspect() {
    let (status, _, body, calls) = manager(
        Method::GET,
        "/tasks?filters=%7B%22service%22%3A%7B%22web%22%3Atrue%7D%7D",
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)[0]["ID"], "t1");
    assert_eq!(calls, vec![r#"task-ls {"service": ["web"]}"#]);
    let (status, _, body, _) = manager(Method::GET, "/tasks/missing", b"").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "task missing not found");
}

#[tokio::test]
async fn secrets_create_conflict_update_and_remove() {
    let (status, _, body, calls) = manager(
        Method::POST,
        "/secrets/create",
        br#"{"Name":"pw","Data":"aGVsbG8="}"#,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(json(&body)["ID"], "s1");
    assert_eq!(
        calls,
        vec![r#"secret-create name=Some("pw") data=Some("aGVsbG8=")"#]
    );
    let (status, _, body, _) =
        manager(Method::POST, "/secrets/create", br#"{"Name":"taken"}"#).await;
    assert_eq!(status, 409);
    assert_eq!(message(&body), "secret taken already exists");

    let (status, _, _, calls) = manager(
        Method::POST,
        "/secrets/s1/update?version=2",
        br#"{"Name":"pw","Labels":{"a":"b"}}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(calls, vec![r#"secret-update s1 labels=Some({"a": "b"})"#]);
    let (status, _, _, _) = manager(Method::POST, "/secrets/s1/update?version=1", b"{}").await;
    assert_eq!(status, 409);

    let (status, _, _, calls) = manager(Method::DELETE, "/secrets/s1", b"").await;
    assert_eq!(status, 204);
    assert_eq!(calls, vec!["secret-rm s1"]);
    let (status, _, body, _) = manager(Method::GET, "/secrets/missing", b"").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "secret missing not found");
}

#[tokio::test]
async fn configs_create_inspect_and_remove() {
    let (status, _, body, calls) = manager(
        Method::POST,
        "/configs/create",
        br#"{"Name":"conf","Data":""}"#,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(json(&body)["ID"], "c1");
    assert_eq!(calls, vec![r#"config-create name=Some("conf")"#]);
    let (status, _, _, _) = manager(Method::GET, "/configs/c1", b"").await;
    assert_eq!(status, 200);
    let (status, _, _, calls) = manager(Method::DELETE, "/configs/c1", b"").await;
    assert_eq!(status, 204);
    assert_eq!(calls, vec!["config-rm c1"]);
}
