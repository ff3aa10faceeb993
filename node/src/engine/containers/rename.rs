//! `docker rename`.

use super::super::names;
use super::super::store::StoreError;
use super::super::{Engine, EngineError, EngineResult};

impl Engine {
    /// Renames; 409 when the new name is taken.
    #[tracing::instrument(skip_all, fields(container.id = %key))]
    pub async fn rename(&self, key: &str, new_name: &str) -> EngineResult<()> {
        let c = self.lookup(key)?;
        let new_name = names::normalize(new_name).map_err(EngineError::Invalid)?;
        let _op = c.op.lock().await;
        let old = c.snapshot();
        if old.name == new_name {
            return Err(EngineError::Invalid(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        let mut rec = old.clone();
        rec.name = new_name.clone();
        match self.store().rename(&rec, &old.name).await {
            Ok(()) => {}
            Err(StoreError::NameInUse(owner)) => {
                return Err(EngineError::Conflict(format!(
                    "Conflict. The container name \"/{new_name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let (_, rec) = c.update(|r| r.name = new_name.clone());
        self.emit(&rec, "rename", &[("oldName", format!("/{}", old.name))]);
        Ok(())
    }
}
