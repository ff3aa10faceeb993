//! docker load (docker-save and OCI archives), docker save, docker import.

use crate::load;
use shoal_tests::image::ImageSpec;
use shoal_tests::{shared, unique};

#[test]
fn load_docker_archive_and_run() {
    let d = shared();
    let tag = format!("{}:v1", unique("load"));
    let spec = ImageSpec::variant(&tag, "docker-archive");
    let out = load(&d, &spec);
    assert!(out.contains(&format!("Loaded image: {tag}")), "{out}");
    // Classic dockerd reports the config digest as the image ID.
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", &tag]),
        spec.image_id()
    );
    assert_eq!(
        d.ok(&["run", "--rm", &tag, "cat", "/marker"]),
        "docker-archive"
    );
    // Loading the same archive again is idempotent.
    let out = load(&d, &spec);
    assert!(out.contains(&tag), "{out}");
    d.ok(&["rmi", &tag]);
}

#[test]
fn load_from_file_with_quiet() {
    let d = shared();
    let tag = format!("{}:v1", unique("loadq"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("img.tar");
    std::fs::write(&file, ImageSpec::variant(&tag, "file").docker_archive()).unwrap();
    let out = d.ok(&["load", "-q", "-i", file.to_str().unwrap()]);
    assert!(out.contains(&tag), "{out}");
    d.ok(&["rmi", &tag]);
}

#[test]
fn load_oci_archive_and_run() {
    let d = shared();
    let tag = format!("{}:oci", unique("ocil"));
    let spec = ImageSpec::variant(&tag, "oci-archive");
    let out = d.cli().run_stdin(&["load"], &spec.oci_archive());
    if !d.engine().is_shoal() {
        // dockerd 20.10 (the reference here) predates OCI archive support in docker load; the
        // behaviour is validated against Shoal only.
        assert_ne!(out.code, 0);
        return;
    }
    let out = out.ok();
    assert!(out.contains(&tag), "{out}");
    assert_eq!(
        d.ok(&["run", "--rm", &tag, "cat", "/marker"]),
        "oci-archive"
    );
    d.ok(&["rmi", &tag]);
}

#[test]
fn load_garbage_is_an_error() {
    let d = shared();
    let out = d
        .cli()
        .run_stdin(&["load"], b"this is not a tar archive at all");
    assert_ne!(out.code, 0, "{out:?}");
    // The daemon survives.
    assert_eq!(d.http("GET", "/_ping", None).status, 200);
}

#[test]
fn save_then_load_round_trip() {
    let d = shared();
    let tag = format!("{}:v1", unique("save"));
    let tag2 = format!("{}:v2", unique("save"));
    let spec = ImageSpec::variant(&tag, "saved");
    load(&d, &spec);
    d.ok(&["tag", &tag, &tag2]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("saved.tar");
    d.ok(&["save", "-o", file.to_str().unwrap(), &tag, &tag2]);

    let mut ar = tar::Archive::new(std::fs::File::open(&file).unwrap());
    let mut manifest = None;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some("manifest.json") {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            manifest = Some(s);
        }
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&manifest.expect("manifest.json in save output")).unwrap();
    let tags: Vec<&str> = manifest[0]["RepoTags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(
        tags.contains(&tag.as_str()) && tags.contains(&tag2.as_str()),
        "{manifest}"
    );
    assert_eq!(
        manifest[0]["Layers"].as_array().unwrap().len(),
        1,
        "{manifest}"
    );

    d.ok(&["rmi", &tag, &tag2]);
    assert_ne!(d.docker(&["image", "inspect", &tag]).code, 0);
    let out = d.ok(&["load", "-i", file.to_str().unwrap()]);
    assert!(out.contains(&tag), "{out}");
    assert_eq!(d.ok(&["run", "--rm", &tag2, "cat", "/marker"]), "saved");
    d.ok(&["rmi", &tag, &tag2]);

    // save to stdout
    let out = shoal_tests::docker::run_command(
        d.cli().command(&["save", "busybox"]),
        None,
        shoal_tests::secs(60),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.len() > 100_000);
    let out = d.fail(&["save", "no-such-image-shoal:x"]);
    assert!(
        ["No such image", "not found", "does not exist"]
            .iter()
            .any(|m| out.stderr.contains(m)),
        "{out:?}"
    );
}

#[test]
fn import_rootfs_with_changes() {
    let d = shared();
    let tag = format!("{}:imp", unique("import"));
    let rootfs = ImageSpec::variant("x:y", "imported").layer_tar();
    let id = d
        .cli()
        .run_stdin(
            &[
                "import",
                "--change",
                "ENV GREETING=hi",
                "--change",
                r#"CMD ["sh","-c","echo $GREETING; cat /marker"]"#,
                "-m",
                "from-tests",
                "-",
                &tag,
            ],
            &rootfs,
        )
        .ok();
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(d.ok(&["image", "inspect", "-f", "{{.Id}}", &tag]), id);
    assert_eq!(d.ok(&["run", "--rm", &tag]), "hi\nimported");
    let hist = d.ok(&["history", "--no-trunc", "--format", "{{.Comment}}", &tag]);
    assert!(hist.contains("from-tests"), "{hist}");
    d.ok(&["rmi", &tag]);
}
