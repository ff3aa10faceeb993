//! `docker stats`: samples of a container's cgroup and network counters
//! in the Engine API's `ContainerStatsResponse` shape.
//!
//! As in moby's `daemon/stats.go`: a streamed request gets one sample
//! per second, each carrying the previous one's CPU numbers as
//! `precpu_stats`; `stream=false` waits for a second sample so CPU % is
//! not 0; `one-shot` answers one sample at once with empty `precpu_stats`.
//! A container that is not running yields samples with only `name` and
//! `id` (dockerd's empty StatsJSON), so `docker stats -a` shows zeros.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use shoal_api::models::{
    ContainerBlkioStatEntry, ContainerBlkioStats, ContainerCpuStats, ContainerCpuUsage,
    ContainerMemoryStats, ContainerNetworkStats, ContainerPidsStats, ContainerStatsResponse,
    ContainerStorageStats, ContainerThrottlingData,
};

pub use shoal_api::routers::containers::StatsMode;

use super::super::record::ContainerRecord;
use super::super::{Engine, EngineResult};
use crate::runtime::cgroups::{self, BlkioEntry, CgroupReader, CgroupStats};
use crate::runtime::oci_spec;

/// moby's collector interval.
const INTERVAL: Duration = Duration::from_secs(1);

/// dockerd's zero time, what `preread` is before a previous sample exists.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// What the previous sample left for the next one.
#[derive(Debug)]
struct Previous {
    cpu: ContainerCpuStats,
    read: Option<DateTime<Utc>>,
}

impl Default for Previous {
    fn default() -> Previous {
        Previous {
            cpu: empty_cpu(),
            read: None,
        }
    }
}

impl Engine {
    /// `GET /containers/{id}/stats`: 404 for an unknown container, then
    /// the samples `mode` asks for, each a JSON document.
    #[tracing::instrument(skip(self), fields(container.id = %key))]
    pub async fn stats(
        &self,
        key: &str,
        mode: StatsMode,
    ) -> EngineResult<BoxStream<'static, Value>> {
        let c = self.lookup(key)?;
        let engine = self.clone();
        let first = engine.sample(&c.snapshot()).await;
        if mode == StatsMode::OneShot {
            let mut prev = Previous::default();
            return Ok(futures::stream::once(async move { first.encode(&mut prev) }).boxed());
        }
        let mut prev = Previous::default();
        if mode == StatsMode::Single {
            let _ = first.encode(&mut prev);
            return Ok(futures::stream::once(async move {
                tokio::time::sleep(INTERVAL).await;
                engine.sample(&c.snapshot()).await.encode(&mut prev)
            })
            .boxed());
        }
        let first_doc = first.encode(&mut prev);
        let rest = futures::stream::unfold(prev, move |mut prev| {
            let engine = engine.clone();
            let c = c.clone();
            async move {
                tokio::time::sleep(INTERVAL).await;
                let doc = engine.sample(&c.snapshot()).await.encode(&mut prev);
                Some((doc, prev))
            }
        });
        Ok(futures::stream::once(async move { first_doc })
            .chain(rest)
            .boxed())
    }

    /// One sample of `rec`'s counters (blocking reads off the async threads).
    async fn sample(&self, rec: &ContainerRecord) -> Sample {
        let name = format!("/{}", rec.name);
        let id = rec.id.clone();
        if !rec.state.status.is_live() || rec.state.pid == 0 {
            return Sample::empty(name, id);
        }
        let path = oci_spec::cgroups_path(&rec.host_config, &rec.id);
        let pid = rec.state.pid;
        let host_network = rec.network_mode == "host";
        let read = tokio::task::spawn_blocking(move || {
            let stats = CgroupReader::new(&path).stats()?;
            let system = cgroups::system_cpu()?;
            let host_mem = cgroups::host_memory()?;
            let net = if host_network {
                Vec::new()
            } else {
                cgroups::net_dev(pid).unwrap_or_default()
            };
            std::io::Result::Ok((stats, system, host_mem, net))
        })
        .await;
        match read {
            Ok(Ok((stats, system, host_mem, net))) => Sample {
                name,
                id,
                read: Some(Utc::now()),
                data: Some(SampleData {
                    stats,
                    system_cpu: system.0,
                    online_cpus: system.1,
                    host_mem,
                    net,
                }),
            },
            Ok(Err(e)) => {
                // The task exited between the status check and the read.
                tracing::debug!(error = %e, "reading cgroup stats");
                Sample::empty(name, id)
            }
            Err(e) => {
                tracing::warn!(error = %e, "stats reader task failed");
                Sample::empty(name, id)
            }
        }
    }
}

#[derive(Debug)]
struct SampleData {
    stats: CgroupStats,
    system_cpu: u64,
    online_cpus: u32,
    host_mem: u64,
    net: Vec<(String, cgroups::NetDevStats)>,
}

#[derive(Debug)]
struct Sample {
    name: String,
    id: String,
    read: Option<DateTime<Utc>>,
    data: Option<SampleData>,
}

fn rfc3339(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true))
        .unwrap_or_else(|| ZERO_TIME.to_owned())
}

fn blkio_entries(v: &[BlkioEntry]) -> Vec<ContainerBlkioStatEntry> {
    v.iter()
        .map(|e| ContainerBlkioStatEntry {
            major: Some(e.major),
            minor: Some(e.minor),
            op: Some(e.op.clone()),
            value: Some(e.value),
        })
        .collect()
}

impl Sample {
    fn empty(name: String, id: String) -> Sample {
        Sample {
            name,
            id,
            read: None,
            data: None,
        }
    }

    /// The API document, with `prev`'s CPU numbers as `precpu_stats`;
    /// leaves this sample's in `prev` for the next one.
    fn encode(self, prev: &mut Previous) -> Value {
        let resp = match &self.data {
            None => ContainerStatsResponse {
                name: Some(self.name.clone()),
                id: Some(self.id.clone()),
                pids_stats: Some(ContainerPidsStats::default()),
                blkio_stats: Some(ContainerBlkioStats::default()),
                num_procs: Some(0),
                storage_stats: Some(ContainerStorageStats::default()),
                cpu_stats: Some(empty_cpu()),
                precpu_stats: Some(empty_cpu()),
                memory_stats: Some(ContainerMemoryStats::default()),
                ..Default::default()
            },
            Some(d) => self.full(d, prev),
        };
        let mut doc = serde_json::to_value(&resp).unwrap_or_else(|_| json!({}));
        doc["read"] = json!(rfc3339(self.read));
        doc["preread"] = json!(rfc3339(prev.read));
        prev.cpu = resp.cpu_stats.unwrap_or_default();
        prev.read = self.read;
        doc
    }

    fn full(&self, d: &SampleData, prev: &Previous) -> ContainerStatsResponse {
        let s = &d.stats;
        let cpu = ContainerCpuStats {
            cpu_usage: Some(ContainerCpuUsage {
                total_usage: Some(s.cpu_total),
                percpu_usage: s.cpu_percpu.clone(),
                usage_in_kernelmode: Some(s.cpu_kernel),
                usage_in_usermode: Some(s.cpu_user),
            }),
            system_cpu_usage: Some(d.system_cpu),
            online_cpus: Some(d.online_cpus),
            throttling_data: Some(ContainerThrottlingData {
                periods: Some(s.throttle_periods),
                throttled_periods: Some(s.throttled_periods),
                throttled_time: Some(s.throttled_time),
            }),
        };
        // dockerd shows the host's memory as the limit of an unlimited
        // container (and never a limit above it).
        let limit = s
            .mem_limit
            .filter(|l| d.host_mem == 0 || *l < d.host_mem)
            .unwrap_or(d.host_mem);
        let networks: HashMap<String, ContainerNetworkStats> = d
            .net
            .iter()
            .map(|(name, n)| {
                (
                    name.clone(),
                    ContainerNetworkStats {
                        rx_bytes: Some(n.rx_bytes),
                        rx_packets: Some(n.rx_packets),
                        rx_errors: Some(n.rx_errors),
                        rx_dropped: Some(n.rx_dropped),
                        tx_bytes: Some(n.tx_bytes),
                        tx_packets: Some(n.tx_packets),
                        tx_errors: Some(n.tx_errors),
                        tx_dropped: Some(n.tx_dropped),
                        ..Default::default()
                    },
                )
            })
            .collect();
        let v1 = s.cpu_percpu.is_some();
        ContainerStatsResponse {
            name: Some(self.name.clone()),
            id: Some(self.id.clone()),
            pids_stats: Some(ContainerPidsStats {
                current: Some(s.pids_current),
                limit: s.pids_limit,
            }),
            blkio_stats: Some(ContainerBlkioStats {
                io_service_bytes_recursive: Some(blkio_entries(&s.io_bytes)),
                io_serviced_recursive: v1.then(|| blkio_entries(&s.io_ops)),
                io_queue_recursive: v1.then(Vec::new),
                io_service_time_recursive: v1.then(Vec::new),
                io_wait_time_recursive: v1.then(Vec::new),
                io_merged_recursive: v1.then(Vec::new),
                io_time_recursive: v1.then(Vec::new),
                sectors_recursive: v1.then(Vec::new),
            }),
            num_procs: Some(0),
            storage_stats: Some(ContainerStorageStats::default()),
            cpu_stats: Some(cpu),
            precpu_stats: Some(prev.cpu.clone()),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(s.mem_usage),
                max_usage: s.mem_max_usage,
                stats: Some(s.mem_stat.clone()),
                failcnt: s.mem_failcnt,
                limit: Some(limit),
                ..Default::default()
            }),
            networks: (!networks.is_empty()).then_some(networks),
            ..Default::default()
        }
    }
}

/// dockerd's zero CPUStats: a `cpu_usage` object and a `throttling_data`
/// object with zeros, so clients reading nested fields find them.
fn empty_cpu() -> ContainerCpuStats {
    ContainerCpuStats {
        cpu_usage: Some(ContainerCpuUsage {
            total_usage: Some(0),
            usage_in_kernelmode: Some(0),
            usage_in_usermode: Some(0),
            ..Default::default()
        }),
        throttling_data: Some(ContainerThrottlingData {
            periods: Some(0),
            throttled_periods: Some(0),
            throttled_time: Some(0),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(total: u64, system: u64) -> SampleData {
        SampleData {
            stats: CgroupStats {
                cpu_total: total,
                cpu_percpu: Some(vec![total]),
                mem_usage: 1 << 20,
                mem_limit: Some(64 << 20),
                pids_current: 2,
                ..Default::default()
            },
            system_cpu: system,
            online_cpus: 2,
            host_mem: 1 << 30,
            net: vec![("eth0".into(), cgroups::NetDevStats::default())],
        }
    }

    #[test]
    fn samples_chain_precpu_and_preread() {
        let mut prev = Previous::default();
        let t1 = Utc::now();
        let a = Sample {
            name: "/c".into(),
            id: "abc".into(),
            read: Some(t1),
            data: Some(data(100, 1000)),
        }
        .encode(&mut prev);
        assert_eq!(a["preread"], ZERO_TIME);
        assert_eq!(a["precpu_stats"]["cpu_usage"]["total_usage"], 0);
        assert_eq!(a["memory_stats"]["limit"], 64 << 20);
        assert_eq!(a["networks"]["eth0"]["rx_bytes"], 0);
        assert_eq!(a["name"], "/c");
        let b = Sample {
            name: "/c".into(),
            id: "abc".into(),
            read: Some(t1 + chrono::Duration::seconds(1)),
            data: Some(data(300, 3000)),
        }
        .encode(&mut prev);
        assert_eq!(b["precpu_stats"]["cpu_usage"]["total_usage"], 100);
        assert_eq!(b["cpu_stats"]["cpu_usage"]["total_usage"], 300);
        assert_eq!(b["preread"], a["read"]);
        assert_eq!(b["cpu_stats"]["online_cpus"], 2);
    }

    #[test]
    fn unlimited_memory_shows_the_host_total_and_stopped_is_empty() {
        let mut d = data(1, 1);
        d.stats.mem_limit = None;
        let mut prev = Previous::default();
        let doc = Sample {
            name: "/c".into(),
            id: "abc".into(),
            read: Some(Utc::now()),
            data: Some(d),
        }
        .encode(&mut prev);
        assert_eq!(doc["memory_stats"]["limit"], 1u64 << 30);
        let doc = Sample::empty("/c".into(), "abc".into()).encode(&mut prev);
        assert_eq!(doc["read"], ZERO_TIME);
        assert_eq!(doc["cpu_stats"]["cpu_usage"]["total_usage"], 0);
        assert_eq!(doc["memory_stats"], json!({}));
        assert!(doc.get("networks").is_none());
    }
}
