//! containerd: an external one with --containerd/--containerd-namespace, and the supervised
//! embedded default that is restarted when it dies.

use shoal_tests::containerd::Containerd;
use shoal_tests::procs::{alive, children};
use shoal_tests::{Daemon, Options, secs, wait};

#[test]
fn external_containerd_and_namespace() {
    let c = Containerd::start();
    let d = Daemon::start(Options {
        extra_args: vec![
            "--containerd".into(),
            c.sock().display().to_string(),
            "--containerd-namespace".into(),
            "e2e-ns".into(),
        ],
        ..Options::default()
    });
    assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "hello"]), "hello");
    let id = d.ok(&["run", "-d", "busybox", "sleep", "1000"]);
    let listed = c.ctr(&["-n", "e2e-ns", "containers", "ls", "-q"]);
    assert!(
        listed.lines().any(|l| l == id),
        "container {id} in e2e-ns: {listed}"
    );
    // The daemon did not start a containerd of its own.
    let own: Vec<_> = children(d.pid())
        .into_iter()
        .filter(|(_, comm)| comm == "containerd")
        .collect();
    assert!(
        own.is_empty(),
        "no embedded containerd with --containerd: {own:?}"
    );
    d.ok(&["rm", "-f", &id]);
}

#[test]
fn embedded_containerd_is_restarted_when_it_dies() {
    let d = Daemon::start(Options::default());
    let find = || -> Option<u32> {
        children(d.pid())
            .into_iter()
            .find(|(_, comm)| comm == "containerd")
            .map(|(p, _)| p)
    };
    let first = find().expect("the daemon runs containerd as its child");
    // Its root, state and socket live under the daemon's own directories.
    let cmdline = std::fs::read(format!("/proc/{first}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(
        cmdline.contains(&d.dir().display().to_string()),
        "containerd config under data/exec root: {cmdline}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait::until(secs(30), "old containerd to die", || {
        (!alive(first)).then_some(())
    });
    let second = wait::until(secs(60), "containerd to be restarted", || {
        find().filter(|p| *p != first)
    });
    assert!(alive(second));
    wait::until(secs(60), "the engine to work again", || {
        (d.docker(&["run", "--rm", "busybox", "echo", "again"])
            .stdout
            .trim()
            == "again")
            .then_some(())
    });

    // Shutdown stops the embedded containerd.
    assert_eq!(d.terminate(), 0);
    wait::until(
        secs(30),
        "embedded containerd to stop with the daemon",
        || (!alive(second)).then_some(()),
    );
}
