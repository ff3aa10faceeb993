//! The real `docker` CLI (v28 at `/usr/local/bin/docker`), pointed at one daemon.
//!
//! Debian's `docker.io` package also ships an older `/usr/bin/docker`; the suite always uses the
//! v28 client (override with `SHOAL_DOCKER_CLI`) so the engine is judged by the client users run.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default limit for one CLI invocation; a hang is a failure, not a stuck suite.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(120);

/// Path of the docker CLI the suite drives.
pub fn docker_bin() -> PathBuf {
    let p = std::env::var_os("SHOAL_DOCKER_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/local/bin/docker"));
    assert!(
        p.exists(),
        "docker CLI 28 not found at {} (set SHOAL_DOCKER_CLI)",
        p.display()
    );
    p
}

/// What a finished command printed, and how it ended.
#[derive(Debug, Clone)]
pub struct Out {
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
    /// Exit code; -1 when killed by a signal (including our timeout).
    pub code: i32,
}

impl Out {
    /// Panics with the full output unless the command exited 0; returns trimmed stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(
            self.code, 0,
            "command failed (exit {}):\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        );
        self.stdout.trim().to_string()
    }

    /// Panics unless the command failed; returns stderr.
    #[track_caller]
    pub fn err(&self) -> String {
        assert_ne!(
            self.code, 0,
            "command unexpectedly succeeded:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.stderr.clone()
    }

    /// Non-empty trimmed stdout lines.
    pub fn lines(&self) -> Vec<String> {
        self.stdout
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }
}

/// Runs `cmd` to completion with `stdin` fed in, killing it after `timeout`.
pub fn run_command(mut cmd: Command, stdin: Option<&[u8]>, timeout: Duration) -> Out {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let desc = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    let feeder = stdin.map(|data| {
        let data = data.to_vec();
        let mut w = child.stdin.take().expect("stdin piped");
        std::thread::spawn(move || {
            // The command may exit before reading everything; that is its answer, not ours.
            let _ = w.write_all(&data);
        })
    });
    let out = drain(child.stdout.take().expect("stdout piped"));
    let err = drain(child.stderr.take().expect("stderr piped"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let stdout = out.join().expect("stdout reader");
    let mut stderr = err.join().expect("stderr reader");
    let code = match status {
        Some(s) => s.code().unwrap_or(-1),
        None => {
            stderr.push_str(&format!(
                "\n[shoal-tests: killed after {timeout:?}: {desc}]"
            ));
            -1
        }
    };
    Out {
        stdout,
        stderr,
        code,
    }
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A docker CLI bound to one daemon socket and a private `DOCKER_CONFIG`.
#[derive(Debug, Clone)]
pub struct Cli {
    host: String,
    config_dir: PathBuf,
}

impl Cli {
    /// A CLI for `unix://<sock>`, keeping its config in `config_dir` (created if missing).
    pub fn new(sock: &Path, config_dir: &Path) -> Cli {
        std::fs::create_dir_all(config_dir).expect("create DOCKER_CONFIG dir");
        Cli {
            host: format!("unix://{}", sock.display()),
            config_dir: config_dir.to_path_buf(),
        }
    }

    /// `DOCKER_HOST` value.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `DOCKER_CONFIG` value.
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// A `Command` for `docker <args>` with the environment set.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(docker_bin());
        c.args(args)
            .env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", &self.config_dir)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION");
        c
    }

    /// Runs `docker <args>` to completion.
    pub fn run(&self, args: &[&str]) -> Out {
        run_command(self.command(args), None, CLI_TIMEOUT)
    }

    /// Runs `docker <args>` with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        run_command(self.command(args), Some(input), CLI_TIMEOUT)
    }

    /// Runs `docker <args>`, panics unless it exits 0, returns trimmed stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.code, 0,
            "docker {args:?} failed (exit {}):\nstdout: {}\nstderr: {}",
            out.code, out.stdout, out.stderr
        );
        out.stdout.trim().to_string()
    }

    /// Runs `docker <args>`, panics if it exits 0, returns the output.
    #[track_caller]
    pub fn fail(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        assert_ne!(
            out.code, 0,
            "docker {args:?} unexpectedly succeeded:\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out
    }

    /// `docker inspect <name>` parsed; panics if it fails. Returns the first object.
    #[track_caller]
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let s = self.ok(&["inspect", name]);
        let mut v: serde_json::Value =
            serde_json::from_str(&s).unwrap_or_else(|e| panic!("inspect {name}: {e}: {s}"));
        v.get_mut(0)
            .map(serde_json::Value::take)
            .unwrap_or_else(|| panic!("inspect {name}: empty array"))
    }

    /// `docker inspect -f <fmt> <name>`, trimmed.
    #[track_caller]
    pub fn fmt(&self, name: &str, fmt: &str) -> String {
        self.ok(&["inspect", "-f", fmt, name])
    }

    /// Starts `docker <args>` in the background, collecting its output as it arrives.
    pub fn spawn(&self, args: &[&str]) -> Background {
        let mut c = self.command(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("spawn docker {args:?}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().expect("piped"), stdout.clone()),
            collect(child.stderr.take().expect("piped"), stderr.clone()),
        ];
        Background {
            child,
            readers,
            stdout,
            stderr,
            desc: format!("docker {args:?}"),
        }
    }
}

fn collect(
    mut r: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().expect("lock").extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// A docker CLI process running in the background (`logs -f`, `attach`, `events`, `wait`).
/// Killed on drop.
#[derive(Debug)]
pub struct Background {
    child: Child,
    readers: Vec<std::thread::JoinHandle<()>>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    desc: String,
}

impl Background {
    /// Everything printed to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().expect("lock")).into_owned()
    }

    /// Everything printed to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("lock")).into_owned()
    }

    /// Writes to the process's stdin.
    pub fn write_stdin(&mut self, data: &[u8]) {
        if let Some(w) = self.child.stdin.as_mut() {
            w.write_all(data).expect("write stdin");
            w.flush().expect("flush stdin");
        }
    }

    /// Closes the process's stdin (EOF).
    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// Waits until stdout contains `needle`, panicking after `timeout` with the output so far.
    #[track_caller]
    pub fn wait_stdout(&self, needle: &str, timeout: Duration) -> String {
        let found = crate::wait::try_until(timeout, || {
            let s = self.stdout();
            s.contains(needle).then_some(s)
        });
        found.unwrap_or_else(|| {
            panic!(
                "{}: no {needle:?} in stdout after {timeout:?}\nstdout: {}\nstderr: {}",
                self.desc,
                self.stdout(),
                self.stderr()
            )
        })
    }

    /// Waits for the process to exit; returns its exit code (-1 for a signal). Panics after
    /// `timeout`.
    #[track_caller]
    pub fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                // The pipes close when the process (and anything it spawned) is gone.
                for r in self.readers.drain(..) {
                    let _ = r.join();
                }
                return s.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                panic!(
                    "{} did not exit within {timeout:?}\nstdout: {}\nstderr: {}",
                    self.desc,
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
