//! docker events: since/until replay, filters, streaming.

use crate::now_ts;
use shoal_tests::{secs, shared, unique};

#[test]
fn events_since_until_with_filters() {
    let d = shared();
    let name = unique("ev");
    let since = now_ts();
    d.ok(&["run", "--name", &name, "busybox", "true"]);
    d.ok(&["rm", &name]);
    let until = now_ts();
    let out = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &format!("container={name}"),
        "--filter",
        "event=create",
        "--filter",
        "event=start",
        "--filter",
        "event=die",
        "--filter",
        "event=destroy",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
    ]);
    let expect: Vec<String> = ["create", "start", "die", "destroy"]
        .iter()
        .map(|a| format!("container {a} {name}"))
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), expect, "{out}");

    // die carries the exit code; the type filter excludes containers.
    let out = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &format!("container={name}"),
        "--filter",
        "event=die",
        "--format",
        "{{.Actor.Attributes.exitCode}}",
    ]);
    assert_eq!(out, "0");
    let out = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &format!("container={name}"),
        "--filter",
        "type=image",
    ]);
    assert_eq!(out, "");
}

#[test]
fn events_stream_and_image_and_label_filters() {
    let d = shared();
    let name = unique("evs");
    let tag = format!("{name}:t");
    let since = now_ts();
    // --since replays anything that happened before the stream attached, so nothing is missed.
    let stream = d.cli().spawn(&[
        "events",
        "--since",
        &since,
        "--filter",
        &format!("label=evs={name}"),
        "--format",
        "{{.Action}}",
    ]);
    let images = d.cli().spawn(&[
        "events",
        "--since",
        &since,
        "--filter",
        "type=image",
        "--filter",
        "event=tag",
        "--filter",
        "event=untag",
        "--format",
        "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "-l",
        &format!("evs={name}"),
        "busybox",
        "sleep",
        "1000",
    ]);
    d.ok(&["exec", &name, "true"]);
    d.ok(&["kill", &name]);
    d.ok(&["rm", &name]);
    let out = stream.wait_stdout("destroy", secs(30));
    let actions: Vec<&str> = out.lines().collect();
    for want in ["create", "start", "kill", "die", "destroy"] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    assert!(
        actions.iter().any(|a| a.starts_with("exec_start")),
        "{actions:?}"
    );
    assert!(
        actions.iter().position(|a| *a == "create") < actions.iter().position(|a| *a == "destroy")
    );

    d.ok(&["tag", "busybox", &tag]);
    d.ok(&["rmi", &tag]);
    let busybox_id = d.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    let out = images.wait_stdout(&format!("untag {busybox_id}"), secs(30));
    assert!(out.contains(&format!("tag {busybox_id} {tag}")), "{out}");
}
