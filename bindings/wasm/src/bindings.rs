//! The JavaScript class: a replica of a [`Document`] and its sync node.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use js_sys::Array;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro128PlusPlus;
use starling_core::{CapacityError, HybridClock, ReplicaId, WireFormat};
use starling_sync::{Config, Event};
use wasm_bindgen::prelude::*;

use crate::document::{Document, Element, Kind, Number, Value, edit, read};
use crate::{DOCUMENT_LIMIT, MAX_MESSAGE_BYTES, SyncNode};

/// Largest saved document `Replica.load` accepts, in bytes.
const LOAD_LIMIT: usize = 16 * 1024 * 1024;
/// JavaScript's largest exactly representable integer.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

fn error(message: &str) -> JsError {
    JsError::new(message)
}

/// A non-negative safe integer from a JavaScript number.
fn whole(value: f64, what: &str) -> Result<u64, JsError> {
    if (0.0..=MAX_SAFE_INTEGER).contains(&value) && value as u64 as f64 == value {
        Ok(value as u64)
    } else {
        let mut m = String::from(what);
        m.push_str(" must be a whole number from 0 to Number.MAX_SAFE_INTEGER");
        Err(error(&m))
    }
}

fn element_from(value: &JsValue) -> Result<Element, JsError> {
    if let Some(text) = value.as_string() {
        return Ok(Element::Text(text));
    }
    value
        .as_f64()
        .and_then(Number::new)
        .map(Element::Number)
        .ok_or_else(|| error("set elements must be strings or finite numbers"))
}

fn element_to_js(element: &Element) -> JsValue {
    match element {
        Element::Number(n) => JsValue::from_f64(n.get()),
        Element::Text(t) => JsValue::from_str(t),
    }
}

fn value_from(value: &JsValue) -> Result<Value, JsError> {
    if value.is_null() || value.is_undefined() {
        Ok(Value::Null)
    } else if let Some(b) = value.as_bool() {
        Ok(Value::Bool(b))
    } else if let Some(text) = value.as_string() {
        Ok(Value::Text(text))
    } else if let Some(n) = value.as_f64().filter(|n| n.is_finite()) {
        Ok(Value::Number(n))
    } else {
        Err(error(
            "values must be null, booleans, finite numbers or strings (JSON.stringify objects)",
        ))
    }
}

fn value_to_js(value: Option<&Value>) -> JsValue {
    match value {
        None => JsValue::UNDEFINED,
        Some(Value::Null) => JsValue::NULL,
        Some(Value::Bool(b)) => JsValue::from_bool(*b),
        Some(Value::Number(n)) => JsValue::from_f64(*n),
        Some(Value::Text(t)) => JsValue::from_str(t),
    }
}

fn key_from(value: &JsValue) -> Result<String, JsError> {
    value
        .as_string()
        .ok_or_else(|| error("map keys must be strings"))
}

fn kind_from(kind: &str) -> Result<Kind, JsError> {
    Ok(match kind {
        "counter" => Kind::Counter,
        "flag" => Kind::Flag,
        "set" => Kind::Set,
        "register" => Kind::Register,
        "map" => Kind::Map,
        _ => return Err(error("kind must be counter, flag, set, register or map")),
    })
}

/// One edit, decoded from the arguments of [`Replica::edit`].
enum Edit {
    CounterAdd(i64),
    CounterReset,
    Flag(bool),
    SetAdd(Element),
    SetRemove(Element),
    SetClear,
    RegisterSet(Value),
    RegisterDelete,
    MapSet(String, Value),
    MapDelete(String),
    MapClear,
}

/// A frame to send: `bytes` for the peer on link `to`.
#[wasm_bindgen]
pub struct Outgoing {
    to: u32,
    bytes: Vec<u8>,
}

#[wasm_bindgen]
impl Outgoing {
    /// The link id of the destination peer.
    #[wasm_bindgen(getter)]
    pub fn to(&self) -> u32 {
        self.to
    }
    /// The frame.
    #[wasm_bindgen(getter)]
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

/// One replica of a document, with the sync node that replicates it.
///
/// Time is passed in as milliseconds (`Date.now()`); randomness as a seed of at least 16
/// bytes (`crypto.getRandomValues`). Peers are numbered links (`addPeer`, `receive`,
/// `poll`): the transports map them to channels.
#[wasm_bindgen]
pub struct Replica {
    node: Box<SyncNode>,
    rng: Xoshiro128PlusPlus,
    clock: HybridClock,
    frame: Vec<u8>,
    /// Where an edit's result is encoded to check it stays within [`DOCUMENT_LIMIT`]
    /// (grown to the document's size, kept between edits).
    scratch: Vec<u8>,
    changed: bool,
}

#[wasm_bindgen]
impl Replica {
    /// A new, empty replica `id` (unique among the replicas of the document), syncing
    /// every `syncIntervalMs` in frames of at most `mtu` bytes (256 to 65,536).
    #[wasm_bindgen(constructor)]
    pub fn new(
        id: f64,
        seed: &[u8],
        now_ms: f64,
        mtu: u32,
        sync_interval_ms: u32,
    ) -> Result<Replica, JsError> {
        Self::with_state(id, Document::default(), seed, now_ms, mtu, sync_interval_ms)
    }

    /// A replica `id` restored from bytes that [`Replica::save`] returned (by this
    /// replica id, or by another replica for a copy that starts as a new replica).
    pub fn load(
        id: f64,
        saved: &[u8],
        seed: &[u8],
        now_ms: f64,
        mtu: u32,
        sync_interval_ms: u32,
    ) -> Result<Replica, JsError> {
        let doc = Document::from_bytes(saved, LOAD_LIMIT)
            .map_err(|_| error("not a saved Starling document (corrupt, truncated or other)"))?;
        Self::with_state(id, doc, seed, now_ms, mtu, sync_interval_ms)
    }

    fn with_state(
        id: f64,
        doc: Document,
        seed: &[u8],
        now_ms: f64,
        mtu: u32,
        sync_interval_ms: u32,
    ) -> Result<Replica, JsError> {
        let id = whole(id, "the replica id")?;
        let now = whole(now_ms, "nowMs")?;
        let seed: [u8; 16] = seed
            .get(..16)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| error("the seed must hold at least 16 bytes"))?;
        if !(256..=65_536).contains(&mtu) {
            return Err(error("mtu must be from 256 to 65536 bytes"));
        }
        if sync_interval_ms == 0 {
            return Err(error("syncIntervalMs must be at least 1"));
        }
        let mut clock = HybridClock::new();
        if let Some(stamp) = read::latest_stamp(&doc) {
            clock.observe(stamp, now);
        }
        let mut config = Config::new(mtu as usize);
        config.sync_interval_ms = u64::from(sync_interval_ms);
        config.max_message_bytes = MAX_MESSAGE_BYTES;
        let mut rng = Xoshiro128PlusPlus::from_seed(seed);
        let node = Box::new(SyncNode::new(ReplicaId(id), doc, config, now, &mut rng));
        Ok(Replica {
            node,
            rng,
            clock,
            frame: vec![0; mtu as usize],
            scratch: Vec::new(),
            changed: false,
        })
    }

    /// This replica's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> f64 {
        self.node.id().0 as f64
    }

    /// The document as bytes, for [`Replica::load`] (and for native Rust programs: the
    /// `starling-core` wire format of [`Document`]).
    pub fn save(&self) -> Vec<u8> {
        // One encoder for everything (the node's slice encoder): a second flavour
        // would add a copy of the document's serialization code to the module.
        let mut buf = vec![0; 16 * 1024];
        loop {
            if let Ok(used) = self.node.state().to_slice(&mut buf) {
                let len = used.len();
                buf.truncate(len);
                return buf;
            }
            let bigger = buf.len() * 2;
            buf.resize(bigger, 0);
        }
    }

    /// Applies one edit: `op` is one of the `OP_*` numbers of the package's JavaScript
    /// (`counterAdd` 0, `counterReset` 1, `flagSet` 2, `setAdd` 3, `setRemove` 4,
    /// `setClear` 5, `registerSet` 6, `registerDelete` 7, `mapSet` 8, `mapDelete` 9,
    /// `mapClear` 10) on the counter, flag, set, register or map `name`; `item` is the set
    /// element or map key, `value` the amount, flag state or value written.
    pub fn edit(
        &mut self,
        op: u8,
        name: &str,
        item: &JsValue,
        value: &JsValue,
        now_ms: f64,
    ) -> Result<(), JsError> {
        let stamp = self.clock.now(whole(now_ms, "nowMs")?);
        let edit = match op {
            0 => {
                let amount = value.as_f64().unwrap_or(f64::NAN);
                let magnitude = whole(amount.abs(), "a counter amount")? as i64;
                Edit::CounterAdd(if amount < 0.0 { -magnitude } else { magnitude })
            }
            1 => Edit::CounterReset,
            2 => Edit::Flag(value.is_truthy()),
            3 => Edit::SetAdd(element_from(item)?),
            4 => Edit::SetRemove(element_from(item)?),
            5 => Edit::SetClear,
            6 => Edit::RegisterSet(value_from(value)?),
            7 => Edit::RegisterDelete,
            8 => Edit::MapSet(key_from(item)?, value_from(value)?),
            9 => Edit::MapDelete(key_from(item)?),
            10 => Edit::MapClear,
            _ => return Err(error("unknown edit")),
        };
        let replica = self.node.id();
        let grows = matches!(
            edit,
            Edit::CounterAdd(_)
                | Edit::Flag(true)
                | Edit::SetAdd(_)
                | Edit::RegisterSet(_)
                | Edit::MapSet(..)
        );
        let scratch = &mut self.scratch;
        let mut failure = "the document's capacity is exhausted";
        let result = self.node.update(|doc| {
            let mut next = doc.clone();
            let delta = match edit {
                Edit::CounterAdd(amount) => {
                    match edit::counter_add(&mut next, replica, stamp, name, amount) {
                        Some(result) => result,
                        None => {
                            failure = "this replica's share of the counter would pass Number.MAX_SAFE_INTEGER";
                            return Err(CapacityError);
                        }
                    }
                }
                Edit::CounterReset => edit::counter_reset(&mut next, name),
                Edit::Flag(on) => edit::flag_set(&mut next, replica, stamp, name, on),
                Edit::SetAdd(e) => edit::set_add(&mut next, replica, stamp, name, e),
                Edit::SetRemove(e) => edit::set_remove(&mut next, name, e),
                Edit::SetClear => edit::set_clear(&mut next, name),
                Edit::RegisterSet(v) => edit::register_set(&mut next, replica, stamp, name, v),
                Edit::RegisterDelete => edit::register_delete(&mut next, name),
                Edit::MapSet(k, v) => edit::map_set(&mut next, replica, stamp, name, &k, v),
                Edit::MapDelete(k) => edit::map_delete(&mut next, name, &k),
                Edit::MapClear => edit::map_clear(&mut next, name),
            }?;
            if grows && !encodes_within(&next, DOCUMENT_LIMIT, scratch) {
                failure = "the document would pass its size limit (16 MiB encoded); the edit was not applied";
                return Err(CapacityError);
            }
            *doc = next;
            Ok(delta)
        });
        result.map_err(|_| error(failure))
    }

    /// Reads one value: counter (a number), flag (a boolean), register (its value or
    /// `undefined`), map (the value under key `item`), set (whether it holds `item`).
    /// `kind` is `"counter"`, `"flag"`, `"set"`, `"register"` or `"map"`.
    pub fn get(&self, kind: &str, name: &str, item: &JsValue) -> Result<JsValue, JsError> {
        let doc = self.node.state();
        Ok(match kind_from(kind)? {
            Kind::Counter => JsValue::from_f64(read::counter(doc, name) as f64),
            Kind::Flag => JsValue::from_bool(read::flag(doc, name)),
            Kind::Register => value_to_js(read::register(doc, name)),
            Kind::Set => {
                let element = element_from(item)?;
                JsValue::from_bool(read::set(doc, name).any(|e| *e == element))
            }
            Kind::Map => {
                let key = key_from(item)?;
                value_to_js(
                    read::map(doc, name)
                        .find(|(k, _)| *k == key)
                        .map(|(_, v)| v),
                )
            }
        })
    }

    /// The elements of set `name` (numbers ascending, then strings) or the keys of map
    /// `name` (sorted); `kind` is `"set"` or `"map"`.
    pub fn items(&self, kind: &str, name: &str) -> Result<Array, JsError> {
        let doc = self.node.state();
        Ok(match kind_from(kind)? {
            Kind::Set => read::set(doc, name).map(element_to_js).collect(),
            Kind::Map => read::map(doc, name)
                .map(|(k, _)| JsValue::from_str(k))
                .collect(),
            _ => return Err(error("items are for sets and maps")),
        })
    }

    /// The names in use for one kind, sorted.
    pub fn names(&self, kind: &str) -> Result<Array, JsError> {
        Ok(read::names(self.node.state(), kind_from(kind)?)
            .into_iter()
            .map(JsValue::from_str)
            .collect())
    }

    // ---- sync ---------------------------------------------------------------------------

    /// Adds a neighbour on link `link`; it is contacted at the next `poll`. Peers that
    /// contact this replica first are added by `receive`.
    #[wasm_bindgen(js_name = addPeer)]
    pub fn add_peer(&mut self, link: u32) -> Result<(), JsError> {
        self.node
            .add_peer(link)
            .map_err(|_| error("the peers table is full (8 neighbours)"))
    }

    /// Handles a frame received on link `from` at `nowMs`. Returns whether the document
    /// changed. Bad frames are counted and ignored (see `framesDropped`).
    pub fn receive(&mut self, bytes: &[u8], now_ms: f64, from: u32) -> Result<bool, JsError> {
        let now = whole(now_ms, "nowMs")?;
        self.node.handle_datagram(now, from, bytes);
        while let Some(event) = self.node.poll_event() {
            if matches!(event, Event::StateChanged) {
                self.changed = true;
            }
        }
        Ok(core::mem::take(&mut self.changed))
    }

    /// The next frame to send at `nowMs` (running the timers that are due first), or
    /// `undefined` when there is nothing to send. Call until `undefined` after every
    /// `receive`, edit or deadline.
    pub fn poll(&mut self, now_ms: f64) -> Result<Option<Outgoing>, JsError> {
        let now = whole(now_ms, "nowMs")?;
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(now, &mut self.rng);
        }
        Ok(self
            .node
            .poll_transmit(now, &mut self.frame)
            .map(|t| Outgoing {
                to: t.to,
                bytes: self.frame[..t.len].to_vec(),
            }))
    }

    /// When `poll` should next be called (milliseconds, as `nowMs`), or `undefined`
    /// when no peer is known.
    #[wasm_bindgen(js_name = nextDeadline)]
    pub fn next_deadline(&self) -> Option<f64> {
        self.node.poll_timeout().map(|t| t as f64)
    }

    /// Neighbours currently heard from.
    #[wasm_bindgen(js_name = peersAlive)]
    pub fn peers_alive(&self) -> u32 {
        self.node.peers_alive() as u32
    }

    /// Received frames dropped as corrupt, truncated, unknown or over a limit.
    #[wasm_bindgen(js_name = framesDropped)]
    pub fn frames_dropped(&self) -> f64 {
        self.node.metrics().drops.total() as f64
    }

    /// Size of the largest message, in bytes: documents are limited to a little less.
    #[wasm_bindgen(js_name = messageLimit)]
    pub fn message_limit() -> u32 {
        MAX_MESSAGE_BYTES as u32
    }
}

/// Whether `doc` encodes within `limit` bytes: encoded into `scratch`, grown by doubling
/// up to the limit, with the serializer `save` and the sync node use (measuring with
/// postcard's size counter would add a second copy of the document's serialization code
/// to the module).
fn encodes_within(doc: &Document, limit: usize, scratch: &mut Vec<u8>) -> bool {
    let mut room = scratch.len().max(16 * 1024).min(limit);
    loop {
        scratch.resize(room, 0);
        if doc.to_slice(scratch).is_ok() {
            return true;
        }
        if room >= limit {
            return false;
        }
        room = room.saturating_mul(2).min(limit);
    }
}
