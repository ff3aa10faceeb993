//! Image fetch for callers that run containers without the CLI's
//! create-404-pull dance: the swarm agent, for a task whose image is not on
//! its node.

use super::{Engine, EngineError, EngineResult};
use crate::image::{ImageError, Progress, PullRequest, Reference};
use crate::registry::Credentials;

impl Engine {
    /// Makes sure `image` (a service's image text, e.g.
    /// `registry:5000/app:1` or `app@sha256:...`) is present, pulling it
    /// when it is not (or always, with `always`), and returns its image ID.
    ///
    /// `registry_auth` is the service's registry auth in `X-Registry-Auth`
    /// form (base64url JSON: `username`, `password`, `serveraddress`, ...),
    /// as `docker service create --with-registry-auth` sends it; None pulls
    /// anonymously. `platform` is `os/arch[/variant]` (None: this host).
    /// Errors: `EngineError::Image(ImageError::Absent)` (404) when the
    /// registry has no such image or refuses access, `Invalid` for a bad
    /// reference or auth header, `Image(Registry)` when the registry cannot
    /// be reached. A failed pull leaves nothing behind and can be retried.
    #[tracing::instrument(skip_all, fields(image.ref = %image))]
    pub async fn ensure_image(
        &self,
        image: &str,
        registry_auth: Option<&str>,
        platform: Option<&str>,
        always: bool,
    ) -> EngineResult<String> {
        if !always {
            match self.images().get(image).await {
                Ok(entry) => return Ok(entry.id),
                Err(ImageError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let reference = Reference::parse(image).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let credentials = match registry_auth.filter(|a| !a.is_empty()) {
            Some(h) => {
                Credentials::from_header(h).map_err(|e| EngineError::Invalid(e.to_string()))?
            }
            None => None,
        };
        let outcome = self
            .images()
            .pull(
                PullRequest {
                    reference,
                    platform: platform.map(str::to_owned),
                    credentials,
                },
                &Progress::none(),
            )
            .await?;
        Ok(outcome.id)
    }
}
