use super::*;

#[test]
fn service_names_follow_dns_rules() {
    assert!(validate_service_name("web").is_ok());
    assert!(validate_service_name("my_web-1").is_ok());
    assert_eq!(validate_service_name(""), Err(ValidationError::NameMissing));
    assert_eq!(
        validate_service_name("-web"),
        Err(ValidationError::NameNotDns)
    );
    assert_eq!(
        validate_service_name("web.x"),
        Err(ValidationError::NameNotDns)
    );
    assert_eq!(
        validate_service_name(&"a".repeat(64)),
        Err(ValidationError::NameTooLong)
    );
}

#[test]
fn service_requires_image() {
    let mut spec = ServiceSpec {
        name: "web".into(),
        ..Default::default()
    };
    assert_eq!(
        validate_service_spec(&spec),
        Err(ValidationError::ImageMissing)
    );
    spec.task_template.container.image = "busybox".into();
    assert!(validate_service_spec(&spec).is_ok());
}

#[test]
fn secret_and_config_sizes_and_names() {
    let mut s = SecretSpec {
        name: "db.pass".into(),
        data: vec![1],
        ..Default::default()
    };
    assert!(validate_secret_spec(&s).is_ok());
    s.data = vec![0; MAX_SECRET_SIZE];
    assert_eq!(validate_secret_spec(&s), Err(ValidationError::SecretSize));
    s.data.clear();
    assert_eq!(validate_secret_spec(&s), Err(ValidationError::SecretSize));
    s.name = "bad/name".into();
    assert_eq!(
        validate_secret_spec(&s),
        Err(ValidationError::InvalidObjectName)
    );
    let c = ConfigSpec {
        name: "cfg".into(),
        data: vec![0; MAX_CONFIG_SIZE],
        ..Default::default()
    };
    assert_eq!(validate_config_spec(&c), Err(ValidationError::ConfigSize));
    assert_eq!(
        ValidationError::SecretSize.to_string(),
        "secret data must be larger than 0 and less than 512000 bytes"
    );
}

#[test]
fn cluster_raft_ticks() {
    let mut spec = ClusterSpec::default();
    assert!(validate_cluster_spec(&spec).is_ok());
    spec.raft.election_tick = 1;
    assert_eq!(
        validate_cluster_spec(&spec),
        Err(ValidationError::ElectionTick)
    );
    spec.raft.heartbeat_tick = 0;
    assert_eq!(
        validate_cluster_spec(&spec),
        Err(ValidationError::HeartbeatTick)
    );
}

fn valid() -> ServiceSpec {
    let mut spec = ServiceSpec {
        name: "web".into(),
        ..Default::default()
    };
    spec.task_template.container.image = "busybox".into();
    spec
}

#[test]
fn service_spec_fields_use_swarmkit_texts() {
    use crate::model::container::{HealthConfig, Mount, SecretReference};
    use crate::model::service::{PortConfig, ResolutionMode, UpdateConfig};
    use crate::model::task_spec::Resources;
    let check = |f: &dyn Fn(&mut ServiceSpec), want: &str| {
        let mut s = valid();
        f(&mut s);
        assert_eq!(validate_service_spec(&s).unwrap_err().to_string(), want);
    };
    check(
        &|s| {
            s.task_template.resources.limits = Some(Resources {
                nano_cpus: 500_000,
                ..Default::default()
            })
        },
        "invalid cpu value 0.0005: Must be at least 0.001",
    );
    check(
        &|s| {
            s.task_template.resources.reservations = Some(Resources {
                memory_bytes: 1024,
                ..Default::default()
            })
        },
        "invalid memory value 1024: Must be at least 4MiB",
    );
    check(
        &|s| s.task_template.restart_policy.delay_ns = Some(-1),
        "TaskSpec: restart-delay cannot be negative",
    );
    check(
        &|s| {
            s.update_config = Some(UpdateConfig {
                max_failure_ratio: 1.5,
                ..Default::default()
            })
        },
        "TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1",
    );
    check(
        &|s| {
            s.task_template.container.mounts = vec![
                Mount {
                    target: "/d".into(),
                    ..Default::default()
                };
                2
            ]
        },
        "ContainerSpec: duplicate mount point: /d",
    );
    check(
        &|s| {
            s.task_template.container.healthcheck = Some(HealthConfig {
                interval_ns: 10,
                ..Default::default()
            })
        },
        "ContainerSpec: Interval in HealthConfig cannot be less than 1ms",
    );
    check(
        &|s| {
            s.task_template.container.secrets = vec![SecretReference {
                secret_id: "id".into(),
                secret_name: "pw".into(),
                file: None,
            }]
        },
        "malformed secret reference, no target provided",
    );
    check(
        &|s| {
            s.task_template.placement.constraints = vec!["node.role=manager".into()];
        },
        "constraint expected one operator from ==, !=",
    );
    check(
        &|s| {
            s.endpoint_spec.mode = ResolutionMode::Dnsrr;
            s.endpoint_spec.ports = vec![PortConfig {
                target_port: 80,
                ..Default::default()
            }];
        },
        "EndpointSpec: port published with ingress mode can't be used with dnsrr mode",
    );
    check(
        &|s| {
            s.endpoint_spec.ports = vec![
                PortConfig {
                    target_port: 80,
                    published_port: 8080,
                    ..Default::default()
                };
                2
            ];
        },
        "EndpointSpec: duplicate published ports provided",
    );
    check(
        &|s| {
            s.mode = crate::model::ServiceMode::GlobalJob;
            s.update_config = Some(UpdateConfig::default());
        },
        "Jobs may not have an update config",
    );
}

#[test]
fn network_requires_name() {
    assert_eq!(
        validate_network_spec(&NetworkSpec::default()),
        Err(ValidationError::NameMissing)
    );
}
