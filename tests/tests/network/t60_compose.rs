//! docker-compose 1.29 (Debian's) brings up a three-service project whose services find each
//! other by name on the project network and publish a port to the host, and takes it down clean.

use std::process::Command;

use shoal_tests::{shared, unique};

use crate::util::curl_until;

const COMPOSE: &str = r#"version: "3.7"
services:
  db:
    image: busybox
    command: sh -c "mkdir -p /www && echo db-ok > /www/index.html && exec httpd -f -p 80 -h /www"
  api:
    image: busybox
    command: sh -c "mkdir -p /www; while true; do timeout 3 wget -q -O /www/index.html http://db/ 2>/dev/null && break; sleep 1; done; exec httpd -f -p 80 -h /www"
    depends_on: [db]
  web:
    image: busybox
    command: sh -c "mkdir -p /www && while true; do timeout 3 wget -q -O /www/index.html http://api/ 2>/dev/null && break; sleep 1; done; exec httpd -f -p 80 -h /www"
    ports: ["80"]
    depends_on: [api]
"#;

fn compose(
    d: &shoal_tests::Fixture,
    dir: &std::path::Path,
    project: &str,
    args: &[&str],
) -> String {
    let out = Command::new("docker-compose")
        .current_dir(dir)
        .env("DOCKER_HOST", d.cli().host())
        .args(["-p", project])
        .args(args)
        .output()
        .expect("docker-compose is installed (apt-get install docker-compose)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "docker-compose {args:?}: {text}");
    text
}

#[test]
fn three_service_project_comes_up_answers_and_goes_down_clean() {
    let d = shared();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), COMPOSE).unwrap();
    let project = unique("cp").replace('-', "").to_lowercase();
    compose(&d, dir.path(), &project, &["up", "-d"]);
    let ps = compose(&d, dir.path(), &project, &["ps"]);
    for svc in ["db", "api", "web"] {
        assert!(ps.contains(&format!("{project}_{svc}_1")), "{ps}");
    }
    let port_out = compose(&d, dir.path(), &project, &["port", "web", "80"]);
    let port: u16 = port_out.trim().rsplit(':').next().unwrap().parse().unwrap();
    curl_until(&format!("http://127.0.0.1:{port}/"), None, "db-ok");
    let logs = compose(&d, dir.path(), &project, &["logs", "--no-color"]);
    assert!(logs.contains("Attaching to"), "{logs}");
    compose(&d, dir.path(), &project, &["down"]);
    let left = d.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "-q",
    ]);
    assert!(left.is_empty(), "{left}");
    let nets = d.ok(&[
        "network",
        "ls",
        "--filter",
        &format!("name={project}"),
        "-q",
    ]);
    assert!(nets.is_empty(), "{nets}");
}
