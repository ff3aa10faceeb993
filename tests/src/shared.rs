//! The per-test-binary shared daemon and the guardian that cleans it up when the binary exits.

use crate::daemon::{Daemon, Engine, Options, tail_framed};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The per-test-binary shared daemon, with the log printed if the test fails.
#[derive(Debug)]
pub struct Fixture {
    daemon: &'static Daemon,
    log_from: u64,
}

impl std::ops::Deref for Fixture {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        self.daemon
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let text = self.daemon.log_from(self.log_from);
            eprintln!("{}", tail_framed(self.daemon.log_path(), &text, 300));
        }
    }
}

/// Cleans up the shared daemon when the test binary exits (even if it is killed): it waits for
/// EOF on stdin, whose write end only the test process holds.
const GUARDIAN: &str = r#"
read _ignored
ids=$("$DOCKER" ps -aq 2>/dev/null)
[ -n "$ids" ] && "$DOCKER" rm -f $ids >/dev/null 2>&1
"$DOCKER" network prune -f >/dev/null 2>&1
kill -TERM "$DAEMON_PID" 2>/dev/null
i=0
while kill -0 "$DAEMON_PID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
kill -KILL "$DAEMON_PID" 2>/dev/null
seeds=$(for p in /proc/[0-9]*; do
  if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF "$DIR/"; then echo "${p#/proc/}"; fi
done | tr '\n' ' ')
# The seeds (containerd, shims) and every descendant (container processes).
doomed=$(ps -eo pid=,ppid= | awk -v seeds="$seeds" -v me="$$" '
  BEGIN { n = split(seeds, s, /[ \n]+/); for (i = 1; i <= n; i++) if (s[i] != "") keep[s[i]] = 1 }
  { pp[$1] = $2 }
  END { do { changed = 0; for (p in pp) if (!(p in keep) && (pp[p] in keep) && p != me) { keep[p] = 1; changed = 1 } } while (changed)
        for (k in keep) print k }')
[ -n "$doomed" ] && kill -KILL $doomed 2>/dev/null
awk '{print $5}' /proc/self/mountinfo | grep -F "$DIR/" | sort -r | while read m; do umount -l "$m"; done
rm -rf "$DIR"
if [ -n "$NET_BRIDGE" ]; then
  ip link del "$NET_BRIDGE" 2>/dev/null
  for ipt in iptables ip6tables; do for t in nat filter; do
    $ipt -w -t $t -S | grep '^-A ' | grep -- "-j $NET_PREFIX-" | sed 's/^-A //' | while read r; do $ipt -w -t $t -D $r; done
    $ipt -w -t $t -S | grep "^-N $NET_PREFIX-" | while read _n c; do $ipt -w -t $t -F $c; $ipt -w -t $t -X $c; done
  done; done
  rm -f "$NET_LOCK"
fi
"#;

struct Shared {
    daemon: Daemon,
    _guardian: Mutex<Child>,
}

/// The shared daemon of this test binary, started on first use with `busybox:latest` loaded.
///
/// Tests on it must only touch objects they created (unique names, label filters).
pub fn shared() -> Fixture {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        let d = Daemon::prepare(Engine::from_env(), Options::default());
        d.spawn();
        let guardian = Command::new("sh")
            .args(["-c", GUARDIAN])
            .env("DOCKER", crate::docker::docker_bin())
            .env("DOCKER_HOST", d.cli().host())
            .env("DOCKER_CONFIG", d.cli().config_dir())
            .env("DAEMON_PID", d.pid().to_string())
            .env("DIR", d.dir())
            .env(
                "NET_BRIDGE",
                d.net().map(|n| n.bridge()).unwrap_or_default(),
            )
            .env(
                "NET_PREFIX",
                d.net().map(|n| n.chain_prefix()).unwrap_or_default(),
            )
            .env(
                "NET_LOCK",
                d.net()
                    .map(|n| format!("/tmp/shoal-netslots/{}", n.n()))
                    .unwrap_or_default(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn guardian: {e}"))?;
        if let Err(e) = d.wait_ready() {
            return Err(format!("shared daemon: {e}\n{}", d.log_tail(200)));
        }
        d.load_busybox();
        Ok(Shared {
            daemon: d,
            _guardian: Mutex::new(guardian),
        })
    });
    match shared {
        Ok(s) => Fixture {
            daemon: &s.daemon,
            log_from: s.daemon.log_len(),
        },
        Err(e) => panic!("{e}"),
    }
}
