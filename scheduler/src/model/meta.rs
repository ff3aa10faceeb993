//! Metadata carried by every replicated object: its version and timestamps.

use serde::{Deserialize, Serialize};

/// The version of a stored object: the Raft log index of the command that last wrote it.
///
/// Because apply stamps the index it is given, the same object has the same version on every
/// replica. Updates carry the version they were read at; a mismatch is "update out of
/// sequence" (Docker's optimistic concurrency, `?version=N` on update endpoints).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Version {
    /// The Raft log index of the last write.
    pub index: u64,
}

/// A point in time chosen by the proposer, as nanoseconds since the Unix epoch.
///
/// The store never reads a clock; whoever proposes a command stamps it, so replicas agree.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Builds a timestamp from seconds and nanoseconds since the Unix epoch.
    pub fn from_unix(secs: i64, nanos: u32) -> Self {
        Self(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(i64::from(nanos)),
        )
    }

    /// Whole seconds since the Unix epoch.
    pub fn unix_secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// The sub-second part in nanoseconds.
    pub fn subsec_nanos(self) -> u32 {
        // rem_euclid of a positive modulus is in [0, 1e9), which fits u32.
        u32::try_from(self.0.rem_euclid(1_000_000_000)).unwrap_or(0)
    }
}

/// Version and timestamps of a stored object (swarmkit's `Meta`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Meta {
    /// Set by apply to the log index of the write; on update, the caller's read version.
    pub version: Version,
    /// Set by the proposer on create; preserved by apply on update.
    pub created_at: Timestamp,
    /// Set by the proposer on every write.
    pub updated_at: Timestamp,
}

impl Meta {
    /// Metadata for a new object proposed at `now` (the version is filled in by apply).
    pub fn new(now: Timestamp) -> Self {
        Self {
            version: Version::default(),
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_round_trips_seconds_and_nanos() {
        let t = Timestamp::from_unix(1_700_000_000, 123);
        assert_eq!(t.unix_secs(), 1_700_000_000);
        assert_eq!(t.subsec_nanos(), 123);
        let before_epoch = Timestamp(-1);
        assert_eq!(before_epoch.unix_secs(), -1);
        assert_eq!(before_epoch.subsec_nanos(), 999_999_999);
    }
}
