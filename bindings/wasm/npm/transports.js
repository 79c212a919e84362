// Transports: how frames travel between replicas. Each one is started by
// `replica.connect(transport)` with a host that makes links (one per peer): the
// transport calls `link.receive(bytes)` for each frame from that peer, and the replica
// calls the `send(bytes)` the transport gave for it.
//
// Hub envelope (BroadcastChannel and WebSocket): every message goes to every member of
// the hub, which keeps those addressed to it:
//   byte 0      kind: 0 hello (to everyone), 1 welcome (reply to a hello), 2 frame
//   bytes 1-4   sender's member key, u32 little-endian
//   bytes 5-8   recipient's member key (0 for hello)
//   bytes 9..   the frame

const HELLO = 0;
const WELCOME = 1;
const FRAME = 2;
const HEADER = 9;

function memberKey() {
  const key = new Uint32Array(1);
  do globalThis.crypto.getRandomValues(key); while (key[0] === 0);
  return key[0];
}

function envelope(kind, from, to, frame) {
  const bytes = new Uint8Array(HEADER + (frame ? frame.length : 0));
  const view = new DataView(bytes.buffer);
  view.setUint8(0, kind);
  view.setUint32(1, from, true);
  view.setUint32(5, to, true);
  if (frame) bytes.set(frame, HEADER);
  return bytes;
}

/**
 * Members of a hub: every message reaches every member (a BroadcastChannel, or a
 * WebSocket relay that forwards each message to every other connection). A newcomer
 * says hello; members answer with a welcome; the newcomer contacts each of them.
 */
class Hub {
  #key = memberKey();
  #host = undefined;
  #links = new Map();
  #paused = false;

  /** This member's key on the hub. */
  get key() {
    return this.#key;
  }

  /** Whether the transport is paused (offline). */
  get paused() {
    return this.#paused;
  }

  /** Goes offline: nothing is sent or received until `resume()`. */
  pause() {
    this.#paused = true;
  }

  /** Comes back online and says hello again. */
  resume() {
    this.#paused = false;
    this.#post(envelope(HELLO, this.#key, 0));
  }

  start(host) {
    this.#host = host;
    this.open();
  }

  /** Called by subclasses once the hub can carry messages. */
  ready() {
    if (!this.#paused) this.#post(envelope(HELLO, this.#key, 0));
  }

  #post(bytes) {
    if (!this.#paused) this.post(bytes);
  }

  #link(from) {
    let link = this.#links.get(from);
    if (!link) {
      link = this.#host.link((frame) => this.#post(envelope(FRAME, this.#key, from, frame)));
      this.#links.set(from, link);
    }
    return link;
  }

  /** Called by subclasses with every message from the hub. */
  deliver(data) {
    if (this.#paused || !this.#host) return;
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (bytes.length < HEADER) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const kind = view.getUint8(0);
    const from = view.getUint32(1, true);
    const to = view.getUint32(5, true);
    if (from === this.#key) return;
    if (kind === HELLO) {
      this.#link(from);
      this.#post(envelope(WELCOME, this.#key, from));
    } else if (kind === WELCOME && to === this.#key) {
      this.#link(from).configure();
    } else if (kind === FRAME && to === this.#key) {
      this.#link(from).receive(bytes.subarray(HEADER));
    }
  }
}

/** Tabs, windows and workers of one browser (one origin, one profile). */
export class BroadcastChannelTransport extends Hub {
  #name;
  #channel = undefined;

  constructor(name = 'starling') {
    super();
    this.#name = name;
  }

  open() {
    this.#channel = new BroadcastChannel(this.#name);
    this.#channel.onmessage = (event) => this.deliver(event.data);
    this.ready();
  }

  post(bytes) {
    this.#channel?.postMessage(bytes);
  }

  stop() {
    this.#channel?.close();
    this.#channel = undefined;
  }
}

/**
 * A WebSocket to a relay that forwards every binary message to every other connection
 * (see docs/wasm.md). Pass a URL or an open-or-opening WebSocket-like object.
 */
export class WebSocketTransport extends Hub {
  #socket;

  constructor(urlOrSocket) {
    super();
    this.#socket = typeof urlOrSocket === 'string' ? new WebSocket(urlOrSocket) : urlOrSocket;
  }

  open() {
    const socket = this.#socket;
    socket.binaryType = 'arraybuffer';
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') this.deliver(event.data);
    });
    if (socket.readyState === 1) this.ready();
    else socket.addEventListener('open', () => this.ready());
  }

  post(bytes) {
    if (this.#socket.readyState === 1) this.#socket.send(bytes);
  }

  stop() {
    this.#socket.close();
  }
}

/**
 * One peer over anything else (a WebRTC data channel, postMessage, a serial port):
 * frames to send go to `send(bytes)`; hand frames received from the peer to `deliver`.
 */
export class ManualTransport {
  #send;
  #link = undefined;
  #paused = false;

  constructor(send) {
    this.#send = send;
  }

  get paused() {
    return this.#paused;
  }

  pause() {
    this.#paused = true;
  }

  resume() {
    this.#paused = false;
  }

  start(host) {
    this.#link = host.link((bytes) => {
      if (!this.#paused) this.#send(bytes);
    });
    this.#link.configure();
  }

  /** A frame from the peer. */
  deliver(bytes) {
    if (!this.#paused) this.#link?.receive(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  }

  stop() {
    this.#link?.close();
    this.#link = undefined;
  }
}
