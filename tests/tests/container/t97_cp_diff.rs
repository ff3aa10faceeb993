//! `docker cp` both ways on running and stopped containers, symlinks that point outside the
//! container, and `docker diff` (issue #8).

use shoal_tests::{shared, unique};

#[test]
fn cp_round_trips_files_and_directories() {
    let d = shared();
    let name = unique("cp");
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "600"]);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("in.txt");
    std::fs::write(&src, b"to the container\n").unwrap();
    d.ok(&["cp", src.to_str().unwrap(), &format!("{name}:/tmp/")]);
    assert_eq!(
        d.ok(&["exec", &name, "cat", "/tmp/in.txt"]),
        "to the container"
    );
    // A directory into a new name, and back out.
    let dir = tmp.path().join("tree");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/leaf"), b"leaf").unwrap();
    d.ok(&["cp", dir.to_str().unwrap(), &format!("{name}:/tmp/copied")]);
    assert_eq!(
        d.ok(&["exec", &name, "cat", "/tmp/copied/sub/leaf"]),
        "leaf"
    );
    let back = tmp.path().join("back");
    d.ok(&["cp", &format!("{name}:/tmp/copied"), back.to_str().unwrap()]);
    assert_eq!(std::fs::read(back.join("sub/leaf")).unwrap(), b"leaf");
    let passwd = tmp.path().join("passwd");
    d.ok(&[
        "cp",
        &format!("{name}:/etc/passwd"),
        passwd.to_str().unwrap(),
    ]);
    assert!(std::fs::read_to_string(&passwd).unwrap().contains("root:"));
    let missing = d.fail(&[
        "cp",
        &format!("{name}:/no/such"),
        tmp.path().to_str().unwrap(),
    ]);
    assert!(
        missing.stderr.contains("Could not find the file /no/such"),
        "{missing:?}"
    );

    // Stopped: copy in, then the next run sees it.
    d.ok(&["stop", "-t", "1", &name]);
    d.ok(&["cp", src.to_str().unwrap(), &format!("{name}:/stopped.txt")]);
    let out = tmp.path().join("out.txt");
    d.ok(&["cp", &format!("{name}:/stopped.txt"), out.to_str().unwrap()]);
    assert_eq!(std::fs::read(&out).unwrap(), b"to the container\n");
    d.ok(&["start", &name]);
    assert_eq!(
        d.ok(&["exec", &name, "cat", "/stopped.txt"]),
        "to the container"
    );
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn cp_through_symlinks_stays_in_the_container() {
    let d = shared();
    let name = unique("cp-link");
    let host = tempfile::tempdir().unwrap();
    let host_dir = host.path().to_str().unwrap().to_owned();
    let script = format!(
        "mkdir -p /target && ln -s {host_dir} /abs && ln -s ../../../../../../..{host_dir} /rel && sleep 600"
    );
    d.ok(&["run", "-d", "--name", &name, "busybox", "sh", "-c", &script]);
    shoal_tests::wait::until(shoal_tests::secs(30), "links in the container", || {
        (d.docker(&["exec", &name, "test", "-L", "/rel"]).code == 0).then_some(())
    });
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("evil");
    std::fs::write(&src, b"x").unwrap();
    let host_empty = || std::fs::read_dir(host.path()).unwrap().next().is_none();
    for link in ["/abs/", "/rel/", "/abs/x", "/rel/x"] {
        // The link resolves inside the container, where its target does not exist: whatever
        // the CLI makes of that, nothing reaches the host directory.
        let _ = d.docker(&["cp", src.to_str().unwrap(), &format!("{name}:{link}")]);
        assert!(
            host_empty(),
            "docker cp to {link} wrote into the host directory"
        );
    }
    // Whatever those copies created is inside the container; make the link target a directory.
    d.ok(&["exec", &name, "rm", "-rf", &host_dir]);
    d.ok(&["exec", &name, "mkdir", "-p", &host_dir]);
    for link in ["/abs/", "/rel/"] {
        d.ok(&["cp", src.to_str().unwrap(), &format!("{name}:{link}")]);
        assert!(
            host_empty(),
            "docker cp to {link} wrote into the host directory"
        );
    }
    d.ok(&["exec", &name, "test", "-f", &format!("{host_dir}/evil")]);
    // Reading through the links reads the container's files, not the host's.
    std::fs::write(host.path().join("secret"), b"host").unwrap();
    let out = d.docker(&[
        "cp",
        &format!("{name}:/abs/secret"),
        tmp.path().to_str().unwrap(),
    ]);
    assert_ne!(
        out.code, 0,
        "read the host's file through a container link: {out:?}"
    );
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn diff_lists_added_changed_and_deleted() {
    let d = shared();
    let name = unique("diff");
    d.ok(&[
        "run",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "touch /etc/newfile && rm /bin/wc && mkdir /made",
    ]);
    let out = d.ok(&["diff", &name]);
    let lines: Vec<&str> = out.lines().collect();
    for want in ["C /etc", "A /etc/newfile", "C /bin", "D /bin/wc", "A /made"] {
        assert!(lines.contains(&want), "missing {want:?} in:\n{out}");
    }
    d.ok(&["rm", &name]);
}
