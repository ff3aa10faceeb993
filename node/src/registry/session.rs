//! One repository on one registry: the Distribution API calls of pull and
//! push, authorised once per session (and again if a token expires).

use bytes::Bytes;
use futures::StreamExt;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

use super::auth::{Challenge, Credentials, TokenResponse, parse_challenge};
use super::tls::HostClient;
use super::{RegistryError, RegistryResult};

/// Manifests larger than this are refused (dockerd's limit is 4 MiB).
const MAX_MANIFEST: usize = 8 << 20;

/// The manifest media types Shoal accepts, best first.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// What a session is authorised to do on its repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read.
    Pull,
    /// Write.
    Push,
}

/// A manifest (or index) as the registry sent it.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The exact bytes: their digest is the image's repo digest.
    pub raw: Bytes,
    /// `Content-Type` (or the document's own `mediaType`).
    pub media_type: String,
    /// `sha256:` of `raw`.
    pub digest: String,
}

/// An upload body (a stream of blob bytes).
pub type BlobBody = reqwest::Body;

/// An authorised session on one repository.
#[derive(Debug)]
pub struct Session {
    client: HostClient,
    repo: String,
    creds: Option<Credentials>,
    scopes: Vec<String>,
    challenge: Option<Challenge>,
    authz: RwLock<Option<String>>,
}

/// `Get "url": cause`, as Go's net/http words transport errors.
fn transport(method: &Method, url: &str, e: &reqwest::Error) -> RegistryError {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    let verb = method.as_str();
    let verb = format!("{}{}", &verb[..1], verb[1..].to_ascii_lowercase());
    RegistryError::Transport(format!("{verb} \"{url}\": {msg}"))
}

/// The registry's error text from a failed response: `code: message` per
/// error as Docker prints them, or the status line when the body has none.
async fn error_text(resp: reqwest::Response) -> String {
    let status = resp.status();
    #[derive(serde::Deserialize)]
    struct Errs {
        #[serde(default)]
        errors: Vec<Err1>,
    }
    #[derive(serde::Deserialize)]
    struct Err1 {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let body = resp.bytes().await.unwrap_or_default();
    if let Ok(e) = serde_json::from_slice::<Errs>(&body)
        && !e.errors.is_empty()
    {
        return e
            .errors
            .iter()
            .map(|e| {
                let code = e.code.to_ascii_lowercase().replace('_', " ");
                if e.message.is_empty() {
                    code
                } else {
                    format!("{code}: {}", e.message)
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
    }
    format!("unexpected status: {status}")
}

/// Classifies a failed response.
async fn failure(resp: reqwest::Response) -> RegistryError {
    let status = resp.status();
    let text = error_text(resp).await;
    match status {
        // HEAD answers carry no body; say what Docker says.
        StatusCode::UNAUTHORIZED if text.starts_with("unexpected status") => {
            RegistryError::Unauthorized("unauthorized: authentication required".to_owned())
        }
        StatusCode::NOT_FOUND => RegistryError::NotFound(text),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::Unauthorized(text),
        _ => RegistryError::Refused(text),
    }
}

/// `sha256:<hex>` of `data`.
fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

impl Session {
    /// Pings `/v2/` and authorises for `actions` on `repo` (plus pull on
    /// `extra_pull_repos`, for cross-repository mounts).
    pub(super) async fn open(
        client: HostClient,
        _host: &str,
        repo: &str,
        creds: Option<&Credentials>,
        actions: &[Action],
        extra_pull_repos: &[String],
    ) -> RegistryResult<Session> {
        let verbs: Vec<&str> = actions
            .iter()
            .map(|a| match a {
                Action::Pull => "pull",
                Action::Push => "push",
            })
            .collect();
        let mut scopes = vec![format!("repository:{repo}:{}", verbs.join(","))];
        scopes.extend(
            extra_pull_repos
                .iter()
                .filter(|r| r.as_str() != repo)
                .map(|r| format!("repository:{r}:pull")),
        );
        let url = format!("{}/v2/", client.base);
        let resp = client
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| transport(&Method::GET, &url, &e))?;
        let challenge = match resp.status() {
            StatusCode::UNAUTHORIZED => resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_challenge),
            s if s.is_success() => None,
            s => {
                return Err(RegistryError::Transport(format!(
                    "Get \"{url}\": unexpected status {s} (is this a registry?)"
                )));
            }
        };
        let s = Session {
            client,
            repo: repo.to_owned(),
            creds: creds.cloned(),
            scopes,
            challenge,
            authz: RwLock::new(None),
        };
        s.authorize().await?;
        Ok(s)
    }

    /// Computes the `Authorization` value for this session's challenge.
    async fn authorize(&self) -> RegistryResult<()> {
        let value = match (&self.challenge, &self.creds) {
            (None, _) => None,
            (Some(Challenge::Basic), Some(c)) => Some(c.basic_header()),
            (Some(Challenge::Basic), None) => None,
            (Some(Challenge::Bearer { .. }), Some(c)) if !c.registry_token.is_empty() => {
                Some(format!("Bearer {}", c.registry_token))
            }
            (Some(Challenge::Bearer { realm, service }), creds) => {
                let t = fetch_token(
                    &self.client,
                    realm,
                    service.as_deref(),
                    &self.scopes,
                    creds.as_ref(),
                )
                .await?;
                Some(format!("Bearer {}", t.bearer().unwrap_or_default()))
            }
        };
        *self.authz.write().await = value;
        Ok(())
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.client.base, self.repo)
    }

    /// Sends a request with the session's authorisation. A bodiless request
    /// answered 401 re-authorises once (an expired token) and is resent.
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(reqwest::header::HeaderName, String)],
        body: Option<BlobBody>,
    ) -> RegistryResult<reqwest::Response> {
        let retriable = body.is_none();
        let mut body = body;
        for attempt in 0..2 {
            let mut req = self.client.http.request(method.clone(), url);
            if let Some(a) = self.authz.read().await.as_ref() {
                req = req.header(AUTHORIZATION, a);
            }
            for (k, v) in headers {
                req = req.header(k, v);
            }
            if let Some(b) = body.take() {
                req = req.body(b);
            }
            let resp = req.send().await.map_err(|e| transport(&method, url, &e))?;
            if resp.status() == StatusCode::UNAUTHORIZED
                && retriable
                && attempt == 0
                && matches!(self.challenge, Some(Challenge::Bearer { .. }))
            {
                self.authorize().await?;
                continue;
            }
            return Ok(resp);
        }
        Err(RegistryError::Unauthorized(
            "unauthorized: authentication required".to_owned(),
        ))
    }

    /// Fetches the manifest or index `reference` (a tag or a digest); a
    /// digest reference is checked against the bytes.
    pub async fn manifest(&self, reference: &str) -> RegistryResult<Manifest> {
        let url = self.url(&format!("manifests/{reference}"));
        let resp = self
            .send(
                Method::GET,
                &url,
                &[(ACCEPT, MANIFEST_ACCEPT.to_owned())],
                None,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(failure(resp).await);
        }
        let header_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
        let raw = read_limited(resp, MAX_MANIFEST, &url).await?;
        let digest = digest_of(&raw);
        if reference.starts_with("sha256:") && reference != digest {
            return Err(RegistryError::Integrity(format!(
                "manifest verification failed for digest {reference}: the registry sent {digest}"
            )));
        }
        #[derive(serde::Deserialize)]
        struct Peek {
            #[serde(default, rename = "mediaType")]
            media_type: Option<String>,
            #[serde(default)]
            manifests: Option<serde_json::Value>,
        }
        let peek: Peek = serde_json::from_slice(&raw)
            .map_err(|e| RegistryError::Refused(format!("invalid manifest {reference}: {e}")))?;
        let media_type = peek
            .media_type
            .or(header_type.filter(|t| t != "application/json" && !t.is_empty()))
            .unwrap_or_else(|| {
                if peek.manifests.is_some() {
                    "application/vnd.oci.image.index.v1+json".to_owned()
                } else {
                    "application/vnd.oci.image.manifest.v1+json".to_owned()
                }
            });
        Ok(Manifest {
            raw,
            media_type,
            digest,
        })
    }

    /// A small blob (an image config), read whole and verified.
    pub async fn blob_bytes(&self, digest: &str, size: i64, limit: usize) -> RegistryResult<Bytes> {
        let resp = self.blob(digest).await?;
        let url = self.url(&format!("blobs/{digest}"));
        let raw = read_limited(resp, limit, &url).await?;
        let got = digest_of(&raw);
        if got != digest || raw.len() as i64 != size {
            return Err(RegistryError::Integrity(format!(
                "blob verification failed for digest {digest}: got {got} ({} bytes, expected {size})",
                raw.len()
            )));
        }
        Ok(raw)
    }

    /// Starts fetching a blob; the response body streams it.
    pub async fn blob(&self, digest: &str) -> RegistryResult<reqwest::Response> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self.send(Method::GET, &url, &[], None).await?;
        if !resp.status().is_success() {
            return Err(failure(resp).await);
        }
        Ok(resp)
    }

    /// True when the repository already has blob `digest`.
    pub async fn blob_exists(&self, digest: &str) -> RegistryResult<bool> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self.send(Method::HEAD, &url, &[], None).await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(failure(resp).await),
        }
    }

    /// Asks the registry to mount `digest` from repository `from`; true
    /// when it did (201). A registry that declines starts an upload
    /// instead, which is cancelled here: the caller uploads.
    pub async fn mount(&self, digest: &str, from: &str) -> RegistryResult<bool> {
        let url = format!(
            "{}/v2/{}/blobs/uploads/?mount={digest}&from={from}",
            self.client.base, self.repo
        );
        let resp = self
            .send(
                Method::POST,
                &url,
                &[(CONTENT_LENGTH, "0".to_owned())],
                None,
            )
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                if let Some(loc) = self.location(&resp) {
                    let _ = self.send(Method::DELETE, &loc, &[], None).await;
                }
                Ok(false)
            }
            _ => Err(failure(resp).await),
        }
    }

    fn location(&self, resp: &reqwest::Response) -> Option<String> {
        let loc = resp.headers().get(LOCATION)?.to_str().ok()?;
        Some(
            if loc.starts_with("http://") || loc.starts_with("https://") {
                loc.to_owned()
            } else {
                format!("{}{loc}", self.client.base)
            },
        )
    }

    /// Uploads blob `digest` of `size` bytes in one PUT.
    pub async fn upload(&self, digest: &str, size: i64, body: BlobBody) -> RegistryResult<()> {
        let url = format!("{}/v2/{}/blobs/uploads/", self.client.base, self.repo);
        let resp = self
            .send(
                Method::POST,
                &url,
                &[(CONTENT_LENGTH, "0".to_owned())],
                None,
            )
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(failure(resp).await);
        }
        let loc = self.location(&resp).ok_or_else(|| {
            RegistryError::Refused("registry started an upload without a Location".to_owned())
        })?;
        let sep = if loc.contains('?') { '&' } else { '?' };
        let put = format!("{loc}{sep}digest={digest}");
        let resp = self
            .send(
                Method::PUT,
                &put,
                &[
                    (CONTENT_TYPE, "application/octet-stream".to_owned()),
                    (CONTENT_LENGTH, size.to_string()),
                ],
                Some(body),
            )
            .await?;
        if !resp.status().is_success() {
            return Err(failure(resp).await);
        }
        Ok(())
    }

    /// Puts a manifest under `reference` (a tag); returns its digest.
    pub async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        raw: Bytes,
    ) -> RegistryResult<String> {
        let url = self.url(&format!("manifests/{reference}"));
        let digest = digest_of(&raw);
        let resp = self
            .send(
                Method::PUT,
                &url,
                &[(CONTENT_TYPE, media_type.to_owned())],
                Some(BlobBody::from(raw)),
            )
            .await?;
        if !resp.status().is_success() {
            return Err(failure(resp).await);
        }
        Ok(digest)
    }
}

async fn read_limited(resp: reqwest::Response, limit: usize, url: &str) -> RegistryResult<Bytes> {
    let mut out = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| transport(&Method::GET, url, &e))?;
        out.extend_from_slice(&chunk);
        if out.len() > limit {
            return Err(RegistryError::Refused(format!(
                "{url}: response larger than {limit} bytes"
            )));
        }
    }
    Ok(Bytes::from(out))
}

async fn fetch_token(
    client: &HostClient,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    creds: Option<&Credentials>,
) -> RegistryResult<TokenResponse> {
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = service {
        query.push(("service", s));
    }
    for s in scopes {
        query.push(("scope", s));
    }
    let mut req = client.http.get(realm).query(&query);
    if let Some(c) = creds
        && !c.username.is_empty()
    {
        req = req.basic_auth(&c.username, Some(&c.password));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| transport(&Method::GET, realm, &e))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let text = error_text(resp).await;
        return Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::Unauthorized(text),
            _ => RegistryError::Transport(format!("token from {realm}: {text}")),
        });
    }
    let raw = read_limited(resp, 1 << 20, realm).await?;
    let t: TokenResponse = serde_json::from_slice(&raw)
        .map_err(|e| RegistryError::Transport(format!("token from {realm}: {e}")))?;
    if t.bearer().is_none() {
        return Err(RegistryError::Transport(format!(
            "token from {realm}: the answer holds no token"
        )));
    }
    Ok(t)
}

/// `docker login` against `client`'s registry.
pub(super) async fn login(
    client: HostClient,
    creds: &Credentials,
) -> RegistryResult<Option<String>> {
    let url = format!("{}/v2/", client.base);
    let resp = client
        .http
        .get(&url)
        .send()
        .await
        .map_err(|e| transport(&Method::GET, &url, &e))?;
    if resp.status().is_success() {
        return Ok(None);
    }
    let challenge = resp
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_challenge);
    match challenge {
        Some(Challenge::Basic) => {
            let resp = client
                .http
                .get(&url)
                .header(AUTHORIZATION, creds.basic_header())
                .send()
                .await
                .map_err(|e| transport(&Method::GET, &url, &e))?;
            if resp.status().is_success() {
                Ok(None)
            } else {
                // dockerd's wording for a refused basic login.
                let status = resp.status();
                Err(RegistryError::Unauthorized(format!(
                    "login attempt to {url} failed with status: {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                )))
            }
        }
        Some(Challenge::Bearer { realm, service }) => {
            let t = fetch_token(&client, &realm, service.as_deref(), &[], Some(creds)).await?;
            Ok(Some(t.refresh_token).filter(|t| !t.is_empty()))
        }
        None => Err(RegistryError::Transport(format!(
            "Get \"{url}\": unexpected status {} without an authentication challenge",
            resp.status()
        ))),
    }
}
