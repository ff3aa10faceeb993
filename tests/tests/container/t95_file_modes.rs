//! Host file modes as dockerd's (issue 10): data-root 0710, exec-root 0700, container records
//! 0700, container logs 0640, so local users read neither logs nor environments.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use shoal_tests::{shared, unique};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn roots_records_and_logs_are_private() {
    let d = shared();
    let name = unique("modes");
    d.ok(&["run", "--name", &name, "busybox", "echo", "secret-output"]);
    let log = d.ok(&["inspect", "--format", "{{.LogPath}}", &name]);
    assert_eq!(mode(&d.data_root()), 0o710, "data-root");
    assert_eq!(mode(&d.exec_root()), 0o700, "exec-root");
    assert_eq!(mode(&d.data_root().join("containers.db")), 0o700, "records");
    assert_eq!(mode(Path::new(&log)), 0o640, "container log {log}");
    d.ok(&["rm", &name]);
}
