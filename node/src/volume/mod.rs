//! Local volumes: named and anonymous volumes of the `local` driver.
//!
//! ```text
//! backends::volumes ─> VolumeService ─┬─ store.rs   sled metadata (name, labels, options)
//!                                     └─ local.rs   <data-root>/volumes/<name>/_data, copy-up, sizes
//! engine::containers::volumes  resolves a container's Binds/Mounts/Volumes to volumes
//! ```
//!
//! Which containers use a volume is asked of the engine ([`VolumeUsage`])
//! rather than counted here, so the answer is always the container records'.

pub mod local;
pub mod mount_opts;
pub mod store;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use shoal_api::extract::Filters;
use shoal_api::models::{EventMessageTypeEnum, Volume, VolumeScopeEnum};

use crate::events::EventsBus;
use store::{VolumeRecord, VolumeStore};

/// The label dockerd puts on anonymous volumes (prune removes only those
/// unless `all=true`).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// Volume failures.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// No such volume.
    #[error("get {0}: no such volume")]
    NotFound(String),
    /// Bad name, driver option, filter.
    #[error("{0}")]
    Invalid(String),
    /// Not a driver this engine has (404 like dockerd's plugin lookup).
    #[error("error looking up volume plugin {0}: plugin \"{0}\" not found")]
    NoDriver(String),
    /// In use by containers.
    #[error("remove {name}: volume is in use - [{}]", containers.join(", "))]
    InUse {
        /// Volume name.
        name: String,
        /// IDs of the containers using it.
        containers: Vec<String>,
    },
    /// sled failed.
    #[error("volume store: {0}")]
    Sled(#[from] sled::Error),
    /// A record could not be (de)coded.
    #[error("volume store: {0}")]
    Codec(#[from] serde_json::Error),
    /// Filesystem work failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Should not happen.
    #[error("{0}")]
    Internal(String),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> VolumeError {
    let context = context.into();
    move |source| VolumeError::Io { context, source }
}

/// Who uses volumes: the engine answers from its container records.
pub trait VolumeUsage: Send + Sync + std::fmt::Debug {
    /// IDs of the containers (any state) that mount volume `name`.
    fn containers_using_volume(&self, name: &str) -> Vec<String>;
}

/// What `create` is asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateVolume {
    /// Name; empty for a generated (anonymous-style) name.
    pub name: String,
    /// Driver; empty means `local`.
    pub driver: String,
    /// Driver options.
    pub options: HashMap<String, String>,
    /// Labels.
    pub labels: HashMap<String, String>,
    /// An anonymous volume for one container.
    pub anonymous: bool,
}

/// Cheap-to-clone handle to the volumes of this daemon.
#[derive(Debug, Clone)]
pub struct VolumeService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    store: VolumeStore,
    events: Arc<EventsBus>,
    usage: OnceLock<Arc<dyn VolumeUsage>>,
    /// Running containers per volume with mount options: the volume is
    /// mounted while this is not empty.
    active: Mutex<HashMap<String, HashSet<String>>>,
}

/// dockerd's rule for local volume names (`volume/local` `validateName`).
fn validate_name(name: &str) -> Result<(), VolumeError> {
    let b = name.as_bytes();
    let ok = b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(VolumeError::Invalid(format!(
            "\"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

impl VolumeService {
    /// Opens `<data_root>/volumes`.
    pub fn open(data_root: &Path, events: Arc<EventsBus>) -> Result<VolumeService, VolumeError> {
        let root = data_root.join("volumes");
        std::fs::create_dir_all(&root).map_err(io_err("creating volumes dir"))?;
        let store = VolumeStore::open(&root.join("metadata.db"))?;
        Ok(VolumeService {
            inner: Arc::new(Inner {
                root,
                store,
                events,
                usage: OnceLock::new(),
                active: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Registers the engine as the source of usage (once, at startup).
    pub fn set_usage(&self, usage: Arc<dyn VolumeUsage>) {
        let _ = self.inner.usage.set(usage);
    }

    fn users(&self, name: &str) -> Vec<String> {
        self.inner
            .usage
            .get()
            .map(|u| u.containers_using_volume(name))
            .unwrap_or_default()
    }

    /// Host directory of volume `name`.
    pub fn mountpoint(&self, name: &str) -> PathBuf {
        local::mountpoint(&self.inner.root, name)
    }

    fn emit(&self, action: &str, name: &str, attrs: &[(&str, String)]) {
        let mut a: HashMap<String, String> = attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        a.insert("driver".into(), "local".into());
        self.inner
            .events
            .publish(EventMessageTypeEnum::VOLUME, action, name, a);
    }

    /// Records a mount of `name` by a container start (the `mount` event).
    pub fn emit_mount(&self, name: &str, container: &str, destination: &str, rw: bool) {
        self.emit(
            "mount",
            name,
            &[
                ("container", container.to_owned()),
                ("destination", destination.to_owned()),
                ("read/write", rw.to_string()),
                ("propagation", String::new()),
            ],
        );
    }

    /// Mounts volume `name` for running container `container` if its
    /// options describe a mount (`type`/`device`/`o`) and it is not mounted
    /// yet, as dockerd's local driver does on first use. Blocking.
    pub fn activate(&self, name: &str, container: &str) -> Result<(), VolumeError> {
        let rec = self.get(name)?;
        let Some(spec) = mount_opts::mount_spec(&rec.options) else {
            return Ok(());
        };
        let dir = self.mountpoint(name);
        let mut active = self.inner.active.lock().unwrap_or_else(|p| p.into_inner());
        if !mount_opts::is_mounted(&dir) {
            mount_opts::mount(&spec, &dir)?;
        }
        active
            .entry(name.to_owned())
            .or_default()
            .insert(container.to_owned());
        Ok(())
    }

    /// Container `container` stopped using volume `name`: the last one out
    /// unmounts it. Blocking.
    pub fn deactivate(&self, name: &str, container: &str) {
        let mut active = self.inner.active.lock().unwrap_or_else(|p| p.into_inner());
        let Some(users) = active.get_mut(name) else {
            return;
        };
        users.remove(container);
        if !users.is_empty() {
            return;
        }
        active.remove(name);
        let dir = self.mountpoint(name);
        if mount_opts::is_mounted(&dir)
            && let Err(e) = mount_opts::unmount(&dir)
        {
            tracing::error!(volume = %name, error = %e, "unmounting volume");
        }
    }

    /// Creates a volume, or returns the existing one of that name (as
    /// dockerd does). Returns the record and whether it is new.
    pub fn create(&self, req: CreateVolume) -> Result<(VolumeRecord, bool), VolumeError> {
        let driver = if req.driver.is_empty() {
            "local".to_owned()
        } else {
            req.driver.clone()
        };
        if driver != "local" {
            return Err(VolumeError::NoDriver(driver));
        }
        mount_opts::validate(&req.options)?;
        let name = if req.name.is_empty() {
            crate::engine::names::new_id()
        } else {
            validate_name(&req.name)?;
            req.name.clone()
        };
        let mut labels = req.labels.clone();
        if req.anonymous {
            labels.insert(ANONYMOUS_LABEL.into(), String::new());
        }
        let rec = VolumeRecord {
            name: name.clone(),
            driver,
            labels,
            options: req.options,
            created_at: chrono::Utc::now(),
            anonymous: req.anonymous,
        };
        let dir = self.mountpoint(&name);
        std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        let (rec, new) = self.inner.store.insert_new(&rec)?;
        if new {
            self.emit("create", &name, &[]);
        }
        Ok((rec, new))
    }

    /// The record of `name`.
    pub fn get(&self, name: &str) -> Result<VolumeRecord, VolumeError> {
        self.inner
            .store
            .get(name)?
            .ok_or_else(|| VolumeError::NotFound(name.to_owned()))
    }

    /// The API view of a record, with usage data when `usage`.
    pub fn to_api(&self, rec: &VolumeRecord, usage: bool) -> Volume {
        let usage_data = usage.then(|| shoal_api::models::VolumeUsageData {
            size: i64::try_from(local::disk_usage(&self.mountpoint(&rec.name))).unwrap_or(i64::MAX),
            ref_count: i64::try_from(self.users(&rec.name).len()).unwrap_or(0),
        });
        Volume {
            name: rec.name.clone(),
            driver: rec.driver.clone(),
            mountpoint: self.mountpoint(&rec.name).display().to_string(),
            created_at: Some(
                rec.created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            labels: rec.labels.clone(),
            scope: Some(VolumeScopeEnum::LOCAL),
            options: rec.options.clone(),
            usage_data,
            ..Default::default()
        }
    }

    /// Volumes matching `filters` (`name` substring, `label`, `driver`,
    /// `dangling`).
    pub fn list(&self, filters: &Filters) -> Result<Vec<VolumeRecord>, VolumeError> {
        let dangling = match filters.get("dangling") {
            [] => None,
            [v] if matches!(v.as_str(), "true" | "1") => Some(true),
            [v] if matches!(v.as_str(), "false" | "0") => Some(false),
            other => {
                return Err(VolumeError::Invalid(format!(
                    "invalid filter 'dangling={}'",
                    other.join(",")
                )));
            }
        };
        let mut out: Vec<VolumeRecord> = self
            .inner
            .store
            .all()
            .into_iter()
            .filter(|r| {
                let names = filters.get("name");
                names.is_empty() || names.iter().any(|n| r.name.contains(n.as_str()))
            })
            .filter(|r| {
                let drivers = filters.get("driver");
                drivers.is_empty() || drivers.contains(&r.driver)
            })
            .filter(|r| labels_match(&r.labels, filters.get("label")))
            .filter(|r| dangling.is_none_or(|d| self.users(&r.name).is_empty() == d))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes `name`: 409 while in use; `force` makes a missing volume fine.
    pub fn remove(&self, name: &str, force: bool) -> Result<(), VolumeError> {
        let Some(_) = self.inner.store.get(name)? else {
            if force {
                return Ok(());
            }
            return Err(VolumeError::NotFound(name.to_owned()));
        };
        let users = self.users(name);
        if !users.is_empty() {
            return Err(VolumeError::InUse {
                name: name.to_owned(),
                containers: users,
            });
        }
        self.destroy(name)
    }

    fn destroy(&self, name: &str) -> Result<(), VolumeError> {
        // Never delete through a mount: a bind volume's `_data` is the
        // user's own directory.
        let data = self.mountpoint(name);
        if mount_opts::is_mounted(&data) {
            mount_opts::unmount(&data)?;
            if mount_opts::is_mounted(&data) {
                return Err(VolumeError::Internal(format!(
                    "remove {name}: {} is still mounted",
                    data.display()
                )));
            }
        }
        self.inner.store.remove(name)?;
        let dir = self.inner.root.join(name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(format!("removing {}", dir.display()))(e)),
        }
        self.emit("destroy", name, &[]);
        Ok(())
    }

    /// Removes unused volumes: anonymous ones, or all with `all=true`;
    /// `label`/`label!` filters. Returns names and bytes reclaimed.
    pub fn prune(&self, filters: &Filters) -> Result<(Vec<String>, u64), VolumeError> {
        let all = filters
            .get("all")
            .iter()
            .any(|v| matches!(v.as_str(), "true" | "1"));
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for rec in self.inner.store.all() {
            if !all && !rec.labels.contains_key(ANONYMOUS_LABEL) {
                continue;
            }
            if !labels_match(&rec.labels, filters.get("label")) {
                continue;
            }
            let not = filters.get("label!");
            if !not.is_empty() && labels_match(&rec.labels, not) {
                continue;
            }
            if !self.users(&rec.name).is_empty() {
                continue;
            }
            let size = local::disk_usage(&self.mountpoint(&rec.name));
            self.destroy(&rec.name)?;
            reclaimed += size;
            deleted.push(rec.name);
        }
        if !deleted.is_empty() {
            self.inner.events.publish(
                EventMessageTypeEnum::VOLUME,
                "prune",
                "",
                HashMap::from([("reclaimed".to_string(), reclaimed.to_string())]),
            );
        }
        Ok((deleted, reclaimed))
    }
}

/// `label=k` / `label=k=v` filters: every one must match.
fn labels_match(labels: &HashMap<String, String>, wanted: &[String]) -> bool {
    wanted.iter().all(|w| match w.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(w.as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Users(Vec<(String, String)>);
    impl VolumeUsage for Users {
        fn containers_using_volume(&self, name: &str) -> Vec<String> {
            self.0
                .iter()
                .filter(|(v, _)| v == name)
                .map(|(_, c)| c.clone())
                .collect()
        }
    }

    fn service() -> (tempfile::TempDir, VolumeService) {
        let dir = tempfile::tempdir().unwrap();
        let s = VolumeService::open(dir.path(), Arc::new(EventsBus::new())).unwrap();
        s.set_usage(Arc::new(Users(vec![("used".into(), "c1".into())])));
        (dir, s)
    }

    #[test]
    fn create_is_idempotent_and_names_are_checked() {
        let (_d, s) = service();
        let req = CreateVolume {
            name: "data".into(),
            labels: HashMap::from([("k".into(), "v".into())]),
            ..Default::default()
        };
        let (a, new) = s.create(req.clone()).unwrap();
        assert!(new && s.mountpoint("data").is_dir());
        let (b, new) = s.create(req).unwrap();
        assert!(!new);
        assert_eq!(a, b);
        for bad in ["x", "/abs", "a b", "-x"] {
            let e = s
                .create(CreateVolume {
                    name: bad.into(),
                    ..Default::default()
                })
                .unwrap_err();
            assert!(matches!(e, VolumeError::Invalid(_)), "{bad}: {e}");
        }
        let e = s
            .create(CreateVolume {
                name: "x1".into(),
                driver: "nfs".into(),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(e, VolumeError::NoDriver(_)));
    }

    #[test]
    fn remove_refuses_in_use_and_prune_keeps_named() {
        let (_d, s) = service();
        for (name, anonymous) in [("used", false), ("named", false), ("anon1", true)] {
            s.create(CreateVolume {
                name: name.into(),
                anonymous,
                ..Default::default()
            })
            .unwrap();
        }
        let e = s.remove("used", false).unwrap_err();
        assert_eq!(e.to_string(), "remove used: volume is in use - [c1]");
        assert!(matches!(
            s.remove("nope", false),
            Err(VolumeError::NotFound(_))
        ));
        s.remove("nope", true).unwrap();
        let dangling = Filters::parse(Some(r#"{"dangling":["true"]}"#)).unwrap();
        let names: Vec<String> = s
            .list(&dangling)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, vec!["anon1", "named"]);
        let (deleted, _) = s.prune(&Filters::default()).unwrap();
        assert_eq!(deleted, vec!["anon1"]);
        let all = Filters::parse(Some(r#"{"all":["true"]}"#)).unwrap();
        let (deleted, _) = s.prune(&all).unwrap();
        assert_eq!(deleted, vec!["named"]);
        assert!(!s.mountpoint("named").exists());
        assert_eq!(s.get("used").unwrap().name, "used");
    }
}
