//! `docker wait` and the wait conditions the CLI uses around `run`.

use futures::FutureExt;
use futures::future::BoxFuture;
use shoal_api::routers::containers::WaitCondition;

use super::super::{Engine, EngineResult};

impl Engine {
    /// Checks the container now (404 if unknown) and returns a future of
    /// the exit code once `condition` holds.
    pub fn wait(
        &self,
        key: &str,
        condition: WaitCondition,
    ) -> EngineResult<BoxFuture<'static, i64>> {
        let c = self.lookup(key)?;
        let mut rx = c.state_tx.subscribe();
        let now = rx.borrow().clone();
        Ok(async move {
            let res = match condition {
                WaitCondition::NotRunning if !now.running => return now.exit_code,
                WaitCondition::NotRunning => rx.wait_for(|s| !s.running).await.map(|s| s.exit_code),
                WaitCondition::NextExit => rx
                    .wait_for(|s| s.exits > now.exits)
                    .await
                    .map(|s| s.exit_code),
                WaitCondition::Removed => rx.wait_for(|s| s.removed).await.map(|s| s.exit_code),
            };
            // A dropped sender means the container is gone: report its last code.
            res.unwrap_or_else(|_| rx.borrow().exit_code)
        }
        .boxed())
    }
}
