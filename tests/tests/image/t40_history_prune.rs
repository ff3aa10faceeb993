//! docker history and docker image prune (own daemon: prune touches every image).

use crate::load;
use shoal_tests::image::ImageSpec;
use shoal_tests::{Daemon, Options, shared, unique};

#[test]
fn history_lists_layers() {
    let d = shared();
    let tag = format!("{}:h", unique("hist"));
    load(&d, &ImageSpec::variant(&tag, "history"));
    let out = d.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Size}}",
        &tag,
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    // Newest first: the CMD (empty layer), then the ADD with the layer's size.
    assert!(lines[0].contains("CMD"), "{out}");
    assert!(lines[0].ends_with("|0B"), "{out}");
    assert!(lines[1].contains("ADD busybox-static"), "{out}");
    assert!(lines[1].ends_with("MB"), "{out}");
    let r = d.http("GET", "/images/no-such-image-shoal:x/history", None);
    assert_eq!(r.status, 404, "{}", r.text());
    d.ok(&["rmi", &tag]);
}

#[test]
fn image_prune_dangling_then_all() {
    let d = Daemon::start(Options::default());
    let repo = unique("prune");
    let first = ImageSpec::variant(&format!("{repo}:x"), "first");
    let second = ImageSpec::variant(&format!("{repo}:x"), "second");
    let unused = ImageSpec::variant(&format!("{repo}:unused"), "unused");
    load(&d, &first);
    load(&d, &second);
    load(&d, &unused);
    d.ok(&["create", "--name", "keeps-busybox", "busybox", "true"]);

    let out = d.ok(&["image", "prune", "-f"]);
    assert!(
        out.contains(&format!("deleted: {}", first.image_id())),
        "{out}"
    );
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert_ne!(d.docker(&["image", "inspect", &first.image_id()]).code, 0);
    assert_eq!(
        d.docker(&["image", "inspect", &format!("{repo}:unused")])
            .code,
        0
    );

    // -a removes every image no container uses, by label filter first.
    let out = d.ok(&[
        "image",
        "prune",
        "-a",
        "-f",
        "--filter",
        "label=shoal.test.marker=unused",
    ]);
    assert!(out.contains(&format!("untagged: {repo}:unused")), "{out}");
    assert_eq!(
        d.docker(&["image", "inspect", &format!("{repo}:x")]).code,
        0
    );
    let out = d.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains(&format!("untagged: {repo}:x")), "{out}");
    assert!(
        out.contains(&format!("deleted: {}", second.image_id())),
        "{out}"
    );
    assert_eq!(
        d.docker(&["image", "inspect", "busybox"]).code,
        0,
        "busybox is used by a container"
    );
    assert_eq!(d.ok(&["images", "--format", "{{.Repository}}"]), "busybox");
}
