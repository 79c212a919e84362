//! What anti-entropy needs from a CRDT beyond join: digests for catch-up, and the part of
//! a delta that is news.

use core::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::codec::WIRE_VERSION;
#[cfg(doc)]
use crate::codec::WireFormat;
use crate::dot_store::{Causal, DotStore};
use crate::error::{CapacityError, DecodeError};
use crate::lattice::Lattice;
use crate::storage::{SortedMap, Storage, map_serde};
use crate::{CausalContext, Dot, GCounter, GSet, LwwRegister, PNCounter, ReplicaId, TwoPSet};

/// CRC-64/XZ: the checksum behind digests (stable across platforms and releases).
const CRC64: crc::Crc<u64, CrcTable> = crc::Crc::<u64, CrcTable>::new(&crc::CRC_64_XZ);

/// How the CRC is computed: with a 256-entry table under the `crc-tables` feature (on with
/// `std`), else bitwise: on a microcontroller or in a WebAssembly download the table's 2 KB
/// weigh more than the loop costs in time. Same checksums either way.
#[cfg(feature = "crc-tables")]
type CrcTable = crc::Table<1>;
#[cfg(not(feature = "crc-tables"))]
type CrcTable = crc::NoTable;

/// Reconciliation of two replicas: a compact *digest* of what a replica has seen, the
/// catch-up delta another replica computes from it, and the stripping of what a delta
/// tells a replica that it already knows (Enes et al.'s "remove redundant", RR).
///
/// Laws, for states `x` and `y` of one system:
///
/// * `x.missing_for(&y.digest()) <= x`, and `y ⊔ x.missing_for(&y.digest()) == y ⊔ x`;
/// * `x.novel_part(d) <= d`, and `x ⊔ x.novel_part(d) == x ⊔ d`.
pub trait Reconcile: Lattice {
    /// What a replica sends so a peer can compute what it lacks.
    type Digest: Clone + Debug + PartialEq + Serialize + DeserializeOwned;

    /// The digest of this state.
    fn digest(&self) -> Result<Self::Digest, CapacityError>;

    /// A delta holding what the replica that sent `digest` lacks of `self` (at most
    /// `self`; the whole state only when the digest cannot tell more).
    fn missing_for(&self, digest: &Self::Digest) -> Result<Self, CapacityError>;

    /// The part of `delta` that changes `self`: joining it has the same effect as joining
    /// `delta`. Bottom when `delta` brings nothing new.
    fn novel_part(&self, delta: &Self) -> Result<Self, CapacityError>;
}

/// A checksum of a whole value's encoding, for types whose digest is "same or not".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StateChecksum {
    /// CRC-64/XZ of the postcard encoding.
    pub crc: u64,
}

impl StateChecksum {
    /// The checksum of `value`'s encoding.
    pub fn of<T: Serialize>(value: &T) -> Self {
        struct Crc(crc::Digest<'static, u64, CrcTable>);
        impl postcard::ser_flavors::Flavor for Crc {
            type Output = u64;
            fn try_push(&mut self, data: u8) -> postcard::Result<()> {
                self.0.update(&[data]);
                Ok(())
            }
            fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
                self.0.update(data);
                Ok(())
            }
            fn finalize(self) -> postcard::Result<u64> {
                Ok(self.0.finalize())
            }
        }
        // Serializing into a checksum cannot fail: the flavor accepts every byte.
        let crc = postcard::serialize_with_flavor(value, Crc(CRC64.digest())).unwrap_or(0);
        StateChecksum { crc }
    }

    /// The checksum of the value whose wire encoding ([`WireFormat::to_slice`]) is
    /// `encoded`: equal to [`StateChecksum::of`] that value, without serializing it again.
    ///
    /// For firmware that encodes its state anyway: [`StateChecksum::of`] brings its own
    /// copy of the value's serializer (a checksum sink instead of a buffer), which for a
    /// document costs a kilobyte or more of flash.
    ///
    /// ```
    /// use starling_core::{Fixed, GCounter, ReplicaId, StateChecksum, WireFormat};
    /// let mut counter = GCounter::<Fixed<0, 4>>::default();
    /// counter.increment(ReplicaId(1), 3)?;
    /// let mut buf = [0u8; 32];
    /// let encoded = counter.to_slice(&mut buf)?;
    /// assert_eq!(StateChecksum::of_encoded(encoded)?, StateChecksum::of(&counter));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DecodeError::Empty`] for no bytes, [`DecodeError::UnsupportedVersion`] when the
    /// version byte is not [`WIRE_VERSION`]. The rest is not parsed.
    pub fn of_encoded(encoded: &[u8]) -> Result<Self, DecodeError> {
        match encoded.split_first() {
            None => Err(DecodeError::Empty),
            Some((&WIRE_VERSION, body)) => Ok(StateChecksum {
                crc: CRC64.checksum(body),
            }),
            Some((&v, _)) => Err(DecodeError::UnsupportedVersion(v)),
        }
    }
}

impl<S: Storage> Reconcile for GCounter<S> {
    type Digest = GCounter<S>;
    fn digest(&self) -> Result<Self::Digest, CapacityError> {
        Ok(self.clone())
    }
    fn missing_for(&self, digest: &Self::Digest) -> Result<Self, CapacityError> {
        self.novel_part_of(|r| digest.get(r))
    }
    fn novel_part(&self, delta: &Self) -> Result<Self, CapacityError> {
        delta.novel_part_of(|r| self.get(r))
    }
}

impl<S: Storage> GCounter<S> {
    /// The entries of `self` above what `known` says.
    fn novel_part_of(&self, known: impl Fn(ReplicaId) -> u64) -> Result<Self, CapacityError> {
        let mut out = Self::default();
        for (r, n) in self.iter() {
            if n > known(r) {
                out.join(&self.increment_delta_to(r, n)?)?;
            }
        }
        Ok(out)
    }
}

impl<S: Storage> Reconcile for PNCounter<S> {
    type Digest = (GCounter<S>, GCounter<S>);
    fn digest(&self) -> Result<Self::Digest, CapacityError> {
        Ok((self.increments().clone(), self.decrements().clone()))
    }
    fn missing_for(&self, digest: &Self::Digest) -> Result<Self, CapacityError> {
        Ok(PNCounter::from_parts(
            self.increments().missing_for(&digest.0)?,
            self.decrements().missing_for(&digest.1)?,
        ))
    }
    fn novel_part(&self, delta: &Self) -> Result<Self, CapacityError> {
        Ok(PNCounter::from_parts(
            self.increments().novel_part(delta.increments())?,
            self.decrements().novel_part(delta.decrements())?,
        ))
    }
}

impl<E: Ord + Clone + Debug + Serialize, S: Storage> Reconcile for GSet<E, S> {
    type Digest = (u64, StateChecksum);
    fn digest(&self) -> Result<Self::Digest, CapacityError> {
        Ok((self.len() as u64, StateChecksum::of(self)))
    }
    fn missing_for(&self, digest: &Self::Digest) -> Result<Self, CapacityError> {
        if *digest == self.digest()? {
            Ok(Self::default())
        } else {
            Ok(self.clone())
        }
    }
    fn novel_part(&self, delta: &Self) -> Result<Self, CapacityError> {
        let mut out = Self::default();
        for e in delta.iter().filter(|e| !self.contains(e)) {
            out.insert(e.clone())?;
        }
        Ok(out)
    }
}

impl<E: Ord + Clone + Debug + Serialize, S: Storage> Reconcile for TwoPSet<E, S> {
    type Digest = ((u64, StateChecksum), (u64, StateChecksum));
    fn digest(&self) -> Result<Self::Digest, CapacityError> {
        Ok((self.added_set().digest()?, self.removed_set().digest()?))
    }
    fn missing_for(&self, digest: &Self::Digest) -> Result<Self, CapacityError> {
        Ok(TwoPSet::from_parts(
            self.added_set().missing_for(&digest.0)?,
            self.removed_set().missing_for(&digest.1)?,
        ))
    }
    fn novel_part(&self, delta: &Self) -> Result<Self, CapacityError> {
        Ok(TwoPSet::from_parts(
            self.added_set().novel_part(delta.added_set())?,
            self.removed_set().novel_part(delta.removed_set())?,
        ))
    }
}

impl<V, T> Reconcile for LwwRegister<V, T>
where
    V: Clone + PartialEq + Debug + Serialize + DeserializeOwned,
    T: Ord + Copy + Debug + Serialize + DeserializeOwned,
{
    type Digest = Option<(T, ReplicaId)>;
    fn digest(&self) -> Result<Self::Digest, CapacityError> {
        Ok(self.stamp())
    }
    fn missing_for(&self, digest: &Self::Digest) -> Result<Self, CapacityError> {
        Ok(if self.stamp() > *digest {
            self.clone()
        } else {
            Self::default()
        })
    }
    fn novel_part(&self, delta: &Self) -> Result<Self, CapacityError> {
        Ok(if delta.stamp() > self.stamp() {
            delta.clone()
        } else {
            Self::default()
        })
    }
}

/// The digest of a causal CRDT: its causal context, and per replica the number and a
/// checksum of the live dots of that replica. A peer compares its own live dots within
/// this context to find the replicas whose removals the sender has not seen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct CausalDigest<S: Storage> {
    /// Everything the replica has seen.
    pub context: CausalContext<S>,
    /// Per replica: `(live dots, XOR of their SipHash-2-4 hashes)`.
    #[serde(with = "map_serde")]
    pub live: S::Replicas<(u64, u64)>,
}

/// The hash of one live dot in a [`CausalDigest`]: SipHash-2-4 (keys zero) of the replica
/// id and counter as little-endian bytes. Per replica, the digest XORs the hashes of its
/// live dots; the hash must not be linear (a CRC is: the XORs of the CRCs of two sets of
/// dots collide whenever the dots themselves XOR alike).
fn dot_hash(d: Dot) -> u64 {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&d.replica.0.to_le_bytes());
    bytes[8..].copy_from_slice(&d.counter.to_le_bytes());
    siphasher::sip::SipHasher24::new().hash(&bytes)
}

/// Calls its argument on every live dot of one store. The causal reconciliation below
/// reads stores only through this, so its code is compiled once per storage mode, not
/// once per CRDT type (flash matters on a microcontroller).
type ForEachDot<'a> = &'a dyn Fn(&mut dyn FnMut(Dot));

/// Per-replica `(count, xor of hashes)` of the live dots of a store that are in `within`
/// (all of them when `None`).
fn live_summary<S: Storage>(
    dots: ForEachDot<'_>,
    within: Option<&CausalContext<S>>,
) -> Result<S::Replicas<(u64, u64)>, CapacityError> {
    let mut out = S::Replicas::<(u64, u64)>::default();
    let mut result = Ok(());
    dots(&mut |d| {
        if result.is_err() || within.is_some_and(|c| !c.contains(d)) {
            return;
        }
        let (n, h) = out.get(&d.replica).copied().unwrap_or((0, 0));
        result = out.insert(d.replica, (n + 1, h ^ dot_hash(d))).map(drop);
    });
    result.map(|()| out)
}

/// The context of what the replica that sent `digest` lacks of a state with `context`
/// and live `dots`: the dots it has not seen, whole (live dots and removals), and of the
/// dots both have seen, those not live here, for each replica whose live dots in that
/// common part may differ from the peer's (it may hold dots we removed). The dots both
/// have seen that are live here are no news to the peer (it holds them, or removed them
/// since), so they are never sent.
///
/// The peer's summary of replica `r` covers all its live dots of `r`: it is compared
/// with ours only when we have seen every dot of `r` the peer has (else the peer holds
/// dots we cannot summarise, and the summaries differ whatever the common part holds).
/// Where the comparison is impossible or fails, what goes is our removals of `r`'s dots
/// in the common part: context ranges, no elements. See docs/decisions.md, "Catch-up
/// from a digest".
fn missing_context<S: Storage>(
    context: &CausalContext<S>,
    dots: ForEachDot<'_>,
    digest: &CausalDigest<S>,
) -> Result<CausalContext<S>, CapacityError> {
    let unseen = context.difference(&digest.context)?;
    let ours = live_summary(dots, Some(&digest.context))?;
    // Work for hashing the peer's dots we have not seen, below: bounded by the size of
    // our own state, so a peer claiming a huge context costs no more than our state does.
    let mut budget = ours
        .iter()
        .fold(1024u64, |n, (_, (count, _))| n.saturating_add(*count));
    let mut news: Option<Option<CausalContext<S>>> = None;
    // Replicas of which the peer holds live dots that may be removed here. (Where the
    // peer holds no live dot of a replica, none of our removals is news to it.)
    let mut unsure = S::Replicas::<(u64, u64)>::default();
    for (r, theirs) in digest.live.iter() {
        let (mut count, mut hash) = ours.get(r).copied().unwrap_or((0, 0));
        let comparable = digest
            .context
            .ranges()
            .all(|(q, first, last)| q != *r || context.contains_range(q, first, last));
        // In fixed storage (microcontrollers: flash is tight) a replica we cannot compare
        // directly stays unproven: its removals go, which is sound and small.
        let mut sure = comparable;
        if !comparable && !S::BOUNDED {
            // Its summary covers dots of `r` we have not seen. If all of them are live
            // there (adds not removed yet, the usual), it is ours over the common part
            // joined with theirs: a summary of dots only, which we can compute.
            let news = news.get_or_insert_with(|| digest.context.difference(context).ok());
            let ranges = || {
                news.iter()
                    .flat_map(|n| n.ranges())
                    .filter(|(q, _, _)| q == r)
            };
            let n = ranges().fold(0u64, |n, (_, first, last)| {
                n.saturating_add((last - first).saturating_add(1))
            });
            sure = news.is_some() && n <= budget;
            if sure {
                budget -= n;
                for (q, first, last) in ranges() {
                    for c in first..=last {
                        count += 1;
                        hash ^= dot_hash(Dot::new(q, c));
                    }
                }
            }
        }
        if !sure || (count, hash) != *theirs {
            unsure.insert(*r, (0, 0))?;
        }
    }
    if unsure.is_empty() {
        return Ok(unseen);
    }
    match with_removals(context, dots, &unseen, &unsure) {
        Err(CapacityError) => {
            // The removals do not fit this storage's context (scattered live dots in
            // fixed storage): send those replicas whole instead, as sound and larger.
            let mut wanted = unseen;
            for (r, _) in unsure.iter() {
                wanted.join(&context.only_replica(*r)?)?;
            }
            Ok(wanted)
        }
        wanted => wanted,
    }
}

/// `unseen` and the dots of the `unsure` replicas in `context` that are neither in
/// `unseen` nor live (our removals of dots the peer has seen).
fn with_removals<S: Storage>(
    context: &CausalContext<S>,
    dots: ForEachDot<'_>,
    unseen: &CausalContext<S>,
    unsure: &S::Replicas<(u64, u64)>,
) -> Result<CausalContext<S>, CapacityError> {
    let mut not_removed = unseen.clone();
    let mut result = Ok(());
    dots(&mut |d| {
        if result.is_ok() && unsure.contains_key(&d.replica) {
            result = not_removed.insert(d);
        }
    });
    result?;
    let mut wanted = unseen.clone();
    for (r, _) in unsure.iter() {
        wanted.join(&context.only_replica(*r)?.difference(&not_removed)?)?;
    }
    Ok(wanted)
}

/// The context of the part of a delta (`delta_context`, live `delta_dots`) that is news
/// to a state (`context`, live `dots`).
///
/// The join-irreducible parts of a causal state are its live dots (each with its value
/// and the dot in the context) and its removals (a context dot that is not live). A live
/// dot we have seen is no news (it is live here, or was removed since); a removal is
/// news only if we have not seen the dot, or hold it live.
fn novel_context<S: Storage>(
    context: &CausalContext<S>,
    dots: ForEachDot<'_>,
    delta_context: &CausalContext<S>,
    delta_dots: ForEachDot<'_>,
) -> Result<CausalContext<S>, CapacityError> {
    let mut delta_live = CausalContext::<S>::new();
    let mut result = Ok(());
    delta_dots(&mut |d| {
        if result.is_ok() {
            result = delta_live.insert(d);
        }
    });
    result?;
    let mut novel = delta_context.difference(context)?;
    dots(&mut |d| {
        if result.is_ok() && delta_context.contains(d) && !delta_live.contains(d) {
            result = novel.insert(d);
        }
    });
    result.map(|()| novel)
}

impl<T: DotStore<S> + Serialize + DeserializeOwned, S: Storage> Reconcile for Causal<T, S> {
    type Digest = CausalDigest<S>;

    fn digest(&self) -> Result<Self::Digest, CapacityError> {
        Ok(CausalDigest {
            context: self.context().clone(),
            live: live_summary::<S>(&|f| self.store().for_each_dot(f), None)?,
        })
    }

    fn missing_for(&self, digest: &Self::Digest) -> Result<Self, CapacityError> {
        let wanted = missing_context(self.context(), &|f| self.store().for_each_dot(f), digest)?;
        Ok(self.restricted(wanted))
    }

    fn novel_part(&self, delta: &Self) -> Result<Self, CapacityError> {
        let context = novel_context(
            self.context(),
            &|f| self.store().for_each_dot(f),
            delta.context(),
            &|f| delta.store().for_each_dot(f),
        )?;
        if context == *delta.context() {
            return Ok(delta.clone());
        }
        // Our own context keeps only the news: every live dot of the delta it accepts is
        // one we have not seen.
        Ok(delta.restricted(context))
    }
}

impl<T: DotStore<S>, S: Storage> Causal<T, S> {
    /// This state restricted to the dots of `context` (which must be a subset of this
    /// state's context): the live dots in `context`, with `context` as the context. The
    /// result is at most `self`, and joining it conveys exactly the events in `context`.
    pub fn restricted(&self, context: CausalContext<S>) -> Self {
        let mut store = self.store().clone();
        store.retain_dots(&mut |d| context.contains(d));
        Causal::from_parts_unchecked(store, context)
    }
}

impl<A: Reconcile, B: Reconcile> Reconcile for (A, B) {
    type Digest = (A::Digest, B::Digest);
    fn digest(&self) -> Result<Self::Digest, CapacityError> {
        Ok((self.0.digest()?, self.1.digest()?))
    }
    fn missing_for(&self, digest: &Self::Digest) -> Result<Self, CapacityError> {
        Ok((
            self.0.missing_for(&digest.0)?,
            self.1.missing_for(&digest.1)?,
        ))
    }
    fn novel_part(&self, delta: &Self) -> Result<Self, CapacityError> {
        Ok((self.0.novel_part(&delta.0)?, self.1.novel_part(&delta.1)?))
    }
}

/// Two CRDTs replicated as one: joins componentwise, atomically (the first component is
/// joined on a copy, so a failure of the second leaves both unchanged).
impl<A: Lattice, B: Lattice> Lattice for (A, B) {
    fn join(&mut self, other: &Self) -> Result<(), CapacityError> {
        let mut first = self.0.clone();
        first.join(&other.0)?;
        self.1.join(&other.1)?;
        self.0 = first;
        Ok(())
    }
    fn leq(&self, other: &Self) -> bool {
        self.0.leq(&other.0) && self.1.leq(&other.1)
    }
}
