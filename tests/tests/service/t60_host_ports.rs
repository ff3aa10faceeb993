//! Host-mode published ports (`-p published=P,target=T,mode=host`): each node running a
//! task answers on its own address at P, the task status and the service endpoint report the
//! port, and the scheduler never puts two such tasks on one node.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::{cluster, leader, remove_and_wait_gone, service_ps, wait_replicas};
use shoal_tests::cluster::CONVERGE;
use shoal_tests::wait;

/// One `GET /` to `ip:port` from the test process; the body, or why not.
fn get(ip: &str, port: u16) -> Result<String, String> {
    let addr = format!("{ip}:{port}");
    let sa = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let mut s =
        TcpStream::connect_timeout(&sa, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .ok_or_else(|| format!("no HTTP response: {out:?}"))?;
    Ok(body.trim().to_owned())
}

#[test]
fn host_mode_ports_answer_on_each_task_node_and_are_reported() {
    let c = cluster();
    let l = leader(&c);
    let name = "svc-hostport";
    let port: u16 = 18081;
    // A loaded machine can briefly lose the leader's lease: retry the create until accepted.
    let create = |l: &shoal_tests::cluster::Node| {
        l.docker(&[
            "service",
            "create",
            "-d",
            "--name",
            name,
            "--replicas",
            "2",
            "-p",
            &format!("published={port},target=80,mode=host"),
            "busybox",
            "sh",
            "-c",
            "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www",
        ])
    };
    let mut last = String::new();
    let created = wait::try_until(CONVERGE, || {
        let out = create(l);
        last = out.stderr.clone();
        (out.code == 0 || out.stderr.contains("already exists")).then_some(())
    });
    assert!(created.is_some(), "service create: {last}");
    wait_replicas(l, name, "2/2");
    let rows = service_ps(l, name);
    let mut on: Vec<String> = rows
        .iter()
        .filter(|r| r.desired == "Running")
        .map(|r| r.node.clone())
        .collect();
    on.sort();
    on.dedup();
    assert_eq!(
        on.len(),
        2,
        "two tasks on two nodes (one host port each): {rows:#?}"
    );

    // Each node running a task answers at its own address, from its own task container (the
    // page is the container's hostname, its short ID).
    for n in c.nodes() {
        let mut last = Err(String::new());
        if on.iter().any(|h| h == n.hostname()) {
            let local = n.ok(&[
                "ps",
                "-q",
                "--filter",
                &format!("label=com.docker.swarm.service.name={name}"),
            ]);
            let ok = wait::try_until(CONVERGE, || {
                last = get(&n.host.ip, port);
                (last.as_deref() == Ok(local.trim())).then_some(())
            });
            assert!(
                ok.is_some(),
                "{} ({}) answers on :{port} from its task container: {last:?}",
                n.name(),
                n.host.ip
            );
        } else {
            let r = get(&n.host.ip, port);
            assert!(
                r.is_err(),
                "{} runs no task, yet answers on :{port}: {r:?}",
                n.name()
            );
        }
    }

    // The task status and the service endpoint report the host-mode port.
    let tasks = l.ok(&[
        "service",
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        "desired-state=running",
        name,
    ]);
    for t in tasks.lines().filter(|t| !t.trim().is_empty()) {
        let ps = l.ok(&[
            "inspect",
            "--format",
            "{{json .Status.PortStatus}}",
            t.trim(),
        ]);
        assert!(
            ps.contains(&format!("\"PublishedPort\":{port}"))
                && ps.contains("\"TargetPort\":80")
                && ps.contains("\"PublishMode\":\"host\""),
            "task {t} PortStatus: {ps}"
        );
    }
    let ep = l.ok(&[
        "service",
        "inspect",
        "--format",
        "{{json .Endpoint.Ports}}",
        name,
    ]);
    assert!(
        ep.contains(&format!("\"PublishedPort\":{port}"))
            && ep.contains("\"PublishMode\":\"host\""),
        "service Endpoint.Ports: {ep}"
    );

    // Six tasks, five nodes, one host port: one task stays pending with the reason shown.
    l.ok(&["service", "scale", "-d", &format!("{name}=6")]);
    let mut rows = Vec::new();
    let ok = wait::try_until(CONVERGE, || {
        rows = service_ps(l, name);
        let running = rows
            .iter()
            .filter(|r| r.current.starts_with("Running"))
            .count();
        let pending = rows
            .iter()
            .filter(|r| {
                r.current.starts_with("Pending")
                    && r.error.contains("host-mode port already in use on 5 nodes")
            })
            .count();
        (running == 5 && pending == 1).then_some(())
    });
    assert!(
        ok.is_some(),
        "5 running, 1 pending on the port conflict: {rows:#?}"
    );

    remove_and_wait_gone(&c, l, name);
    let r = get(&c.node(&on[0]).host.ip, port);
    assert!(r.is_err(), "the port is released after service rm: {r:?}");
}
