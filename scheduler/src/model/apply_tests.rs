use super::*;
use crate::model::cluster::Cluster;
use crate::model::ids::*;
use crate::model::meta::{Meta, Timestamp};
use crate::model::node::{Node, NodeAvailability, NodeRole, NodeSpec, NodeStatus};
use crate::model::secret::{Secret, SecretSpec};
use crate::model::service::{Service, ServiceSpec};
use crate::model::task::{Task, TaskStatus};
use crate::model::task_state::TaskState;

fn t(n: i64) -> Timestamp {
    Timestamp(n)
}

fn service(id: &str, name: &str) -> Service {
    Service::new(
        ServiceId::new(id),
        ServiceSpec {
            name: name.into(),
            ..Default::default()
        },
        t(1),
    )
}

fn node(id: &str) -> Node {
    Node {
        id: NodeId::new(id),
        meta: Meta::new(t(1)),
        spec: NodeSpec {
            availability: NodeAvailability::Active,
            ..Default::default()
        },
        role: NodeRole::Manager,
        description: None,
        status: NodeStatus::default(),
        manager_status: None,
    }
}

fn task(id: &str, svc: &str, node: Option<&str>) -> Task {
    let mut s = service(svc, "x");
    s.spec_version = 0;
    let mut task = Task::new(TaskId::new(id), &s, 1, node.map(NodeId::new), t(1));
    task.status = TaskStatus::default();
    task
}

fn create(o: impl Into<StoreObject>) -> ClusterCommand {
    ClusterCommand::Create(o.into())
}

#[test]
fn create_stamps_the_log_index_as_version() {
    let mut s = ClusterState::default();
    let ev = s.apply(7, create(service("s1", "web"))).unwrap();
    let stored = s.services().get(&ServiceId::new("s1")).unwrap();
    assert_eq!(stored.meta.version.index, 7);
    assert_eq!(stored.meta.created_at, t(1));
    assert_eq!(ev, vec![StoreEvent::Created(stored.clone().into())]);
    assert_eq!(
        s.services().get_by_name("web").unwrap().id,
        ServiceId::new("s1")
    );
}

#[test]
fn create_with_existing_id_or_name_conflicts() {
    let mut s = ClusterState::default();
    s.apply(1, create(service("s1", "web"))).unwrap();
    let err = s.apply(2, create(service("s1", "other"))).unwrap_err();
    assert_eq!(
        err,
        ApplyError::Exists(ObjectRef::Service(ServiceId::new("s1")))
    );
    assert_eq!(err.to_string(), "service s1 already exists");
    let err = s.apply(3, create(service("s2", "web"))).unwrap_err();
    assert_eq!(
        err,
        ApplyError::NameConflict {
            kind: ObjectKind::Service,
            name: "web".into()
        }
    );
    assert_eq!(s.services().len(), 1);
}

#[test]
fn nodes_may_share_names() {
    let mut s = ClusterState::default();
    let mut a = node("a");
    a.spec.name = "host".into();
    let mut b = node("b");
    b.spec.name = "host".into();
    s.apply(1, create(a)).unwrap();
    s.apply(2, create(b)).unwrap();
    assert_eq!(s.nodes().len(), 2);
}

#[test]
fn stale_update_is_out_of_sequence() {
    let mut s = ClusterState::default();
    s.apply(1, create(service("s1", "web"))).unwrap();
    let mut read = s.services().get(&ServiceId::new("s1")).unwrap().clone();
    read.spec.labels.insert("a".into(), "1".into());
    read.meta.updated_at = t(5);
    s.apply(2, ClusterCommand::Update(read.clone().into()))
        .unwrap();
    // The same read (version 1) again is now stale.
    let err = s.apply(3, ClusterCommand::Update(read.into())).unwrap_err();
    assert_eq!(err.to_string(), "update out of sequence");
    assert!(matches!(
        err,
        ApplyError::OutOfSequence {
            current: 2,
            given: 1,
            ..
        }
    ));
}

#[test]
fn update_keeps_created_at_and_stamps_version() {
    let mut s = ClusterState::default();
    s.apply(1, create(service("s1", "web"))).unwrap();
    let mut upd = s.services().get(&ServiceId::new("s1")).unwrap().clone();
    upd.meta.created_at = t(999);
    upd.meta.updated_at = t(42);
    let ev = s.apply(10, ClusterCommand::Update(upd.into())).unwrap();
    let stored = s.services().get(&ServiceId::new("s1")).unwrap();
    assert_eq!(stored.meta.version.index, 10);
    assert_eq!(stored.meta.created_at, t(1));
    assert_eq!(stored.meta.updated_at, t(42));
    match &ev[..] {
        [StoreEvent::Updated { old, new }] => {
            assert_eq!(old.meta().version.index, 1);
            assert_eq!(new.meta().version.index, 10);
        }
        other => panic!("unexpected events {other:?}"),
    }
}

#[test]
fn rename_checks_and_moves_the_name_index() {
    let mut s = ClusterState::default();
    s.apply(1, create(service("s1", "web"))).unwrap();
    s.apply(2, create(service("s2", "db"))).unwrap();
    let mut upd = s.services().get(&ServiceId::new("s2")).unwrap().clone();
    upd.spec.name = "web".into();
    let err = s
        .apply(3, ClusterCommand::Update(upd.clone().into()))
        .unwrap_err();
    assert!(matches!(err, ApplyError::NameConflict { .. }));
    upd.spec.name = "cache".into();
    s.apply(4, ClusterCommand::Update(upd.into())).unwrap();
    assert!(s.services().get_by_name("db").is_none());
    assert_eq!(
        s.services().get_by_name("cache").unwrap().id,
        ServiceId::new("s2")
    );
    // The freed name can be taken again.
    s.apply(5, create(service("s3", "db"))).unwrap();
}

#[test]
fn update_and_delete_of_missing_object_is_not_found() {
    let mut s = ClusterState::default();
    let err = s
        .apply(1, ClusterCommand::Update(service("x", "x").into()))
        .unwrap_err();
    assert_eq!(err.to_string(), "service x not found");
    let err = s
        .apply(1, ClusterCommand::Delete(ObjectRef::Node(NodeId::new("n"))))
        .unwrap_err();
    assert_eq!(err.to_string(), "node n not found");
}

#[test]
fn delete_emits_the_last_version_and_frees_the_name() {
    let mut s = ClusterState::default();
    s.apply(1, create(service("s1", "web"))).unwrap();
    let ev = s
        .apply(
            2,
            ClusterCommand::Delete(ObjectRef::Service(ServiceId::new("s1"))),
        )
        .unwrap();
    assert!(
        matches!(&ev[..], [StoreEvent::Deleted(StoreObject::Service(svc))] if svc.meta.version.index == 1)
    );
    assert!(s.services().is_empty());
    s.apply(3, create(service("s2", "web"))).unwrap();
}

#[test]
fn failing_batch_changes_nothing() {
    let mut s = ClusterState::default();
    s.apply(1, create(service("s1", "web"))).unwrap();
    s.apply(2, create(node("n1"))).unwrap();
    let before = s.clone();
    let mut upd = s.services().get(&ServiceId::new("s1")).unwrap().clone();
    upd.spec.name = "renamed".into();
    let batch = ClusterCommand::Batch(vec![
        create(task("t1", "s1", Some("n1"))),
        ClusterCommand::Update(upd.into()),
        ClusterCommand::Delete(ObjectRef::Node(NodeId::new("n1"))),
        // Fails: name taken by s1's old name? No: s1 was renamed, so "renamed" is taken.
        create(service("s2", "renamed")),
    ]);
    assert!(matches!(
        s.apply(3, batch).unwrap_err(),
        ApplyError::NameConflict { .. }
    ));
    assert_eq!(s, before);
    assert_eq!(s.tasks_by_node(&NodeId::new("n1")).count(), 0);
    assert!(s.services().get_by_name("web").is_some());
}

#[test]
fn successful_batch_applies_in_order_with_one_version() {
    let mut s = ClusterState::default();
    let batch = ClusterCommand::Batch(vec![
        create(service("s1", "web")),
        create(task("t1", "s1", None)),
        create(task("t2", "s1", None)),
    ]);
    assert_eq!(batch.op_count(), 3);
    let ev = s.apply(4, batch).unwrap();
    assert_eq!(ev.len(), 3);
    assert!(s.tasks().iter().all(|t| t.meta.version.index == 4));
    assert_eq!(s.tasks_by_service(&ServiceId::new("s1")).count(), 2);
}

#[test]
fn task_state_never_moves_backwards() {
    let mut s = ClusterState::default();
    let mut tk = task("t1", "s1", Some("n1"));
    tk.status.state = TaskState::Running;
    s.apply(1, create(tk)).unwrap();
    let mut upd = s.tasks().get(&TaskId::new("t1")).unwrap().clone();
    upd.status.state = TaskState::Assigned;
    let err = s
        .apply(2, ClusterCommand::Update(upd.clone().into()))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "task t1: invalid task state transition from running to assigned"
    );
    upd.status.state = TaskState::Complete;
    s.apply(3, ClusterCommand::Update(upd.into())).unwrap();
}

#[test]
fn task_indexes_follow_reassignment_and_delete() {
    let mut s = ClusterState::default();
    s.apply(1, create(task("t1", "s1", Some("n1")))).unwrap();
    s.apply(2, create(task("t2", "s1", None))).unwrap();
    let mut upd = s.tasks().get(&TaskId::new("t1")).unwrap().clone();
    upd.node_id = Some(NodeId::new("n2"));
    s.apply(3, ClusterCommand::Update(upd.into())).unwrap();
    assert_eq!(s.tasks_by_node(&NodeId::new("n1")).count(), 0);
    assert_eq!(s.tasks_by_node(&NodeId::new("n2")).count(), 1);
    assert_eq!(s.tasks_by_slot(&ServiceId::new("s1"), 1).count(), 2);
    s.apply(
        4,
        ClusterCommand::Delete(ObjectRef::Task(TaskId::new("t1"))),
    )
    .unwrap();
    assert_eq!(s.tasks_by_node(&NodeId::new("n2")).count(), 0);
    assert_eq!(s.tasks_by_service(&ServiceId::new("s1")).count(), 1);
}

#[test]
fn serde_round_trip_rebuilds_indexes() {
    let mut s = ClusterState::default();
    let cluster = Cluster {
        id: ClusterId::new("c"),
        meta: Meta::new(t(1)),
        spec: Default::default(),
        root_ca: Default::default(),
        unlock_keys: vec![],
    };
    s.apply(1, create(cluster)).unwrap();
    s.apply(2, create(service("s1", "web"))).unwrap();
    s.apply(3, create(task("t1", "s1", Some("n1")))).unwrap();
    let secret = Secret {
        id: SecretId::new("x"),
        meta: Meta::new(t(1)),
        spec: SecretSpec {
            name: "pw".into(),
            data: vec![1, 2],
            ..Default::default()
        },
    };
    s.apply(4, create(secret)).unwrap();
    let json = serde_json::to_string(&s).unwrap();
    let back: ClusterState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    assert!(back.services().get_by_name("web").is_some());
    assert!(back.clusters().get_by_name("default").is_some());
    assert_eq!(back.tasks_by_node(&NodeId::new("n1")).count(), 1);
    assert_eq!(back.object_count(), 4);
    assert_eq!(back.all_objects().count(), 4);
}

#[test]
fn replicas_applying_the_same_log_agree() {
    let log = vec![
        create(service("s1", "web")),
        create(task("t1", "s1", None)),
        create(service("s2", "web")), // rejected on both
        ClusterCommand::Delete(ObjectRef::Task(TaskId::new("t1"))),
    ];
    let mut a = ClusterState::default();
    let mut b = ClusterState::default();
    for (i, cmd) in log.into_iter().enumerate() {
        let idx = i as u64 + 1;
        assert_eq!(a.apply(idx, cmd.clone()), b.apply(idx, cmd));
    }
    assert_eq!(a, b);
}

#[test]
fn stale_task_update_is_out_of_sequence_before_transition_check() {
    let mut s = ClusterState::default();
    s.apply(1, create(task("t1", "s1", None))).unwrap();
    let read = s.tasks().get(&TaskId::new("t1")).unwrap().clone();
    let mut running = read.clone();
    running.status.state = TaskState::Running;
    s.apply(2, ClusterCommand::Update(running.into())).unwrap();
    let mut stale = read;
    stale.status.state = TaskState::Pending;
    let err = s
        .apply(3, ClusterCommand::Update(stale.into()))
        .unwrap_err();
    assert_eq!(err.to_string(), "update out of sequence");
}

fn secret(id: &str, name: &str) -> Secret {
    Secret {
        id: SecretId::new(id),
        meta: Meta::new(t(1)),
        spec: SecretSpec {
            name: name.into(),
            data: b"x".to_vec(),
            ..Default::default()
        },
    }
}

#[test]
fn secret_data_is_immutable_but_labels_change() {
    let mut s = ClusterState::default();
    s.apply(1, create(secret("x1", "pw"))).unwrap();
    let mut upd = s.secrets().get(&SecretId::new("x1")).unwrap().clone();
    upd.spec.labels.insert("a".into(), "b".into());
    s.apply(2, ClusterCommand::Update(upd.clone().into()))
        .unwrap();
    let mut upd = s.secrets().get(&SecretId::new("x1")).unwrap().clone();
    upd.spec.data = b"other".to_vec();
    let err = s.apply(3, ClusterCommand::Update(upd.into())).unwrap_err();
    assert_eq!(err.to_string(), "only updates to Labels are allowed");
}

#[test]
fn secret_in_use_cannot_be_deleted() {
    use crate::model::container::SecretReference;
    let mut s = ClusterState::default();
    s.apply(1, create(secret("x1", "pw"))).unwrap();
    for (i, name) in ["web", "api"].iter().enumerate() {
        let mut svc = service(&format!("s{i}"), name);
        svc.spec
            .task_template
            .container
            .secrets
            .push(SecretReference {
                secret_id: SecretId::new("x1"),
                secret_name: "pw".into(),
                file: None,
            });
        s.apply(2 + i as u64, create(svc)).unwrap();
    }
    let del = || ClusterCommand::Delete(ObjectRef::Secret(SecretId::new("x1")));
    let err = s.apply(5, del()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret 'pw' is in use by the following services: api, web"
    );
    s.apply(
        6,
        ClusterCommand::Delete(ObjectRef::Service(ServiceId::new("s0"))),
    )
    .unwrap();
    let err = s.apply(7, del()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret 'pw' is in use by the following service: api"
    );
    s.apply(
        8,
        ClusterCommand::Delete(ObjectRef::Service(ServiceId::new("s1"))),
    )
    .unwrap();
    s.apply(9, del()).unwrap();
    assert!(s.secrets().is_empty());
}
