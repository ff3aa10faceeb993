//! Typed identifiers for every replicated object kind.
//!
//! Each kind gets its own newtype so a `TaskId` can never be passed where a `NodeId` is
//! expected. IDs are chosen by the proposer (Docker uses 25-character base-36 strings) and are
//! opaque to the store: apply never generates one, which keeps it deterministic.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Wraps an existing identifier string.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

id_type!(
    /// Identifies the (single) cluster object.
    ClusterId
);
id_type!(
    /// Identifies a node (manager or worker) of the swarm.
    NodeId
);
id_type!(
    /// Identifies a service.
    ServiceId
);
id_type!(
    /// Identifies a task (one scheduled instance of a service).
    TaskId
);
id_type!(
    /// Identifies a swarm-scoped network.
    NetworkId
);
id_type!(
    /// Identifies a secret.
    SecretId
);
id_type!(
    /// Identifies a config.
    ConfigId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id = NodeId::new("abc");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"abc\"");
        let back: NodeId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back, id);
        assert_eq!(id.to_string(), "abc");
    }
}
