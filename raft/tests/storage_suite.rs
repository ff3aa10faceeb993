//! openraft's storage conformance suite against the sled log store and state machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

use openraft::testing::{StoreBuilder, Suite};
use shoal_raft::log_store::LogStore;
use shoal_raft::state_machine::StateMachine;
use std::sync::Arc;

use shoal_raft::ValueCipher;
use shoal_raft::storage::{StorageOptions, open_storage, open_storage_encrypted};
use shoal_raft::types::{TypeConfig, typ};
use tempfile::TempDir;

struct SledBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for SledBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), typ::StorageError> {
        let td = tempfile::tempdir().expect("tempdir");
        let (log, sm) = open_storage(td.path(), StorageOptions::default()).expect("open storage");
        Ok((td, log, sm))
    }
}

#[test]
fn sled_stores_pass_openraft_suite() -> Result<(), typ::StorageError> {
    Suite::test_all(SledBuilder)?;
    Ok(())
}

/// The same suite with every stored value encrypted.
struct EncryptedSledBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for EncryptedSledBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), typ::StorageError> {
        let td = tempfile::tempdir().expect("tempdir");
        let key = ValueCipher::generate_key().expect("key");
        let cipher = Arc::new(ValueCipher::new(&key).expect("cipher"));
        let (log, sm) = open_storage_encrypted(td.path(), StorageOptions::default(), Some(cipher))
            .expect("open storage");
        Ok((td, log, sm))
    }
}

#[test]
fn encrypted_sled_stores_pass_openraft_suite() -> Result<(), typ::StorageError> {
    Suite::test_all(EncryptedSledBuilder)?;
    Ok(())
}
