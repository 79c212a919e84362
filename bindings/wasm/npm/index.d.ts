// Types of the Starling npm package (checked by `tsc --strict`, see test/types.ts).

/** What a register or map entry holds: a JSON scalar (objects: `JSON.stringify` them). */
export type Value = null | boolean | number | string;
/** What a set holds: strings and finite numbers. */
export type Element = string | number;
/** The kinds of named values in a document. */
export type Kind = 'counter' | 'flag' | 'set' | 'register' | 'map';

/** Options of `createReplica` and `loadReplica`. */
export interface ReplicaOptions {
  /** This replica's id: a whole number, unique among the document's replicas (default: random). */
  id?: number;
  /** At least 16 random bytes (default: `crypto.getRandomValues`). */
  seed?: Uint8Array;
  /** Largest frame the transports carry, 256 to 65,536 bytes (default 16,384). */
  mtu?: number;
  /** How often deltas go out to peers, in milliseconds (default 250). */
  syncIntervalMs?: number;
  /** Where to load the WebAssembly module from (default: next to the package's index.js). */
  wasm?: WasmSource;
}

/** Bytes, a URL or a compiled module of `starling_wasm_bg.wasm`. */
export type WasmSource = BufferSource | URL | string | WebAssembly.Module | Response | Promise<Response>;

/** A counter: increments and decrements add up across replicas. */
export interface Counter {
  readonly name: string;
  readonly value: number;
  increment(by?: number): void;
  decrement(by?: number): void;
  /** Back to 0; increments made concurrently elsewhere survive. */
  reset(): void;
}

/** A flag: enabling wins over a concurrent disable. */
export interface Flag {
  readonly name: string;
  readonly enabled: boolean;
  enable(): void;
  disable(): void;
  set(on: boolean): void;
}

/** A set of strings and numbers: adding wins over a concurrent delete. */
export interface StarlingSet {
  readonly name: string;
  readonly size: number;
  add(element: Element): void;
  delete(element: Element): void;
  has(element: Element): boolean;
  /** Numbers ascending, then strings. */
  values(): Element[];
  clear(): void;
}

/** A register: the latest write wins (hybrid logical clock). */
export interface Register {
  readonly name: string;
  /** `undefined` when never written or deleted. */
  get(): Value | undefined;
  set(value: Value): void;
  delete(): void;
}

/** A map of string keys to registers. */
export interface StarlingMap {
  readonly name: string;
  get(key: string): Value | undefined;
  set(key: string, value: Value): void;
  delete(key: string): void;
  has(key: string): boolean;
  /** Sorted. */
  keys(): string[];
  toObject(): Record<string, Value>;
  clear(): void;
}

/** The whole document as plain data. */
export interface DocumentJSON {
  counters: Record<string, number>;
  flags: Record<string, boolean>;
  sets: Record<string, Element[]>;
  registers: Record<string, Value>;
  maps: Record<string, Record<string, Value>>;
}

/** A change notification. */
export interface ChangeEvent {
  /** `true` for an edit made through this replica, `false` for one received. */
  local: boolean;
}

/** A frame to send: `bytes` for the peer on link `to`. */
export interface OutgoingFrame {
  to: number;
  bytes: Uint8Array;
}

/** A link to one peer, made by a transport through `TransportHost.link`. */
export interface PeerLink {
  readonly id: number;
  /** Hand a frame received from the peer to the replica. */
  receive(bytes: Uint8Array): void;
  /** Make this side contact the peer (and keep probing it while it is away). */
  configure(): void;
  /** Stop sending to the peer. */
  close(): void;
}

/** What a transport gets from `replica.connect`. */
export interface TransportHost {
  /** A new link to a peer; the replica calls `send` with each frame for it. */
  link(send: (bytes: Uint8Array) => void): PeerLink;
}

/** Carries frames between replicas. */
export interface Transport {
  start(host: TransportHost): void;
  stop(): void;
}

/** One replica of a document, and the driver of its sync with connected transports. */
export declare class Replica {
  private constructor();
  readonly id: number;
  counter(name: string): Counter;
  flag(name: string): Flag;
  set(name: string): StarlingSet;
  register(name: string): Register;
  map(name: string): StarlingMap;
  /** The names in use for one kind, sorted. */
  names(kind: Kind): string[];
  toJSON(): DocumentJSON;
  /** The document as bytes, for `loadReplica`. */
  save(): Uint8Array;
  /** Calls `listener` after every change; returns the function that unsubscribes. */
  subscribe(listener: (event: ChangeEvent) => void): () => void;
  /** Adds a neighbour on `link` (manual sync). */
  addPeer(link: number): void;
  /** Handles a received frame (manual sync); returns whether the document changed. */
  receive(bytes: Uint8Array, nowMs?: number, link?: number): boolean;
  /** The next frame to send (manual sync), or `undefined`. */
  poll(nowMs?: number): OutgoingFrame | undefined;
  /** When `poll` should next be called, or `undefined` without peers. */
  nextDeadline(): number | undefined;
  readonly peersAlive: number;
  readonly framesDropped: number;
  /** Starts `transport` for this replica and drives the sync; returns the transport. */
  connect<T extends Transport>(transport: T): T;
  /** Stops the sync timers. */
  close(): void;
}

/** Loads the WebAssembly module (once). */
export declare function init(source?: WasmSource): Promise<void>;
/** Creates a new, empty replica. */
export declare function createReplica(options?: ReplicaOptions): Promise<Replica>;
/** Restores a replica from `replica.save()` bytes. */
export declare function loadReplica(saved: Uint8Array, options?: ReplicaOptions): Promise<Replica>;

/** Shared by the hub transports: pause and resume (an offline switch). */
declare abstract class HubTransport implements Transport {
  /** This member's key on the hub. */
  readonly key: number;
  readonly paused: boolean;
  /** Goes offline: nothing is sent or received until `resume()`. */
  pause(): void;
  /** Comes back online. */
  resume(): void;
  start(host: TransportHost): void;
  stop(): void;
}

/** Tabs, windows and workers of one browser profile. */
export declare class BroadcastChannelTransport extends HubTransport {
  constructor(name?: string);
}

/** The methods of a WebSocket the transport uses. */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: Uint8Array): void;
  close(): void;
  addEventListener(type: 'open' | 'message', listener: (event: any) => void): void;
}

/** A WebSocket to a relay that forwards each binary message to every other connection. */
export declare class WebSocketTransport extends HubTransport {
  constructor(urlOrSocket: string | WebSocketLike);
}

/** One peer over anything else (WebRTC data channel, postMessage, ...). */
export declare class ManualTransport implements Transport {
  constructor(send: (bytes: Uint8Array) => void);
  readonly paused: boolean;
  pause(): void;
  resume(): void;
  /** A frame received from the peer. */
  deliver(bytes: Uint8Array | ArrayBuffer): void;
  start(host: TransportHost): void;
  stop(): void;
}
