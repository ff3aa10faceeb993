//! A Wing-Gong linearizability checker (with Lowe's memoization, as Porcupine does) for the
//! store's object model, reduced to what the chaos clients do with one object: create it,
//! compare-and-set it (an update carrying the version read, "update out of sequence"
//! otherwise), delete it, and read it.
//!
//! Linearizability is compositional, so each object's history is checked on its own.
//! Operations whose outcome the client never learned (timeouts, lost leaders) have no return
//! time: they may take effect at any point after their call, or never.

use std::collections::HashSet;

/// One object's value: `None` when it does not exist.
pub type State = Option<u64>;

/// What an operation did, with what the client observed (`None`: outcome unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Read the object; saw `seen`.
    Read { seen: State },
    /// Create with `value`; `ok` false when it already existed.
    Create { value: u64, ok: Option<bool> },
    /// Replace `expected` by `value`; `ok` false when the object held something else.
    Cas {
        expected: u64,
        value: u64,
        ok: Option<bool>,
    },
    /// Delete; `ok` false when it did not exist.
    Delete { ok: Option<bool> },
}

/// One operation of a history, with its call and return times (any monotonic clock).
#[derive(Debug, Clone)]
pub struct Op {
    /// When the client called it.
    pub call: u64,
    /// When it returned; `None` if the outcome is unknown.
    pub ret: Option<u64>,
    /// What it did.
    pub kind: Kind,
}

/// The effect of `kind` on `state`, if it is consistent with what was observed.
fn step(state: State, kind: &Kind) -> Option<State> {
    let check = |would_succeed: bool, ok: &Option<bool>| match ok {
        Some(o) => *o == would_succeed,
        None => true,
    };
    match kind {
        Kind::Read { seen } => (*seen == state).then_some(state),
        Kind::Create { value, ok } => {
            let succeeds = state.is_none();
            check(succeeds, ok).then_some(if succeeds { Some(*value) } else { state })
        }
        Kind::Cas {
            expected,
            value,
            ok,
        } => {
            let succeeds = state == Some(*expected);
            check(succeeds, ok).then_some(if succeeds { Some(*value) } else { state })
        }
        Kind::Delete { ok } => {
            let succeeds = state.is_some();
            check(succeeds, ok).then_some(if succeeds { None } else { state })
        }
    }
}

/// Whether the history of one object, starting from `initial`, is linearizable.
///
/// Depth-first search over the order of operations: at each point, any operation not yet
/// placed whose call precedes every unplaced operation's return may go next, if the model
/// allows it; (placed set, state) pairs already explored are cached.
pub fn linearizable(initial: State, ops: &[Op]) -> bool {
    let n = ops.len();
    let words = n.div_ceil(64).max(1);
    let must: Vec<bool> = ops.iter().map(|o| o.ret.is_some()).collect();
    let remaining_required = must.iter().filter(|m| **m).count();
    let mut seen: HashSet<(Vec<u64>, State)> = HashSet::new();
    let mut placed = vec![0u64; words];
    // Explicit stack of (state, placed set, required left); iterative DFS.
    let mut stack = vec![(initial, placed.clone(), remaining_required)];
    while let Some((state, set, left)) = stack.pop() {
        if left == 0 {
            return true;
        }
        placed.clone_from(&set);
        let is_placed = |i: usize| placed[i / 64] & (1 << (i % 64)) != 0;
        let min_ret = (0..n)
            .filter(|i| !is_placed(*i))
            .filter_map(|i| ops[i].ret)
            .min()
            .unwrap_or(u64::MAX);
        for i in 0..n {
            if is_placed(i) || ops[i].call > min_ret {
                continue;
            }
            let Some(next) = step(state, &ops[i].kind) else {
                continue;
            };
            let mut s2 = placed.clone();
            s2[i / 64] |= 1 << (i % 64);
            if seen.insert((s2.clone(), next)) {
                stack.push((next, s2, left - usize::from(must[i])));
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(call: u64, ret: u64, kind: Kind) -> Op {
        Op {
            call,
            ret: Some(ret),
            kind,
        }
    }

    #[test]
    fn accepts_concurrent_and_rejects_stale_reads() {
        let create = Kind::Create {
            value: 1,
            ok: Some(true),
        };
        // A read overlapping the create may see either state.
        let h = vec![
            op(0, 10, create.clone()),
            op(5, 6, Kind::Read { seen: None }),
            op(7, 8, Kind::Read { seen: Some(1) }),
        ];
        assert!(
            linearizable(None, &h),
            "the create took effect between the reads"
        );
        let h = vec![
            op(0, 10, create.clone()),
            op(5, 6, Kind::Read { seen: Some(1) }),
            op(7, 8, Kind::Read { seen: None }),
        ];
        assert!(!linearizable(None, &h), "None after Some(1) with no delete");
        let h = vec![
            op(0, 10, create.clone()),
            op(5, 6, Kind::Read { seen: Some(1) }),
        ];
        assert!(linearizable(None, &h));
        // A read after an acknowledged write must see it (a lost write).
        let h = vec![
            op(0, 1, create.clone()),
            op(2, 3, Kind::Read { seen: None }),
        ];
        assert!(!linearizable(None, &h));
        // An unknown-outcome create may or may not have happened.
        let pending = Op {
            call: 0,
            ret: None,
            kind: Kind::Create { value: 1, ok: None },
        };
        assert!(linearizable(
            None,
            &[pending.clone(), op(2, 3, Kind::Read { seen: None })]
        ));
        assert!(linearizable(
            None,
            &[pending, op(2, 3, Kind::Read { seen: Some(1) })]
        ));
        // Two successful CAS from the same expected value cannot both win.
        let cas = |v| Kind::Cas {
            expected: 1,
            value: v,
            ok: Some(true),
        };
        let h = vec![op(0, 1, create), op(2, 5, cas(2)), op(3, 6, cas(3))];
        assert!(!linearizable(None, &h));
    }
}
