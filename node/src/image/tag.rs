//! `docker tag`.

use super::reference::Reference;
use super::{ImageError, ImageService};

impl ImageService {
    /// Points `repo[:tag]` at the image `source` names. A tag that was on
    /// another image moves; that image stays as `<none>` if it has no other
    /// name. Errors: NotFound for `source`, Invalid for a bad target.
    #[tracing::instrument(skip_all, fields(image.ref = %source))]
    pub async fn tag(&self, source: &str, repo: &str, tag: Option<&str>) -> Result<(), ImageError> {
        let target = target_reference(repo, tag)?;
        let found = self.find(source).await?;
        let _guard = self.inner.write_lock.lock().await;
        self.set_tag(&target, &found.entry.manifest).await?;
        self.event("tag", &found.entry.id, &target.familiar());
        Ok(())
    }
}

/// `repo` plus optional `tag` as one tagged reference, with Docker's
/// errors for digests and bad syntax.
pub(super) fn target_reference(repo: &str, tag: Option<&str>) -> Result<Reference, ImageError> {
    let tag = tag.filter(|t| !t.is_empty());
    let text = match tag {
        Some(t) => format!("{repo}:{t}"),
        None => repo.to_owned(),
    };
    let r = Reference::parse(&text)?;
    if r.digest.is_some() {
        return Err(ImageError::Invalid(
            "refusing to create a tag with a digest reference".to_owned(),
        ));
    }
    // `repo:a` with tag `b` parses as a bad tag above; a tag inside repo
    // and none given is fine.
    Ok(r.with_default_tag())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn builds_tag_targets() {
        assert_eq!(
            target_reference("busybox", Some("v1")).unwrap().to_string(),
            "docker.io/library/busybox:v1"
        );
        assert_eq!(
            target_reference("me/app:x", None).unwrap().familiar(),
            "me/app:x"
        );
        assert_eq!(
            target_reference("me/app", Some("")).unwrap().familiar(),
            "me/app:latest"
        );
        assert!(target_reference("Bad Name", None).is_err());
        assert!(target_reference("busybox", Some("bad tag")).is_err());
    }
}
