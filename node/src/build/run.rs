//! Steps that make a layer from a container: RUN (started, its output
//! streamed, its exit code checked) and WORKDIR (the directory created in
//! the rootfs); COPY/ADD use the same container helpers.

use futures::StreamExt;
use serde_json::{Value, json};
use shoal_api::models::{ContainerCreateBody, HostConfig};
use shoal_api::routers::containers::{LogsOptions, WaitCondition};

use super::dockerfile::{Instruction, words};
use super::state::Stage;
use super::steps::command;
use super::{BuildError, Builder, output};

impl Builder {
    /// The stage's image for a container: after `FROM scratch`, the empty
    /// image (the same ID in every build, so the cache still matches).
    pub(super) async fn base_image(&mut self, stage: &mut Stage) -> Result<String, BuildError> {
        if let Some(id) = &stage.image {
            return Ok(id.clone());
        }
        let id = self
            .engine
            .images()
            .build_commit(crate::image::BuildCommit {
                base: None,
                container_id: None,
                config: json!({}),
                created_by: String::new(),
            })
            .await?;
        stage.image = Some(id.clone());
        Ok(id)
    }

    /// Creates a step container from the stage's image.
    pub(super) async fn step_container(
        &mut self,
        stage: &mut Stage,
        cmd: Vec<String>,
        env: Vec<String>,
    ) -> Result<String, BuildError> {
        let image = self.base_image(stage).await?;
        let user = stage.user();
        let body = ContainerCreateBody {
            image: Some(image),
            cmd: Some(cmd),
            // The image's ENTRYPOINT does not wrap build commands.
            entrypoint: Some(Vec::new()),
            env: Some(env),
            user: Some(user).filter(|u| !u.is_empty()),
            working_dir: Some(stage.workdir()),
            host_config: Some(HostConfig {
                network_mode: Some(self.opts.network_mode.clone()),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        };
        Ok(self.engine.create(None, body).await?.id)
    }

    /// Commits container `cid` as the step's image with key `key`, then
    /// removes it (when `remove`).
    pub(super) async fn commit_container(
        &mut self,
        stage: &mut Stage,
        cid: &str,
        key: &str,
        remove: bool,
        announce_removal: bool,
    ) -> Result<(), BuildError> {
        let res = self
            .engine
            .images()
            .build_commit(crate::image::BuildCommit {
                base: stage.image.clone(),
                container_id: Some(cid.to_owned()),
                config: Value::Object(stage.config.clone()),
                created_by: key.to_owned(),
            })
            .await;
        if remove || res.is_err() && self.opts.force_rm {
            if let Err(e) = self.engine.remove(cid, true, true).await {
                tracing::warn!(container.id = %cid, error = %e, "removing a build container failed");
            } else if announce_removal {
                self.out
                    .text(format!(
                        "Removing intermediate container {}\n",
                        output::short(cid)
                    ))
                    .await;
            }
        }
        let id = res?;
        self.committed(stage, key, id).await;
        Ok(())
    }

    /// `RUN cmd` / `RUN ["exec", "form"]`.
    pub(super) async fn run_step(
        &mut self,
        stage: &mut Stage,
        i: &Instruction,
    ) -> Result<(), BuildError> {
        if let Some((k, _)) = i.flags.first() {
            return Err(BuildError::Invalid(format!(
                "the --{k} option requires BuildKit"
            )));
        }
        let cmd = command(i, &stage.shell());
        let args = stage.run_args();
        let shown = cmd.join(" ");
        let key = if args.is_empty() {
            shown.clone()
        } else {
            format!("|{} {} {shown}", args.len(), args.join(" "))
        };
        if let Some(id) = self.cached(stage, &key) {
            self.use_cache(stage, id).await;
            return Ok(());
        }
        let mut env = stage.env();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            );
        }
        env.extend(args);
        let cid = self.step_container(stage, cmd, env).await?;
        self.out
            .text(format!(" ---> Running in {}\n", output::short(&cid)))
            .await;
        let code = self.run_container(&cid).await;
        let code = match code {
            Ok(c) => c,
            Err(e) => {
                if self.opts.force_rm {
                    let _ = self.engine.remove(&cid, true, true).await;
                }
                return Err(e);
            }
        };
        if code != 0 {
            // dockerd keeps a failed step's container unless --force-rm.
            if self.opts.force_rm {
                let _ = self.engine.remove(&cid, true, true).await;
            }
            return Err(BuildError::Run {
                command: shown,
                code,
            });
        }
        let rm = self.opts.rm || self.opts.force_rm;
        self.commit_container(stage, &cid, &key, rm, true).await
    }

    /// Starts `cid`, streams its output and returns its exit code.
    async fn run_container(&mut self, cid: &str) -> Result<i64, BuildError> {
        let exit = self.engine.wait(cid, WaitCondition::NextExit)?;
        self.engine.start(cid).await?;
        let (_, mut logs) = self
            .engine
            .logs(
                cid,
                LogsOptions {
                    follow: true,
                    stdout: true,
                    stderr: true,
                    ..LogsOptions::default()
                },
            )
            .await?;
        while let Some(chunk) = logs.next().await {
            self.out
                .text(String::from_utf8_lossy(&chunk.data).into_owned())
                .await;
        }
        Ok(exit.await)
    }

    /// `WORKDIR path`: relative to the previous one; the directory is
    /// created in the image, as dockerd does.
    pub(super) async fn workdir_step(
        &mut self,
        stage: &mut Stage,
        i: &Instruction,
    ) -> Result<(), BuildError> {
        i.check_flags(&[])
            .map_err(|e| BuildError::Invalid(format!("WORKDIR {e}")))?;
        let raw = words::expand(i.args.trim(), self.escape, &|n| stage.lookup(n))
            .map_err(|e| BuildError::Invalid(format!("WORKDIR {e}")))?;
        if raw.is_empty() {
            return Err(BuildError::Invalid(
                "WORKDIR requires exactly one argument".into(),
            ));
        }
        let joined = if raw.starts_with('/') {
            raw
        } else {
            format!("{}/{raw}", stage.workdir())
        };
        let path = clean_abs(&joined);
        stage
            .config
            .insert("WorkingDir".into(), json!(path.clone()));
        let key = format!("{} #(nop) WORKDIR {path}", stage.shell().join(" "));
        if let Some(id) = self.cached(stage, &key) {
            self.use_cache(stage, id).await;
            return Ok(());
        }
        let cid = self
            .step_container(stage, vec!["#(nop) WORKDIR".into()], stage.env())
            .await?;
        let p = path.clone();
        let made = self
            .engine
            .with_container_root(&cid, move |root| {
                let dir = crate::engine::rootfs_path::secure_join(root, &p)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                std::fs::create_dir_all(dir)
            })
            .await;
        match made {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = self.engine.remove(&cid, true, true).await;
                return Err(BuildError::Io {
                    context: format!("creating WORKDIR {path}"),
                    source: e,
                });
            }
            Err(e) => {
                let _ = self.engine.remove(&cid, true, true).await;
                return Err(e.into());
            }
        }
        self.commit_container(stage, &cid, &key, true, false).await
    }
}

/// `/a/./b/../c` → `/a/c` (lexically, as Go's `path.Clean`).
pub(super) fn clean_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::clean_abs;

    #[test]
    fn paths_clean_like_go() {
        assert_eq!(clean_abs("/app/./x/../y/"), "/app/y");
        assert_eq!(clean_abs("//"), "/");
        assert_eq!(clean_abs("/../a"), "/a");
    }
}
