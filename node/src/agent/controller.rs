//! [`TaskController`] backed by the node's own [`Engine`]: service tasks are ordinary
//! containers, so `docker ps`, `logs` and `inspect` show them as on dockerd.

use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use shoal_api::models::ContainerCreateBody;
use shoal_api::routers::containers::{LogsOptions, WaitCondition};
use shoal_api::stream::OutputStream;

use shoal_scheduler::model::service::{PortConfig, PortProtocol, PublishMode};
use tokio::sync::watch;

use super::exec::{ExecError, TaskContainer, TaskController};
use crate::engine::{Engine, EngineError};

/// Docker's label naming a container's swarm task.
pub const TASK_ID_LABEL: &str = "com.docker.swarm.task.id";

/// The engine as a task controller.
#[derive(Debug, Clone)]
pub struct EngineController {
    /// The node's engine.
    pub engine: Engine,
}

fn exec_err(e: EngineError) -> ExecError {
    ExecError {
        not_found: matches!(e, EngineError::NoSuchContainer(_)),
        message: e.to_string(),
    }
}

fn describe(rec: &crate::engine::record::ContainerRecord) -> Option<TaskContainer> {
    let task_id = rec.config.labels.as_ref()?.get(TASK_ID_LABEL)?.clone();
    Some(TaskContainer {
        id: rec.id.clone(),
        task_id,
        running: rec.state.status.is_live(),
        exit_code: rec.state.exit_code,
        pid: rec.state.pid,
        ports: published(rec),
    })
}

/// The container's published ports as swarm port configs (one per container port and
/// host port, whatever the host addresses).
fn published(rec: &crate::engine::record::ContainerRecord) -> Vec<PortConfig> {
    use crate::network::model::Proto;
    let mut out: Vec<PortConfig> = rec
        .ports
        .iter()
        .map(|p| PortConfig {
            name: String::new(),
            protocol: match p.proto {
                Proto::Tcp => PortProtocol::Tcp,
                Proto::Udp => PortProtocol::Udp,
                Proto::Sctp => PortProtocol::Sctp,
            },
            target_port: u32::from(p.container_port),
            published_port: u32::from(p.host_port),
            publish_mode: PublishMode::Host,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[async_trait]
impl TaskController for EngineController {
    async fn task_containers(&self) -> Result<Vec<TaskContainer>, ExecError> {
        Ok(self
            .engine
            .all()
            .iter()
            .filter_map(|c| describe(&c.snapshot()))
            .collect())
    }

    async fn ensure_image(
        &self,
        image: &str,
        registry_auth: Option<&str>,
    ) -> Result<(), ExecError> {
        self.engine
            .ensure_image(image, registry_auth, None, false)
            .await
            .map(|_| ())
            .map_err(exec_err)
    }

    async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<String, ExecError> {
        self.engine
            .create(Some(name.to_owned()), body)
            .await
            .map(|c| c.id)
            .map_err(exec_err)
    }

    async fn start(&self, id: &str) -> Result<(), ExecError> {
        match self.engine.start(id).await {
            Ok(()) | Err(EngineError::NotModified) => Ok(()),
            Err(e) => Err(exec_err(e)),
        }
    }

    fn wait(&self, id: &str) -> Result<BoxFuture<'static, i64>, ExecError> {
        self.engine
            .wait(id, WaitCondition::NotRunning)
            .map_err(exec_err)
    }

    fn health(&self, id: &str) -> Result<Option<watch::Receiver<Option<String>>>, ExecError> {
        let c = self.engine.lookup(id).map_err(exec_err)?;
        if crate::engine::containers::health_probe(&c.snapshot().config).is_none() {
            return Ok(None);
        }
        Ok(Some(c.health_tx.subscribe()))
    }

    async fn stop(
        &self,
        id: &str,
        signal: Option<String>,
        grace: Duration,
    ) -> Result<(), ExecError> {
        let secs = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
        match self.engine.stop(id, signal, Some(secs)).await {
            Ok(()) | Err(EngineError::NotModified) => Ok(()),
            Err(e) => Err(exec_err(e)),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), ExecError> {
        match self.engine.remove(id, true, false).await {
            Ok(()) | Err(EngineError::NoSuchContainer(_)) => Ok(()),
            Err(e) => Err(exec_err(e)),
        }
    }

    async fn inspect(&self, id: &str) -> Result<TaskContainer, ExecError> {
        let c = self.engine.lookup(id).map_err(exec_err)?;
        describe(&c.snapshot())
            .ok_or_else(|| ExecError::new(format!("{id} is not a task container")))
    }

    async fn logs(&self, id: &str, opts: LogsOptions) -> Result<OutputStream, ExecError> {
        self.engine
            .logs(id, opts)
            .await
            .map(|(_, s)| s)
            .map_err(exec_err)
    }
}
