//! Automerge helpers: deterministic actors and replica documents.

use automerge::{ActorId, AutoCommit};

/// The actor of replica `r`: its number `r + 1`, big-endian, so that actors order like
/// Starling's `ReplicaId(r + 1)` and crdts' actor `r + 1` (ties between concurrent
/// register writes break the same way in all three libraries).
pub fn actor(r: usize) -> ActorId {
    ActorId::from(&(r as u64 + 1).to_be_bytes()[..])
}

/// `n` documents, each a fork of `base` (closed) with the actor of its replica.
pub fn forks(base: &mut AutoCommit, n: usize) -> Vec<AutoCommit> {
    base.commit();
    (0..n).map(|r| base.fork().with_actor(actor(r))).collect()
}

/// `n` empty documents with the actors of replicas `0..n`.
pub fn fresh(n: usize) -> Vec<AutoCommit> {
    (0..n)
        .map(|r| AutoCommit::new().with_actor(actor(r)))
        .collect()
}
