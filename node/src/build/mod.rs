//! `docker build` with the classic builder's behaviour (what
//! `DOCKER_BUILDKIT=0 docker build` and a CLI without buildx use).
//!
//! ```text
//! POST /build ─> backends::build ─> BuildService::build
//!   context.rs   body tar -> private dir, Dockerfile, .dockerignore
//!   dockerfile/  parse (pure): directives, continuations, forms, words
//!   steps.rs     one step per instruction; metadata ones commit a config
//!   run.rs       RUN: a container on the node's engine, then its diff
//!   copy.rs      COPY/ADD: sources hashed (cache key), written into a
//!                container's rootfs, then its diff
//!   state.rs     a stage's image, config, ARGs, ENV lookup
//!   output.rs    the JSON message stream
//! ```
//!
//! Every step makes an image whose `parent` is the step's starting image
//! and whose `container_config.Cmd` is the step's key (its history text,
//! with a content hash for COPY/ADD and the build args for RUN); a later
//! build with the same parent and key reuses it (` ---> Using cache`), as
//! the classic builder's cache does. Those images are untagged and hidden
//! from `docker images` while they have children; `docker builder prune`
//! removes them.

pub mod context;
pub mod dockerfile;
pub mod ignore;
pub mod output;
pub mod state;

mod copy;
mod run;
mod steps;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use futures::StreamExt;
use serde_json::Value;
use shoal_api::routers::build::BuildOptions;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::engine::{Engine, EngineError};
use crate::image::{CacheEntry, ImageError};
use dockerfile::{Dockerfile, Instruction};
use output::Output;
use state::Stage;

/// Why a build failed. Errors found before the stream starts become HTTP
/// errors; later ones the stream's `errorDetail`.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The request, context or Dockerfile is wrong (400).
    #[error("{0}")]
    Invalid(String),
    /// A RUN exited non-zero (its code goes to the CLI's exit status).
    #[error("The command '{command}' returned a non-zero code: {code}")]
    Run {
        /// The command as dockerd prints it.
        command: String,
        /// Exit code.
        code: i64,
    },
    /// The engine failed (keeps its classes).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The image store failed (keeps its classes).
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Local I/O.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

impl From<context::ContextError> for BuildError {
    fn from(e: context::ContextError) -> Self {
        match e {
            context::ContextError::Io(source) => BuildError::Io {
                context: "build context".into(),
                source,
            },
            other => BuildError::Invalid(other.to_string()),
        }
    }
}

fn io(context: &str) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        context: context.to_owned(),
        source,
    }
}

/// Builds images on the node's engine. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BuildService {
    engine: Engine,
    tmp: PathBuf,
}

/// A finished stage, for `FROM <stage>` and `COPY --from=<stage>`.
#[derive(Debug, Clone)]
struct Done {
    name: Option<String>,
    image: Option<String>,
    config: serde_json::Map<String, Value>,
}

/// The state of one build.
struct Builder {
    engine: Engine,
    opts: BuildOptions,
    out: Output,
    context: context::Context,
    escape: char,
    cache: Vec<CacheEntry>,
    done: Vec<Done>,
    /// ARGs declared before the first FROM, with their values.
    meta_args: Vec<(String, Option<String>)>,
    /// `--build-arg`s given with a value.
    given: HashMap<String, String>,
    /// Build args some ARG consumed.
    used: HashSet<String>,
    step: usize,
    total: usize,
    tmp: PathBuf,
}

impl BuildService {
    /// A build service over `engine`; contexts are unpacked under
    /// `data_root/tmp`.
    pub fn new(engine: Engine, data_root: PathBuf) -> Self {
        BuildService {
            engine,
            tmp: data_root.join("tmp"),
        }
    }

    /// Reads the context, parses the Dockerfile and starts the build,
    /// returning its message stream. Errors: Invalid for a bad option,
    /// context or Dockerfile (before anything streamed).
    #[tracing::instrument(skip_all, fields(image.ref = opts.tags.first().map(String::as_str).unwrap_or("")))]
    pub async fn build(
        &self,
        opts: BuildOptions,
        mut body: shoal_api::stream::ByteStream,
    ) -> Result<futures::stream::BoxStream<'static, Value>, BuildError> {
        if let Some(p) = &opts.platform {
            let host = format!(
                "linux/{}",
                std::env::consts::ARCH
                    .replace("x86_64", "amd64")
                    .replace("aarch64", "arm64")
            );
            if p != &host && p != "linux" {
                return Err(BuildError::Invalid(format!(
                    "Shoal builds for {host} only; platform {p} is not supported"
                )));
            }
        }
        for t in &opts.tags {
            crate::image::Reference::parse(t)
                .map_err(|e| BuildError::Invalid(format!("invalid reference format: {t}: {e}")))?;
        }
        tokio::fs::create_dir_all(&self.tmp)
            .await
            .map_err(io("creating the build directory"))?;
        let archive = tempfile::Builder::new()
            .prefix("build-context-")
            .tempfile_in(&self.tmp)
            .map_err(io("creating the context file"))?;
        {
            let mut f = tokio::fs::File::create(archive.path())
                .await
                .map_err(io("writing the context"))?;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(io("reading the context"))?;
                f.write_all(&chunk)
                    .await
                    .map_err(io("writing the context"))?;
            }
            f.flush().await.map_err(io("writing the context"))?;
        }
        let (path, tmp, df) = (
            archive.path().to_owned(),
            self.tmp.clone(),
            opts.dockerfile.clone(),
        );
        let ctx = tokio::task::spawn_blocking(move || context::unpack(&path, &tmp, &df))
            .await
            .map_err(|e| BuildError::Invalid(format!("build context: {e}")))??;
        drop(archive);
        let parsed = dockerfile::parse(&ctx.dockerfile).map_err(|e| match e {
            dockerfile::ParseError::Empty => BuildError::Invalid(format!(
                "the Dockerfile ({}) cannot be empty",
                opts.dockerfile
            )),
            other => BuildError::Invalid(other.to_string()),
        })?;
        let plan = plan(&parsed, opts.target.as_deref(), !opts.labels.is_empty())?;
        let cache = if opts.no_cache {
            Vec::new()
        } else {
            self.engine.images().build_cache().await?
        };
        let (tx, rx) = mpsc::channel(64);
        let out = Output::new(tx, opts.quiet);
        let given = state::given_args(&opts.build_args);
        let builder = Builder {
            engine: self.engine.clone(),
            out: out.clone(),
            context: ctx,
            escape: parsed.escape,
            cache,
            done: Vec::new(),
            meta_args: Vec::new(),
            given,
            used: HashSet::new(),
            step: 0,
            total: plan.total,
            tmp: self.tmp.clone(),
            opts,
        };
        self.engine.tracker().spawn(async move {
            let mut b = builder;
            if let Err(e) = b.run(parsed, plan).await {
                tracing::info!(error = %e, "build failed");
                let code = match &e {
                    BuildError::Run { code, .. } => Some(*code),
                    _ => None,
                };
                b.out.error(&e.to_string(), code).await;
            }
        });
        Ok(tokio_stream::wrappers::ReceiverStream::new(rx).boxed())
    }

    /// `docker builder prune`: removes cache-only step images.
    pub async fn prune(&self) -> Result<crate::image::PruneReport, BuildError> {
        Ok(self.engine.images().build_prune().await?)
    }
}

/// Which instructions run: meta ARGs, then stages up to the target.
#[derive(Debug)]
struct Plan {
    /// Index of the first FROM.
    first_from: usize,
    /// Index one past the last instruction of the target stage.
    end: usize,
    /// Steps printed (`Step N/total`).
    total: usize,
    /// Whether a LABEL step for `--label` closes the build.
    label_step: bool,
}

fn plan(df: &Dockerfile, target: Option<&str>, labels: bool) -> Result<Plan, BuildError> {
    let ins = &df.instructions;
    let Some(first_from) = ins.iter().position(|i| i.name == "from") else {
        return Err(BuildError::Invalid(
            "No build stage in current context".into(),
        ));
    };
    if let Some(bad) = ins[..first_from].iter().find(|i| i.name != "arg") {
        return Err(BuildError::Invalid(format!(
            "dockerfile parse error on line {}: {} before FROM: only ARG may come before the first FROM",
            bad.line,
            bad.name.to_uppercase()
        )));
    }
    let mut end = ins.len();
    if let Some(t) = target {
        let t = t.to_ascii_lowercase();
        let start = ins
            .iter()
            .enumerate()
            .skip(first_from)
            .find(|(_, i)| i.name == "from" && stage_name(i).as_deref() == Some(t.as_str()))
            .map(|(n, _)| n)
            .ok_or_else(|| {
                BuildError::Invalid(format!("failed to reach build target {t} in Dockerfile"))
            })?;
        end = ins
            .iter()
            .enumerate()
            .skip(start + 1)
            .find(|(_, i)| i.name == "from")
            .map(|(n, _)| n)
            .unwrap_or(ins.len());
    }
    Ok(Plan {
        first_from,
        end,
        total: end + usize::from(labels),
        label_step: labels,
    })
}

/// `FROM image AS name` → `name`, lowercased.
fn stage_name(i: &Instruction) -> Option<String> {
    let words: Vec<&str> = i.args.split_whitespace().collect();
    match words.as_slice() {
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_ascii_lowercase()),
        _ => None,
    }
}

impl Builder {
    async fn run(&mut self, df: Dockerfile, plan: Plan) -> Result<(), BuildError> {
        let ins = &df.instructions;
        for i in &ins[..plan.first_from] {
            self.print_step(i).await;
            self.meta_arg(i)?;
        }
        let mut stage: Option<Stage> = None;
        for i in &ins[plan.first_from..plan.end] {
            if self.out.closed() {
                return Err(BuildError::Invalid("the client went away".into()));
            }
            self.print_step(i).await;
            if i.name == "from" {
                if let Some(s) = stage.take() {
                    self.finish_stage(s);
                }
                stage = Some(self.from(i).await?);
                continue;
            }
            let Some(s) = stage.as_mut() else {
                return Err(BuildError::Invalid(
                    "No build stage in current context".into(),
                ));
            };
            self.dispatch(s, i).await?;
        }
        let Some(mut last) = stage else {
            return Err(BuildError::Invalid(
                "No build stage in current context".into(),
            ));
        };
        if plan.label_step {
            let mut labels: Vec<(&String, &String)> = self.opts.labels.iter().collect();
            labels.sort();
            let text = labels
                .iter()
                .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
                .collect::<Vec<_>>()
                .join(" ");
            let synthetic = Instruction {
                name: "label".into(),
                flags: Vec::new(),
                args: text.clone(),
                json: None,
                original: format!("LABEL {text}"),
                line: 0,
            };
            self.print_step(&synthetic).await;
            self.dispatch(&mut last, &synthetic).await?;
        }
        let unused: Vec<&String> = {
            let mut v: Vec<&String> = self
                .opts
                .build_args
                .keys()
                .filter(|k| {
                    !self.used.contains(*k) && !state::PREDEFINED_ARGS.contains(&k.as_str())
                })
                .collect();
            v.sort();
            v
        };
        if !unused.is_empty() {
            let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
            self.out
                .text(format!(
                    "[Warning] One or more build-args [{}] were not consumed\n",
                    names.join(" ")
                ))
                .await;
        }
        let id = match &last.image {
            Some(id) => id.clone(),
            // `FROM scratch` alone still makes an (empty) image.
            None => self.commit_config(&mut last, "").await?,
        };
        self.out.aux_id(&id).await;
        self.out
            .text(format!("Successfully built {}\n", output::short(&id)))
            .await;
        for t in self.opts.tags.clone() {
            self.engine.images().tag_built(&id, &t).await?;
            let familiar = crate::image::Reference::parse(&t)
                .map(|r| r.with_default_tag().familiar())
                .unwrap_or(t);
            self.out
                .text(format!("Successfully tagged {familiar}\n"))
                .await;
        }
        Ok(())
    }

    async fn print_step(&mut self, i: &Instruction) {
        self.step += 1;
        self.out
            .text(format!(
                "Step {}/{} : {}\n",
                self.step, self.total, i.original
            ))
            .await;
    }

    fn finish_stage(&mut self, s: Stage) {
        self.done.push(Done {
            name: s.name,
            image: s.image,
            config: s.config,
        });
    }

    /// An ARG before the first FROM: usable in FROM lines, and the default
    /// of a same-named ARG inside a stage.
    fn meta_arg(&mut self, i: &Instruction) -> Result<(), BuildError> {
        let pairs = dockerfile::words::name_values(&i.args, self.escape, false, &|n| {
            self.meta_args
                .iter()
                .rev()
                .find(|(k, _)| k == n)
                .and_then(|(_, v)| v.clone())
        })
        .map_err(|e| BuildError::Invalid(format!("ARG {e}")))?;
        for (k, v) in pairs {
            let value = match self.given.get(&k) {
                Some(g) => Some(g.clone()),
                None => v,
            };
            if self.opts.build_args.contains_key(&k) {
                self.used.insert(k.clone());
            }
            self.meta_args.push((k, value));
        }
        Ok(())
    }

    /// Looks the step up in the cache: the image whose parent is the
    /// stage's image and whose key is `key`.
    fn cached(&self, stage: &Stage, key: &str) -> Option<String> {
        if self.opts.no_cache {
            return None;
        }
        self.cache
            .iter()
            .rev()
            .find(|c| c.parent == stage.image && c.key == key)
            .map(|c| c.id.clone())
    }

    /// Prints a cache hit and moves the stage onto it.
    async fn use_cache(&mut self, stage: &mut Stage, id: String) {
        self.out.text(" ---> Using cache\n").await;
        self.out
            .text(format!(" ---> {}\n", output::short(&id)))
            .await;
        stage.image = Some(id);
    }

    /// Records a new step image (for later steps of this build too).
    async fn committed(&mut self, stage: &mut Stage, key: &str, id: String) {
        self.cache.push(CacheEntry {
            parent: stage.image.clone(),
            key: key.to_owned(),
            id: id.clone(),
        });
        self.out
            .text(format!(" ---> {}\n", output::short(&id)))
            .await;
        stage.image = Some(id);
    }

    /// A step that changes only the config: from the cache, or a new image
    /// with no layer. Returns the image ID.
    async fn commit_config(&mut self, stage: &mut Stage, key: &str) -> Result<String, BuildError> {
        if let Some(id) = self.cached(stage, key) {
            self.use_cache(stage, id.clone()).await;
            return Ok(id);
        }
        let id = self
            .engine
            .images()
            .build_commit(crate::image::BuildCommit {
                base: stage.image.clone(),
                container_id: None,
                config: Value::Object(stage.config.clone()),
                created_by: key.to_owned(),
            })
            .await?;
        self.committed(stage, key, id.clone()).await;
        Ok(id)
    }
}

/// Quotes a LABEL key or value when it needs it.
fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c))
    {
        s.to_owned()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_counts_steps_to_the_target() {
        let df = dockerfile::parse(
            "ARG V=1\nFROM busybox AS base\nRUN a\nFROM base AS two\nRUN b\nFROM two\nRUN c\n",
        )
        .unwrap();
        let p = plan(&df, None, false).unwrap();
        assert_eq!((p.first_from, p.end, p.total), (1, 7, 7));
        let p = plan(&df, Some("TWO"), true).unwrap();
        assert_eq!((p.end, p.total), (5, 6));
        assert!(plan(&df, Some("nope"), false).is_err());
        let bad = dockerfile::parse("RUN x\nFROM a\n").unwrap();
        assert!(plan(&bad, None, false).is_err());
    }
}
