//! A scripted backend for every trait: records each call as a line of
//! text and answers from a few magic ids ("missing" is 404, "running" is
//! already started, "boom" panics).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use tokio::sync::Notify;

use crate::Backends;
use crate::error::{ApiError, ApiResult};
use crate::extract::Filters;
use crate::models::*;
use crate::routers::archive::{ArchiveBackend, PathStat, PutOptions};
use crate::routers::containers::{
    AttachOptions, ContainersBackend, ListOptions, LogsOptions, WaitCondition,
};
use crate::routers::distribution::{DistributionBackend, LoginRequest};
use crate::routers::exec::ExecBackend;
use crate::routers::images::{ImagesBackend, ImportOptions, ProgressStream};
use crate::routers::networks::NetworksBackend;
use crate::routers::system::SystemBackend;
use crate::routers::volumes::VolumesBackend;
use crate::stream::{AttachIo, ByteStream, OutputChunk, OutputStream, StdStream};
pub(crate) use crate::tests::swarm_fakes::SwarmRole;

#[derive(Default)]
pub(crate) struct Fake {
    pub calls: Mutex<Vec<String>>,
    /// Wakes pending waits.
    pub exit: Arc<Notify>,
    /// This node's place in the swarm, for the swarm and nodes fakes.
    pub role: Mutex<SwarmRole>,
}

impl Fake {
    pub fn backends() -> (Arc<Fake>, Backends) {
        let f = Arc::new(Fake::default());
        let b = Backends {
            containers: f.clone(),
            archive: f.clone(),
            exec: f.clone(),
            images: f.clone(),
            build: f.clone(),
            distribution: f.clone(),
            system: f.clone(),
            swarm: f.clone(),
            nodes: f.clone(),
            networks: f.clone(),
            volumes: f.clone(),
            services: f.clone(),
            tasks: f.clone(),
            secrets: f.clone(),
            configs: f.clone(),
        };
        (f, b)
    }

    /// Like [`Fake::backends`], with this node in the swarm as `role`.
    pub fn backends_as(role: SwarmRole) -> (Arc<Fake>, Backends) {
        let (f, b) = Self::backends();
        *f.role.lock().unwrap() = role;
        (f, b)
    }

    pub fn role(&self) -> SwarmRole {
        *self.role.lock().unwrap()
    }

    pub fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

fn known(id: &str) -> ApiResult<()> {
    match id {
        "missing" => Err(ApiError::not_found(format!("No such container: {id}"))),
        "boom" => panic!("fake backend exploded"),
        _ => Ok(()),
    }
}

/// An echo session: what the client writes to stdin comes back on stdout,
/// and the output ends when stdin is closed.
pub(crate) fn echo_io(tty: bool) -> AttachIo {
    let (stdin, out) = tokio::io::duplex(1024);
    let output = tokio_util::io::ReaderStream::new(out)
        .filter_map(|r| async move { r.ok() })
        .map(|data| OutputChunk {
            stream: StdStream::Stdout,
            data,
            timestamp: None,
        })
        .boxed();
    AttachIo {
        tty,
        output,
        stdin: Some(Box::new(stdin)),
        detach_keys: crate::stream::detach::DEFAULT_DETACH_KEYS.to_vec(),
        on_detach: None,
    }
}

fn chunks(items: Vec<(StdStream, &'static str)>) -> OutputStream {
    let ts = chrono::DateTime::from_timestamp(1_700_000_000, 0);
    futures::stream::iter(items.into_iter().map(move |(stream, s)| OutputChunk {
        stream,
        data: Bytes::from_static(s.as_bytes()),
        timestamp: ts,
    }))
    .boxed()
}

#[async_trait]
impl ContainersBackend for Fake {
    async fn create(
        &self,
        name: Option<String>,
        body: ContainerCreateBody,
    ) -> ApiResult<ContainerCreateResponse> {
        self.record(format!("create name={name:?} image={:?}", body.image));
        if name.as_deref() == Some("taken") {
            return Err(ApiError::conflict(
                "Conflict. The container name \"/taken\" is already in use",
            ));
        }
        Ok(ContainerCreateResponse {
            id: "c0ffee".into(),
            warnings: vec![],
        })
    }
    async fn list(&self, opts: ListOptions) -> ApiResult<Vec<ContainerSummary>> {
        self.record(format!(
            "list all={} limit={:?} filters={:?}",
            opts.all, opts.limit, opts.filters.0
        ));
        Ok(vec![])
    }
    async fn inspect(&self, id: &str, size: bool) -> ApiResult<ContainerInspectResponse> {
        known(id)?;
        self.record(format!("inspect {id} size={size}"));
        // The CLI reads Config.Tty (logs, attach) and State (run).
        Ok(ContainerInspectResponse {
            id: Some(id.into()),
            config: Some(ContainerConfig {
                tty: Some(id == "tty"),
                ..Default::default()
            }),
            state: Some(ContainerState {
                running: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
    async fn start(&self, id: &str) -> ApiResult<()> {
        known(id)?;
        self.record(format!("start {id}"));
        if id == "running" {
            return Err(ApiError::not_modified());
        }
        Ok(())
    }
    async fn stop(&self, id: &str, signal: Option<String>, timeout: Option<i64>) -> ApiResult<()> {
        known(id)?;
        self.record(format!("stop {id} signal={signal:?} t={timeout:?}"));
        Ok(())
    }
    async fn restart(&self, id: &str, s: Option<String>, t: Option<i64>) -> ApiResult<()> {
        self.stop(id, s, t).await
    }
    async fn kill(&self, id: &str, signal: Option<String>) -> ApiResult<()> {
        known(id)?;
        self.record(format!("kill {id} signal={signal:?}"));
        Ok(())
    }
    async fn pause(&self, id: &str) -> ApiResult<()> {
        known(id)
    }
    async fn unpause(&self, id: &str) -> ApiResult<()> {
        known(id)
    }
    async fn wait(
        &self,
        id: &str,
        condition: WaitCondition,
    ) -> ApiResult<BoxFuture<'static, ContainerWaitResponse>> {
        known(id)?;
        self.record(format!("wait {id} {condition:?}"));
        let exit = self.exit.clone();
        Ok(async move {
            exit.notified().await;
            ContainerWaitResponse {
                status_code: 7,
                error: None,
            }
        }
        .boxed())
    }
    async fn remove(&self, id: &str, force: bool, volumes: bool) -> ApiResult<()> {
        known(id)?;
        self.record(format!("remove {id} force={force} v={volumes}"));
        Ok(())
    }
    async fn rename(&self, id: &str, new_name: &str) -> ApiResult<()> {
        known(id)?;
        self.record(format!("rename {id} {new_name}"));
        Ok(())
    }
    async fn top(&self, id: &str, ps_args: Option<String>) -> ApiResult<ContainerTopResponse> {
        known(id)?;
        self.record(format!("top {id} {ps_args:?}"));
        Ok(ContainerTopResponse::default())
    }
    async fn logs(&self, id: &str, opts: LogsOptions) -> ApiResult<(bool, OutputStream)> {
        known(id)?;
        self.record(format!(
            "logs {id} follow={} tail={:?} since={:?}",
            opts.follow, opts.tail, opts.since
        ));
        let tty = id == "tty";
        Ok((
            tty,
            chunks(vec![
                (StdStream::Stdout, "out\n"),
                (StdStream::Stderr, "err\n"),
            ]),
        ))
    }
    async fn attach(&self, id: &str, opts: AttachOptions) -> ApiResult<AttachIo> {
        known(id)?;
        self.record(format!(
            "attach {id} stdin={} stream={}",
            opts.stdin, opts.stream
        ));
        Ok(echo_io(id == "tty"))
    }
    async fn resize(&self, id: &str, height: u16, width: u16) -> ApiResult<()> {
        known(id)?;
        self.record(format!("resize {id} {height}x{width}"));
        Ok(())
    }
    async fn prune(&self, filters: Filters) -> ApiResult<ContainerPruneResponse> {
        self.record(format!("prune {:?}", filters.0));
        Ok(ContainerPruneResponse::default())
    }
    async fn export(&self, id: &str) -> ApiResult<ByteStream> {
        known(id)?;
        Ok(futures::stream::iter([Ok(Bytes::from_static(b"tar"))]).boxed())
    }
    async fn commit(
        &self,
        id: &str,
        opts: crate::routers::containers::CommitOptions,
    ) -> ApiResult<String> {
        self.record(format!("commit {id} {opts:?}"));
        Ok("sha256:1".into())
    }
    async fn stats(
        &self,
        id: &str,
        mode: crate::routers::containers::StatsMode,
    ) -> ApiResult<futures::stream::BoxStream<'static, serde_json::Value>> {
        self.record(format!("stats {id} {mode:?}"));
        let docs = vec![
            serde_json::json!({"id": id, "n": 1}),
            serde_json::json!({"id": id, "n": 2}),
        ];
        Ok(futures::stream::iter(docs).boxed())
    }
    async fn update(
        &self,
        id: &str,
        body: crate::models::ContainerUpdateBody,
    ) -> ApiResult<crate::models::ContainerUpdateResponse> {
        self.record(format!("update {id} memory={:?}", body.memory));
        Ok(crate::models::ContainerUpdateResponse {
            warnings: Some(vec![]),
        })
    }
}

#[async_trait]
impl ArchiveBackend for Fake {
    async fn stat(&self, id: &str, path: &str) -> ApiResult<PathStat> {
        self.record(format!("stat {id} {path}"));
        Ok(PathStat {
            name: "f".into(),
            size: 1,
            mode: 0o644,
            mtime: "2026-01-01T00:00:00Z".into(),
            link_target: String::new(),
        })
    }
    async fn get(&self, id: &str, path: &str) -> ApiResult<(PathStat, ByteStream)> {
        let stat = self.stat(id, path).await?;
        Ok((stat, futures::stream::empty().boxed()))
    }
    async fn put(
        &self,
        id: &str,
        path: &str,
        _body: ByteStream,
        opts: PutOptions,
    ) -> ApiResult<()> {
        self.record(format!("put {id} {path} {}", opts.copy_uid_gid));
        Ok(())
    }
    async fn changes(&self, _id: &str) -> ApiResult<Vec<FilesystemChange>> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl VolumesBackend for Fake {
    async fn list(&self, _filters: Filters) -> ApiResult<VolumeListResponse> {
        self.record("volume-list".to_string());
        Ok(VolumeListResponse {
            volumes: Some(Vec::new()),
            warnings: None,
        })
    }
    async fn create(&self, opts: VolumeCreateOptions) -> ApiResult<Volume> {
        let name = opts.name.unwrap_or_default();
        self.record(format!("volume-create {name}"));
        Ok(Volume {
            name,
            driver: "local".into(),
            ..Default::default()
        })
    }
    async fn inspect(&self, name: &str) -> ApiResult<Volume> {
        Err(ApiError::not_found(format!("get {name}: no such volume")))
    }
    async fn remove(&self, name: &str, force: bool) -> ApiResult<()> {
        self.record(format!("volume-remove {name} force={force}"));
        Ok(())
    }
    async fn prune(&self, _filters: Filters) -> ApiResult<VolumePruneResponse> {
        Ok(VolumePruneResponse::default())
    }
}

#[async_trait]
impl ExecBackend for Fake {
    async fn create(&self, container: &str, config: ExecConfig) -> ApiResult<IdResponse> {
        known(container)?;
        self.record(format!("exec-create {container} {:?}", config.cmd));
        Ok(IdResponse { id: "e1".into() })
    }
    async fn start(&self, exec_id: &str, detach: bool, tty: Option<bool>) -> ApiResult<AttachIo> {
        known(exec_id)?;
        self.record(format!("exec-start {exec_id} detach={detach} tty={tty:?}"));
        Ok(echo_io(tty.unwrap_or(false)))
    }
    async fn inspect(&self, exec_id: &str) -> ApiResult<ExecInspectResponse> {
        known(exec_id)?;
        Ok(ExecInspectResponse::default())
    }
    async fn resize(&self, exec_id: &str, height: u16, width: u16) -> ApiResult<()> {
        known(exec_id)?;
        self.record(format!("exec-resize {exec_id} {height}x{width}"));
        Ok(())
    }
}

fn progress(items: Vec<serde_json::Value>) -> ProgressStream {
    futures::stream::iter(items).boxed()
}

#[async_trait]
impl ImagesBackend for Fake {
    async fn list(&self, all: bool, filters: Filters) -> ApiResult<Vec<ImageSummary>> {
        self.record(format!("images all={all} {:?}", filters.0));
        Ok(vec![])
    }
    async fn inspect(&self, name: &str) -> ApiResult<ImageInspect> {
        self.record(format!("image-inspect {name}"));
        if name == "missing" {
            return Err(ApiError::not_found("No such image: missing"));
        }
        Ok(ImageInspect::default())
    }
    async fn history(&self, name: &str) -> ApiResult<Vec<HistoryResponseItem>> {
        self.record(format!("history {name}"));
        Ok(vec![])
    }
    async fn tag(&self, name: &str, repo: &str, tag: Option<&str>) -> ApiResult<()> {
        self.record(format!("tag {name} {repo} {tag:?}"));
        Ok(())
    }
    async fn remove(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> ApiResult<Vec<ImageDeleteResponseItem>> {
        self.record(format!("rmi {name} force={force} noprune={noprune}"));
        Ok(vec![])
    }
    async fn prune(&self, filters: Filters) -> ApiResult<ImagePruneResponse> {
        self.record(format!("image-prune {:?}", filters.0));
        Ok(ImagePruneResponse::default())
    }
    async fn load(&self, body: ByteStream, quiet: bool) -> ApiResult<ProgressStream> {
        let bytes: Vec<_> = body.collect().await;
        let n: usize = bytes.iter().flatten().map(Bytes::len).sum();
        self.record(format!("load quiet={quiet} bytes={n}"));
        Ok(progress(vec![
            serde_json::json!({"stream": "Loaded image: x\n"}),
        ]))
    }
    async fn save(&self, names: Vec<String>) -> ApiResult<ByteStream> {
        self.record(format!("save {names:?}"));
        Ok(futures::stream::iter([Ok(Bytes::from_static(b"tarball"))]).boxed())
    }
    async fn import(&self, body: ByteStream, opts: ImportOptions) -> ApiResult<ProgressStream> {
        let n: usize = body
            .collect::<Vec<_>>()
            .await
            .iter()
            .flatten()
            .map(Bytes::len)
            .sum();
        self.record(format!(
            "import bytes={n} repo={:?} changes={:?}",
            opts.repo, opts.changes
        ));
        Ok(progress(vec![serde_json::json!({"status": "sha256:1"})]))
    }
    async fn pull(
        &self,
        image: &str,
        tag: Option<&str>,
        platform: Option<&str>,
        auth: Option<String>,
    ) -> ApiResult<ProgressStream> {
        self.record(format!(
            "pull {image} {tag:?} platform={platform:?} auth={auth:?}"
        ));
        Ok(progress(vec![
            serde_json::json!({"status": "Pulling"}),
            serde_json::json!({"status": "Done"}),
        ]))
    }
    async fn push(
        &self,
        name: &str,
        tag: Option<&str>,
        auth: Option<String>,
    ) -> ApiResult<ProgressStream> {
        self.record(format!("push {name} {tag:?} auth={auth:?}"));
        Ok(progress(vec![serde_json::json!({"status": "Pushed"})]))
    }
}

#[async_trait]
impl DistributionBackend for Fake {
    async fn login(&self, req: LoginRequest) -> ApiResult<SystemAuthResponse> {
        self.record(format!("login {} {}", req.username, req.serveraddress));
        if req.password == "wrong" {
            return Err(ApiError::new(
                crate::error::ErrorKind::Unauthorized,
                "login attempt failed with status: 401 Unauthorized",
            ));
        }
        Ok(SystemAuthResponse {
            status: "Login Succeeded".into(),
            identity_token: None,
        })
    }
    async fn inspect(&self, name: &str, auth: Option<String>) -> ApiResult<DistributionInspect> {
        self.record(format!("distribution {name} auth={auth:?}"));
        Ok(DistributionInspect::default())
    }
}

#[async_trait]
impl SystemBackend for Fake {
    async fn version(&self) -> ApiResult<SystemVersion> {
        Ok(SystemVersion {
            version: Some("28.2.2-shoal".into()),
            ..Default::default()
        })
    }
    async fn info(&self) -> ApiResult<SystemInfo> {
        Ok(SystemInfo {
            name: Some("fake".into()),
            ..Default::default()
        })
    }
    async fn swarm_ping_status(&self) -> String {
        "inactive".into()
    }
    async fn events(
        &self,
        since: Option<f64>,
        until: Option<f64>,
        filters: Filters,
    ) -> ApiResult<BoxStream<'static, EventMessage>> {
        self.record(format!("events {since:?} {until:?} {:?}", filters.0));
        let ev = |action: &str| EventMessage {
            action: Some(action.into()),
            ..Default::default()
        };
        Ok(futures::stream::iter(vec![ev("create"), ev("start")]).boxed())
    }
    async fn df(&self) -> ApiResult<SystemDataUsageResponse> {
        Ok(SystemDataUsageResponse::default())
    }
}

#[async_trait]
impl NetworksBackend for Fake {
    async fn list(&self, _filters: Filters) -> ApiResult<Vec<Network>> {
        self.record("networks.list".into());
        Ok(Vec::new())
    }
    async fn inspect(&self, id: &str) -> ApiResult<Network> {
        self.record(format!("networks.inspect {id}"));
        if id == "missing" {
            return Err(ApiError::not_found(format!("network {id} not found")));
        }
        Ok(Network::default())
    }
    async fn create(&self, req: NetworkCreateRequest) -> ApiResult<NetworkCreateResponse> {
        self.record(format!("networks.create {}", req.name));
        Ok(NetworkCreateResponse::default())
    }
    async fn remove(&self, id: &str) -> ApiResult<()> {
        self.record(format!("networks.remove {id}"));
        Ok(())
    }
    async fn connect(&self, id: &str, _req: NetworkConnectRequest) -> ApiResult<()> {
        self.record(format!("networks.connect {id}"));
        Ok(())
    }
    async fn disconnect(&self, id: &str, _req: NetworkDisconnectRequest) -> ApiResult<()> {
        self.record(format!("networks.disconnect {id}"));
        Ok(())
    }
    async fn prune(&self, _filters: Filters) -> ApiResult<NetworkPruneResponse> {
        self.record("networks.prune".into());
        Ok(NetworkPruneResponse::default())
    }
}

#[async_trait]
impl crate::routers::build::BuildBackend for Fake {
    async fn build(
        &self,
        opts: crate::routers::build::BuildOptions,
        _context: crate::stream::ByteStream,
    ) -> ApiResult<ProgressStream> {
        self.record(format!("build tags={:?}", opts.tags));
        Ok(futures::stream::iter(vec![
            serde_json::json!({"stream": "Step 1/1 : FROM scratch\n"}),
        ])
        .boxed())
    }

    async fn prune(&self) -> ApiResult<crate::routers::build::BuildPruneReport> {
        self.record("build prune".to_owned());
        Ok(crate::routers::build::BuildPruneReport::default())
    }
}
