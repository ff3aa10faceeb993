//! The embedded containerd: adoption after a shoal crash, containers
//! surviving containerd restarts, restart after containerd dies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod runtime_support;

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use runtime_support::{Env, config, wait_for};
use shoal_node::runtime::supervisor::Supervisor;
use shoal_node::runtime::{Runtime, TaskStatus};

const T: Duration = Duration::from_secs(30);

fn containerd_pid(env: &Env) -> i32 {
    let path = config(env.dir.path())
        .exec_root
        .join("containerd/containerd.pid");
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .map(|(_, t)| t.trim_start().chars().next());
    !matches!(state, Some(Some('Z')) | None)
}

async fn connect(env: &Env) -> Runtime {
    let socket = config(env.dir.path())
        .exec_root
        .join("containerd/containerd.sock");
    Runtime::connect(&socket, "shoal-test", T).await.unwrap()
}

#[tokio::test]
async fn containers_survive_and_containerd_is_adopted() {
    let mut env = Env::new().await;
    let id = Env::id("survive");
    let _io = env.create(&id, &["sleep", "100"], false, false).await;
    let task_pid = env.rt.task_start(&id).await.unwrap() as i32;
    let first = containerd_pid(&env);

    // shoal "crashes": the supervisor goes away without shutdown.
    drop(env.sup.take());
    assert!(alive(first), "containerd must outlive a crashed shoal");
    let sup = Supervisor::start(config(env.dir.path())).await.unwrap();
    assert_eq!(
        containerd_pid(&env),
        first,
        "the running containerd is reused"
    );

    // A clean shutdown stops containerd but not the container.
    sup.shutdown().await;
    wait_for("containerd to exit", T, || async { !alive(first) }).await;
    assert!(alive(task_pid), "container must outlive containerd");

    // A fresh containerd finds the task again through its shim.
    env.sup = Some(Supervisor::start(config(env.dir.path())).await.unwrap());
    assert_ne!(containerd_pid(&env), first);
    env.rt = connect(&env).await;
    let info = env.rt.task_get(&id).await.unwrap().unwrap();
    assert_eq!(
        (info.status, info.pid as i32),
        (TaskStatus::Running, task_pid)
    );
    env.remove(&id).await;
    env.shutdown().await;
}

#[tokio::test]
async fn dead_containerd_is_restarted() {
    let mut env = Env::new().await;
    let first = containerd_pid(&env);
    kill(Pid::from_raw(first), Signal::SIGKILL).unwrap();
    wait_for("a new containerd", T, || async {
        let path = config(env.dir.path())
            .exec_root
            .join("containerd/containerd.pid");
        let pid: Option<i32> = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        matches!(pid, Some(p) if p != first && alive(p))
    })
    .await;
    env.rt = connect(&env).await;
    assert!(!env.rt.version().await.unwrap().is_empty());
    let second = containerd_pid(&env);
    env.shutdown().await;
    assert!(!alive(second));
}

#[tokio::test]
async fn stale_pid_file_is_ignored_and_nothing_else_is_killed() {
    let dir = tempfile::Builder::new()
        .prefix("shrt")
        .tempdir_in("/tmp")
        .unwrap();
    let cfg = config(dir.path());
    let mut bystander = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    std::fs::create_dir_all(cfg.exec_root.join("containerd")).unwrap();
    std::fs::write(
        cfg.exec_root.join("containerd/containerd.pid"),
        bystander.id().to_string(),
    )
    .unwrap();
    let sup = Supervisor::start(cfg.clone()).await.unwrap();
    assert!(
        alive(bystander.id() as i32),
        "an unrelated pid must survive"
    );
    let pid: i32 = std::fs::read_to_string(cfg.exec_root.join("containerd/containerd.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(pid, bystander.id() as i32);
    sup.shutdown().await;
    assert!(!alive(pid));
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}
