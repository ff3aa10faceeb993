//! A private containerd (own root, state and socket under `/tmp/shoal-c-XXXXXX`), for tests of
//! `--containerd` and for running the reference dockerd on a containerd it does not supervise.

use crate::docker::run_command;
use crate::{secs, wait};
use std::path::Path;
use std::process::{Command, Stdio};

/// A private containerd for one test, killed on drop.
#[derive(Debug)]
pub struct Containerd {
    child: std::process::Child,
    sock: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Containerd {
    /// The containerd gRPC socket.
    pub fn sock(&self) -> &Path {
        &self.sock
    }

    /// Starts containerd on a fresh temp dir and waits for its socket.
    pub fn start() -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("shoal-c-")
            .tempdir_in("/tmp")
            .unwrap();
        let sock = dir.path().join("c.sock");
        let cfg = dir.path().join("config.toml");
        std::fs::write(
            &cfg,
            format!(
                "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{1}\"\n",
                dir.path().display(),
                sock.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("containerd (apt-get install containerd)");
        wait::until(secs(30), "private containerd socket", || {
            sock.exists().then_some(())
        });
        Containerd {
            child,
            sock,
            _dir: dir,
        }
    }

    /// Runs `ctr -a <sock> <args>`, asserting success; returns stdout.
    pub fn ctr(&self, args: &[&str]) -> String {
        let mut c = Command::new("ctr");
        c.arg("-a").arg(&self.sock).args(args);
        run_command(c, None, secs(30)).ok()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::procs::sweep(self._dir.path());
    }
}
