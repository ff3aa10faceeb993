//! The API over TLS (issue 10): `docker --tlsverify` with a client certificate works, without
//! one it is refused, and plain TCP on a non-loopback address does not start.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use shoal_tests::docker::{docker_bin, run_command};
use shoal_tests::{Daemon, Engine, Options, secs};

struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn leaf(
    dir: &Path,
    name: &str,
    issuer: &Issuer<'_, KeyPair>,
    eku: ExtendedKeyUsagePurpose,
) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let mut p =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.extended_key_usages = vec![eku];
    let now = SystemTime::now();
    p.not_before = (now - Duration::from_secs(3600)).into();
    p.not_after = (now + Duration::from_secs(86400)).into();
    let cert = p.signed_by(&key, issuer).unwrap();
    let (c, k) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

fn pki(dir: &Path) -> Pki {
    std::fs::create_dir_all(dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "shoal test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&ca_cert.pem(), ca_key).unwrap();
    let (server_cert, server_key) =
        leaf(dir, "server", &issuer, ExtendedKeyUsagePurpose::ServerAuth);
    let (client_cert, client_key) =
        leaf(dir, "client", &issuer, ExtendedKeyUsagePurpose::ClientAuth);
    Pki {
        ca: ca_path,
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn tlsverify_needs_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let p = pki(dir.path());
    let port = free_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let s = |p: &Path| p.display().to_string();
    let d = Daemon::start(Options {
        extra_args: vec![
            "-H".into(),
            host.clone(),
            "--tlsverify".into(),
            "--tlscacert".into(),
            s(&p.ca),
            "--tlscert".into(),
            s(&p.server_cert),
            "--tlskey".into(),
            s(&p.server_key),
        ],
        no_busybox: true,
        ..Options::default()
    });
    let docker = |args: &[&str]| {
        let mut c = std::process::Command::new(docker_bin());
        c.env_remove("DOCKER_HOST")
            .env("DOCKER_CONFIG", d.dir().join("tls-cli"))
            .args(["-H", &host])
            .args(args);
        run_command(c, None, secs(60))
    };
    let ok = docker(&[
        "--tlsverify",
        "--tlscacert",
        &s(&p.ca),
        "--tlscert",
        &s(&p.client_cert),
        "--tlskey",
        &s(&p.client_key),
        "version",
        "--format",
        "{{.Server.Os}}",
    ]);
    assert_eq!(ok.ok(), "linux");
    let refused = docker(&[
        "--tlsverify",
        "--tlscacert",
        &s(&p.ca),
        "version",
        "--format",
        "{{.Server.Os}}",
    ]);
    assert_ne!(refused.code, 0, "no client certificate: {refused:?}");
    assert!(!refused.stdout.contains("linux"), "{refused:?}");
    let plain = docker(&["version", "--format", "{{.Server.Os}}"]);
    assert_ne!(plain.code, 0, "plain HTTP to the TLS port: {plain:?}");
    // The unix socket is unaffected.
    assert_eq!(d.ok(&["version", "--format", "{{.Server.Os}}"]), "linux");
}

#[test]
fn plain_tcp_on_a_public_address_does_not_start() {
    let d = Daemon::prepare(
        Engine::from_env(),
        Options {
            extra_args: vec!["-H".into(), format!("tcp://0.0.0.0:{}", free_port())],
            ..Options::default()
        },
    );
    let out = run_command(d.command(), None, secs(60));
    assert_ne!(out.code, 0, "{out:?}");
    assert_ne!(out.code, -1, "daemon must exit by itself: {out:?}");
    assert!(out.stderr.contains("without TLS"), "{out:?}");
    assert!(
        out.stderr.contains("--insecure-tcp-root-for-anyone"),
        "names the flag: {out:?}"
    );
}
