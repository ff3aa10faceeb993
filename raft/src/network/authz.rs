//! Who may call the Raft service.
//!
//! The TLS layer has verified the caller's certificate against the cluster CA. On top of
//! that, as swarmkit does:
//! 1. only managers (OU `swarm-manager`) take part in Raft;
//! 2. the certificate's node ID (CN) is bound to the Raft id it may act as (through
//!    [`PeerAuth::raft_id_of`], which the node side sets to its node-ID-to-Raft-id mapping):
//!    a vote, append or snapshot must come from that id as candidate or leader, and a
//!    forwarded proposal must name it as proposer, so one member cannot pose as another;
//! 3. a Raft id that was a member and has been removed (demoted or `node rm`) is refused
//!    everywhere, even with a certificate that has not expired (the removed-member list the
//!    state machine keeps from the membership log; an id added back is allowed again);
//! 4. forwarded proposals and read-index requests must come from a current member (voter or
//!    learner) as this member sees the membership;
//! 5. the node side may add its own check ([`PeerCheck`]) from what it knows, e.g. the swarm's
//!    node list.
//!
//! Votes and appends from ids this member does not know yet are accepted (rule 3 only): a
//! lagging learner must still accept a leader elected in a membership it has not seen.

use std::sync::Arc;

use tonic::{Request as GrpcRequest, Status};

use crate::types::RaftId;

/// Maps a verified certificate's node ID (CN) to the Raft id that node uses.
pub type RaftIdOf = Arc<dyn Fn(&str) -> RaftId + Send + Sync>;

/// An extra check the node side feeds from its own knowledge; `Err(reason)` refuses the
/// call with PermissionDenied and that reason.
pub trait PeerCheck: Send + Sync + 'static {
    /// Decides on a caller with certificate node ID `node_id`, acting as Raft id `raft_id`
    /// when known.
    fn check(&self, node_id: &str, raft_id: Option<RaftId>) -> Result<(), String>;
}

/// How this member authorizes Raft RPC callers beyond their certificate. The default binds
/// nothing to certificates (rules 2 and 5 off); rules 1, 3 and 4 always apply.
#[derive(Clone, Default)]
pub struct PeerAuth {
    /// Certificate node ID → Raft id (rule 2).
    pub raft_id_of: Option<RaftIdOf>,
    /// The node side's own check (rule 5).
    pub check: Option<Arc<dyn PeerCheck>>,
}

impl std::fmt::Debug for PeerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerAuth")
            .field("raft_id_of", &self.raft_id_of.is_some())
            .field("check", &self.check.is_some())
            .finish()
    }
}

/// The verified caller of one RPC.
#[derive(Debug)]
pub(crate) struct Caller {
    /// The certificate's CN (the swarm node ID).
    pub(crate) node_id: String,
}

/// Checks the certificate itself (rule 1) and returns the caller's node ID.
pub(crate) fn verified_manager<T>(req: &GrpcRequest<T>) -> Result<Caller, Status> {
    let certs = req
        .peer_certs()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Status::unauthenticated("a cluster node certificate is required"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(certs[0].as_ref())
        .map_err(|_| Status::unauthenticated("unreadable node certificate"))?;
    let manager = cert
        .subject()
        .iter_organizational_unit()
        .any(|ou| ou.as_str().ok() == Some(crate::tls::MANAGER_SERVER_NAME));
    if !manager {
        return Err(Status::permission_denied(
            "only swarm managers may take part in Raft",
        ));
    }
    let node_id = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok(Caller { node_id })
}

/// What this member currently knows about membership, for [`PeerAuth::authorize`].
pub(crate) struct MembershipView<'a> {
    /// Current members (voters and learners); empty before this member joined a cluster.
    pub(crate) members: &'a [RaftId],
    /// Removed members (rule 3).
    pub(crate) removed: &'a std::collections::BTreeSet<RaftId>,
}

impl PeerAuth {
    /// Applies rules 2-5 to `caller`, who claims to act as `claimed` (the candidate, leader
    /// or proposer in the request, if it names one). `member_only` enables rule 4.
    pub(crate) fn authorize(
        &self,
        caller: &Caller,
        claimed: Option<RaftId>,
        member_only: bool,
        view: &MembershipView<'_>,
    ) -> Result<(), Status> {
        let cn = &caller.node_id;
        let id = match (&self.raft_id_of, claimed) {
            (Some(f), claimed) => {
                let id = f(cn);
                if let Some(c) = claimed
                    && c != id
                {
                    return Err(Status::permission_denied(format!(
                        "the certificate of node {cn} does not allow acting as raft member {c}"
                    )));
                }
                Some(id)
            }
            (None, claimed) => claimed,
        };
        if let Some(id) = id
            && view.removed.contains(&id)
        {
            return Err(Status::permission_denied(format!(
                "node {cn} (raft member {id}) was removed from the swarm"
            )));
        }
        if member_only
            && !view.members.is_empty()
            && let Some(id) = id
            && !view.members.contains(&id)
        {
            return Err(Status::permission_denied(format!(
                "node {cn} (raft member {id}) is not a member of the raft cluster"
            )));
        }
        if let Some(check) = &self.check {
            check.check(cn, id).map_err(Status::permission_denied)?;
        }
        Ok(())
    }
}
