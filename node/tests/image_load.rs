//! docker load / resolve / save / bad archives against a real containerd.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod image_support;

use std::collections::{BTreeMap, HashMap};

use image_support::*;
use shoal_node::image::ImageError;

#[tokio::test]
async fn load_docker_save_then_resolve_exposes_rootfs() {
    let cd = Containerd::start().await;
    let svc = cd.service();
    let layer = busybox_layer("one");
    let config = config_for(&layer, HashMap::new());
    let out = svc
        .load(body(docker_save_tar(&layer, &config, &["busybox:latest"])))
        .await
        .unwrap();
    assert_eq!(out, vec!["Loaded image: busybox:latest\n".to_owned()]);

    let img = svc.resolve("busybox").await.unwrap();
    assert_eq!(img.id, sha256(&config));
    assert_eq!(img.reference, "docker.io/library/busybox:latest");
    assert_eq!(img.defaults.cmd, Some(vec!["sh".to_owned()]));
    let chain = img.chain_id.clone().expect("one layer means a chain");
    assert_eq!(chain, sha256(&layer));

    // Same image by full ID, short ID and sha256: prefix.
    for r in [
        img.id.clone(),
        img.id[7..19].to_owned(),
        img.id[7..].to_owned(),
    ] {
        assert_eq!(svc.resolve(&r).await.unwrap().id, img.id, "resolve {r}");
    }

    // A container rootfs on top of the chain sees bin/busybox.
    cd.runtime
        .create_lease("t", std::time::Duration::from_secs(600))
        .await
        .unwrap();
    let mounts = cd
        .runtime
        .prepare_snapshot("t", "test-rootfs", Some(&chain), HashMap::new())
        .await
        .unwrap();
    let target = cd.dir.path().join("mnt");
    let (has_busybox, sh_target) = with_mounted(&mounts, &target, |root| {
        (
            root.join("bin/busybox").is_file(),
            std::fs::read_link(root.join("bin/sh")).unwrap(),
        )
    });
    assert!(has_busybox);
    assert_eq!(sh_target.to_str(), Some("busybox"));
    cd.runtime.remove_snapshot("test-rootfs").await.unwrap();
    cd.runtime.delete_lease("t", true).await.unwrap();

    // The unpacked chain survives garbage collection (labels reference it).
    cd.runtime
        .create_lease("gc", std::time::Duration::from_secs(60))
        .await
        .unwrap();
    cd.runtime.delete_lease("gc", true).await.unwrap();
    assert!(cd.runtime.stat_snapshot(&chain).await.unwrap().is_some());

    match svc.resolve("nothere").await {
        Err(ImageError::NotFound(n)) => assert_eq!(n, "nothere"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    match svc.resolve("Bad Ref").await {
        Err(ImageError::Invalid(m)) => assert_eq!(m, "invalid reference format"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn load_oci_layout_and_untagged() {
    let cd = Containerd::start().await;
    let svc = cd.service();
    let layer = busybox_layer("oci");
    let config = config_for(&layer, HashMap::new());
    let out = svc
        .load(body(oci_tar(&layer, &config, "docker.io/library/ocibox:1")))
        .await
        .unwrap();
    assert_eq!(out, vec!["Loaded image: ocibox:1\n".to_owned()]);
    let img = svc.resolve("ocibox:1").await.unwrap();
    assert_eq!(img.id, sha256(&config));
    assert!(img.chain_id.is_some());

    let layer2 = busybox_layer("untagged");
    let config2 = config_for(&layer2, HashMap::new());
    let out = svc
        .load(body(docker_save_tar(&layer2, &config2, &[])))
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![format!("Loaded image ID: {}\n", sha256(&config2))]
    );
    let mut dangling = BTreeMap::new();
    dangling.insert("dangling".to_owned(), vec!["true".to_owned()]);
    let list = svc.list(&dangling).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, sha256(&config2));
    assert!(list[0].repo_tags().is_empty());
}

#[tokio::test]
async fn save_then_load_round_trip() {
    let cd = Containerd::start().await;
    let svc = cd.service();
    let layer = busybox_layer("rt");
    let config = config_for(&layer, HashMap::new());
    svc.load(body(docker_save_tar(
        &layer,
        &config,
        &["busybox:latest", "busybox:1"],
    )))
    .await
    .unwrap();
    let id = sha256(&config);

    let saved = collect(svc.save(&["busybox:latest".to_owned()]).await.unwrap()).await;
    let names = tar_names(&saved);
    for f in ["manifest.json", "index.json", "oci-layout", "repositories"] {
        assert!(names.contains(&f.to_owned()), "{f} missing from {names:?}");
    }
    assert!(names.contains(&format!("blobs/sha256/{}", &id[7..])));
    assert!(names.contains(&format!("blobs/sha256/{}", &sha256(&layer)[7..])));
    // Only the asked-for tag; the archive is a valid tar to the end.
    let mut ar = tar::Archive::new(saved.as_slice());
    let manifest: serde_json::Value = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path().unwrap().to_str() == Some("manifest.json"))
        .map(|e| serde_json::from_reader(e).unwrap())
        .unwrap();
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["busybox:latest"])
    );

    // Remove everything, then load what was saved.
    svc.remove("busybox:1", false).await.unwrap();
    let items = svc.remove("busybox:latest", false).await.unwrap();
    assert!(
        items
            .iter()
            .any(|i| matches!(i, shoal_node::image::DeleteItem::Deleted(d) if *d == id))
    );
    assert!(svc.list(&BTreeMap::new()).await.unwrap().is_empty());
    let out = svc.load(body(saved)).await.unwrap();
    assert_eq!(out, vec!["Loaded image: busybox:latest\n".to_owned()]);
    assert_eq!(svc.resolve("busybox").await.unwrap().id, id);

    // Saving by ID records no tags; saving a missing image fails up front.
    let by_id = collect(svc.save(std::slice::from_ref(&id)).await.unwrap()).await;
    assert!(tar_names(&by_id).contains(&"index.json".to_owned()));
    assert!(matches!(
        svc.save(&["nope".to_owned()]).await,
        Err(ImageError::NotFound(_))
    ));
}

#[tokio::test]
async fn bad_archives_fail_cleanly_and_leave_nothing() {
    let cd = Containerd::start().await;
    let svc = cd.service();
    assert!(matches!(
        svc.load(body(b"this is not a tar file at all".repeat(40)))
            .await,
        Err(ImageError::Invalid(_))
    ));
    // A tar without manifest.json or index.json.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_cksum();
    b.append_data(&mut h, "hello.txt", &b"hi"[..]).unwrap();
    let err = svc.load(body(b.into_inner().unwrap())).await.unwrap_err();
    assert!(err.to_string().contains("manifest.json"), "{err}");

    // Content written, then the layer does not match the config's diff ID:
    // the load fails and the lease's content is collected.
    let layer = busybox_layer("bad");
    let other = busybox_layer("other");
    let config = config_for(&other, HashMap::new());
    let err = svc
        .load(body(docker_save_tar(&layer, &config, &["broken:latest"])))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("does not match"), "{err}");
    assert!(svc.list(&BTreeMap::new()).await.unwrap().is_empty());
    assert!(cd.runtime.list_images().await.unwrap().is_empty());
    let content = cd.runtime.list_content().await.unwrap();
    assert!(content.is_empty(), "leftover content: {content:?}");
    // And the scratch space is gone.
    let tmp = cd.dir.path().join("data/tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "leftover scratch: {left:?}");
}
