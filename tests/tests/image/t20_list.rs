//! docker images / image ls with filters, and image inspect.

use crate::load;
use shoal_tests::image::ImageSpec;
use shoal_tests::{shared, unique};

fn refs(d: &shoal_tests::Fixture, args: &[&str]) -> Vec<String> {
    let mut full = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
    full.extend_from_slice(args);
    d.docker(&full).lines()
}

#[test]
fn image_ls_filters() {
    let d = shared();
    let repo = unique("ls");
    let old = ImageSpec::variant(&format!("{repo}:old"), &format!("{repo}-old")).created_day(2);
    let mid = ImageSpec::variant(&format!("{repo}:mid"), &format!("{repo}-mid")).created_day(3);
    let new = ImageSpec::variant(&format!("{repo}:new"), &format!("{repo}-new")).created_day(4);
    for s in [&old, &mid, &new] {
        load(&d, s);
    }
    let reference = format!("reference={repo}");
    // Newest first.
    assert_eq!(
        refs(&d, &["--filter", &reference]),
        vec![
            format!("{repo}:new"),
            format!("{repo}:mid"),
            format!("{repo}:old")
        ]
    );
    assert_eq!(
        refs(&d, &[&format!("{repo}:mid")]),
        vec![format!("{repo}:mid")]
    );
    assert_eq!(
        refs(&d, &["--filter", &format!("reference={repo}:o*")]),
        vec![format!("{repo}:old")]
    );
    assert_eq!(
        refs(
            &d,
            &[
                "--filter",
                &reference,
                "--filter",
                &format!("before={repo}:mid")
            ]
        ),
        vec![format!("{repo}:old")]
    );
    assert_eq!(
        refs(
            &d,
            &[
                "--filter",
                &reference,
                "--filter",
                &format!("since={repo}:mid")
            ]
        ),
        vec![format!("{repo}:new")]
    );
    assert_eq!(
        refs(
            &d,
            &["--filter", &format!("label=shoal.test.marker={repo}-mid")]
        ),
        vec![format!("{repo}:mid")]
    );
    assert_eq!(
        refs(
            &d,
            &[
                "--filter",
                &reference,
                "--filter",
                "label=shoal.test.marker"
            ]
        )
        .len(),
        3
    );

    // Re-tagging :old onto another image leaves the first one dangling.
    let replaced =
        ImageSpec::variant(&format!("{repo}:old"), &format!("{repo}-replacement")).created_day(5);
    load(&d, &replaced);
    let dangling = d.ok(&["images", "-q", "--no-trunc", "--filter", "dangling=true"]);
    assert!(dangling.contains(&old.image_id()), "{dangling}");
    let not_dangling = d.ok(&["images", "-q", "--no-trunc", "--filter", "dangling=false"]);
    assert!(!not_dangling.contains(&old.image_id()));
    assert!(not_dangling.contains(&mid.image_id()));
    let all = d.ok(&[
        "images",
        "-a",
        "--format",
        "{{.ID}} {{.Repository}}:{{.Tag}}",
    ]);
    assert!(
        all.contains(&format!("{} <none>:<none>", &old.image_id()[7..19])),
        "{all}"
    );

    let r = d.http(
        "GET",
        "/images/json?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D",
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());

    d.ok(&[
        "rmi",
        &format!("{repo}:old"),
        &format!("{repo}:mid"),
        &format!("{repo}:new"),
        &old.image_id(),
    ]);
}

#[test]
fn image_inspect_fields() {
    let d = shared();
    let tag = format!("{}:insp", unique("iinsp"));
    let spec = ImageSpec::variant(&tag, "inspect-me");
    load(&d, &spec);
    let v = d.cli().inspect(&tag);
    assert_eq!(v["Id"], spec.image_id().as_str());
    assert_eq!(v["RepoTags"], serde_json::json!([tag]));
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Created"], "2024-01-01T00:00:00Z");
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(v["Config"]["Labels"]["shoal.test.marker"], "inspect-me");
    assert!(v["Config"]["Env"][0].as_str().unwrap().starts_with("PATH="));
    assert_eq!(v["RootFS"]["Type"], "layers");
    let layer = spec.layer_tar();
    assert_eq!(
        v["RootFS"]["Layers"],
        serde_json::json!([format!("sha256:{}", shoal_tests::image::sha256_hex(&layer))])
    );
    assert!(v["Size"].as_u64().unwrap() > 1_000_000, "{}", v["Size"]);
    // By short ID too.
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", &spec.image_id()[7..19]]),
        spec.image_id()
    );

    let r = d.http("GET", "/images/no-such-image-shoal:x/json", None);
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(
        r.message().contains("No such image: no-such-image-shoal:x"),
        "{}",
        r.message()
    );
    d.ok(&["rmi", &tag]);
}
