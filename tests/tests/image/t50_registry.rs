//! docker push / pull / login / run-pulls against a real loopback registry (Debian's
//! docker-registry), issue #9.

use crate::load;
use shoal_tests::docker::Cli;
use shoal_tests::image::ImageSpec;
use shoal_tests::registry::{Registry, RegistryOptions};
use shoal_tests::{Daemon, Options, shared, unique};

/// The `sha256:...` after `digest: ` in `docker push` output.
fn pushed_digest(out: &str) -> String {
    out.split("digest: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest in push output: {out}"))
        .to_owned()
}

/// Loads a marker image named `name` and pushes it; returns the pushed digest.
fn load_and_push(d: &Daemon, cli: &Cli, name: &str, marker: &str) -> (ImageSpec, String) {
    let spec = ImageSpec::variant(name, marker);
    let out = load(d, &spec);
    assert!(out.contains(name), "{out}");
    let out = cli.ok(&["push", name]);
    assert!(out.contains("Pushed"), "{out}");
    (spec, pushed_digest(&out))
}

/// The manifest's layer digests, as the registry serves them.
fn layer_digests(r: &Registry, repo: &str, tag: &str) -> Vec<String> {
    let (status, body) = r.http(
        "GET",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[(
            "Accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
        )],
        b"",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let m: serde_json::Value = serde_json::from_slice(&body).unwrap();
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn push_rmi_pull_back_with_the_same_digest_and_by_digest() {
    let d = shared();
    let r = Registry::start(RegistryOptions::default());
    let repo = unique("pushpull");
    let name = format!("{}/{repo}:v1", r.host());
    let (spec, digest) = load_and_push(&d, d.cli(), &name, "pushed");
    let digests = d.ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", &name]);
    assert!(digests.contains(&digest), "{digests} lacks {digest}");

    // A second push finds every blob in place.
    let again = d.ok(&["push", &name]);
    assert!(again.contains("Layer already exists"), "{again}");
    assert_eq!(pushed_digest(&again), digest);

    d.ok(&["rmi", &name]);
    let out = d.ok(&["pull", &name]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {name}")),
        "{out}"
    );
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", &name]),
        spec.image_id()
    );
    assert_eq!(d.ok(&["run", "--rm", &name, "cat", "/marker"]), "pushed");
    let out = d.ok(&["pull", &name]);
    assert!(out.contains("Image is up to date"), "{out}");

    // By digest, after everything local is gone.
    d.ok(&["rmi", &name]);
    let by_digest = format!("{}/{repo}@{digest}", r.host());
    let out = d.ok(&["pull", &by_digest]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", &by_digest]),
        spec.image_id()
    );
    d.ok(&["rmi", &by_digest]);

    // Unknown tag: dockerd's words, status 404 (the CLI exits 1).
    let missing = d.fail(&["pull", &format!("{}/{repo}:nope", r.host())]);
    assert!(
        missing.stderr.contains("manifest unknown"),
        "{}",
        missing.stderr
    );
}

#[test]
fn run_of_an_absent_image_pulls_it() {
    let d = shared();
    let r = Registry::start(RegistryOptions::default());
    let name = format!("{}/{}:v1", r.host(), unique("runpull"));
    load_and_push(&d, d.cli(), &name, "run-pulled");
    d.ok(&["rmi", &name]);

    let never = d.fail(&["run", "--rm", "--pull", "never", &name, "true"]);
    assert!(never.stderr.contains("No such image"), "{}", never.stderr);

    let out = d.cli().run(&["run", "--rm", &name, "cat", "/marker"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.trim(), "run-pulled");
    assert!(
        out.stderr.contains("Unable to find image"),
        "{}",
        out.stderr
    );
    // --pull always asks the registry even though the image is here.
    let out = d
        .cli()
        .run(&["run", "--rm", "--pull", "always", &name, "cat", "/marker"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("Image is up to date") || out.stdout.contains("Image is up to date"),
        "{out:?}"
    );
    d.ok(&["rmi", &name]);
}

#[test]
fn login_then_protected_push_and_pull() {
    let d = shared();
    let r = Registry::start(RegistryOptions {
        basic_auth: Some(("alice".into(), "s3cret".into())),
        ..Default::default()
    });
    let cfg = tempfile::tempdir().unwrap();
    let cli = Cli::new(d.sock(), cfg.path());
    let name = format!("{}/{}:v1", r.host(), unique("private"));
    let spec = ImageSpec::variant(&name, "private");
    assert!(load(&d, &spec).contains(&name));

    let anon = cli.fail(&["push", &name]);
    let text = format!("{}{}", anon.stdout, anon.stderr);
    assert!(
        text.contains("authentication required") || text.contains("no basic auth credentials"),
        "{text}"
    );

    let host = r.host();
    let wrong = cli.run_stdin(
        &["login", "-u", "alice", "--password-stdin", &host],
        b"wrong\n",
    );
    assert_ne!(wrong.code, 0, "{wrong:?}");
    assert!(
        wrong.stderr.contains("401 Unauthorized"),
        "{}",
        wrong.stderr
    );
    let ok = cli.run_stdin(
        &["login", "-u", "alice", "--password-stdin", &host],
        b"s3cret\n",
    );
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(ok.stdout.contains("Login Succeeded"), "{ok:?}");

    let out = cli.ok(&["push", &name]);
    assert!(out.contains("Pushed"), "{out}");
    cli.ok(&["rmi", &name]);
    let out = cli.ok(&["pull", &name]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(cli.ok(&["run", "--rm", &name, "cat", "/marker"]), "private");

    cli.ok(&["rmi", &name]);
    cli.ok(&["logout", &host]);
    let denied = cli.fail(&["pull", &name]);
    assert!(
        denied.stderr.contains("pull access denied")
            || denied.stderr.contains("no basic auth credentials"),
        "{}",
        denied.stderr
    );
}

#[test]
fn a_tampered_blob_is_rejected_and_leaves_nothing() {
    let d = shared();
    let r = Registry::start(RegistryOptions::default());
    let repo = unique("tamper");
    let name = format!("{}/{repo}:v1", r.host());
    load_and_push(&d, d.cli(), &name, "tampered");
    d.ok(&["rmi", &name]);
    let layer = layer_digests(&r, &repo, "v1").pop().unwrap();
    let path = r.blob_path(&layer);
    let mut data = std::fs::read(&path).unwrap();
    // Same size, different bytes: only the digest check can catch it.
    let last = data.len() - 1;
    data[last] ^= 0xff;
    std::fs::write(&path, data).unwrap();

    let out = d.fail(&["pull", &name]);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("verification failed"), "{text}");
    assert!(text.contains(&layer), "{text}");
    let images = d.ok(&["images", "-q", &format!("{}/{repo}", r.host())]);
    assert!(images.is_empty(), "an image was left: {images}");
    if d.engine().is_shoal() {
        let sock = d.exec_root().join("containerd/containerd.sock");
        let out = std::process::Command::new("ctr")
            .arg("-a")
            .arg(&sock)
            .args(["-n", "shoal", "content", "ls", "-q"])
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "ctr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!listed.contains(&layer), "the bad blob was kept: {listed}");
    }
}

#[test]
fn a_multi_platform_index_is_pulled_for_the_asked_platform() {
    let d = shared();
    let r = Registry::start(RegistryOptions::default());
    let repo = unique("multi");
    let base = format!("{}/{repo}", r.host());
    let (_, amd) = load_and_push(&d, d.cli(), &format!("{base}:amd64"), "amd64-variant");
    let (_, arm) = load_and_push(&d, d.cli(), &format!("{base}:arm64"), "arm64-variant");
    let size = |tag: &str| {
        let (s, body) = r.http(
            "GET",
            &format!("/v2/{repo}/manifests/{tag}"),
            &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
            b"",
        );
        assert_eq!(s, 200);
        body.len()
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm, "size": size("arm64"),
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd, "size": size("amd64"),
             "platform": {"os": "linux", "architecture": "amd64"}},
        ],
    });
    let body = serde_json::to_vec(&index).unwrap();
    let (status, resp) = r.http(
        "PUT",
        &format!("/v2/{repo}/manifests/multi"),
        &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
        &body,
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&resp));
    let index_digest = format!("sha256:{}", shoal_tests::image::sha256_hex(&body));
    d.ok(&["rmi", &format!("{base}:amd64"), &format!("{base}:arm64")]);

    let multi = format!("{base}:multi");
    let out = d.ok(&["pull", &multi]);
    assert!(out.contains(&format!("Digest: {index_digest}")), "{out}");
    assert_eq!(
        d.ok(&["run", "--rm", &multi, "cat", "/marker"]),
        "amd64-variant"
    );
    let digests = d.ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", &multi]);
    assert!(digests.contains(&index_digest), "{digests}");
    d.ok(&["rmi", &multi]);
    if d.engine().is_shoal() {
        // The arm64 entry's config says amd64 (the test has no arm64 binaries), which dockerd
        // would reject after the fact; Shoal trusts the index entry.
        d.ok(&["pull", "--platform", "linux/arm64", &multi]);
        assert_eq!(
            d.ok(&["run", "--rm", &multi, "cat", "/marker"]),
            "arm64-variant"
        );
        d.ok(&["rmi", &multi]);
        let none = d.fail(&["pull", "--platform", "linux/s390x", &multi]);
        assert!(
            none.stderr.contains("no matching manifest"),
            "{}",
            none.stderr
        );
    }
}

#[test]
fn a_tls_registry_is_trusted_through_its_certs_dir() {
    if !shoal_tests::Engine::from_env().is_shoal() {
        // --registry-certs-dir is Shoal's; dockerd reads only /etc/docker/certs.d.
        return;
    }
    let r = Registry::start(RegistryOptions {
        tls: true,
        ..Default::default()
    });
    let certs = tempfile::tempdir().unwrap();
    let host_dir = certs.path().join(r.host());
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::copy(r.ca(), host_dir.join("ca.crt")).unwrap();
    let d = Daemon::start(Options {
        extra_args: vec![
            "--registry-certs-dir".into(),
            certs.path().display().to_string(),
        ],
        ..Default::default()
    });
    let name = format!("{}/{}:v1", r.host(), unique("tls"));
    load_and_push(&d, d.cli(), &name, "over-tls");
    d.ok(&["rmi", &name]);
    let out = d.ok(&["pull", &name]);
    assert!(out.contains("Downloaded newer image"), "{out}\n{}", r.log());
    assert_eq!(d.ok(&["run", "--rm", &name, "cat", "/marker"]), "over-tls");
}

#[test]
fn a_pull_cut_mid_blob_is_retried_and_keeps_one_copy_of_each_blob() {
    let d = shared();
    let r = Registry::start(RegistryOptions::default());
    let proxy = shoal_tests::registry::CutProxy::start(&r.host());
    let repo = unique("cut");
    let name = format!("{}/{repo}:v1", proxy.host());
    // 8 MiB that gzip cannot shrink, so the layer is big enough to cut in the middle.
    let mut spec = ImageSpec::variant(&name, "cut-and-retried");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..8 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    spec.extra_files.push(("noise".into(), noise));
    assert!(load(&d, &spec).contains(&name));
    let out = d.ok(&["push", &name]);
    assert!(out.contains("Pushed"), "{out}");
    d.ok(&["rmi", &name]);

    proxy.stall_after(1 << 20);
    let mut pull = d.cli().spawn(&["pull", &name]);
    shoal_tests::wait::until(
        shoal_tests::secs(60),
        "the layer download to stall in the proxy",
        || proxy.stalled().then_some(()),
    );
    r.kill();
    proxy.cut();
    r.restart();
    // Shoal fails the cut pull at once; dockerd retries the layer by itself ("Retrying in 5
    // seconds") and may finish it now that the registry is back. Either way, a pull then works.
    let code = pull.wait_exit(shoal_tests::secs(120));
    if d.engine().is_shoal() {
        assert_ne!(code, 0, "the cut pull succeeded: {}", pull.stdout());
        let images = d.ok(&["images", "-q", &format!("{}/{repo}", proxy.host())]);
        assert!(images.is_empty(), "a cut pull left an image: {images}");
    }
    let out = d.ok(&["pull", &name]);
    assert!(
        out.contains("Downloaded newer image") || (code == 0 && out.contains("up to date")),
        "{out}"
    );
    assert_eq!(
        d.ok(&["run", "--rm", &name, "cat", "/marker"]),
        "cut-and-retried"
    );
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", &name]),
        spec.image_id()
    );
    if d.engine().is_shoal() {
        let sock = d.exec_root().join("containerd/containerd.sock");
        let ctr = |args: &[&str]| {
            let out = std::process::Command::new("ctr")
                .arg("-a")
                .arg(&sock)
                .args(["-n", "shoal"])
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "ctr {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).to_string()
        };
        let listed = ctr(&["content", "ls", "-q"]);
        for layer in layer_digests(&r, &repo, "v1") {
            assert_eq!(
                listed.lines().filter(|l| l.trim() == layer).count(),
                1,
                "{layer} should be stored once: {listed}"
            );
            let active = ctr(&["content", "active"]);
            assert!(
                !active.contains(&layer),
                "a partial write of {layer} is still open: {active}"
            );
        }
    }
    d.ok(&["rmi", &name]);
}

#[test]
fn docker_hub_names_are_pulled_through_a_registry_mirror() {
    let mirror = Registry::start(RegistryOptions::default());
    let d = Daemon::start(Options {
        config: Some(serde_json::json!({
            "registry-mirrors": [format!("http://{}", mirror.host())],
        })),
        ..Default::default()
    });
    // What the mirror serves as Docker Hub's library/<repo>.
    let repo = unique("mirrored");
    let on_mirror = format!("{}/library/{repo}:v1", mirror.host());
    let (spec, _) = load_and_push(&d, d.cli(), &on_mirror, "from-the-mirror");
    d.ok(&["rmi", &on_mirror]);

    let hub_name = format!("{repo}:v1");
    let out = d.ok(&["pull", &hub_name]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", &hub_name]),
        spec.image_id()
    );
    assert_eq!(
        d.ok(&["run", "--rm", &hub_name, "cat", "/marker"]),
        "from-the-mirror"
    );
    // By digest through the mirror too. An image with no tag left is dangling for
    // `docker image prune`, digest references or not (dockerd's rule).
    let digest = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{index .RepoDigests 0}}",
        &hub_name,
    ]);
    d.ok(&["rmi", &hub_name]);
    d.ok(&["pull", &digest]);
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", &digest]),
        spec.image_id()
    );
    d.ok(&["image", "prune", "-f"]);
    d.fail(&["image", "inspect", &digest]);
}

#[test]
fn bearer_tokens_from_the_registry_token_server() {
    let d = shared();
    let r = Registry::start(RegistryOptions {
        token_auth: Some(("bob".into(), "t0ken-pw".into())),
        ..Default::default()
    });
    let cfg = tempfile::tempdir().unwrap();
    let cli = Cli::new(d.sock(), cfg.path());
    let name = format!("{}/team/{}:v1", r.host(), unique("bearer"));
    let spec = ImageSpec::variant(&name, "bearer");
    assert!(load(&d, &spec).contains(&name));
    let host = r.host();

    // Anonymous tokens grant nothing here.
    let anon = cli.fail(&["push", &name]);
    let text = format!("{}{}", anon.stdout, anon.stderr);
    assert!(
        text.contains("authentication required") || text.contains("denied"),
        "{text}"
    );
    let wrong = cli.run_stdin(
        &["login", "-u", "bob", "--password-stdin", &host],
        b"nope\n",
    );
    assert_ne!(wrong.code, 0, "{wrong:?}");
    assert!(
        wrong.stderr.contains("incorrect username or password"),
        "{}",
        wrong.stderr
    );
    let ok = cli.run_stdin(
        &["login", "-u", "bob", "--password-stdin", &host],
        b"t0ken-pw\n",
    );
    assert_eq!(ok.code, 0, "{ok:?}");
    let out = cli.ok(&["push", &name]);
    assert!(out.contains("Pushed"), "{out}");
    cli.ok(&["rmi", &name]);
    let out = cli.ok(&["pull", &name]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(cli.ok(&["run", "--rm", &name, "cat", "/marker"]), "bearer");
    cli.ok(&["rmi", &name]);
}
