//! `docker ps`: all, limit, size, quiet and every filter of issue #2.

use shoal_tests::image::ImageSpec;
use shoal_tests::{shared, unique};

/// Names listed by `docker ps <args>` (format `{{.Names}}`), in output order.
fn names(d: &shoal_tests::Fixture, args: &[&str]) -> Vec<String> {
    let mut full = vec!["ps", "--format", "{{.Names}}"];
    full.extend_from_slice(args);
    d.docker(&full).lines()
}

#[test]
fn ps_all_limit_size_and_filters() {
    let d = shared();
    let label = unique("ps");
    let lf = format!("label=t={label}");
    let tag = format!("{}:v1", unique("ancestor"));
    let out = d.cli().run_stdin(
        &["load"],
        &ImageSpec::variant(&tag, &label).docker_archive(),
    );
    assert!(out.ok().contains(&tag), "{out:?}");

    let a = format!("{label}-a");
    let b = format!("{label}-b");
    let c = format!("{label}-c");
    let e = format!("{label}-e");
    let lab = format!("t={label}");
    d.ok(&[
        "run", "-d", "--name", &a, "-l", &lab, "-l", "role=a", "busybox", "sleep", "1000",
    ]);
    let out = d.docker(&[
        "run", "--name", &b, "-l", &lab, "busybox", "sh", "-c", "exit 2",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    d.ok(&["create", "--name", &c, "-l", &lab, "busybox", "true"]);
    d.ok(&["run", "-d", "--name", &e, "-l", &lab, &tag, "sleep", "1000"]);

    // Default: running only, newest first.
    assert_eq!(names(&d, &["--filter", &lf]), vec![e.clone(), a.clone()]);
    assert_eq!(
        names(&d, &["-a", "--filter", &lf]),
        vec![e.clone(), c.clone(), b.clone(), a.clone()]
    );
    assert_eq!(
        names(&d, &["-a", "-n", "1", "--filter", &lf]),
        vec![e.clone()]
    );
    assert_eq!(
        names(&d, &["-a", "--last", "2", "--filter", &lf]),
        vec![e.clone(), c.clone()]
    );

    // Filters.
    let st = |s: &str| {
        names(
            &d,
            &["-a", "--filter", &lf, "--filter", &format!("status={s}")],
        )
    };
    assert_eq!(st("exited"), vec![b.clone()]);
    assert_eq!(st("created"), vec![c.clone()]);
    assert_eq!(st("running"), vec![e.clone(), a.clone()]);
    assert_eq!(
        names(&d, &["-a", "--filter", &lf, "--filter", "exited=2"]),
        vec![b.clone()]
    );
    assert!(names(&d, &["-a", "--filter", &lf, "--filter", "exited=3"]).is_empty());
    assert_eq!(
        names(&d, &["-a", "--filter", &lf, "--filter", "label=role=a"]),
        vec![a.clone()]
    );
    assert_eq!(
        names(&d, &["-a", "--filter", &lf, "--filter", "label=role"]),
        vec![a.clone()]
    );
    assert_eq!(
        names(&d, &["-a", "--filter", &format!("name={c}")]),
        vec![c.clone()]
    );
    // name matches substrings
    assert_eq!(
        names(
            &d,
            &[
                "-a",
                "--filter",
                &lf,
                "--filter",
                &format!("name={label}-b")
            ]
        ),
        vec![b.clone()]
    );

    let id_a = d.cli().fmt(&a, "{{.Id}}");
    assert_eq!(
        names(&d, &["-a", "--filter", &format!("id={}", &id_a[..10])]),
        vec![a.clone()]
    );
    assert_eq!(
        names(
            &d,
            &[
                "-a",
                "--filter",
                &lf,
                "--filter",
                &format!("ancestor={tag}")
            ]
        ),
        vec![e.clone()]
    );
    assert_eq!(
        names(&d, &["-a", "--filter", &lf, "--filter", "ancestor=busybox"]),
        vec![c.clone(), b.clone(), a.clone()]
    );
    assert_eq!(
        names(
            &d,
            &["-a", "--filter", &lf, "--filter", &format!("before={c}")]
        ),
        vec![b.clone(), a.clone()]
    );
    assert_eq!(
        names(
            &d,
            &["-a", "--filter", &lf, "--filter", &format!("since={b}")]
        ),
        vec![e.clone(), c.clone()]
    );

    // Quiet prints short ids; --no-trunc prints full ones.
    let q = d
        .docker(&["ps", "-q", "--filter", &format!("name={a}")])
        .lines();
    assert_eq!(q, vec![id_a[..12].to_string()]);
    let q = d
        .docker(&["ps", "-q", "--no-trunc", "--filter", &format!("name={a}")])
        .lines();
    assert_eq!(q, vec![id_a.clone()]);

    // Size.
    let sz = d.ok(&[
        "ps",
        "-s",
        "--filter",
        &format!("name={a}"),
        "--format",
        "{{.Size}}",
    ]);
    assert!(sz.contains("virtual"), "size column: {sz:?}");

    // A malformed filter is a bad parameter. dockerd 20.10 answers 500 for unparsable JSON
    // (newer moby: 400); Shoal must say 400.
    let r = d.http("GET", "/containers/json?filters=notjson", None);
    if d.engine().is_shoal() {
        assert_eq!(r.status, 400, "{}", r.text());
    } else {
        assert!(r.status >= 400, "{}", r.text());
    }
    let r = d.http(
        "GET",
        "/containers/json?filters=%7B%22nope%22%3A%7B%22x%22%3Atrue%7D%7D",
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.message().contains("nope"), "{}", r.message());

    d.ok(&["rm", "-f", &a, &b, &c, &e]);
    d.ok(&["rmi", &tag]);
}
