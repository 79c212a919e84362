// Starling for JavaScript: replicas of a document of named counters, flags, sets,
// registers and maps that converge by exchanging small deltas over any channel.
// Types: index.d.ts. Guide: README.md.
import initWasm, { Replica as RawReplica } from './wasm/starling_wasm.js';

export { BroadcastChannelTransport, WebSocketTransport, ManualTransport } from './transports.js';

const DEFAULTS = { mtu: 16 * 1024, syncIntervalMs: 250 };

// Edit codes of the module's `edit` (see bindings/wasm/src/bindings.rs).
const OP = {
  counterAdd: 0, counterReset: 1, flagSet: 2, setAdd: 3, setRemove: 4, setClear: 5,
  registerSet: 6, registerDelete: 7, mapSet: 8, mapDelete: 9, mapClear: 10,
};

let loading;

/**
 * Loads the WebAssembly module once. Browsers fetch it next to this file; Node reads it
 * from disk. Pass bytes, a URL or a `WebAssembly.Module` to load it from elsewhere.
 */
export function init(source) {
  if (!loading) {
    loading = (async () => {
      let module = source;
      if (module === undefined && typeof process !== 'undefined' && process.versions?.node) {
        const { readFile } = await import('node:fs/promises');
        module = await readFile(new URL('./wasm/starling_wasm_bg.wasm', import.meta.url));
      }
      await initWasm(module === undefined ? undefined : { module_or_path: module });
    })();
  }
  return loading;
}

function randomSeed() {
  const seed = new Uint8Array(16);
  globalThis.crypto.getRandomValues(seed);
  return seed;
}

function randomId() {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  // 53 random bits: an id that is a safe integer.
  return (words[0] & 0x1fffff) * 2 ** 32 + words[1];
}

/** Creates a new, empty replica. */
export async function createReplica(options = {}) {
  await init(options.wasm);
  const o = { ...DEFAULTS, ...options };
  const id = o.id ?? randomId();
  return new Replica(new RawReplica(id, o.seed ?? randomSeed(), now(), o.mtu, o.syncIntervalMs));
}

/** Restores a replica from bytes that `replica.save()` returned. */
export async function loadReplica(saved, options = {}) {
  await init(options.wasm);
  const o = { ...DEFAULTS, ...options };
  const id = o.id ?? randomId();
  return new Replica(RawReplica.load(id, saved, o.seed ?? randomSeed(), now(), o.mtu, o.syncIntervalMs));
}

function now() {
  return Date.now();
}

/** One replica of a document, and the driver of its sync with the connected transports. */
export class Replica {
  #raw;
  #listeners = new Set();
  #links = new Map();
  #nextLink = 1;
  #timer = undefined;
  #timerAt = Infinity;
  #closed = false;

  /** @param {RawReplica} raw */
  constructor(raw) {
    this.#raw = raw;
  }

  /** This replica's id. */
  get id() {
    return this.#raw.id;
  }

  /** A counter: `value`, `increment(n)`, `decrement(n)`, `reset()`. */
  counter(name) {
    const r = this;
    return {
      name,
      get value() { return r.#raw.get('counter', name, undefined); },
      increment(by = 1) { r.#edit(OP.counterAdd, name, undefined, by); },
      decrement(by = 1) { r.#edit(OP.counterAdd, name, undefined, -by); },
      reset() { r.#edit(OP.counterReset, name); },
    };
  }

  /** A flag: `enabled`, `enable()`, `disable()`, `set(on)`. */
  flag(name) {
    const r = this;
    return {
      name,
      get enabled() { return r.#raw.get('flag', name, undefined); },
      enable() { r.#edit(OP.flagSet, name, undefined, true); },
      disable() { r.#edit(OP.flagSet, name, undefined, false); },
      set(on) { r.#edit(OP.flagSet, name, undefined, Boolean(on)); },
    };
  }

  /** A set of strings and numbers: `add`, `delete`, `has`, `values()`, `size`, `clear()`. */
  set(name) {
    const r = this;
    return {
      name,
      add(element) { r.#edit(OP.setAdd, name, element); },
      delete(element) { r.#edit(OP.setRemove, name, element); },
      has(element) { return r.#raw.get('set', name, element); },
      values() { return r.#raw.items('set', name); },
      get size() { return r.#raw.items('set', name).length; },
      clear() { r.#edit(OP.setClear, name); },
    };
  }

  /** A register of null, a boolean, a number or a string: `get()`, `set(v)`, `delete()`. */
  register(name) {
    const r = this;
    return {
      name,
      get() { return r.#raw.get('register', name, undefined); },
      set(value) { r.#edit(OP.registerSet, name, undefined, value); },
      delete() { r.#edit(OP.registerDelete, name); },
    };
  }

  /** A map of string keys to registers: `get`, `set`, `delete`, `has`, `keys()`, `toObject()`, `clear()`. */
  map(name) {
    const r = this;
    return {
      name,
      get(key) { return r.#raw.get('map', name, key); },
      set(key, value) { r.#edit(OP.mapSet, name, key, value); },
      delete(key) { r.#edit(OP.mapDelete, name, key); },
      has(key) { return r.#raw.get('map', name, key) !== undefined; },
      keys() { return r.#raw.items('map', name); },
      toObject() {
        const out = {};
        for (const key of r.#raw.items('map', name)) out[key] = r.#raw.get('map', name, key);
        return out;
      },
      clear() { r.#edit(OP.mapClear, name); },
    };
  }

  /** The names in use for one kind. */
  names(kind) {
    return this.#raw.names(kind);
  }

  /** The whole document as plain data. */
  toJSON() {
    const out = { counters: {}, flags: {}, sets: {}, registers: {}, maps: {} };
    for (const n of this.names('counter')) out.counters[n] = this.counter(n).value;
    for (const n of this.names('flag')) out.flags[n] = this.flag(n).enabled;
    for (const n of this.names('set')) out.sets[n] = this.set(n).values();
    for (const n of this.names('register')) out.registers[n] = this.register(n).get();
    for (const n of this.names('map')) out.maps[n] = this.map(n).toObject();
    return out;
  }

  /** The document as bytes, for `loadReplica` (and native Rust: `starling_wasm::document`). */
  save() {
    return this.#raw.save();
  }

  /** Calls `listener({ local })` after every change; returns the function that unsubscribes. */
  subscribe(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ---- sync: the sans-IO node ---------------------------------------------------------

  /** Adds a neighbour on `link` (any number the caller chooses for a manual transport). */
  addPeer(link) {
    this.#raw.addPeer(link);
  }

  /** Handles a received frame; returns whether the document changed. */
  receive(bytes, nowMs = now(), link = 0) {
    const changed = this.#raw.receive(bytes, nowMs, link);
    if (changed) this.#emit(false);
    return changed;
  }

  /** The next frame to send, `{ to, bytes }`, or `undefined`. */
  poll(nowMs = now()) {
    const out = this.#raw.poll(nowMs);
    if (out === undefined) return undefined;
    const frame = { to: out.to, bytes: out.bytes };
    out.free();
    return frame;
  }

  /** When `poll` should next be called (`Date.now()` milliseconds), or `undefined`. */
  nextDeadline() {
    return this.#raw.nextDeadline();
  }

  /** Neighbours currently heard from. */
  get peersAlive() {
    return this.#raw.peersAlive();
  }

  /** Received frames that were dropped (corrupt, truncated, unknown, over a limit). */
  get framesDropped() {
    return this.#raw.framesDropped();
  }

  // ---- sync: the driver for transports ------------------------------------------------

  /** Starts `transport` for this replica; returns it. */
  connect(transport) {
    transport.start(this.#host());
    return transport;
  }

  /** Stops the timers; the replica stays readable. */
  close() {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #host() {
    return {
      /** A new link to a peer reached by `send`. */
      link: (send) => {
        const id = this.#nextLink++;
        this.#links.set(id, send);
        return {
          id,
          /** Makes this side contact the peer (and keep probing it while it is away). */
          configure: () => {
            try {
              this.#raw.addPeer(id);
            } catch {
              // The peers table is full (8 contacted neighbours): the peer can still
              // reach us and be answered while there is room for it.
              return;
            }
            this.#pump();
          },
          receive: (bytes) => {
            this.receive(bytes, now(), id);
            this.#pump();
          },
          close: () => this.#links.delete(id),
        };
      },
    };
  }

  #edit(op, name, item, value) {
    this.#raw.edit(op, name, item, value, now());
    this.#emit(true);
    this.#pump();
  }

  #emit(local) {
    for (const listener of this.#listeners) listener({ local });
  }

  /** Sends everything due and arms the timer for the next deadline. */
  #pump() {
    if (this.#closed || this.#links.size === 0) return;
    const t = now();
    for (let frame = this.poll(t); frame !== undefined; frame = this.poll(t)) {
      const send = this.#links.get(frame.to);
      if (send) send(frame.bytes);
    }
    const deadline = this.nextDeadline();
    if (deadline === undefined) return;
    if (this.#timer !== undefined && this.#timerAt <= deadline) return;
    clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#pump();
    }, Math.max(0, deadline - now()));
    // In Node, a replica's timer alone does not keep the process running.
    this.#timer.unref?.();
  }
}
