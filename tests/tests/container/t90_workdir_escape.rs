//! WorkingDir is resolved inside the container's rootfs (issue 10): neither `..` nor a symlink
//! in the image makes the daemon create a directory on the host; a relative WorkingDir is refused.

use shoal_tests::image::ImageSpec;
use shoal_tests::{shared, unique};

/// The busybox layer plus symlinks pointing out of the rootfs.
fn layer_with_links(links: &[(&str, &str)]) -> Vec<u8> {
    let base = ImageSpec::busybox("x").layer_tar();
    let mut out = tar::Builder::new(Vec::new());
    let mut archive = tar::Archive::new(&base[..]);
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let header = entry.header().clone();
        out.append(&header, entry).unwrap();
    }
    for (name, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        out.append_link(&mut h, name, target).unwrap();
    }
    out.into_inner().unwrap()
}

#[test]
fn working_dir_never_escapes_the_rootfs() {
    let d = shared();
    let dotdot = format!("/tmp/{}", unique("wd-dotdot"));
    let abs = format!("/tmp/{}", unique("wd-abslink"));
    let rel = format!("tmp/{}", unique("wd-rellink"));
    for p in [&dotdot, &abs, &format!("/{rel}")] {
        assert!(
            !std::path::Path::new(p).exists(),
            "{p} exists before the test"
        );
    }
    let pwd = d.ok(&[
        "run",
        "--rm",
        "-w",
        &format!("/../../../..{dotdot}"),
        "busybox",
        "pwd",
    ]);
    assert_eq!(pwd, dotdot, "`..` stops at the container's root");
    assert!(
        !std::path::Path::new(&dotdot).exists(),
        "nothing created on the host at {dotdot}"
    );

    let image = unique("wd-links").to_lowercase();
    let layer = layer_with_links(&[
        ("abs", abs.as_str()),
        ("up", &format!("../../../../../../{rel}")),
    ]);
    let out = d.cli().run_stdin(&["import", "-", &image], &layer);
    assert_eq!(out.code, 0, "{out:?}");
    for (wd, host) in [
        ("/abs/inner", abs.clone()),
        ("/up/inner", format!("/{rel}")),
    ] {
        // Inside the container the link resolves as it would with that rootfs as `/`.
        let pwd = d.ok(&["run", "--rm", "-w", wd, &image, "pwd"]);
        assert_eq!(pwd, format!("{host}/inner"), "-w {wd}");
        assert!(
            !std::path::Path::new(&host).exists(),
            "-w {wd}: nothing created on the host at {host}"
        );
    }
    d.ok(&["rmi", &image]);

    let out = d.fail(&["create", "-w", "relative/dir", "busybox", "true"]);
    assert!(
        out.stderr.contains(
            "the working directory 'relative/dir' is invalid, it needs to be an absolute path"
        ),
        "{out:?}"
    );
}
