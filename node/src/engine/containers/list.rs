//! `docker ps` with Docker's filters.

use std::collections::HashMap;

use shoal_api::models::ContainerSummary;
use shoal_api::routers::containers::ListOptions;

use super::super::record::{ContainerRecord, Status};
use super::super::summary;
use super::super::{Engine, EngineError, EngineResult};

const FILTERS: &[&str] = &[
    "id",
    "name",
    "label",
    "label!",
    "status",
    "ancestor",
    "exited",
    "before",
    "since",
    "network",
    "volume",
    "health",
    "isolation",
    "is-task",
    "publish",
    "expose",
];

/// `key` or `key=value` against labels.
pub(crate) fn label_matches(labels: &HashMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
        None => labels.contains_key(filter),
    }
}

/// A name filter is a regular expression in dockerd; `^`/`$` anchors and
/// plain substrings cover what users type.
fn name_matches(name: &str, pattern: &str) -> bool {
    let slashed = format!("/{name}");
    let (p, start) = match pattern.strip_prefix('^') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let (p, end) = match p.strip_suffix('$') {
        Some(p) => (p, true),
        None => (p, false),
    };
    [name, slashed.as_str()].iter().any(|n| match (start, end) {
        (true, true) => *n == p,
        (true, false) => n.starts_with(p),
        (false, true) => n.ends_with(p),
        (false, false) => n.contains(p),
    })
}

/// `until`/`since` as unix seconds: a timestamp (`1700000000[.5]`), an
/// RFC 3339 date, or a Go duration relative to now (`10m`, `1h30m`).
pub(crate) fn parse_time_filter(s: &str) -> EngineResult<f64> {
    if let Ok(n) = s.parse::<f64>() {
        return Ok(n);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp() as f64);
    }
    let mut total = 0f64;
    let mut num = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() || ch == '.' {
            num.push(ch);
            continue;
        }
        let n: f64 = num
            .parse()
            .map_err(|_| EngineError::Invalid(format!("invalid time: {s}")))?;
        num.clear();
        total += n * match ch {
            'h' => 3600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return Err(EngineError::Invalid(format!("invalid time: {s}"))),
        };
    }
    if !num.is_empty() {
        return Err(EngineError::Invalid(format!("invalid time: {s}")));
    }
    Ok(chrono::Utc::now().timestamp() as f64 - total)
}

impl Engine {
    /// `GET /containers/json`.
    pub async fn list(&self, opts: ListOptions) -> EngineResult<Vec<ContainerSummary>> {
        let f = &opts.filters;
        f.validate(FILTERS)
            .map_err(|e| EngineError::Invalid(e.message))?;
        for h in f.get("health") {
            if !matches!(h.as_str(), "starting" | "healthy" | "unhealthy" | "none") {
                return Err(EngineError::Invalid(format!(
                    "Unrecognised filter value for health: {h}"
                )));
            }
        }
        for s in f.get("status") {
            let ok = [
                "created",
                "restarting",
                "running",
                "removing",
                "paused",
                "exited",
                "dead",
            ];
            if !ok.contains(&s.as_str()) {
                return Err(EngineError::Invalid(format!("invalid filter 'status={s}'")));
            }
        }
        let mut exited = Vec::new();
        for e in f.get("exited") {
            exited.push(
                e.parse::<i64>()
                    .map_err(|_| EngineError::Invalid(format!("invalid filter 'exited={e}'")))?,
            );
        }
        let created_of = |key: &str| -> EngineResult<chrono::DateTime<chrono::Utc>> {
            Ok(self.lookup(key)?.snapshot().created)
        };
        let before = match f.get("before").first() {
            Some(k) => Some(created_of(k)?),
            None => None,
        };
        let since = match f.get("since").first() {
            Some(k) => Some(created_of(k)?),
            None => None,
        };
        let mut ancestors = Vec::new();
        for a in f.get("ancestor") {
            // An unknown image simply matches nothing, as in dockerd.
            if let Ok(img) = self.images().get(a).await {
                ancestors.push(img.id);
            }
        }
        let all = opts.all
            || opts.limit.is_some()
            || !f.get("status").is_empty()
            || !exited.is_empty()
            || before.is_some()
            || since.is_some();
        let mut recs: Vec<ContainerRecord> = self.all().iter().map(|c| c.snapshot()).collect();
        recs.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        let mut out = Vec::new();
        for rec in recs {
            let labels = rec.config.labels.clone().unwrap_or_default();
            let status = rec.state.status;
            let keep = (all || status.is_live() || status == Status::Restarting)
                && (f.get("id").is_empty() || f.get("id").iter().any(|p| rec.id.starts_with(p)))
                && (f.get("name").is_empty()
                    || f.get("name").iter().any(|p| name_matches(&rec.name, p)))
                && f.get("label").iter().all(|l| label_matches(&labels, l))
                && !f.get("label!").iter().any(|l| label_matches(&labels, l))
                && (f.get("status").is_empty()
                    || f.get("status").iter().any(|s| s == status.as_str()))
                && (exited.is_empty()
                    || (status == Status::Exited && exited.contains(&rec.state.exit_code)))
                && (f.get("ancestor").is_empty() || ancestors.contains(&rec.image_id))
                && before.is_none_or(|b| rec.created < b)
                && since.is_none_or(|s| rec.created > s)
                && (f.get("network").is_empty()
                    || f.get("network").iter().any(|n| {
                        *n == rec.network_mode
                            || rec.networks.iter().any(|(name, e)| {
                                name == n
                                    || (!e.network_id.is_empty()
                                        && e.network_id.starts_with(n.as_str()))
                            })
                    }))
                && (f.get("is-task").is_empty() || f.get("is-task").iter().all(|v| v == "false"))
                && (f.get("volume").is_empty()
                    || f.get("volume").iter().any(|v| uses_volume(&rec, v)))
                && (f.get("health").is_empty() || {
                    let health = super::super::summary::health_status(&rec);
                    f.get("health").iter().any(|h| *h == health)
                })
                && port_filter(
                    f.get("expose"),
                    rec.config.exposed_ports.iter().flatten().map(|(k, _)| k),
                )
                && port_filter(
                    f.get("publish"),
                    rec.host_config
                        .port_bindings
                        .iter()
                        .flatten()
                        .filter(|(_, b)| b.as_ref().is_some_and(|b| !b.is_empty()))
                        .map(|(k, _)| k),
                );
            if !keep {
                continue;
            }
            let size = if opts.size {
                self.sizes(&rec).await
            } else {
                None
            };
            out.push(summary::summary(&rec, size));
            if opts.limit.is_some_and(|l| l > 0 && out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_names_match_like_docker() {
        let labels: HashMap<String, String> = [("a".to_string(), "1".to_string())].into();
        assert!(label_matches(&labels, "a"));
        assert!(label_matches(&labels, "a=1"));
        assert!(!label_matches(&labels, "a=2"));
        assert!(name_matches("web-1", "web"));
        assert!(name_matches("web-1", "^/web"));
        assert!(name_matches("web-1", "^web-1$"));
        assert!(!name_matches("web-1", "^eb"));
    }

    #[test]
    fn time_filters_parse() {
        assert_eq!(parse_time_filter("1700000000").unwrap(), 1_700_000_000.0);
        let ago = parse_time_filter("10m").unwrap();
        let now = chrono::Utc::now().timestamp() as f64;
        assert!((now - ago - 600.0).abs() < 5.0);
        assert!(parse_time_filter("10x").is_err());
    }
}

/// The `volume` filter: a volume name or a mount destination.
fn uses_volume(rec: &ContainerRecord, v: &str) -> bool {
    summary::mount_points(rec)
        .iter()
        .any(|m| m.name.as_deref() == Some(v) || m.destination.as_deref() == Some(v))
}

/// The `expose`/`publish` filters: `port[/proto]` or a `start-end[/proto]`
/// range against `ports` (`80/tcp` keys); empty filters match.
fn port_filter<'a>(wanted: &[String], ports: impl Iterator<Item = &'a String>) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let ports: Vec<(u16, String)> = ports
        .filter_map(|k| {
            let (p, proto) = k.split_once('/').unwrap_or((k.as_str(), "tcp"));
            Some((p.parse().ok()?, proto.to_owned()))
        })
        .collect();
    wanted.iter().any(|w| {
        let (range, proto) = match w.split_once('/') {
            Some((r, p)) => (r, Some(p)),
            None => (w.as_str(), None),
        };
        let (lo, hi) = match range.split_once('-') {
            Some((a, b)) => (a.parse::<u16>().ok(), b.parse::<u16>().ok()),
            None => (range.parse().ok(), range.parse().ok()),
        };
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return false;
        };
        ports
            .iter()
            .any(|(p, pr)| *p >= lo && *p <= hi && proto.is_none_or(|x| x == pr))
    })
}

#[cfg(test)]
mod port_filter_tests {
    use super::port_filter;

    #[test]
    fn ports_ranges_and_protocols() {
        let ports = ["80/tcp".to_string(), "53/udp".to_string()];
        assert!(port_filter(&[], ports.iter()));
        assert!(port_filter(&["80".into()], ports.iter()));
        assert!(port_filter(&["50-60/udp".into()], ports.iter()));
        assert!(!port_filter(&["53/tcp".into()], ports.iter()));
        assert!(!port_filter(&["81".into()], ports.iter()));
    }
}
