//! docker tag and docker rmi (untag vs delete, in use, force).

use crate::load;
use shoal_tests::image::ImageSpec;
use shoal_tests::{shared, unique};

#[test]
fn tag_and_untag_then_delete() {
    let d = shared();
    let repo = unique("tag");
    let a = format!("{repo}:a");
    let b = format!("{repo}-other:b");
    let spec = ImageSpec::variant(&a, &repo);
    load(&d, &spec);
    d.ok(&["tag", &a, &b]);
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", &b]),
        spec.image_id()
    );
    // A tag without :tag means :latest.
    d.ok(&["tag", &a, &format!("{repo}-latest")]);
    assert_eq!(
        d.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}}",
            &format!("{repo}-latest:latest")
        ]),
        spec.image_id()
    );

    let out = d.ok(&["rmi", &b]);
    assert_eq!(out, format!("Untagged: {b}"));
    let out = d.ok(&["rmi", &format!("{repo}-latest")]);
    assert_eq!(out, format!("Untagged: {repo}-latest:latest"));
    // The last tag deletes the image.
    let out = d.ok(&["rmi", &a]);
    assert!(out.contains(&format!("Untagged: {a}")), "{out}");
    assert!(
        out.contains(&format!("Deleted: {}", spec.image_id())),
        "{out}"
    );
    assert_ne!(d.docker(&["image", "inspect", &spec.image_id()]).code, 0);

    let out = d.fail(&["tag", "no-such-image-shoal:x", "y:z"]);
    assert!(out.stderr.contains("No such image"), "{out:?}");
    let r = d.http("POST", "/images/busybox/tag?repo=Bad%20Repo&tag=x", None);
    assert!(
        r.message().contains("invalid reference format"),
        "{}",
        r.text()
    );
    // dockerd 20.10 answers 500 here (newer moby: 400); Shoal must say 400.
    if d.engine().is_shoal() {
        assert_eq!(r.status, 400, "{}", r.text());
    }
    let r = d.http("DELETE", "/images/no-such-image-shoal:x", None);
    assert_eq!(r.status, 404, "{}", r.text());
}

#[test]
fn rmi_image_in_use() {
    let d = shared();
    let tag = format!("{}:inuse", unique("inuse"));
    let spec = ImageSpec::variant(&tag, "in-use");
    load(&d, &spec);
    let name = unique("user");
    d.ok(&["run", "-d", "--name", &name, &tag, "sleep", "1000"]);

    let r = d.http("DELETE", &format!("/images/{tag}"), None);
    assert_eq!(r.status, 409, "{}", r.text());
    let out = d.fail(&["rmi", &tag]);
    assert!(out.stderr.contains("conflict"), "{out:?}");
    // Deleting by ID while a running container uses it is refused even with force.
    let r = d.http(
        "DELETE",
        &format!("/images/{}?force=1", spec.image_id()),
        None,
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.message().contains("running"), "{}", r.message());

    // With force, the tag is removed; the container keeps running on the image.
    let out = d.ok(&["rmi", "-f", &tag]);
    assert!(out.contains(&format!("Untagged: {tag}")), "{out}");
    assert_eq!(d.cli().fmt(&name, "{{.State.Status}}"), "running");
    assert_eq!(d.cli().fmt(&name, "{{.Image}}"), spec.image_id());
    d.ok(&["rm", "-f", &name]);
    let out = d.ok(&["rmi", &spec.image_id()]);
    assert!(out.contains("Deleted"), "{out}");
}
