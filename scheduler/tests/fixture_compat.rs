//! A cluster state written by the first stored format (before services grew Docker's full
//! shape) must still decode, with Docker's defaults for every new field.

use shoal_scheduler::model::service::ServiceMode;
use shoal_scheduler::model::*;

#[test]
fn v1_state_decodes_with_defaults() {
    let raw = include_str!("fixtures/state-v1.json");
    let state: ClusterState = serde_json::from_str(raw).expect("v1 fixture decodes");
    assert_eq!(state.nodes().len(), 2);
    assert_eq!(state.secrets().len(), 1);
    assert_eq!(state.configs().len(), 1);
    assert_eq!(state.networks().len(), 1);

    let web = state.services().get_by_name("web").expect("service web");
    assert_eq!(web.spec.mode, ServiceMode::Replicated { replicas: 2 });
    assert_eq!(web.spec_version, 0);
    assert!(web.update_status.is_none() && web.job_status.is_none());
    assert!(web.spec.update_config.is_none());
    assert_eq!(web.spec.endpoint_spec, EndpointSpec::default());
    let tmpl = &web.spec.task_template;
    assert_eq!(tmpl.container.image, "busybox:latest");
    assert_eq!(tmpl.container.args, vec!["1000".to_string()]);
    // Registry credentials for the agents' pulls came later.
    assert!(tmpl.container.pull_options.is_none());
    // The first format kept constraints at the top of the task spec.
    assert_eq!(tmpl.placement.constraints, vec!["node.role==worker"]);
    assert_eq!(tmpl.restart_policy, RestartPolicy::default());
    assert_eq!(tmpl.restart_policy.delay(), 5_000_000_000);
    assert_eq!(
        state.services().get_by_name("agent").unwrap().spec.mode,
        ServiceMode::Global
    );

    let t1 = state.tasks().get(&TaskId::new("task1")).unwrap();
    assert_eq!(t1.status.container_id(), "c0ffee");
    assert_eq!(t1.status.state, TaskState::Running);
    assert_eq!(t1.spec.placement.constraints, vec!["node.role==worker"]);
    assert_eq!(
        state.tasks_by_node(&NodeId::new("node2")).count(),
        1,
        "indexes are rebuilt"
    );
    let t2 = state.tasks().get(&TaskId::new("task2")).unwrap();
    assert!(t2.status.container_status.is_none());

    let sec = state.secrets().get_by_name("pw").unwrap();
    assert_eq!(sec.spec.data, b"hunter2");
    assert!(sec.spec.templating.is_none());
    let cluster = state.clusters().iter().next().unwrap();
    assert_eq!(cluster.spec.orchestration.task_history_retention_limit, 5);

    // Re-encoding and decoding the upgraded state is lossless.
    let again: ClusterState =
        serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    assert_eq!(again, state);
}
