//! docker build (issue #9), the classic builder through the real CLI (`DOCKER_BUILDKIT=0`) and
//! docker-py: multi-stage with ARG/ENV/COPY --from/USER/WORKDIR, the step cache, .dockerignore,
//! a failing RUN, several tags, build args, builder prune.

use std::path::Path;
use std::process::Command;

use shoal_tests::docker::{Out, run_command};
use shoal_tests::{Daemon, Options, shared, unique};

/// Writes `files` (path, content) into a fresh context directory.
fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (p, data) in files {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    dir
}

/// `DOCKER_BUILDKIT=0 docker build <args> <ctx>`.
fn build(d: &Daemon, ctx: &Path, args: &[&str]) -> Out {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let ctx = ctx.to_str().unwrap();
    all.push(ctx);
    let mut cmd = d.cli().command(&all);
    cmd.env("DOCKER_BUILDKIT", "0");
    run_command(cmd, None, shoal_tests::secs(180))
}

/// Whether the RUN's own output (a line of its own, not the step text) is in `out`.
fn ran(out: &str) -> bool {
    out.lines().any(|l| l.trim() == "built-step-ran")
}

#[track_caller]
fn build_ok(d: &Daemon, ctx: &Path, args: &[&str]) -> String {
    let out = build(d, ctx, args);
    assert_eq!(
        out.code, 0,
        "docker build {args:?} failed:\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    out.stdout
}

const MULTI: &str = r#"# a multi-stage build
ARG BASE=busybox
FROM ${BASE} AS builder
ARG GREETING=hello
ENV OUT=/out \
    UNUSED=x
WORKDIR /src
COPY greet.txt ./
RUN mkdir -p $OUT && echo "$GREETING $(cat greet.txt)" > $OUT/msg && echo built-step-ran

FROM busybox
LABEL stage=final
COPY --from=builder /out/msg /app/msg
USER 1234
WORKDIR /app
EXPOSE 8080
CMD ["cat", "/app/msg"]
"#;

#[test]
fn multi_stage_build_runs_and_rebuilds_from_cache() {
    let d = shared();
    let ctx = context(&[("Dockerfile", MULTI), ("greet.txt", "world")]);
    let (a, b) = (
        format!("{}:1", unique("builda")),
        format!("{}:2", unique("buildb")),
    );
    let out = build_ok(
        &d,
        ctx.path(),
        &["-t", &a, "-t", &b, "--build-arg", "GREETING=hi"],
    );
    assert!(out.contains("Step 1/14 : ARG BASE=busybox"), "{out}");
    assert!(ran(&out), "RUN output streamed: {out}");
    assert!(out.contains(" ---> Running in "), "{out}");
    assert!(out.contains("Successfully built "), "{out}");
    assert!(out.contains(&format!("Successfully tagged {a}")), "{out}");
    assert!(out.contains(&format!("Successfully tagged {b}")), "{out}");
    assert_eq!(d.ok(&["run", "--rm", &a]), "hi world");
    assert_eq!(d.ok(&["run", "--rm", &a, "id", "-u"]), "1234");
    assert_eq!(d.ok(&["run", "--rm", &a, "pwd"]), "/app");
    let id = d.ok(&["image", "inspect", "-f", "{{.Id}}", &a]);
    assert_eq!(d.ok(&["image", "inspect", "-f", "{{.Id}}", &b]), id);
    assert_eq!(
        d.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Config.User}}|{{.Config.WorkingDir}}|{{json .Config.ExposedPorts}}|{{index .Config.Labels \"stage\"}}",
            &a
        ]),
        "1234|/app|{\"8080/tcp\":{}}|final"
    );
    // History: one row per step of the final stage, the metadata ones empty.
    let history = d.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Size}}",
        &a,
    ]);
    let top = history.lines().next().unwrap_or_default();
    assert!(
        top.contains("#(nop)  CMD [\"cat\",\"/app/msg\"]"),
        "{history}"
    );
    assert!(top.ends_with("|0B"), "{history}");
    assert!(history.contains("COPY file:"), "{history}");

    // Unchanged context: every step from the cache, the same image.
    let again = build_ok(&d, ctx.path(), &["-t", &a, "--build-arg", "GREETING=hi"]);
    assert!(again.contains(" ---> Using cache"), "{again}");
    assert!(!again.contains("Running in"), "nothing re-ran: {again}");
    assert!(!ran(&again), "{again}");
    assert_eq!(d.ok(&["image", "inspect", "-f", "{{.Id}}", &a]), id);

    // A different build arg re-runs the RUN (its key has the args).
    let other_arg = build_ok(&d, ctx.path(), &["--build-arg", "GREETING=hey"]);
    assert!(ran(&other_arg), "{other_arg}");

    // A changed file invalidates from its COPY on: the steps before stay cached.
    std::fs::write(ctx.path().join("greet.txt"), "there").unwrap();
    let changed = build_ok(&d, ctx.path(), &["-t", &a, "--build-arg", "GREETING=hi"]);
    let before_copy = changed.split("COPY greet.txt").next().unwrap_or_default();
    assert!(
        before_copy.contains("Using cache"),
        "WORKDIR was cached: {changed}"
    );
    let after_copy = changed.split("COPY greet.txt").nth(1).unwrap_or_default();
    assert!(ran(after_copy), "{changed}");
    assert_eq!(d.ok(&["run", "--rm", &a]), "hi there");
    assert_ne!(d.ok(&["image", "inspect", "-f", "{{.Id}}", &a]), id);

    // --no-cache runs everything again.
    let fresh = build_ok(
        &d,
        ctx.path(),
        &["--no-cache", "--build-arg", "GREETING=hi"],
    );
    assert!(!fresh.contains("Using cache"), "{fresh}");

    // The step images are hidden from `docker images` but listed with -a.
    let listed = d.ok(&["images", "-q"]).lines().count();
    let all = d.ok(&["images", "-a", "-q"]).lines().count();
    assert!(
        all > listed,
        "intermediate images only with -a ({listed} vs {all})"
    );
    d.ok(&["rmi", &a, &b]);
}

#[test]
fn dockerignore_is_honoured() {
    let d = shared();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nCOPY . /ctx/\nRUN ls -a /ctx | sort | tr '\\n' ' '\n",
        ),
        (".dockerignore", "*.secret\n!keep.secret\nlogs/\n"),
        ("a.secret", "no"),
        ("keep.secret", "yes"),
        ("logs/x.log", "no"),
        ("src/main.txt", "yes"),
    ]);
    let tag = format!("{}:1", unique("ignore"));
    build_ok(&d, ctx.path(), &["-t", &tag]);
    let ls = d.ok(&[
        "run",
        "--rm",
        &tag,
        "sh",
        "-c",
        "cd /ctx && find . -type f | sort",
    ]);
    let files: Vec<&str> = ls.lines().collect();
    assert!(files.contains(&"./keep.secret"), "{ls}");
    assert!(files.contains(&"./src/main.txt"), "{ls}");
    assert!(!files.contains(&"./a.secret"), "{ls}");
    assert!(!ls.contains("logs"), "{ls}");
    d.ok(&["rmi", &tag]);
}

#[test]
fn failing_run_fails_the_build_with_its_output_and_code() {
    let d = shared();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo before-failing && exit 7\nCMD [\"true\"]\n",
    )]);
    let tag = format!("{}:1", unique("failing"));
    let out = build(&d, ctx.path(), &["-t", &tag]);
    assert_eq!(out.code, 7, "the CLI exits with the RUN's code: {out:?}");
    assert!(out.stdout.contains("before-failing"), "{out:?}");
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains(
            "The command '/bin/sh -c echo before-failing && exit 7' returned a non-zero code: 7"
        ),
        "{all}"
    );
    let inspect = d.cli().run(&["image", "inspect", &tag]);
    assert_ne!(
        inspect.code, 0,
        "no tagged image after a failed build: {inspect:?}"
    );
    // A bad Dockerfile is refused before anything runs, with Docker's text.
    let bad = context(&[("Dockerfile", "FROM busybox\nFROBNICATE x\n")]);
    let out = build(&d, bad.path(), &[]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("dockerfile parse error on line 2: unknown instruction: FROBNICATE"),
        "{out:?}"
    );
}

#[test]
fn scratch_targets_shell_env_and_onbuild() {
    let d = shared();
    let base_tag = format!("{}:1", unique("onbuildbase"));
    let base = context(&[(
        "Dockerfile",
        "FROM busybox\nONBUILD RUN echo triggered > /onbuild\nSHELL [\"/bin/sh\", \"-ec\"]\nRUN echo shell-ok\n",
    )]);
    let out = build_ok(&d, base.path(), &["-t", &base_tag]);
    assert!(out.contains("shell-ok"), "{out}");
    let child_tag = format!("{}:1", unique("onbuildchild"));
    let child = context(&[
        (
            "Dockerfile",
            &format!(
                "FROM scratch AS files\nCOPY data.txt /data.txt\nFROM {base_tag} AS app\nENV A=1 B=\"two words\"\nCOPY --from=files /data.txt /data.txt\nRUN test \"$B\" = \"two words\"\nFROM busybox AS unused\nRUN exit 1\n"
            ),
        ),
        ("data.txt", "from-scratch-stage"),
    ]);
    let out = build_ok(&d, child.path(), &["-t", &child_tag, "--target", "app"]);
    assert!(out.contains("# Executing 1 build trigger"), "{out}");
    assert!(
        !out.contains("exit 1"),
        "--target stops before later stages: {out}"
    );
    assert_eq!(
        d.ok(&["run", "--rm", &child_tag, "cat", "/onbuild"]),
        "triggered"
    );
    assert_eq!(
        d.ok(&["run", "--rm", &child_tag, "cat", "/data.txt"]),
        "from-scratch-stage"
    );
    assert_eq!(
        d.ok(&[
            "image",
            "inspect",
            "-f",
            "{{json .Config.OnBuild}}",
            &child_tag
        ]),
        "null"
    );
    d.ok(&["rmi", &child_tag, &base_tag]);
}

#[test]
fn docker_py_builds_from_a_custom_context() {
    let d = shared();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/py/build.py");
    let out = Command::new("python3")
        .args([script, &format!("{}:py", unique("pybuild"))])
        .env("DOCKER_HOST", d.cli().host())
        .env("DOCKER_CONFIG", d.cli().config_dir())
        .output()
        .expect("run python3 (docker-py 7 must be installed: pip install docker)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("ok build"),
        "docker-py build failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[test]
fn builder_prune_removes_the_step_images() {
    // Own daemon: prune touches every build's cache.
    let d = Daemon::start(Options::default());
    d.load_busybox();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo one > /one\nENV X=1\nRUN echo two\n",
    )]);
    let tag = format!("{}:1", unique("prune"));
    build_ok(&d, ctx.path(), &["-t", &tag]);
    let out = d.ok(&["builder", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert!(out.contains("Deleted build cache objects"), "{out}");
    // The tagged result stays; its steps run again.
    assert_eq!(d.ok(&["run", "--rm", &tag, "cat", "/one"]), "one");
    let again = build_ok(&d, ctx.path(), &["-t", &tag]);
    assert!(again.contains("Running in"), "{again}");
}
