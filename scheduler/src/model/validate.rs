//! Spec validation shared by the control operations, before a command is proposed.
//!
//! Messages follow swarmkit's controlapi texts, which the Docker CLI shows verbatim; the API
//! layer maps every [`ValidationError`] to 400 InvalidParameter.

use super::cluster::ClusterSpec;
use super::config::ConfigSpec;
use super::network::NetworkSpec;
use super::secret::SecretSpec;
use super::service::ServiceSpec;

/// Largest secret payload (swarmkit `MaxSecretSize`).
pub const MAX_SECRET_SIZE: usize = 500 * 1024;
/// Largest config payload (swarmkit `MaxConfigSize`).
pub const MAX_CONFIG_SIZE: usize = 1000 * 1024;

/// A spec that must not be proposed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The name is empty.
    #[error("meta: name must be provided")]
    NameMissing,
    /// A service name that is not a DNS label.
    #[error("name must be valid as a DNS name component")]
    NameNotDns,
    /// A service name longer than a DNS label.
    #[error("name must be 63 characters or fewer")]
    NameTooLong,
    /// A bad secret or config name.
    #[error(
        "invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]"
    )]
    InvalidObjectName,
    /// A service without an image.
    #[error("ContainerSpec: image reference must be provided")]
    ImageMissing,
    /// Secret payload empty or too big.
    #[error("secret data must be larger than 0 and less than {MAX_SECRET_SIZE} bytes")]
    SecretSize,
    /// Config payload empty or too big.
    #[error("config data must be larger than 0 and less than {MAX_CONFIG_SIZE} bytes")]
    ConfigSize,
    /// Raft heartbeat tick of zero.
    #[error("heartbeat tick must be greater than 0")]
    HeartbeatTick,
    /// Election tick not above heartbeat tick.
    #[error("election tick must be greater than heartbeat tick")]
    ElectionTick,
    /// A negative duration or limit.
    #[error("{0} must not be negative")]
    Negative(&'static str),
}

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// swarmkit `isValidDNSName`: `^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`.
fn is_dns_name(name: &str) -> bool {
    let first_ok = name.chars().next().is_some_and(is_alnum);
    let last_ok = name.chars().last().is_some_and(is_alnum);
    first_ok && last_ok && name.chars().all(|c| is_alnum(c) || c == '-' || c == '_')
}

/// Validates a service name as swarmkit's `validateAnnotations` does.
pub fn validate_service_name(name: &str) -> Result<(), ValidationError> {
    if name.is_empty() {
        return Err(ValidationError::NameMissing);
    }
    if !is_dns_name(name) {
        return Err(ValidationError::NameNotDns);
    }
    if name.len() > 63 {
        return Err(ValidationError::NameTooLong);
    }
    Ok(())
}

/// swarmkit `validateConfigOrSecretAnnotations`.
fn validate_object_name(name: &str) -> Result<(), ValidationError> {
    if name.is_empty() {
        return Err(ValidationError::NameMissing);
    }
    let first_ok = name.chars().next().is_some_and(is_alnum);
    let last_ok = name.chars().last().is_some_and(is_alnum);
    let chars_ok = name
        .chars()
        .all(|c| is_alnum(c) || matches!(c, '-' | '_' | '.'));
    if name.len() > 64 || !first_ok || !last_ok || !chars_ok {
        return Err(ValidationError::InvalidObjectName);
    }
    Ok(())
}

/// Validates a service spec.
pub fn validate_service_spec(spec: &ServiceSpec) -> Result<(), ValidationError> {
    validate_service_name(&spec.name)?;
    if spec.task_template.container.image.is_empty() {
        return Err(ValidationError::ImageMissing);
    }
    Ok(())
}

/// Validates a secret spec.
pub fn validate_secret_spec(spec: &SecretSpec) -> Result<(), ValidationError> {
    validate_object_name(&spec.name)?;
    if spec.data.is_empty() || spec.data.len() >= MAX_SECRET_SIZE {
        return Err(ValidationError::SecretSize);
    }
    Ok(())
}

/// Validates a config spec.
pub fn validate_config_spec(spec: &ConfigSpec) -> Result<(), ValidationError> {
    validate_object_name(&spec.name)?;
    if spec.data.is_empty() || spec.data.len() >= MAX_CONFIG_SIZE {
        return Err(ValidationError::ConfigSize);
    }
    Ok(())
}

/// Validates a network spec.
pub fn validate_network_spec(spec: &NetworkSpec) -> Result<(), ValidationError> {
    if spec.name.is_empty() {
        return Err(ValidationError::NameMissing);
    }
    Ok(())
}

/// Validates a cluster spec (`docker swarm update`).
pub fn validate_cluster_spec(spec: &ClusterSpec) -> Result<(), ValidationError> {
    if spec.raft.heartbeat_tick == 0 {
        return Err(ValidationError::HeartbeatTick);
    }
    if spec.raft.election_tick <= spec.raft.heartbeat_tick {
        return Err(ValidationError::ElectionTick);
    }
    if spec.orchestration.task_history_retention_limit < 0 {
        return Err(ValidationError::Negative("TaskHistoryRetentionLimit"));
    }
    if spec.dispatcher.heartbeat_period_ns < 0 {
        return Err(ValidationError::Negative("HeartbeatPeriod"));
    }
    if spec.ca_config.node_cert_expiry_ns < 0 {
        return Err(ValidationError::Negative("NodeCertExpiry"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn network_requires_name() {
        assert_eq!(
            validate_network_spec(&NetworkSpec::default()),
            Err(ValidationError::NameMissing)
        );
    }
}
