//! The replicated document behind a JavaScript replica, in plain Rust (no JavaScript
//! types), so native programs and tests build, read and exchange the very same bytes.
//!
//! A document is one observed-remove map ([`OrMap`]) from [`Key`]s to last-writer-wins
//! registers ([`LwwRegister`] of [`Value`], stamped by a hybrid logical clock). Every kind
//! of value is spelled with it; the presence of a key in an observed-remove map is what
//! gives the add-wins and enable-wins semantics (a remove removes only the writes the
//! remover has seen):
//!
//! | kind | stored as | concurrent conflict |
//! |---|---|---|
//! | register | `(Register, name, None)` | latest stamp wins |
//! | map | `(Map, name, Some(Text(key)))` per key | per key, latest stamp wins; a write wins over a concurrent delete |
//! | set | `(Set, name, Some(element))` per element, value `null` | add wins over a concurrent remove |
//! | flag | `(Flag, name, None)` present = on, value `null` | enable wins over a concurrent disable |
//! | counter | `(Counter, name, Some(Number(replica)))`: each replica's running total | contributions add up; a reset keeps a concurrent incrementer's total (as [`starling_core::CausalCounter`]) |
//!
//! One value type keeps the wasm module small: every distinct CRDT type costs its own
//! copy of the map, join, digest and codec code.

use core::cmp::Ordering;

use alloc::string::String;
use serde::{Deserialize, Serialize};
use starling_core::{CapacityError, Compact, HlcTimestamp, Lattice, LwwRegister, OrMap, ReplicaId};

/// A finite number as a set element: ordered and compared by value, with `-0` stored as
/// `0` so that the two spellings of zero are one element.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Number(f64);

impl Number {
    /// `value` as an element; `None` for NaN and the infinities (JSON has no spelling
    /// for them, and NaN equals nothing).
    pub fn new(value: f64) -> Option<Self> {
        value.is_finite().then_some(Number(value + 0.0))
    }
    /// The number.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Number {}
impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Number {
    /// IEEE total order: a total order even on decoded bytes that hold a NaN.
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A set element: a number or a string (numbers sort before strings).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Element {
    /// A finite number.
    Number(Number),
    /// A string.
    Text(String),
}

/// A register or map value: what JSON calls a scalar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// `null` (also what `undefined` is stored as).
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A finite number.
    Number(f64),
    /// A string.
    Text(String),
}

/// The kind of value a [`Key`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    /// A counter's per-replica running total.
    Counter,
    /// A flag (on while present).
    Flag,
    /// A set member (present while in the set).
    Set,
    /// A register.
    Register,
    /// A map entry.
    Map,
}

/// Where a value lives: its kind, its name, and for set members, map entries and counter
/// contributions, the item.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    /// What the key holds.
    pub kind: Kind,
    /// The name of the counter, flag, set, register or map.
    pub name: String,
    /// The set element, map key (`Element::Text`) or counter contributor (the replica id
    /// as `Element::Number`); `None` for flags and registers.
    pub item: Option<Element>,
}

impl Key {
    /// The key of a flag or register.
    pub fn named(kind: Kind, name: &str) -> Self {
        Key {
            kind,
            name: String::from(name),
            item: None,
        }
    }
    /// The key of a set member, map entry or counter contribution.
    pub fn item(kind: Kind, name: &str, item: Element) -> Self {
        Key {
            kind,
            name: String::from(name),
            item: Some(item),
        }
    }
}

/// Storage of every table: growable sorted vectors. The browser has an allocator, and
/// `Compact` carries the least code: 15 KB less gzipped than `Growable`'s B-trees (the
/// documents stay within a sync message: edits past 16 MiB encoded are refused).
pub type S = Compact;
/// A last-writer-wins register of a [`Value`], stamped by a hybrid logical clock.
pub type Register = LwwRegister<Value, HlcTimestamp>;

/// The whole replicated document: one observed-remove map of registers, a
/// [`starling_core::Lattice`] + [`starling_core::Reconcile`] value that a
/// [`starling_sync::Node`] replicates as a whole.
pub type Document = OrMap<Key, Register, S>;

/// The largest counter contribution kept exact: JavaScript's `Number.MAX_SAFE_INTEGER`.
pub const MAX_COUNT: i64 = (1 << 53) - 1;

fn counter_key(name: &str, replica: ReplicaId) -> Key {
    Key::item(
        Kind::Counter,
        name,
        Element::Number(Number(replica.0 as f64)),
    )
}

/// Removes every key of `kind` named `name`; one delta for all.
fn remove_all(doc: &mut Document, kind: Kind, name: &str) -> Result<Document, CapacityError> {
    let keys: alloc::vec::Vec<Key> = doc
        .keys()
        .filter(|k| k.kind == kind && k.name == name)
        .cloned()
        .collect();
    let mut delta = Document::default();
    for key in &keys {
        delta.join(&doc.remove(key)?)?;
    }
    Ok(delta)
}

/// Named edits of a [`Document`] as `replica`, at `stamp` where values are written: each
/// applies the edit and returns the delta to ship (the shape
/// [`starling_sync::Node::update`] takes).
pub mod edit {
    use super::*;

    fn write(
        doc: &mut Document,
        replica: ReplicaId,
        key: &Key,
        stamp: HlcTimestamp,
        value: Value,
    ) -> Result<Document, CapacityError> {
        doc.update(key, |r, cx| r.set_delta(cx, replica, stamp, value))
    }

    /// Adds `amount` (negative: subtracts) to counter `name`. `None` if this replica's
    /// contribution would leave the exact range (±[`MAX_COUNT`]).
    pub fn counter_add(
        doc: &mut Document,
        replica: ReplicaId,
        stamp: HlcTimestamp,
        name: &str,
        amount: i64,
    ) -> Option<Result<Document, CapacityError>> {
        let key = counter_key(name, replica);
        let mine = match doc.get(&key).and_then(|r| r.value()) {
            Some(Value::Number(n)) => *n as i64,
            _ => 0,
        };
        let total = mine.checked_add(amount).filter(|t| t.abs() <= MAX_COUNT)?;
        Some(write(
            doc,
            replica,
            &key,
            stamp,
            Value::Number(total as f64),
        ))
    }

    /// Resets counter `name` to zero (increments this replica has not seen survive).
    pub fn counter_reset(doc: &mut Document, name: &str) -> Result<Document, CapacityError> {
        remove_all(doc, Kind::Counter, name)
    }

    /// Enables (`on`) or disables flag `name`; a concurrent enable wins.
    pub fn flag_set(
        doc: &mut Document,
        replica: ReplicaId,
        stamp: HlcTimestamp,
        name: &str,
        on: bool,
    ) -> Result<Document, CapacityError> {
        let key = Key::named(Kind::Flag, name);
        if on {
            write(doc, replica, &key, stamp, Value::Null)
        } else {
            doc.remove(&key)
        }
    }

    /// Adds `element` to set `name`.
    pub fn set_add(
        doc: &mut Document,
        replica: ReplicaId,
        stamp: HlcTimestamp,
        name: &str,
        element: Element,
    ) -> Result<Document, CapacityError> {
        let key = Key::item(Kind::Set, name, element);
        write(doc, replica, &key, stamp, Value::Null)
    }

    /// Removes `element` from set `name` (a concurrent add wins).
    pub fn set_remove(
        doc: &mut Document,
        name: &str,
        element: Element,
    ) -> Result<Document, CapacityError> {
        doc.remove(&Key::item(Kind::Set, name, element))
    }

    /// Empties set `name`.
    pub fn set_clear(doc: &mut Document, name: &str) -> Result<Document, CapacityError> {
        remove_all(doc, Kind::Set, name)
    }

    /// Writes `value` to register `name`.
    pub fn register_set(
        doc: &mut Document,
        replica: ReplicaId,
        stamp: HlcTimestamp,
        name: &str,
        value: Value,
    ) -> Result<Document, CapacityError> {
        let key = Key::named(Kind::Register, name);
        write(doc, replica, &key, stamp, value)
    }

    /// Deletes register `name`.
    pub fn register_delete(doc: &mut Document, name: &str) -> Result<Document, CapacityError> {
        doc.remove(&Key::named(Kind::Register, name))
    }

    fn map_key(name: &str, key: &str) -> Key {
        Key::item(Kind::Map, name, Element::Text(String::from(key)))
    }

    /// Writes `value` under `key` in map `name`.
    pub fn map_set(
        doc: &mut Document,
        replica: ReplicaId,
        stamp: HlcTimestamp,
        name: &str,
        key: &str,
        value: Value,
    ) -> Result<Document, CapacityError> {
        write(doc, replica, &map_key(name, key), stamp, value)
    }

    /// Deletes `key` from map `name`.
    pub fn map_delete(
        doc: &mut Document,
        name: &str,
        key: &str,
    ) -> Result<Document, CapacityError> {
        doc.remove(&map_key(name, key))
    }

    /// Deletes every key of map `name`.
    pub fn map_clear(doc: &mut Document, name: &str) -> Result<Document, CapacityError> {
        remove_all(doc, Kind::Map, name)
    }
}

/// Reads of a [`Document`].
pub mod read {
    use super::*;

    /// The entries of `kind` named `name`, in key order, with their values.
    fn entries<'a>(
        doc: &'a Document,
        kind: Kind,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> {
        doc.iter()
            .filter(move |(k, _)| k.kind == kind && k.name == name)
            .filter_map(|(k, r)| r.value().map(|v| (k, v)))
    }

    /// Counter `name`: the sum of every replica's contribution (0 when absent).
    pub fn counter(doc: &Document, name: &str) -> i64 {
        entries(doc, Kind::Counter, name)
            .map(|(_, v)| match v {
                Value::Number(n) => *n as i64,
                _ => 0,
            })
            .fold(0i64, i64::saturating_add)
    }
    /// Flag `name` (off when absent).
    pub fn flag(doc: &Document, name: &str) -> bool {
        doc.contains_key(&Key::named(Kind::Flag, name))
    }
    /// The elements of set `name`, in order (numbers ascending, then strings).
    pub fn set<'a>(doc: &'a Document, name: &'a str) -> impl Iterator<Item = &'a Element> {
        entries(doc, Kind::Set, name).filter_map(|(k, _)| k.item.as_ref())
    }
    /// Register `name`.
    pub fn register<'a>(doc: &'a Document, name: &str) -> Option<&'a Value> {
        doc.get(&Key::named(Kind::Register, name))
            .and_then(|r| r.value())
    }
    /// The entries of map `name`, by key.
    pub fn map<'a>(doc: &'a Document, name: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> {
        entries(doc, Kind::Map, name).filter_map(|(k, v)| match &k.item {
            Some(Element::Text(key)) => Some((key.as_str(), v)),
            _ => None,
        })
    }
    /// The distinct names of one kind, sorted.
    pub fn names(doc: &Document, kind: Kind) -> alloc::vec::Vec<&str> {
        let mut names: alloc::vec::Vec<&str> = doc
            .keys()
            .filter(|k| k.kind == kind)
            .map(|k| k.name.as_str())
            .collect();
        names.dedup();
        names
    }
    /// The greatest stamp in the document: a replica restored from saved bytes starts
    /// its clock past it.
    pub fn latest_stamp(doc: &Document) -> Option<HlcTimestamp> {
        doc.iter()
            .filter_map(|(_, r)| r.stamp())
            .map(|(t, _)| t)
            .max()
    }
}
