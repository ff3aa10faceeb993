//! The worker: applies assignment batches to this node — one task runner per assigned task,
//! the secrets and configs those tasks need, and removal of containers of tasks that are no
//! longer this node's (including stale ones found after a restart).

use std::collections::{BTreeMap, HashMap};

use shoal_scheduler::model::{Config, ConfigId, Secret, SecretId, ServiceId, TaskId};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::exec::TaskContainer;
use super::task_runner::{self, RunnerCtx, TaskInput};
use crate::cluster::dispatcher::wire::{AssignmentBatch, ServiceInfo};

/// This node's tasks and what they need.
#[derive(Debug)]
pub struct Worker {
    ctx: RunnerCtx,
    runners: HashMap<TaskId, watch::Sender<TaskInput>>,
    services: BTreeMap<ServiceId, ServiceInfo>,
    secrets: BTreeMap<SecretId, Secret>,
    configs: BTreeMap<ConfigId, Config>,
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl Worker {
    /// A worker running tasks through `ctx` until `stop`.
    pub fn new(ctx: RunnerCtx, tracker: TaskTracker, stop: CancellationToken) -> Self {
        Self {
            ctx,
            runners: HashMap::new(),
            services: BTreeMap::new(),
            secrets: BTreeMap::new(),
            configs: BTreeMap::new(),
            tracker,
            stop,
        }
    }

    fn granted<K: Ord + Clone, V: Clone>(all: &BTreeMap<K, V>, ids: Vec<K>) -> BTreeMap<K, V> {
        ids.into_iter()
            .filter_map(|id| all.get(&id).map(|v| (id, v.clone())))
            .collect()
    }

    /// Applies one batch from the dispatcher.
    pub async fn apply(&mut self, batch: AssignmentBatch) {
        if batch.full {
            self.secrets.clear();
            self.configs.clear();
        }
        self.services.extend(batch.services);
        for s in batch.secrets {
            self.secrets.insert(s.id.clone(), s);
        }
        for c in batch.configs {
            self.configs.insert(c.id.clone(), c);
        }
        for id in &batch.removed_secrets {
            self.secrets.remove(id);
        }
        for id in &batch.removed_configs {
            self.configs.remove(id);
        }
        let mut removed = batch.removed_tasks;
        let existing: Vec<TaskContainer> = if batch.full {
            let keep: std::collections::HashSet<&TaskId> =
                batch.tasks.iter().map(|t| &t.id).collect();
            removed.extend(self.runners.keys().filter(|id| !keep.contains(id)).cloned());
            match self.ctx.ctl.task_containers().await {
                Ok(list) => list,
                Err(e) => {
                    tracing::warn!(error = %e, "listing task containers failed");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        for id in removed {
            if let Some(tx) = self.runners.remove(&id) {
                tx.send_modify(|i| i.removed = true);
            }
        }
        let assigned: std::collections::HashSet<String> =
            batch.tasks.iter().map(|t| t.id.to_string()).collect();
        for task in batch.tasks {
            let service = self
                .services
                .get(&task.service_id)
                .cloned()
                .unwrap_or_else(|| ServiceInfo {
                    name: task.service_id.to_string(),
                    ports: Vec::new(),
                });
            let input = TaskInput {
                secrets: Self::granted(
                    &self.secrets,
                    crate::cluster::convert_service::secret_refs(&task.spec),
                ),
                configs: Self::granted(
                    &self.configs,
                    crate::cluster::convert_service::config_refs(&task.spec),
                ),
                task,
                service,
                removed: false,
            };
            match self.runners.get(&input.task.id) {
                Some(tx) => {
                    tx.send_replace(input);
                }
                None => {
                    let adopted = existing
                        .iter()
                        .find(|c| c.task_id == input.task.id.as_str())
                        .cloned();
                    let id = input.task.id.clone();
                    let (tx, rx) = watch::channel(input);
                    let span = tracing::info_span!("task", task.id = %id);
                    self.tracker.spawn(
                        task_runner::run(self.ctx.clone(), rx, adopted, self.stop.clone())
                            .instrument(span),
                    );
                    self.runners.insert(id, tx);
                }
            }
        }
        // Containers of tasks this node no longer has (e.g. rescheduled while it was down).
        for c in existing.iter().filter(|c| !assigned.contains(&c.task_id)) {
            tracing::info!(task.id = %c.task_id, container.id = %c.id, "removing stale task container");
            if let Err(e) = self.ctx.ctl.remove(&c.id).await {
                tracing::warn!(container.id = %c.id, error = %e, "removing stale task container failed");
            }
            let files = self.ctx.files.clone();
            let id = c.task_id.clone();
            let _ = tokio::task::spawn_blocking(move || files.cleanup(&id)).await;
        }
    }
}
