//! A real registry on loopback for pull/push tests: Debian's `docker-registry` (distribution
//! 2.8) with its own storage and config in a temp dir, on a free 127.0.0.1 port, optionally
//! behind htpasswd basic auth and/or TLS with its own CA. Killed (by PID) on drop.
//!
//! ```no_run
//! let r = shoal_tests::registry::Registry::start(Default::default());
//! let image = format!("{}/team/app:v1", r.host());
//! ```

use crate::{secs, wait};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// How the registry is protected.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// htpasswd basic auth with this user and password.
    pub basic_auth: Option<(String, String)>,
    /// Serve TLS with a certificate for 127.0.0.1 signed by a fresh CA (see [`Registry::ca`]).
    pub tls: bool,
    /// Bearer-token auth through a token server run by the test ([`TokenServer`]) that grants
    /// every requested action to this user and password, and nothing to anyone else.
    pub token_auth: Option<(String, String)>,
    /// Listen on this IPv4 address instead of 127.0.0.1 (a cluster's bridge address, so that
    /// nodes in their network namespaces reach it).
    pub listen_ip: Option<String>,
}

/// One registry process (restartable on the same port and storage).
#[derive(Debug)]
pub struct Registry {
    dir: tempfile::TempDir,
    port: u16,
    opts: RegistryOptions,
    child: Mutex<Option<Child>>,
    _token: Option<TokenServer>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Registry {
    /// Starts a registry and waits until `/v2/` answers.
    pub fn start(opts: RegistryOptions) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("shoal-reg-")
            .tempdir_in("/tmp")
            .unwrap();
        let port = free_port();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}/data\n  delete:\n    enabled: true\nhttp:\n  addr: {}:{port}\n",
            dir.path().display(),
            opts.listen_ip.as_deref().unwrap_or("127.0.0.1")
        );
        if opts.tls {
            Self::make_certs(dir.path());
            cfg.push_str(&format!(
                "  tls:\n    certificate: {0}/server.crt\n    key: {0}/server.key\n",
                dir.path().display()
            ));
        }
        if let Some((user, pass)) = &opts.basic_auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("htpasswd (apt-get install apache2-utils)");
            assert!(out.status.success(), "htpasswd failed");
            std::fs::write(dir.path().join("htpasswd"), out.stdout).unwrap();
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: shoal-test\n    path: {}/htpasswd\n",
                dir.path().display()
            ));
        }
        let token = opts.token_auth.clone().map(|(user, pass)| {
            let t = TokenServer::start(dir.path(), &user, &pass);
            cfg.push_str(&format!(
                "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: shoal-test-registry\n    issuer: shoal-test-issuer\n    rootcertbundle: {}/token.crt\n",
                t.port,
                dir.path().display()
            ));
            t
        });
        std::fs::write(dir.path().join("config.yml"), cfg).unwrap();
        let r = Registry {
            dir,
            port,
            opts,
            child: Mutex::new(None),
            _token: token,
        };
        r.spawn();
        r
    }

    /// A CA and a server certificate for 127.0.0.1 / localhost, with openssl.
    fn make_certs(dir: &Path) {
        let p = |f: &str| dir.join(f).display().to_string();
        run(
            Command::new("openssl").args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=shoal test CA",
                "-keyout",
                &p("ca.key"),
                "-out",
                &p("ca.crt"),
            ]),
            "openssl CA",
        );
        run(
            Command::new("openssl").args([
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                &p("server.key"),
                "-out",
                &p("server.csr"),
            ]),
            "openssl CSR",
        );
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        run(
            Command::new("openssl").args([
                "x509",
                "-req",
                "-in",
                &p("server.csr"),
                "-CA",
                &p("ca.crt"),
                "-CAkey",
                &p("ca.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &p("ext.cnf"),
                "-out",
                &p("server.crt"),
            ]),
            "openssl sign",
        );
    }

    fn spawn(&self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("registry.log"))
            .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry (apt-get install docker-registry)");
        *self.child.lock().unwrap() = Some(child);
        let addr = self.host();
        wait::until(secs(30), "registry listening", || {
            TcpStream::connect(&addr).ok().map(|_| ())
        });
    }

    /// SIGKILLs the registry (its storage stays).
    pub fn kill(&self) {
        if let Some(mut c) = self.child.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and storage.
    pub fn restart(&self) {
        self.kill();
        self.spawn();
    }

    /// `127.0.0.1:<port>` (or the listen address), the host part of image names.
    pub fn host(&self) -> String {
        format!(
            "{}:{}",
            self.opts.listen_ip.as_deref().unwrap_or("127.0.0.1"),
            self.port
        )
    }

    /// The CA certificate (PEM) when started with TLS.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// The registry's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Where the registry keeps blob `sha256:<hex>` (to tamper with it).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// A plain-HTTP request to the registry (no TLS; basic auth when configured); returns the
    /// status code and body.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        assert!(!self.opts.tls, "Registry::http speaks plain HTTP only");
        let mut s = TcpStream::connect(self.host()).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host(),
            body.len()
        );
        if let Some((u, p)) = &self.opts.basic_auth {
            let creds = base64_encode(format!("{u}:{p}").as_bytes());
            req.push_str(&format!("Authorization: Basic {creds}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("HTTP response head");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("status code");
        let mut body = raw[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body);
        }
        (status, body)
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

fn base64_encode(data: &[u8]) -> String {
    encode64(
        data,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        true,
    )
}

/// base64url without padding (JWT segments).
fn base64url(data: &[u8]) -> String {
    encode64(
        data,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        false,
    )
}

fn encode64(data: &[u8], t: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(t[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// A minimal Docker token server (the `WWW-Authenticate: Bearer realm=...` side): answers
/// `GET /token?service=&scope=...` with an RS256 JWT signed by openssl, carrying its
/// certificate in `x5c` so the registry checks it against `rootcertbundle`. Basic credentials
/// that match get every requested action; wrong ones get 401; none get a token granting nothing.
#[derive(Debug)]
pub struct TokenServer {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl TokenServer {
    fn start(dir: &Path, user: &str, pass: &str) -> TokenServer {
        let p = |f: &str| dir.join(f).display().to_string();
        run(
            Command::new("openssl").args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=shoal test token issuer",
                "-keyout",
                &p("token.key"),
                "-out",
                &p("token.crt"),
            ]),
            "openssl token key",
        );
        let der = Command::new("openssl")
            .args(["x509", "-in", &p("token.crt"), "-outform", "DER"])
            .output()
            .unwrap()
            .stdout;
        let x5c = base64_encode(&der);
        let key = dir.join("token.key");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let expected = format!(
            "Basic {}",
            base64_encode(format!("{user}:{pass}").as_bytes())
        );
        let user = user.to_owned();
        let st = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let mut buf = vec![0u8; 16 * 1024];
                let n = conn.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let auth = req.lines().find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                        .map(|(_, v)| v.trim().to_owned())
                });
                let path = req.split_whitespace().nth(1).unwrap_or("").to_owned();
                let (status, body) = match &auth {
                    Some(a) if *a != expected => (
                        "401 Unauthorized",
                        r#"{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}"#
                            .to_owned(),
                    ),
                    _ => {
                        let granted = auth.is_some();
                        let subject = if granted { user.as_str() } else { "" };
                        let token = jwt(&key, &x5c, &path, subject, granted);
                        (
                            "200 OK",
                            format!(
                                r#"{{"token":"{token}","access_token":"{token}","expires_in":300}}"#
                            ),
                        )
                    }
                };
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        TokenServer { port, stop }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// `%3A` and friends back to characters (clients URL-encode scopes).
fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// A registry token for the scopes in `path`'s query.
fn jwt(key: &Path, x5c: &str, path: &str, subject: &str, granted: bool) -> String {
    let query = path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut access = Vec::new();
    for kv in query.split('&') {
        let Some(("scope", v)) = kv.split_once('=') else {
            continue;
        };
        for scope in url_decode(v).split(' ') {
            let mut parts = scope.splitn(3, ':');
            let (Some(typ), Some(name), Some(actions)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let actions: Vec<&str> = if granted {
                actions.split(',').collect()
            } else {
                Vec::new()
            };
            access.push(serde_json::json!({"type": typ, "name": name, "actions": actions}));
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": "shoal-test-issuer", "sub": subject, "aud": "shoal-test-registry",
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", access.len()),
        "access": access,
    });
    let input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let sig = child.wait_with_output().unwrap().stdout;
    format!("{input}.{}", base64url(&sig))
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_rfc() {
        assert_eq!(super::base64_encode(b"a:b"), "YTpi");
        assert_eq!(super::base64_encode(b"ab"), "YWI=");
        assert_eq!(super::base64_encode(b"alice:s3cret"), "YWxpY2U6czNjcmV0");
    }
}

/// A TCP proxy in front of a registry that can stall a download part-way and then cut every
/// connection, so a test can kill the registry "mid-blob" deterministically.
#[derive(Debug)]
pub struct CutProxy {
    port: u16,
    state: std::sync::Arc<ProxyState>,
}

#[derive(Debug, Default)]
struct ProxyState {
    /// Stall any response stream once it has sent more than this many bytes.
    stall_after: Mutex<Option<u64>>,
    stalled: std::sync::atomic::AtomicBool,
    cut: std::sync::atomic::AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
}

impl CutProxy {
    /// Forwards a free loopback port to `target` (`127.0.0.1:<port>`).
    pub fn start(target: &str) -> CutProxy {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = std::sync::Arc::new(ProxyState::default());
        let st = state.clone();
        let target = target.to_owned();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(upstream) = TcpStream::connect(&target) else {
                    continue;
                };
                st.conns.lock().unwrap().push(client.try_clone().unwrap());
                st.conns.lock().unwrap().push(upstream.try_clone().unwrap());
                let (mut c_read, mut u_write) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_read, &mut u_write);
                    let _ = u_write.shutdown(std::net::Shutdown::Write);
                });
                let st = st.clone();
                let (mut u_read, mut c_write) = (upstream, client);
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut sent = 0u64;
                    loop {
                        let n = match u_read.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let limit = *st.stall_after.lock().unwrap();
                        if let Some(limit) = limit
                            && sent + n as u64 > limit
                        {
                            st.stalled.store(true, Ordering::SeqCst);
                            while !st.cut.load(Ordering::SeqCst) {
                                std::thread::sleep(std::time::Duration::from_millis(10));
                            }
                            break;
                        }
                        if c_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        sent += n as u64;
                    }
                    let _ = c_write.shutdown(std::net::Shutdown::Both);
                    let _ = u_read.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        CutProxy { port, state }
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// From now on, a response that passes `bytes` stalls until [`CutProxy::cut`].
    pub fn stall_after(&self, bytes: u64) {
        *self.state.stall_after.lock().unwrap() = Some(bytes);
        self.state
            .cut
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.state
            .stalled
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// True once some response stalled.
    pub fn stalled(&self) -> bool {
        self.state.stalled.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Closes every connection (stalled ones included) and stops stalling.
    pub fn cut(&self) {
        *self.state.stall_after.lock().unwrap() = None;
        self.state
            .cut
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.state.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}
