//! Health check settings (pure): merging the image's HEALTHCHECK with the
//! user's, dockerd's validation, and the probe they describe.

use std::time::Duration;

use shoal_api::models::{ContainerConfig, HealthConfig};

use super::super::{EngineError, EngineResult};

/// dockerd's defaults (`daemon/health.go`).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
/// The smallest non-zero duration dockerd accepts.
const MIN_DURATION_NS: i64 = 1_000_000;

/// A health check to run: the probe command and its schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// argv of the exec.
    pub cmd: Vec<String>,
    /// Between probes.
    pub interval: Duration,
    /// A probe running longer fails.
    pub timeout: Duration,
    /// Consecutive failures that make the container unhealthy.
    pub retries: i64,
    /// Failures in this time after start do not count.
    pub start_period: Duration,
    /// Between probes during the start period.
    pub start_interval: Duration,
}

/// dockerd's merge: the user's fields win, zero or empty ones fall back
/// to the image's (`daemon/commit.go` merge).
pub fn merge(user: Option<HealthConfig>, image: Option<&HealthConfig>) -> Option<HealthConfig> {
    let Some(image) = image else { return user };
    let Some(mut user) = user else {
        return Some(image.clone());
    };
    if user.test.as_ref().is_none_or(|t| t.is_empty()) {
        user.test = image.test.clone();
    }
    let pick = |u: &mut Option<i64>, i: Option<i64>| {
        if u.unwrap_or(0) == 0 {
            *u = i;
        }
    };
    pick(&mut user.interval, image.interval);
    pick(&mut user.timeout, image.timeout);
    pick(&mut user.start_period, image.start_period);
    pick(&mut user.start_interval, image.start_interval);
    pick(&mut user.retries, image.retries);
    Some(user)
}

/// dockerd's checks at create (`verifyContainerSettings`).
pub fn validate(hc: Option<&HealthConfig>) -> EngineResult<()> {
    let Some(hc) = hc else { return Ok(()) };
    for (name, v) in [
        ("Interval", hc.interval),
        ("Timeout", hc.timeout),
        ("StartPeriod", hc.start_period),
        ("StartInterval", hc.start_interval),
    ] {
        let v = v.unwrap_or(0);
        if v != 0 && v < MIN_DURATION_NS {
            return Err(EngineError::Invalid(format!(
                "{name} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    if hc.retries.unwrap_or(0) < 0 {
        return Err(EngineError::Invalid(
            "Retries in Healthcheck cannot be negative".into(),
        ));
    }
    match hc
        .test
        .as_deref()
        .and_then(|t| t.first())
        .map(String::as_str)
    {
        None | Some("NONE" | "CMD" | "CMD-SHELL") => Ok(()),
        Some(other) => Err(EngineError::Invalid(format!(
            "unknown health check type: {other}; expected NONE, CMD or CMD-SHELL"
        ))),
    }
}

fn duration(ns: Option<i64>, default: Duration) -> Duration {
    match ns.filter(|n| *n > 0) {
        Some(n) => Duration::from_nanos(n.unsigned_abs()),
        None => default,
    }
}

/// The probe of `cfg`, or `None` when it has no health check (absent,
/// empty or `NONE`, which `--no-healthcheck` sends).
pub fn probe(cfg: &ContainerConfig) -> Option<Probe> {
    let hc = cfg.healthcheck.as_ref()?;
    let test = hc.test.as_deref()?;
    let cmd = match test.first().map(String::as_str)? {
        "CMD" => test[1..].to_vec(),
        "CMD-SHELL" => {
            // dockerd runs the shell form with the container's SHELL.
            let mut shell = cfg
                .shell
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
            shell.push(test[1..].join(" "));
            shell
        }
        _ => return None,
    };
    if cmd.is_empty() {
        return None;
    }
    Some(Probe {
        cmd,
        interval: duration(hc.interval, DEFAULT_INTERVAL),
        timeout: duration(hc.timeout, DEFAULT_TIMEOUT),
        retries: hc.retries.filter(|r| *r > 0).unwrap_or(DEFAULT_RETRIES),
        start_period: duration(hc.start_period, Duration::ZERO),
        start_interval: duration(hc.start_interval, DEFAULT_START_INTERVAL),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(test: &[&str]) -> HealthConfig {
        HealthConfig {
            test: Some(test.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn probe_forms_and_defaults() {
        let cfg = ContainerConfig {
            healthcheck: Some(hc(&["CMD-SHELL", "test -f /ok"])),
            ..Default::default()
        };
        let p = probe(&cfg).unwrap();
        assert_eq!(p.cmd, ["/bin/sh", "-c", "test -f /ok"]);
        assert_eq!(
            (p.interval, p.timeout, p.retries),
            (DEFAULT_INTERVAL, DEFAULT_TIMEOUT, 3)
        );
        let cfg = ContainerConfig {
            healthcheck: Some(HealthConfig {
                interval: Some(1_000_000_000),
                retries: Some(2),
                ..hc(&["CMD", "true", "x"])
            }),
            ..Default::default()
        };
        let p = probe(&cfg).unwrap();
        assert_eq!(p.cmd, ["true", "x"]);
        assert_eq!((p.interval, p.retries), (Duration::from_secs(1), 2));
        for none in [hc(&["NONE"]), hc(&[]), hc(&["CMD"])] {
            let cfg = ContainerConfig {
                healthcheck: Some(none),
                ..Default::default()
            };
            assert_eq!(probe(&cfg), None);
        }
    }

    #[test]
    fn user_fields_win_over_the_image() {
        let image = HealthConfig {
            interval: Some(5),
            retries: Some(7),
            ..hc(&["CMD", "img"])
        };
        let user = HealthConfig {
            interval: Some(9),
            ..Default::default()
        };
        let m = merge(Some(user), Some(&image)).unwrap();
        assert_eq!(m.test, image.test);
        assert_eq!((m.interval, m.retries), (Some(9), Some(7)));
        // --no-healthcheck disables the image's check.
        let m = merge(Some(hc(&["NONE"])), Some(&image)).unwrap();
        assert_eq!(m.test.unwrap(), ["NONE"]);
        assert_eq!(merge(None, Some(&image)), Some(image));
    }

    #[test]
    fn validation_matches_dockerd() {
        let bad = HealthConfig {
            interval: Some(10),
            ..hc(&["CMD", "true"])
        };
        assert_eq!(
            validate(Some(&bad)).unwrap_err().to_string(),
            "Interval in Healthcheck cannot be less than 1ms"
        );
        let bad = HealthConfig {
            retries: Some(-1),
            ..hc(&["CMD", "true"])
        };
        assert!(validate(Some(&bad)).is_err());
        assert!(validate(Some(&hc(&["BOGUS"]))).is_err());
        validate(Some(&hc(&["NONE"]))).unwrap();
    }
}
