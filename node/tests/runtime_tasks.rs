//! Containers, tasks, execs and FIFO IO against a real containerd + runc.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod runtime_support;

use std::time::Duration;

use runtime_support::{Env, read_to_end, read_until, wait_for};
use shoal_node::runtime::io::{FifoReader, FifoWriter, create_fifos};
use shoal_node::runtime::oci_spec::{self, ExecConfig};
use shoal_node::runtime::{RuntimeError, TaskStatus};
use tokio::io::AsyncWriteExt;

const T: Duration = Duration::from_secs(20);

#[tokio::test]
async fn echo_hello_reader_opened_after_create() {
    let env = Env::new().await;
    let id = Env::id("echo");
    let io = env.create(&id, &["echo", "hello"], false, false).await;
    // Opened after task_create, before start.
    let mut out = FifoReader::open(io.stdout.as_ref().unwrap()).unwrap();
    let mut err = FifoReader::open(io.stderr.as_ref().unwrap()).unwrap();
    let pid = env.rt.task_start(&id).await.unwrap();
    assert!(pid > 0);
    assert_eq!(read_to_end(&mut out, T).await, "hello\n");
    assert_eq!(read_to_end(&mut err, T).await, "");
    let exit = env.rt.task_wait(&id).await.unwrap();
    assert_eq!(exit.code, 0);
    assert!(exit.exited_at.is_some());
    // Waiting again returns at once.
    assert_eq!(env.rt.task_wait(&id).await.unwrap().code, 0);
    let info = env.rt.task_get(&id).await.unwrap().unwrap();
    assert_eq!(info.status, TaskStatus::Stopped);
    assert_eq!(info.exit.unwrap().code, 0);
    assert_eq!(env.rt.task_delete(&id).await.unwrap().unwrap().code, 0);
    assert!(env.rt.task_get(&id).await.unwrap().is_none());
    assert!(env.rt.task_delete(&id).await.unwrap().is_none());
    assert_eq!(env.rt.container_list_ids().await.unwrap(), vec![id.clone()]);
    let rec = env.rt.container_get(&id).await.unwrap();
    assert_eq!(rec.spec.unwrap()["process"]["args"][0], "echo");
    env.rt.container_delete(&id).await.unwrap();
    assert!(matches!(
        env.rt.container_delete(&id).await,
        Err(RuntimeError::NotFound(_))
    ));
    assert!(env.rt.container_list_ids().await.unwrap().is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn exit_code_and_stderr_reader_opened_before_create() {
    let env = Env::new().await;
    let id = Env::id("exit3");
    let cmd = ["sh", "-c", "echo oops >&2; exit 3"];
    env.rt
        .container_create(
            &id,
            &Env::spec(&id, &cmd, false),
            None,
            "busybox",
            Default::default(),
        )
        .await
        .unwrap();
    let io = create_fifos(&env.fifo_dir(), &id, false, false).unwrap();
    // Opened before task_create: must wait for the shim, not report EOF.
    let mut out = FifoReader::open(io.stdout.as_ref().unwrap()).unwrap();
    let mut err = FifoReader::open(io.stderr.as_ref().unwrap()).unwrap();
    env.rt
        .task_create(&id, &env.rootfs_mounts(), &io)
        .await
        .unwrap();
    env.rt.task_start(&id).await.unwrap();
    assert_eq!(read_to_end(&mut err, T).await, "oops\n");
    assert_eq!(read_to_end(&mut out, T).await, "");
    assert_eq!(env.rt.task_wait(&id).await.unwrap().code, 3);
    env.remove(&id).await;
    env.shutdown().await;
}

#[tokio::test]
async fn kill_sleep() {
    let env = Env::new().await;
    let id = Env::id("kill");
    let _io = env.create(&id, &["sleep", "100"], false, false).await;
    env.rt.task_start(&id).await.unwrap();
    assert_eq!(
        env.rt.task_get(&id).await.unwrap().unwrap().status,
        TaskStatus::Running
    );
    // A running task cannot be deleted.
    assert!(env.rt.task_delete(&id).await.is_err());
    env.rt.task_kill(&id, 9, false).await.unwrap();
    let exit = tokio::time::timeout(T, env.rt.task_wait(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code, 137);
    env.remove(&id).await;
    env.shutdown().await;
}

#[tokio::test]
async fn exec_in_running_container() {
    let env = Env::new().await;
    let id = Env::id("exec");
    let _io = env.create(&id, &["sleep", "100"], false, false).await;
    env.rt.task_start(&id).await.unwrap();

    let spec = env.rt.container_get(&id).await.unwrap().spec.unwrap();
    let process = oci_spec::exec_process(
        &spec,
        &ExecConfig {
            args: vec![
                "sh".into(),
                "-c".into(),
                "echo hi; echo $FOO; exit 4".into(),
            ],
            env: vec!["FOO=bar".into()],
            hostname: "h".into(),
            ..Default::default()
        },
    );
    let xio = create_fifos(&env.fifo_dir(), "exec1", false, false).unwrap();
    env.rt
        .exec_create(&id, "exec1", &process, &xio)
        .await
        .unwrap();
    let mut out = FifoReader::open(xio.stdout.as_ref().unwrap()).unwrap();
    let pid = env.rt.exec_start(&id, "exec1").await.unwrap();
    assert!(pid > 0);
    assert_eq!(read_to_end(&mut out, T).await, "hi\nbar\n");
    assert_eq!(env.rt.exec_wait(&id, "exec1").await.unwrap().code, 4);
    assert_eq!(
        env.rt
            .exec_delete(&id, "exec1")
            .await
            .unwrap()
            .unwrap()
            .code,
        4
    );
    assert!(env.rt.exec_delete(&id, "exec1").await.unwrap().is_none());

    // A long exec can be killed on its own.
    let process = oci_spec::exec_process(
        &spec,
        &ExecConfig {
            args: vec!["sleep".into(), "100".into()],
            ..Default::default()
        },
    );
    let xio = create_fifos(&env.fifo_dir(), "exec2", false, false).unwrap();
    env.rt
        .exec_create(&id, "exec2", &process, &xio)
        .await
        .unwrap();
    env.rt.exec_start(&id, "exec2").await.unwrap();
    env.rt.exec_kill(&id, "exec2", 15).await.unwrap();
    assert_eq!(env.rt.exec_wait(&id, "exec2").await.unwrap().code, 143);
    env.rt.exec_delete(&id, "exec2").await.unwrap();
    assert_eq!(
        env.rt.task_get(&id).await.unwrap().unwrap().status,
        TaskStatus::Running
    );
    env.remove(&id).await;
    env.shutdown().await;
}

#[tokio::test]
async fn pause_resume_and_pids() {
    let env = Env::new().await;
    let id = Env::id("pause");
    let _io = env.create(&id, &["sleep", "100"], false, false).await;
    let pid = env.rt.task_start(&id).await.unwrap();
    assert_eq!(env.rt.task_pids(&id).await.unwrap(), vec![pid]);
    env.rt.task_pause(&id).await.unwrap();
    assert_eq!(
        env.rt.task_get(&id).await.unwrap().unwrap().status,
        TaskStatus::Paused
    );
    env.rt.task_resume(&id).await.unwrap();
    assert_eq!(
        env.rt.task_get(&id).await.unwrap().unwrap().status,
        TaskStatus::Running
    );
    env.remove(&id).await;
    env.shutdown().await;
}

#[tokio::test]
async fn tty_process() {
    let env = Env::new().await;
    let id = Env::id("tty");
    let io = env
        .create(&id, &["sh", "-c", "tty; echo $TERM"], false, true)
        .await;
    assert!(io.stderr.is_none());
    let mut out = FifoReader::open(io.stdout.as_ref().unwrap()).unwrap();
    env.rt.task_start(&id).await.unwrap();
    // Resizing a live pty works (the process may already be gone: tolerate NotFound).
    match env.rt.task_resize(&id, None, 100, 40).await {
        Ok(()) | Err(RuntimeError::NotFound(_)) | Err(RuntimeError::FailedPrecondition(_)) => {}
        Err(e) => panic!("resize: {e}"),
    }
    let text = read_to_end(&mut out, T).await;
    assert_eq!(text, "/dev/pts/0\r\nxterm\r\n");
    assert_eq!(env.rt.task_wait(&id).await.unwrap().code, 0);
    env.remove(&id).await;
    env.shutdown().await;
}

#[tokio::test]
async fn stdin_eof_reaches_process() {
    let env = Env::new().await;
    let id = Env::id("stdin");
    let io = env
        .create(&id, &["sh", "-c", "cat; echo done"], true, false)
        .await;
    let mut out = FifoReader::open(io.stdout.as_ref().unwrap()).unwrap();
    let mut stdin = FifoWriter::open(io.stdin.as_ref().unwrap()).unwrap();
    env.rt.task_start(&id).await.unwrap();
    stdin.write_all(b"abc\n").await.unwrap();
    assert_eq!(read_until(&mut out, "abc\n", T).await, "abc\n");
    stdin.shutdown().await.unwrap();
    env.rt.task_close_stdin(&id, None).await.unwrap();
    assert_eq!(read_to_end(&mut out, T).await, "done\n");
    assert_eq!(env.rt.task_wait(&id).await.unwrap().code, 0);
    env.remove(&id).await;
    env.shutdown().await;
}

/// Last `lineN` number in `text`.
fn last_line(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.strip_prefix("line")?.parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no lineN in {text:?}"))
}

#[tokio::test]
async fn reader_can_be_reopened_while_container_prints() {
    let env = Env::new().await;
    let id = Env::id("reopen");
    let script = "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.05; done";
    let io = env.create(&id, &["sh", "-c", script], false, false).await;
    let path = io.stdout.clone().unwrap();
    let mut first = FifoReader::open(&path).unwrap();
    env.rt.task_start(&id).await.unwrap();
    let seen = read_until(&mut first, "line3\n", T).await;
    let before = last_line(&seen);
    // The old reader goes away (as when shoal is killed -9) ...
    drop(first);
    // ... the container keeps running and blocks at worst, never dies of EPIPE.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.rt.task_get(&id).await.unwrap().unwrap().status,
        TaskStatus::Running
    );
    // A new reader (reattach, as a restarted shoal would) gets fresh output.
    let mut second = FifoReader::reattach(&path).unwrap();
    let target = format!("line{}\n", before + 20);
    let more = read_until(&mut second, &target, T).await;
    assert!(last_line(&more) > before);
    env.rt.task_kill(&id, 9, false).await.unwrap();
    env.rt.task_wait(&id).await.unwrap();
    // After exit the reader drains and then sees EOF.
    let _ = read_to_end(&mut second, T).await;
    env.remove(&id).await;
    // Reattaching to a finished process reports EOF instead of hanging.
    let mut late = FifoReader::reattach(&path).unwrap();
    assert_eq!(read_to_end(&mut late, T).await, "");
    env.shutdown().await;
}

#[tokio::test]
async fn errors_are_classified() {
    let env = Env::new().await;
    assert!(env.rt.task_get("nope").await.unwrap().is_none());
    assert!(env.rt.task_delete("nope").await.unwrap().is_none());
    assert!(matches!(
        env.rt.task_kill("nope", 9, false).await,
        Err(RuntimeError::NotFound(_))
    ));
    let id = Env::id("dup");
    let spec = Env::spec(&id, &["true"], false);
    env.rt
        .container_create(&id, &spec, None, "busybox", Default::default())
        .await
        .unwrap();
    assert!(matches!(
        env.rt
            .container_create(&id, &spec, None, "busybox", Default::default())
            .await,
        Err(RuntimeError::AlreadyExists(_))
    ));
    wait_for("container listed", T, || async {
        env.rt.container_list_ids().await.unwrap().contains(&id)
    })
    .await;
    env.rt.container_delete(&id).await.unwrap();
    env.shutdown().await;
}

#[tokio::test]
async fn list_and_update_resources() {
    let env = Env::new().await;
    let id = Env::id("update");
    let _io = env.create(&id, &["sleep", "100"], false, false).await;
    env.rt.task_start(&id).await.unwrap();
    let tasks = env.rt.task_list().await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (tasks[0].0.as_str(), tasks[0].1.status),
        (id.as_str(), TaskStatus::Running)
    );

    let mut input = oci_spec::SpecInput::default();
    input.host_config.memory = Some(64 << 20);
    input.host_config.pids_limit = Some(50);
    env.rt
        .task_update(&id, &oci_spec::update_resources(&input.host_config))
        .await
        .unwrap();
    let (mem, pids) = if oci_spec::cgroup_v2() {
        (
            format!("/sys/fs/cgroup/shoal-test/{id}/memory.max"),
            format!("/sys/fs/cgroup/shoal-test/{id}/pids.max"),
        )
    } else {
        (
            format!("/sys/fs/cgroup/memory/shoal-test/{id}/memory.limit_in_bytes"),
            format!("/sys/fs/cgroup/pids/shoal-test/{id}/pids.max"),
        )
    };
    assert_eq!(std::fs::read_to_string(mem).unwrap().trim(), "67108864");
    assert_eq!(std::fs::read_to_string(pids).unwrap().trim(), "50");
    // What `docker stats` reads from the same cgroup.
    let stats = shoal_node::runtime::cgroups::CgroupReader::new(&format!("/shoal-test/{id}"))
        .stats()
        .unwrap();
    assert_eq!(stats.mem_limit, Some(64 << 20));
    assert_eq!(stats.pids_limit, Some(50));
    assert!(stats.pids_current >= 1, "{stats:?}");
    assert!(stats.mem_usage > 0, "{stats:?}");
    env.remove(&id).await;
    assert!(env.rt.task_list().await.unwrap().is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn output_survives_a_killed_reader_process() {
    use std::io::{BufRead, BufReader};

    let env = Env::new().await;
    let id = Env::id("killrd");
    let script = "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.02; done";
    let io = env.create(&id, &["sh", "-c", script], false, false).await;
    let path = io.stdout.clone().unwrap();
    // The first reader is another process (standing in for a shoal that
    // gets kill -9'd).
    let mut cat = std::process::Command::new("cat")
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    env.rt.task_start(&id).await.unwrap();
    let mut lines = BufReader::new(cat.stdout.take().unwrap());
    let mut first = String::new();
    for _ in 0..5 {
        first.clear();
        lines.read_line(&mut first).unwrap();
    }
    let before = last_line(&first);
    cat.kill().unwrap();
    cat.wait().unwrap();
    // Let the shim fill what it can while nobody reads.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        env.rt.task_get(&id).await.unwrap().unwrap().status,
        TaskStatus::Running
    );
    let mut again = FifoReader::reattach(&path).unwrap();
    let more = read_until(&mut again, &format!("line{}\n", before + 30), T).await;
    assert!(last_line(&more) > before);
    env.remove(&id).await;
    env.shutdown().await;
}

#[tokio::test]
async fn exec_stdin_eof_and_tty_resize() {
    let env = Env::new().await;
    let id = Env::id("execio");
    let _io = env.create(&id, &["sleep", "100"], false, false).await;
    env.rt.task_start(&id).await.unwrap();
    let spec = env.rt.container_get(&id).await.unwrap().spec.unwrap();

    // `docker exec -i … cat`: EOF on stdin ends it.
    let process = oci_spec::exec_process(
        &spec,
        &ExecConfig {
            args: vec!["cat".into()],
            ..Default::default()
        },
    );
    let xio = create_fifos(&env.fifo_dir(), "in", true, false).unwrap();
    env.rt.exec_create(&id, "in", &process, &xio).await.unwrap();
    let mut out = FifoReader::open(xio.stdout.as_ref().unwrap()).unwrap();
    let mut stdin = FifoWriter::open(xio.stdin.as_ref().unwrap()).unwrap();
    env.rt.exec_start(&id, "in").await.unwrap();
    stdin.write_all(b"piped\n").await.unwrap();
    stdin.shutdown().await.unwrap();
    env.rt.task_close_stdin(&id, Some("in")).await.unwrap();
    assert_eq!(read_to_end(&mut out, T).await, "piped\n");
    assert_eq!(env.rt.exec_wait(&id, "in").await.unwrap().code, 0);
    env.rt.exec_delete(&id, "in").await.unwrap();

    // `docker exec -it`: the exec's own pty can be resized.
    let process = oci_spec::exec_process(
        &spec,
        &ExecConfig {
            args: vec!["sh".into(), "-c".into(), "read x; stty size".into()],
            tty: true,
            ..Default::default()
        },
    );
    let xio = create_fifos(&env.fifo_dir(), "tty", true, true).unwrap();
    env.rt
        .exec_create(&id, "tty", &process, &xio)
        .await
        .unwrap();
    let mut out = FifoReader::open(xio.stdout.as_ref().unwrap()).unwrap();
    let mut stdin = FifoWriter::open(xio.stdin.as_ref().unwrap()).unwrap();
    env.rt.exec_start(&id, "tty").await.unwrap();
    env.rt.task_resize(&id, Some("tty"), 50, 20).await.unwrap();
    stdin.write_all(b"\n").await.unwrap();
    // read_until fails the test unless `stty size` reports the new size.
    read_until(&mut out, "20 50\r\n", T).await;
    assert_eq!(env.rt.exec_wait(&id, "tty").await.unwrap().code, 0);
    env.rt.exec_delete(&id, "tty").await.unwrap();
    env.remove(&id).await;
    env.shutdown().await;
}
