//! docker commit (issue #9): a modified container becomes an image, with --change.

use shoal_tests::{shared, unique};

#[test]
fn commit_with_change_runs_with_the_change() {
    let d = shared();
    let name = unique("commitc");
    let image = format!("{}:v1", unique("committed"));
    d.ok(&[
        "run",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo from-commit > /hello && rm /etc/group",
    ]);
    let id = d.ok(&[
        "commit",
        "--change",
        "CMD [\"cat\", \"/hello\"]",
        "--change",
        "ENV COMMITTED=yes",
        "-m",
        "a message",
        "-a",
        "someone",
        &name,
        &image,
    ]);
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(d.ok(&["run", "--rm", &image]), "from-commit");
    // Deletions travel as whiteouts.
    let gone = d.cli().run(&["run", "--rm", &image, "ls", "/etc/group"]);
    assert_ne!(gone.code, 0, "{gone:?}");
    assert_eq!(
        d.ok(&["run", "--rm", &image, "sh", "-c", "echo $COMMITTED"]),
        "yes"
    );
    assert_eq!(
        d.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}",
            &image
        ]),
        "someone|a message|[\"cat\",\"/hello\"]"
    );
    let history = d.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        &image,
    ]);
    let top = history.lines().next().unwrap_or_default();
    assert!(top.contains("echo from-commit"), "{history}");
    assert!(top.ends_with("|a message"), "{history}");
    d.ok(&["rm", &name]);
    d.ok(&["rmi", &image]);
}

#[test]
fn commit_of_a_running_container_keeps_it_running() {
    let d = shared();
    let name = unique("commitr");
    let image = format!("{}:v1", unique("committedrun"));
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo live > /state; sleep 300",
    ]);
    shoal_tests::wait::until(shoal_tests::secs(30), "the container wrote /state", || {
        let out = d.cli().run(&["exec", &name, "cat", "/state"]);
        (out.code == 0 && out.stdout.trim() == "live").then_some(())
    });
    d.ok(&["commit", &name, &image]);
    assert_eq!(d.cli().fmt(&name, "{{.State.Status}}"), "running");
    assert_eq!(d.ok(&["run", "--rm", &image, "cat", "/state"]), "live");
    let missing = d.fail(&["commit", &unique("nosuch"), &image]);
    assert!(
        missing.stderr.contains("No such container"),
        "{}",
        missing.stderr
    );
    d.ok(&["rm", "-f", &name]);
    d.ok(&["rmi", &image]);
}
