//! Plugins (issue 11): Shoal has no plugin runtime, so there are none, and the CLI says so
//! cleanly.

use shoal_tests::shared;

#[test]
fn plugin_ls_is_empty_and_changes_are_refused_clearly() {
    let d = shared();
    let ls = d.ok(&["plugin", "ls", "--format", "{{.Name}}"]);
    assert_eq!(ls, "", "no plugins");
    let r = d.http("GET", "/plugins", None);
    r.expect_status(200);
    assert_eq!(r.json(), serde_json::json!([]));

    let out = d.fail(&["plugin", "enable", "nosuchplugin"]);
    assert!(
        out.stderr.contains("plugin \"nosuchplugin\" not found"),
        "{out:?}"
    );
    let out = d.fail(&["plugin", "inspect", "nosuchplugin"]);
    assert!(out.stderr.contains("not found"), "{out:?}");
    let out = d.fail(&[
        "plugin",
        "install",
        "--grant-all-permissions",
        "vieux/sshfs",
    ]);
    assert!(out.stderr.contains("no plugin runtime"), "{out:?}");
    let r = d.http("POST", "/plugins/pull?remote=vieux/sshfs", Some("[]"));
    assert_eq!(r.status, 501, "{}", r.text());
}
