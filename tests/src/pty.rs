//! Running `docker run -it` / `docker exec -it` under a real pseudo-terminal, with tmux.
//!
//! Each [`Terminal`] has its own tmux server (private socket in its own temp dir), one window of
//! a fixed size running the command, then printing `[exit=N]` so the exit code is visible on
//! screen, then idling so the pane can still be read.

use crate::docker::{Cli, docker_bin, run_command};
use crate::wait;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A command running in a detached tmux session.
#[derive(Debug)]
pub struct Terminal {
    _tmp: tempfile::TempDir,
    sock: PathBuf,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Terminal {
    /// Starts `docker <args>` for `cli` in a `cols`×`rows` terminal.
    pub fn docker(cli: &Cli, args: &[&str], cols: u16, rows: u16) -> Terminal {
        let mut line = format!(
            "DOCKER_HOST={} DOCKER_CONFIG={} {}",
            quote(cli.host()),
            quote(&cli.config_dir().display().to_string()),
            quote(&docker_bin().display().to_string())
        );
        for a in args {
            line.push(' ');
            line.push_str(&quote(a));
        }
        line.push_str("; echo \"[exit=$?]\"; exec sleep 100000");
        let tmp = tempfile::Builder::new()
            .prefix("shoal-tty-")
            .tempdir_in("/tmp")
            .expect("tmux dir");
        let t = Terminal {
            sock: tmp.path().join("tmux.sock"),
            _tmp: tmp,
        };
        t.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
            &line,
        ]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.sock).args(args);
        let out = run_command(c, None, Duration::from_secs(20));
        assert_eq!(out.code, 0, "tmux {args:?}: {out:?}");
        out.stdout
    }

    /// Types `text` literally (no Enter).
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "main", "-l", text]);
    }

    /// Types `text` and presses Enter.
    pub fn type_line(&self, text: &str) {
        self.type_text(text);
        self.tmux(&["send-keys", "-t", "main", "Enter"]);
    }

    /// Sends a tmux key name, e.g. `C-p`, `C-q`, `C-d`.
    pub fn key(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "main", key]);
    }

    /// The screen plus scroll-back, as text.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "main", "-S", "-1000"])
    }

    /// Waits until the screen contains `needle`; returns the screen.
    #[track_caller]
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        match wait::try_until(timeout, || {
            let s = self.screen();
            s.contains(needle).then_some(s)
        }) {
            Some(s) => s,
            None => panic!(
                "terminal: no {needle:?} within {timeout:?}; screen:\n{}",
                self.screen()
            ),
        }
    }

    /// Waits for the command to finish; returns its exit code.
    #[track_caller]
    pub fn wait_exit(&self, timeout: Duration) -> i32 {
        let screen = self.wait_for("[exit=", timeout);
        let code = screen
            .split("[exit=")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .and_then(|c| c.trim().parse().ok());
        code.unwrap_or_else(|| panic!("cannot read exit code from screen:\n{screen}"))
    }

    /// Resizes the terminal (the client sees SIGWINCH and forwards the size).
    pub fn resize(&self, cols: u16, rows: u16) {
        self.tmux(&[
            "resize-window",
            "-t",
            "main",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.sock).arg("kill-server");
        let _ = run_command(c, None, Duration::from_secs(10));
    }
}
