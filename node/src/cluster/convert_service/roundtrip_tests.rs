//! The CLI's read-modify-write (`docker service scale`, `service update --label-add`): a spec
//! read back with `GET /services/{id}` and posted again converts to the same model, so no
//! task looks outdated and nothing restarts.

use shoal_api::models as m;

use super::{service_spec_from_api, to_api::service_spec_to_api};

/// What CLI 28.2 posts for `docker service create --name rep --replicas 2 busybox sleep 3600`
/// (captured on the wire).
const CREATE: &str = r#"{"Name":"rep","Labels":{},"TaskTemplate":{"ContainerSpec":{"Image":"busybox:latest","Args":["sleep","3600"],"Init":false,"DNSConfig":{}},"Resources":{"Limits":{},"Reservations":{}},"Placement":{},"ForceUpdate":0},"Mode":{"Replicated":{"Replicas":2}},"EndpointSpec":{"Mode":"vip"}}"#;

/// What it then posts for `docker service scale rep=3`: the spec it read back, replicas changed.
const SCALE: &str = r#"{"Name":"rep","Labels":{},"TaskTemplate":{"ContainerSpec":{"Image":"busybox:latest","Args":["sleep","3600"],"Init":false},"Resources":{"Limits":{},"Reservations":{}},"RestartPolicy":{"Condition":"any","MaxAttempts":0},"Placement":{},"ForceUpdate":0,"Runtime":"container"},"Mode":{"Replicated":{"Replicas":3}},"EndpointSpec":{"Mode":"vip"}}"#;

/// `docker service create` with most task flags (env, labels, restart and update policies,
/// hostname template, mounts, secret, config, resources, placement, healthcheck, user,
/// read-only, init, capabilities, sysctls, ulimits, DNS, hosts, groups), as CLI 28.2 posts it.
const CREATE_FULL: &str = r#"{"Name":"full","Labels":{"l":"1"},"TaskTemplate":{"ContainerSpec":{"Image":"busybox:latest","Labels":{"cl":"1"},"Args":["sleep","3600"],"Hostname":"{{.Service.Name}}-{{.Task.Slot}}","Env":["A=1"],"Dir":"/","User":"root","Groups":["wheel"],"Init":true,"StopSignal":"SIGINT","ReadOnly":true,"Mounts":[{"Type":"tmpfs","Target":"/scratch"},{"Type":"volume","Source":"v1","Target":"/data"}],"StopGracePeriod":3000000000,"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000},"Hosts":["1.2.3.4 h"],"DNSConfig":{"Nameservers":["1.1.1.1"]},"Secrets":[{"File":{"Name":"pw","UID":"0","GID":"0","Mode":292},"SecretID":"cksli87jjy0nzg5rpppb117k5","SecretName":"pw"}],"Configs":[{"File":{"Name":"/cf","UID":"0","GID":"0","Mode":292},"ConfigID":"7ox0m1pgzj14fquq30yqtg1w3","ConfigName":"cf"}],"Sysctls":{"net.ipv4.ip_forward":"1"},"CapabilityAdd":["CAP_NET_ADMIN"],"Ulimits":[{"Name":"nofile","Hard":2048,"Soft":1024}]},"Resources":{"Limits":{"NanoCPUs":500000000,"MemoryBytes":67108864},"Reservations":{"MemoryBytes":16777216}},"RestartPolicy":{"Condition":"on-failure","Delay":2000000000,"MaxAttempts":3,"Window":10000000000},"Placement":{"Constraints":["node.role==manager"],"Preferences":[{"Spread":{"SpreadDescriptor":"node.labels.zone"}}],"MaxReplicas":2},"ForceUpdate":0},"Mode":{"Replicated":{"Replicas":2}},"UpdateConfig":{"Parallelism":2,"Delay":1000000000,"FailureAction":"rollback","Monitor":5000000000,"MaxFailureRatio":0,"Order":"start-first"},"RollbackConfig":{"Parallelism":1,"FailureAction":"pause","Monitor":5000000000,"MaxFailureRatio":0,"Order":"stop-first"},"EndpointSpec":{"Mode":"vip"}}
"#;

/// What it then posts for `docker service update --label-add x=y full`.
const LABEL_ADD_FULL: &str = r#"{"Name":"full","Labels":{"l":"1","x":"y"},"TaskTemplate":{"ContainerSpec":{"Image":"busybox:latest","Labels":{"cl":"1"},"Args":["sleep","3600"],"Hostname":"{{.Service.Name}}-{{.Task.Slot}}","Env":["A=1"],"Dir":"/","User":"root","Groups":["wheel"],"Init":true,"StopSignal":"SIGINT","ReadOnly":true,"Mounts":[{"Type":"tmpfs","Target":"/scratch"},{"Type":"volume","Source":"v1","Target":"/data"}],"StopGracePeriod":3000000000,"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000},"Hosts":["1.2.3.4 h"],"DNSConfig":{"Nameservers":["1.1.1.1"]},"Secrets":[{"File":{"Name":"pw","UID":"0","GID":"0","Mode":292},"SecretID":"cksli87jjy0nzg5rpppb117k5","SecretName":"pw"}],"Configs":[{"File":{"Name":"/cf","UID":"0","GID":"0","Mode":292},"ConfigID":"7ox0m1pgzj14fquq30yqtg1w3","ConfigName":"cf"}],"Sysctls":{"net.ipv4.ip_forward":"1"},"CapabilityAdd":["CAP_NET_ADMIN"],"Ulimits":[{"Name":"nofile","Hard":2048,"Soft":1024}]},"Resources":{"Limits":{"NanoCPUs":500000000,"MemoryBytes":67108864},"Reservations":{"MemoryBytes":16777216}},"RestartPolicy":{"Condition":"on-failure","Delay":2000000000,"MaxAttempts":3,"Window":10000000000},"Placement":{"Constraints":["node.role==manager"],"Preferences":[{"Spread":{"SpreadDescriptor":"node.labels.zone"}}],"MaxReplicas":2},"ForceUpdate":0,"Runtime":"container"},"Mode":{"Replicated":{"Replicas":2}},"UpdateConfig":{"Parallelism":2,"Delay":1000000000,"FailureAction":"rollback","Monitor":5000000000,"MaxFailureRatio":0,"Order":"start-first"},"RollbackConfig":{"Parallelism":1,"FailureAction":"pause","Monitor":5000000000,"MaxFailureRatio":0,"Order":"stop-first"},"EndpointSpec":{"Mode":"vip"}}
"#;

/// The model of a posted spec; the router has already folded the CLI's `Healthcheck` into the
/// generated model's `HealthCheck` (api `services::handlers::service_spec`).
fn model(json: &str) -> shoal_scheduler::model::ServiceSpec {
    let json = json.replace(r#""Healthcheck":"#, r#""HealthCheck":"#);
    let api: m::ServiceSpec = serde_json::from_str(&json).unwrap();
    service_spec_from_api(&api).unwrap()
}

#[test]
fn a_spec_read_back_and_posted_again_is_unchanged() {
    let model1 = model(CREATE);
    let back = service_spec_to_api(&model1, false);
    let json = serde_json::to_string(&back).unwrap();
    assert_eq!(model(&json), model1, "{json}");
}

#[test]
fn scale_keeps_the_task_template() {
    let created = model(CREATE);
    let scaled = model(SCALE);
    assert_eq!(scaled.task_template, created.task_template);
}

/// A service-label change posts the task template back as the CLI read it: the model must be
/// the same, or every task would restart (swarmkit restarts tasks only for task changes).
#[test]
fn a_service_label_change_keeps_every_task_flag() {
    let created = model(CREATE_FULL);
    let back = serde_json::to_string(&service_spec_to_api(&created, false)).unwrap();
    assert!(
        back.contains(r#""HealthCheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000}"#),
        "GET /services shows the healthcheck: {back}"
    );
    let updated = model(LABEL_ADD_FULL);
    assert_eq!(updated.task_template, created.task_template);
    assert_eq!(model(&back), created, "{back}");
}

/// Specs stored with the API's `"container"` runtime decode as the default, so the first
/// update after an upgrade restarts nothing either.
#[test]
fn a_stored_container_runtime_reads_as_the_default() {
    let stored: shoal_scheduler::model::TaskSpec =
        serde_json::from_str(r#"{"runtime":"container"}"#).unwrap();
    assert_eq!(stored.runtime, "");
}
