//! Platforms: `--platform` text, and picking an index entry for one.

use super::ImageError;
use super::oci;
use crate::runtime::Descriptor;

/// `linux/arm64/v8` -> Platform.
pub(super) fn parse_platform(s: &str) -> Result<oci::Platform, ImageError> {
    let parts: Vec<&str> = s.split('/').collect();
    let bad = || {
        ImageError::Invalid(format!(
            "\"{s}\": unknown operating system or architecture: invalid argument"
        ))
    };
    let (os, arch, variant) = match parts.as_slice() {
        [os] => (*os, super::store::host_arch(), None),
        [os, arch] => (*os, *arch, None),
        [os, arch, v] => (*os, *arch, Some((*v).to_owned())),
        _ => return Err(bad()),
    };
    if os.is_empty() || arch.is_empty() {
        return Err(bad());
    }
    let arch = match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    Ok(oci::Platform {
        os: os.to_ascii_lowercase(),
        architecture: arch.to_owned(),
        variant,
    })
}

pub(super) fn platform_text(p: &oci::Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// The index entry for `want`; without a requested variant, the first
/// entry of that os/arch (arm64 images usually carry `v8`).
pub(super) fn select(index: &oci::Index, want: &oci::Platform) -> Option<Descriptor> {
    index
        .manifests
        .iter()
        .filter(|m| oci::is_manifest(&m.descriptor.media_type))
        .find(|m| match &m.platform {
            None => false,
            Some(p) => {
                p.os == want.os
                    && p.architecture == want.architecture
                    && (want.variant.is_none() || p.variant == want.variant)
            }
        })
        .map(|m| m.descriptor.clone())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_select() {
        let p = parse_platform("linux/arm64/v8").unwrap();
        assert_eq!(platform_text(&p), "linux/arm64/v8");
        assert!(parse_platform("a/b/c/d").is_err());
        let idx: oci::Index = serde_json::from_str(
            r#"{"schemaVersion":2,"manifests":[
              {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:a","size":1,"platform":{"os":"linux","architecture":"amd64"}},
              {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:b","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            select(&idx, &parse_platform("linux/arm64").unwrap())
                .unwrap()
                .digest,
            "sha256:b"
        );
        assert_eq!(
            select(&idx, &parse_platform("linux/amd64").unwrap())
                .unwrap()
                .digest,
            "sha256:a"
        );
        assert!(select(&idx, &parse_platform("linux/s390x").unwrap()).is_none());
    }
}
