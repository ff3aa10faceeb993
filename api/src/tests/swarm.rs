//! `/swarm` and `/nodes` through the full router, with the requests the
//! docker CLI 28 sends and dockerd's answers.

use axum::http::Method;

use super::fakes::Fake;
use super::router::{Answer, message, send};
use super::swarm_fakes::{ALREADY_IN_SWARM, SwarmRole, UNLOCK_KEY, WORKER_NOT_MANAGER};
use crate::routers::unsupported::{NOT_A_SWARM_MANAGER, NOT_IN_SWARM};

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

/// What `docker swarm init --autolock --default-addr-pool 10.20.0.0/16`
/// posts (trimmed to the fields the router touches).
const INIT_BODY: &[u8] = br#"{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":"10.0.0.1",
    "DataPathAddr":"","DataPathPort":0,"DefaultAddrPool":["10.20.0.0/16"],
    "ForceNewCluster":false,"Spec":{"Name":"","Labels":null,"Orchestration":{},"Raft":
    {"ElectionTick":10,"HeartbeatTick":1},"Dispatcher":{},"CAConfig":{},"TaskDefaults":{},
    "EncryptionConfig":{"AutoLockManagers":true}},"AutoLockManagers":true,"Availability":"",
    "SubnetSize":24}"#;

#[tokio::test]
async fn init_answers_the_node_id_as_a_json_string() {
    let (status, h, body, calls) = as_role(
        SwarmRole::Inactive,
        Method::POST,
        "/v1.50/swarm/init",
        INIT_BODY,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(json(&body), "n1");
    assert_eq!(
        calls,
        vec![
            r#"swarm-init listen=Some("0.0.0.0:2377") advertise=Some("10.0.0.1") pool=Some(["10.20.0.0/16"]) subnet=Some(24) port=Some(0) autolock=Some(true)"#,
            "availability=None",
        ]
    );

    let (status, _, body, calls) =
        as_role(SwarmRole::Manager, Method::POST, "/swarm/init", INIT_BODY).await;
    assert_eq!(status, 503);
    assert_eq!(message(&body), ALREADY_IN_SWARM);
    assert!(calls.is_empty());
}

#[tokio::test]
async fn init_drops_fields_older_clients_cannot_send() {
    let (_, _, _, calls) = as_role(
        SwarmRole::Inactive,
        Method::POST,
        "/v1.38/swarm/init",
        INIT_BODY,
    )
    .await;
    assert!(
        calls[0].contains("pool=None subnet=None port=None"),
        "{calls:?}"
    );
    let (_, _, _, calls) = as_role(
        SwarmRole::Inactive,
        Method::POST,
        "/v1.39/swarm/init",
        INIT_BODY,
    )
    .await;
    assert!(
        calls[0].contains(r#"pool=Some(["10.20.0.0/16"]) subnet=Some(24) port=None"#),
        "{calls:?}"
    );
}

#[tokio::test]
async fn init_carries_what_the_swagger_leaves_out() {
    // An SDK may set only the top-level AutoLockManagers; dockerd honours it.
    let req: &[u8] = br#"{"ListenAddr":"0.0.0.0:2377","AutoLockManagers":true,
        "Availability":"drain"}"#;
    let (status, _, _, calls) =
        as_role(SwarmRole::Inactive, Method::POST, "/swarm/init", req).await;
    assert_eq!(status, 200);
    assert!(calls[0].ends_with("autolock=Some(true)"), "{calls:?}");
    assert_eq!(calls[1], "availability=Some(DRAIN)");

    // An empty body is the zero request, as moby's ReadJSON has it.
    let (status, _, body, calls) =
        as_role(SwarmRole::Inactive, Method::POST, "/swarm/init", b"").await;
    assert_eq!(status, 200);
    assert_eq!(json(&body), "n1");
    assert!(calls[0].ends_with("autolock=None"), "{calls:?}");

    let (status, _, body, calls) = as_role(
        SwarmRole::Inactive,
        Method::POST,
        "/swarm/join",
        br#"{"Availability":"sleepy"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(message(&body).starts_with("invalid JSON"), "{body:?}");
    assert!(calls.is_empty());
}

#[tokio::test]
async fn join_takes_the_cli_body_and_answers_a_bare_200() {
    let req: &[u8] = br#"{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":"","DataPathAddr":"",
        "RemoteAddrs":["10.0.0.1:2377"],"JoinToken":"SWMTKN-1-abc","Availability":"active"}"#;
    let (status, _, body, calls) =
        as_role(SwarmRole::Inactive, Method::POST, "/v1.50/swarm/join", req).await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(
        calls,
        vec![
            r#"swarm-join listen=Some("0.0.0.0:2377") remotes=Some(["10.0.0.1:2377"]) token=Some("SWMTKN-1-abc")"#,
            "availability=Some(ACTIVE)",
        ]
    );

    let (status, _, body, _) = manager(Method::POST, "/swarm/join", req).await;
    assert_eq!(status, 503);
    assert_eq!(message(&body), ALREADY_IN_SWARM);

    let (status, _, body, calls) =
        as_role(SwarmRole::Inactive, Method::POST, "/swarm/join", b"{nope").await;
    assert_eq!(status, 400);
    assert!(message(&body).starts_with("invalid JSON"), "{body:?}");
    assert!(calls.is_empty());
}

#[tokio::test]
async fn leave_reads_force_and_passes_not_in_swarm_through() {
    let (status, _, body, calls) = manager(Method::POST, "/v1.50/swarm/leave?force=1", b"").await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(calls, vec!["swarm-leave force=true"]);
    let (_, _, _, calls) = manager(Method::POST, "/swarm/leave", b"").await;
    assert_eq!(calls, vec!["swarm-leave force=false"]);

    let (status, _, body, _) =
        as_role(SwarmRole::Inactive, Method::POST, "/swarm/leave", b"").await;
    assert_eq!(status, 503);
    assert_eq!(message(&body), NOT_IN_SWARM);
}

#[tokio::test]
async fn inspect_shows_join_tokens_to_managers_only() {
    let (status, _, body, _) = manager(Method::GET, "/v1.50/swarm", b"").await;
    assert_eq!(status, 200);
    let v = json(&body);
    assert_eq!(v["ID"], "swarm1");
    assert_eq!(v["Version"]["Index"], 7);
    assert_eq!(v["JoinTokens"]["Worker"], "SWMTKN-1-w");
    assert_eq!(v["JoinTokens"]["Manager"], "SWMTKN-1-m");

    let (status, _, body, _) = as_role(SwarmRole::Worker, Method::GET, "/swarm", b"").await;
    assert_eq!(status, 503);
    assert_eq!(message(&body), WORKER_NOT_MANAGER);
    let (status, _, body, _) = as_role(SwarmRole::Inactive, Method::GET, "/swarm", b"").await;
    assert_eq!(status, 503);
    assert_eq!(message(&body), NOT_A_SWARM_MANAGER);
}

#[tokio::test]
async fn update_parses_version_and_rotate_flags() {
    // `docker swarm join-token --rotate worker` sends every flag as true/false.
    let uri = "/v1.50/swarm/update?rotateManagerToken=false&rotateManagerUnlockKey=false\
               &rotateWorkerToken=true&version=7";
    let (status, _, body, calls) = manager(Method::POST, uri, br#"{"Name":"default"}"#).await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(
        calls,
        vec![
            r#"swarm-update v=7 name=Some("default") SwarmUpdateFlags { rotate_worker_token: true, rotate_manager_token: false, rotate_manager_unlock_key: false }"#
        ]
    );

    let (status, _, body, _) = manager(Method::POST, "/swarm/update?version=6", b"{}").await;
    assert_eq!(status, 409);
    assert!(message(&body).starts_with("update out of sequence"));

    let (status, _, body, _) = as_role(
        SwarmRole::Worker,
        Method::POST,
        "/swarm/update?version=7",
        b"{}",
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(message(&body), WORKER_NOT_MANAGER);
}

#[tokio::test]
async fn update_without_a_good_version_is_400_like_dockerd() {
    for (uri, want) in [
        (
            "/swarm/update",
            r#"invalid swarm version '': strconv.ParseUint: parsing "": invalid syntax"#,
        ),
        (
            "/swarm/update?version=abc",
            r#"invalid swarm version 'abc': strconv.ParseUint: parsing "abc": invalid syntax"#,
        ),
        (
            "/swarm/update?version=-1",
            r#"invalid swarm version '-1': strconv.ParseUint: parsing "-1": invalid syntax"#,
        ),
        (
            "/swarm/update?version=7&rotateWorkerToken=yes",
            "invalid value for rotateWorkerToken: yes",
        ),
        (
            "/swarm/update?version=7&rotateManagerUnlockKey=2",
            "invalid value for rotateManagerUnlockKey: 2",
        ),
    ] {
        let (status, _, body, calls) = manager(Method::POST, uri, b"{}").await;
        assert_eq!(status, 400, "{uri}");
        assert_eq!(message(&body), want, "{uri}");
        assert!(calls.is_empty(), "{uri}");
    }
    // The body is read first, so bad JSON wins over a bad version.
    let (status, _, body, _) = manager(Method::POST, "/swarm/update?version=x", b"[").await;
    assert_eq!(status, 400);
    assert!(message(&body).starts_with("invalid JSON"), "{body:?}");
}

#[tokio::test]
async fn unlock_key_and_unlock() {
    let (status, _, body, _) = manager(Method::GET, "/v1.50/swarm/unlockkey", b"").await;
    assert_eq!(status, 200);
    assert_eq!(json(&body), serde_json::json!({ "UnlockKey": UNLOCK_KEY }));
    let (status, _, body, _) =
        as_role(SwarmRole::Inactive, Method::GET, "/swarm/unlockkey", b"").await;
    assert_eq!(status, 503);
    assert_eq!(message(&body), NOT_A_SWARM_MANAGER);

    let (status, _, body, calls) = manager(
        Method::POST,
        "/v1.50/swarm/unlock",
        br#"{"UnlockKey":"SWMKEY-1-fake"}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(calls, vec![r#"swarm-unlock Some("SWMKEY-1-fake")"#]);
    let (status, _, body, _) =
        manager(Method::POST, "/swarm/unlock", br#"{"UnlockKey":"wrong"}"#).await;
    assert_eq!(status, 400);
    assert_eq!(message(&body), "swarm could not be unlocked: invalid key");
}

#[tokio::test]
async fn unknown_swarm_paths_and_methods() {
    let (status, _, body, _) = manager(Method::GET, "/swarm/nope", b"").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "page not found");
    let (status, _, _, calls) = manager(Method::GET, "/swarm/init", b"").await;
    assert_eq!(status, 405);
    assert!(calls.is_empty());
    let (status, _, body, _) = manager(Method::GET, "/nodes/n1/nope", b"").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "page not found");
}

#[tokio::test]
async fn node_ls_passes_filters() {
    let uri = "/v1.50/nodes?filters=%7B%22role%22%3A%7B%22manager%22%3Atrue%7D%7D";
    let (status, _, body, calls) = manager(Method::GET, uri, b"").await;
    assert_eq!(status, 200);
    let v = json(&body);
    assert_eq!(v[0]["ID"], "n1");
    assert_eq!(v[0]["Description"]["Hostname"], "host1");
    assert_eq!(calls, vec![r#"node-ls {"role": ["manager"]}"#]);

    let (status, _, body, calls) = manager(Method::GET, "/nodes?filters=%7Bx", b"").await;
    assert_eq!(status, 400);
    assert!(message(&body).starts_with("invalid filter"));
    assert!(calls.is_empty());

    let (status, _, body, _) = as_role(SwarmRole::Worker, Method::GET, "/nodes", b"").await;
    assert_eq!(status, 503);
    assert_eq!(message(&body), WORKER_NOT_MANAGER);
    let (status, _, body, _) = as_role(SwarmRole::Inactive, Method::GET, "/nodes", b"").await;
    assert_eq!(status, 503);
    assert_eq!(message(&body), NOT_A_SWARM_MANAGER);
}

#[tokio::test]
async fn node_inspect_and_404() {
    let (status, _, body, calls) = manager(Method::GET, "/v1.50/nodes/n1", b"").await;
    assert_eq!(status, 200);
    let v = json(&body);
    assert_eq!(v["ID"], "n1");
    assert_eq!(v["Version"]["Index"], 3);
    assert_eq!(v["Spec"]["Role"], "manager");
    assert_eq!(v["Spec"]["Availability"], "active");
    assert_eq!(v["Status"]["State"], "ready");
    assert_eq!(v["ManagerStatus"]["Reachability"], "reachable");
    assert_eq!(v["ManagerStatus"]["Addr"], "10.0.0.1:2377");
    assert_eq!(calls, vec!["node-inspect n1"]);

    let (status, _, body, _) = manager(Method::GET, "/nodes/missing", b"").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "node missing not found");
}

#[tokio::test]
async fn node_update_posts_the_spec_at_a_version() {
    // `docker node promote n1`: the Spec it just read, Role changed.
    let spec: &[u8] = br#"{"Labels":{"zone":"a"},"Role":"manager","Availability":"drain"}"#;
    let (status, _, body, calls) =
        manager(Method::POST, "/v1.50/nodes/n1/update?version=3", spec).await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(
        calls,
        vec![
            r#"node-update n1 v=3 role=Some(MANAGER) availability=Some(DRAIN) labels=Some({"zone": "a"})"#
        ]
    );

    let (status, _, body, _) = manager(Method::POST, "/nodes/n1/update?version=2", spec).await;
    assert_eq!(status, 409);
    assert!(message(&body).starts_with("update out of sequence"));

    let (status, _, body, calls) = manager(Method::POST, "/nodes/n1/update", spec).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        r#"invalid node version '': strconv.ParseUint: parsing "": invalid syntax"#
    );
    assert!(calls.is_empty());

    let (status, _, body, _) = manager(
        Method::POST,
        "/nodes/n1/update?version=3",
        br#"{"Role":"boss"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(message(&body).starts_with("invalid JSON"), "{body:?}");

    let (status, _, body, _) = manager(Method::POST, "/nodes/missing/update?version=3", spec).await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "node missing not found");
}

#[tokio::test]
async fn node_rm_reads_force() {
    let (status, _, body, calls) = manager(Method::DELETE, "/v1.50/nodes/n1?force=1", b"").await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(calls, vec!["node-rm n1 force=true"]);
    let (_, _, _, calls) = manager(Method::DELETE, "/nodes/n1", b"").await;
    assert_eq!(calls, vec!["node-rm n1 force=false"]);
    let (status, _, body, _) = manager(Method::DELETE, "/nodes/missing", b"").await;
    assert_eq!(status, 404);
    assert_eq!(message(&body), "node missing not found");
    let (status, _, body, _) = as_role(SwarmRole::Worker, Method::DELETE, "/nodes/n1", b"").await;
    assert_eq!(status, 503);
    assert_eq!(message(&body), WORKER_NOT_MANAGER);
}
