//! Temporary host mounts (`runtime::mount::with_mounted`); needs root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use shoal_node::runtime::Mount;
use shoal_node::runtime::mount::with_mounted;

fn mounted_under(base: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let base = base.to_string_lossy();
    info.lines().any(|l| l.contains(base.as_ref()))
}

fn leftovers(base: &Path) -> usize {
    std::fs::read_dir(base).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn read_only_bind() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a"), "A").unwrap();
    let base = dir.path().join("mnt");
    let m = Mount {
        kind: "bind".into(),
        source: src.to_string_lossy().into_owned(),
        target: String::new(),
        options: vec!["rbind".into(), "ro".into()],
    };
    let (content, write) = with_mounted(&base, &[m], |root| {
        (
            std::fs::read_to_string(root.join("a")).unwrap(),
            std::fs::write(root.join("b"), "B"),
        )
    })
    .await
    .unwrap();
    assert_eq!(content, "A");
    assert_eq!(write.unwrap_err().raw_os_error(), Some(libc::EROFS));
    assert!(!mounted_under(&base));
    assert_eq!(leftovers(&base), 0);
}

#[tokio::test]
async fn overlay_writes_land_in_upperdir() {
    let dir = tempfile::tempdir().unwrap();
    let (lower, upper, work) = (
        dir.path().join("lower"),
        dir.path().join("upper"),
        dir.path().join("work"),
    );
    for d in [&lower, &upper, &work] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(lower.join("etc-passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    let m = Mount {
        kind: "overlay".into(),
        source: "overlay".into(),
        target: String::new(),
        options: vec![
            "index=off".into(),
            format!("workdir={}", work.display()),
            format!("upperdir={}", upper.display()),
            format!("lowerdir={}", lower.display()),
        ],
    };
    let base = dir.path().join("mnt");
    let seen = with_mounted(&base, &[m], |root| {
        std::fs::create_dir_all(root.join("work/dir")).unwrap();
        std::fs::read_to_string(root.join("etc-passwd")).unwrap()
    })
    .await
    .unwrap();
    assert!(seen.starts_with("root:"));
    assert!(upper.join("work/dir").is_dir());
    assert!(!lower.join("work").exists());
    assert!(!mounted_under(&base));
}

#[tokio::test]
async fn panics_and_failures_leave_nothing_mounted() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("mnt");
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let m = Mount {
        kind: "bind".into(),
        source: src.to_string_lossy().into_owned(),
        target: String::new(),
        options: vec!["rbind".into()],
    };
    let base2 = base.clone();
    let res =
        tokio::spawn(
            async move { with_mounted(&base2, &[m], |_root| -> () { panic!("boom") }).await },
        )
        .await;
    assert!(res.unwrap_err().is_panic());
    assert!(!mounted_under(&base));
    assert_eq!(leftovers(&base), 0);

    let missing = Mount {
        kind: "bind".into(),
        source: dir.path().join("nope").to_string_lossy().into_owned(),
        target: String::new(),
        options: vec!["rbind".into()],
    };
    let err = with_mounted(&base, &[missing], |_| ()).await.unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    assert_eq!(leftovers(&base), 0);
}
