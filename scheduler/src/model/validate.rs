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
    /// A CPU amount below a millicpu.
    #[error("invalid cpu value {0}: Must be at least 0.001")]
    Cpu(String),
    /// A memory amount below 4 MiB.
    #[error("invalid memory value {0}: Must be at least 4MiB")]
    Memory(i64),
    /// A spec field out of range; the text is swarmkit's (e.g. "TaskSpec: restart-delay cannot
    /// be negative").
    #[error("{0}")]
    Spec(&'static str),
    /// Two mounts with one target.
    #[error("ContainerSpec: duplicate mount point: {0}")]
    DuplicateMount(String),
    /// A health check duration below 1 ms.
    #[error("ContainerSpec: {0} in HealthConfig cannot be less than 1ms")]
    HealthDuration(&'static str),
    /// A secret or config reference without a name or ID.
    #[error("malformed {0} reference")]
    MalformedReference(&'static str),
    /// A secret or config reference without a target file.
    #[error("malformed {0} reference, no target provided")]
    NoTarget(&'static str),
    /// A target file name with a path separator or `..` (secrets) or an invalid one.
    #[error("malformed file {0} reference, invalid target file name provided")]
    BadTarget(&'static str),
    /// Two references mounting at one target.
    #[error("{kind} references '{first}' and '{second}' have a conflicting target: '{target}'")]
    ConflictingTarget {
        /// secret or config.
        kind: &'static str,
        /// The first reference's name.
        first: String,
        /// The second reference's name.
        second: String,
        /// The shared target.
        target: String,
    },
    /// A placement constraint that does not parse.
    #[error("{0}")]
    Constraint(#[from] crate::placement::constraint::ConstraintError),
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

/// Validates a service spec as swarmkit's `validateServiceSpec` does, with its texts.
///
/// Checks that need the store (referenced secrets/configs/networks exist, published ports not
/// taken by another service) are the control API's: they read state this function never sees.
pub fn validate_service_spec(spec: &ServiceSpec) -> Result<(), ValidationError> {
    validate_service_name(&spec.name)?;
    let task = &spec.task_template;
    let c = &task.container;
    if c.image.is_empty() {
        return Err(ValidationError::ImageMissing);
    }
    for r in [&task.resources.limits, &task.resources.reservations]
        .into_iter()
        .flatten()
    {
        validate_resources(r)?;
    }
    let rp = &task.restart_policy;
    if rp.delay_ns.is_some_and(|d| d < 0) {
        return Err(ValidationError::Spec(
            "TaskSpec: restart-delay cannot be negative",
        ));
    }
    if rp.window_ns < 0 {
        return Err(ValidationError::Spec(
            "TaskSpec: restart-window cannot be negative",
        ));
    }
    for u in [&spec.update_config, &spec.rollback_config]
        .into_iter()
        .flatten()
    {
        validate_update(u)?;
    }
    let mut targets = std::collections::BTreeSet::new();
    for m in &c.mounts {
        if !targets.insert(m.target.as_str()) {
            return Err(ValidationError::DuplicateMount(m.target.clone()));
        }
    }
    if let Some(h) = &c.healthcheck {
        for (name, v) in [
            ("Interval", h.interval_ns),
            ("Timeout", h.timeout_ns),
            ("StartPeriod", h.start_period_ns),
            ("StartInterval", h.start_interval_ns),
        ] {
            if v != 0 && v < 1_000_000 {
                return Err(ValidationError::HealthDuration(name));
            }
        }
    }
    if c.stop_grace_period_ns.is_some_and(|d| d < 0) {
        return Err(ValidationError::Negative("StopGracePeriod"));
    }
    validate_references(
        "secret",
        c.secrets.iter().map(|r| {
            (
                r.secret_id.as_str(),
                r.secret_name.as_str(),
                r.file.as_ref(),
            )
        }),
        true,
    )?;
    validate_references(
        "config",
        c.configs.iter().filter(|r| !r.runtime).map(|r| {
            (
                r.config_id.as_str(),
                r.config_name.as_str(),
                r.file.as_ref(),
            )
        }),
        false,
    )?;
    crate::placement::constraint::parse_all(&task.placement.constraints)?;
    validate_endpoint(&spec.endpoint_spec)?;
    if spec.mode.is_job() && spec.update_config.is_some() {
        return Err(ValidationError::Spec("Jobs may not have an update config"));
    }
    Ok(())
}

fn validate_resources(r: &super::task_spec::Resources) -> Result<(), ValidationError> {
    if r.nano_cpus != 0 && r.nano_cpus < 1_000_000 {
        // Only feeds the error text; the precision of a sub-millicpu value is irrelevant.
        #[allow(clippy::cast_precision_loss)]
        return Err(ValidationError::Cpu(format!(
            "{}",
            r.nano_cpus as f64 / 1e9
        )));
    }
    if r.memory_bytes != 0 && r.memory_bytes < 4 * 1024 * 1024 {
        return Err(ValidationError::Memory(r.memory_bytes));
    }
    if r.nano_cpus < 0 || r.memory_bytes < 0 || r.pids < 0 {
        return Err(ValidationError::Negative("Resources"));
    }
    Ok(())
}

fn validate_update(u: &super::service::UpdateConfig) -> Result<(), ValidationError> {
    if u.delay_ns < 0 {
        return Err(ValidationError::Spec(
            "TaskSpec: update-delay cannot be negative",
        ));
    }
    if u.monitor_ns < 0 {
        return Err(ValidationError::Spec(
            "TaskSpec: update-monitor cannot be negative",
        ));
    }
    if !(0.0..=1.0).contains(&u.max_failure_ratio) {
        return Err(ValidationError::Spec(
            "TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1",
        ));
    }
    Ok(())
}

fn validate_references<'a>(
    kind: &'static str,
    refs: impl Iterator<Item = (&'a str, &'a str, Option<&'a super::container::FileTarget>)>,
    plain_file_name: bool,
) -> Result<(), ValidationError> {
    let mut seen: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for (id, name, file) in refs {
        if id.is_empty() || name.is_empty() {
            return Err(ValidationError::MalformedReference(kind));
        }
        let Some(file) = file else {
            return Err(ValidationError::NoTarget(kind));
        };
        let target = file.name.as_str();
        // Secrets live flat in /run/secrets; configs may name any absolute path.
        let bad = target.is_empty()
            || (plain_file_name && (target.contains('/') || target == "." || target == ".."));
        if bad {
            return Err(ValidationError::BadTarget(kind));
        }
        if let Some(first) = seen.insert(target, name) {
            return Err(ValidationError::ConflictingTarget {
                kind,
                first: first.to_owned(),
                second: name.to_owned(),
                target: target.to_owned(),
            });
        }
    }
    Ok(())
}

fn validate_endpoint(e: &super::service::EndpointSpec) -> Result<(), ValidationError> {
    use super::service::{PublishMode, ResolutionMode};
    let mut set = std::collections::BTreeSet::new();
    for p in &e.ports {
        if e.mode == ResolutionMode::Dnsrr && p.publish_mode == PublishMode::Ingress {
            return Err(ValidationError::Spec(
                "EndpointSpec: port published with ingress mode can't be used with dnsrr mode",
            ));
        }
        if p.published_port == 0 {
            continue;
        }
        if !set.insert((p.published_port, p.protocol)) {
            return Err(ValidationError::Spec(
                "EndpointSpec: duplicate published ports provided",
            ));
        }
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
#[path = "validate_tests.rs"]
mod tests;
