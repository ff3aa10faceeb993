//! `docker service create --with-registry-auth`: the agents pull an image that is on no node
//! from a registry behind htpasswd with the service's credentials (kept by an update without
//! new credentials, as moby's `registryAuthFrom=spec`), which inspect never shows; without
//! them the tasks are rejected with the registry's refusal.

use shoal_tests::cluster::{CONVERGE, describe};
use shoal_tests::registry::{Registry, RegistryOptions};
use shoal_tests::wait;

use crate::{cluster, leader, remove_and_wait_gone, service_ps, wait_replicas};

#[test]
fn with_registry_auth_agents_pull_a_private_image_on_every_node() {
    let c = cluster();
    let l = leader(&c);
    let (user, pass) = ("svc-puller", "pull-s3cret");
    // On the cluster's bridge address: every node reaches it from its namespace (the harness
    // lists the test networks as insecure registries).
    let r = Registry::start(RegistryOptions {
        basic_auth: Some((user.into(), pass.into())),
        listen_ip: Some(c.network().ip(1)),
        ..Default::default()
    });
    let host = r.host();
    let login = l.docker_stdin(
        &["login", "--username", user, "--password-stdin", &host],
        pass,
    );
    assert_eq!(login.code, 0, "docker login: {}", describe(&login));
    for tag in ["1", "2"] {
        let image = format!("{host}/svc-auth:{tag}");
        l.ok(&["tag", "busybox", &image]);
        l.ok(&["push", &image]);
        l.ok(&["rmi", &image]);
    }
    let image1 = format!("{host}/svc-auth:1");
    for n in c.nodes() {
        let out = n.docker(&["image", "inspect", &image1]);
        assert_ne!(out.code, 0, "{} must not have {image1} yet", n.name());
    }

    // Without credentials the registry refuses and the tasks are rejected saying so.
    let anon = "svc-auth-anon";
    l.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        anon,
        "--replicas",
        "1",
        &image1,
        "sleep",
        "3600",
    ]);
    let mut rows = Vec::new();
    let ok = wait::try_until(CONVERGE, || {
        rows = service_ps(l, anon);
        rows.iter()
            .any(|r| r.current.starts_with("Rejected") && r.error.contains("pull access denied"))
            .then_some(())
    });
    assert!(
        ok.is_some(),
        "rejected with the registry's refusal: {rows:#?}"
    );
    remove_and_wait_gone(&c, l, anon);

    // With --with-registry-auth every task's node pulls it.
    let name = "svc-auth";
    l.ok(&[
        "service",
        "create",
        "-d",
        "--with-registry-auth",
        "--name",
        name,
        "--replicas",
        "3",
        "--replicas-max-per-node",
        "1",
        &image1,
        "sleep",
        "3600",
    ]);
    wait_replicas(l, name, "3/3 (max 1 per node)");
    // The image was on no node: the three running tasks prove their nodes pulled it.
    let rows = service_ps(l, name);
    let mut nodes: Vec<&str> = rows.iter().map(|r| r.node.as_str()).collect();
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 3, "tasks on three nodes: {rows:#?}");

    // The credentials are never shown.
    let raw = l.ok(&["service", "inspect", name]);
    assert!(
        !raw.contains("PullOptions") && !raw.contains("RegistryAuth") && !raw.contains(pass),
        "service inspect shows no credentials: {raw}"
    );
    let task = l.ok(&["service", "ps", "-q", "--no-trunc", name]);
    let task = task.lines().next().unwrap_or_default().trim().to_owned();
    let raw = l.ok(&["inspect", &task]);
    assert!(
        !raw.contains("RegistryAuth") && !raw.contains(pass),
        "task inspect shows no credentials: {raw}"
    );

    // An update without --with-registry-auth keeps the stored credentials.
    let image2 = format!("{host}/svc-auth:2");
    l.ok(&["service", "update", "-d", "--image", &image2, name]);
    let mut rows = Vec::new();
    let ok = wait::try_until(CONVERGE, || {
        rows = service_ps(l, name);
        let running: Vec<_> = rows
            .iter()
            .filter(|r| r.desired == "Running" && r.current.starts_with("Running"))
            .collect();
        let updated = rows.iter().filter(|r| r.desired == "Shutdown").count();
        (running.len() == 3 && updated >= 3).then_some(())
    });
    assert!(
        ok.is_some(),
        "updated tasks pulled {image2} with the kept credentials: {rows:#?}"
    );

    let spec_image = l.ok(&[
        "service",
        "inspect",
        "--format",
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
        name,
    ]);
    assert!(
        spec_image.starts_with(&image2),
        "updated spec: {spec_image}"
    );
    remove_and_wait_gone(&c, l, name);
}
