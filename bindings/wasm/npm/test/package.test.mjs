// The npm package's JavaScript API in Node: handles, subscriptions, save/load, errors,
// and sync through each transport (in-memory stand-ins for the channel and the socket).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createReplica, loadReplica, BroadcastChannelTransport, WebSocketTransport, ManualTransport,
} from '../index.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check, what, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

const same = (a, b) => Buffer.from(a.save()).equals(Buffer.from(b.save()));

test('typed handles read back what they write', async () => {
  const r = await createReplica({ id: 1 });
  assert.equal(r.id, 1);
  const clicks = r.counter('clicks');
  clicks.increment();
  clicks.increment(4);
  clicks.decrement(2);
  assert.equal(clicks.value, 3);
  const tags = r.set('tags');
  tags.add('red');
  tags.add(42);
  tags.add('red');
  assert.deepEqual(tags.values(), [42, 'red']);
  assert.equal(tags.size, 2);
  assert.ok(tags.has(42));
  tags.delete(42);
  assert.ok(!tags.has(42));
  const title = r.register('title');
  assert.equal(title.get(), undefined);
  title.set('Groceries');
  assert.equal(title.get(), 'Groceries');
  const online = r.flag('online');
  online.enable();
  assert.equal(online.enabled, true);
  online.disable();
  assert.equal(online.enabled, false);
  const milk = r.map('item:milk');
  milk.set('qty', 2);
  milk.set('done', false);
  assert.deepEqual(milk.toObject(), { done: false, qty: 2 });
  assert.ok(milk.has('qty'));
  milk.delete('qty');
  assert.deepEqual(milk.keys(), ['done']);
  assert.deepEqual(r.toJSON(), {
    counters: { clicks: 3 },
    flags: {},
    sets: { tags: ['red'] },
    registers: { title: 'Groceries' },
    maps: { 'item:milk': { done: false } },
  });
});

test('errors are exceptions with clear messages', async () => {
  const r = await createReplica({ id: 2 });
  assert.throws(() => r.set('s').add({}), /strings or finite numbers/);
  assert.throws(() => r.register('x').set({ a: 1 }), /JSON.stringify/);
  assert.throws(() => r.counter('c').increment(0.5), /whole number/);
  assert.throws(() => r.names('tables'), /kind must be/);
  await assert.rejects(createReplica({ id: -3 }), /replica id/);
  await assert.rejects(createReplica({ id: 1, mtu: 20 }), /mtu/);
  await assert.rejects(loadReplica(new Uint8Array([9, 9, 9]), { id: 1 }), /not a saved/);
  // The module still works after every error.
  r.counter('c').increment();
  assert.equal(r.counter('c').value, 1);
});

test('subscribers hear local and remote changes', async () => {
  const a = await createReplica({ id: 10 });
  const b = await createReplica({ id: 11 });
  const heard = [];
  const stop = b.subscribe((e) => heard.push(e.local));
  const toB = new ManualTransport((bytes) => queueMicrotask(() => toA.deliver(bytes)));
  const toA = new ManualTransport((bytes) => queueMicrotask(() => toB.deliver(bytes)));
  // toB is a's side of the link, toA is b's.
  a.connect(toB);
  b.connect(toA);
  b.counter('n').increment();
  a.set('s').add('x');
  await until(() => b.set('s').has('x'), 'b to receive');
  assert.ok(heard.includes(true) && heard.includes(false));
  stop();
  a.close();
  b.close();
});

test('save and load keep the document', async () => {
  const a = await createReplica({ id: 20 });
  a.map('m').set('k', 'v');
  a.counter('c').increment(7);
  const b = await loadReplica(a.save(), { id: 21 });
  assert.deepEqual(b.toJSON(), a.toJSON());
});

test('three replicas over a BroadcastChannel converge, with one offline for a while', async () => {
  const name = `test-${Math.random()}`;
  const replicas = await Promise.all([30, 31, 32].map((id) => createReplica({ id, syncIntervalMs: 50 })));
  const transports = replicas.map((r) => r.connect(new BroadcastChannelTransport(name)));
  replicas[0].set('items').add('milk');
  replicas[1].set('items').add('eggs');
  await until(() => replicas.every((r) => r.set('items').size === 2), 'first sync');
  transports[2].pause();
  replicas[2].counter('votes').increment(5);
  replicas[0].counter('votes').increment(1);
  replicas[1].set('items').delete('milk');
  await sleep(300);
  assert.equal(replicas[2].counter('votes').value, 5);
  transports[2].resume();
  await until(() => same(replicas[0], replicas[1]) && same(replicas[1], replicas[2]), 'convergence');
  assert.equal(replicas[0].counter('votes').value, 6);
  assert.deepEqual(replicas[2].set('items').values(), ['eggs']);
  transports.forEach((t) => t.stop());
  replicas.forEach((r) => r.close());
});

/** A relay of in-memory sockets: every message goes to every other socket. */
class Relay {
  sockets = new Set();
  connect() {
    const relay = this;
    const socket = new EventTarget();
    socket.readyState = 0;
    socket.send = (bytes) => {
      for (const other of relay.sockets) {
        if (other !== socket) {
          const data = new Uint8Array(bytes).buffer;
          setTimeout(() => other.dispatchEvent(Object.assign(new Event('message'), { data })), 1);
        }
      }
    };
    socket.close = () => relay.sockets.delete(socket);
    this.sockets.add(socket);
    setTimeout(() => {
      socket.readyState = 1;
      socket.dispatchEvent(new Event('open'));
    }, 1);
    return socket;
  }
}

test('replicas converge through a WebSocket relay', async () => {
  const relay = new Relay();
  const a = await createReplica({ id: 40, syncIntervalMs: 50 });
  const b = await createReplica({ id: 41, syncIntervalMs: 50 });
  const ta = a.connect(new WebSocketTransport(relay.connect()));
  const tb = b.connect(new WebSocketTransport(relay.connect()));
  a.register('title').set('from a');
  b.flag('ready').enable();
  await until(() => same(a, b), 'convergence');
  assert.equal(b.register('title').get(), 'from a');
  assert.equal(a.flag('ready').enabled, true);
  ta.stop();
  tb.stop();
  a.close();
  b.close();
});

test('the sans-IO calls work by hand', async () => {
  const a = await createReplica({ id: 50 });
  const b = await createReplica({ id: 51 });
  a.addPeer(1);
  b.addPeer(1);
  a.counter('c').increment(2);
  let t = Date.now();
  for (let round = 0; round < 100 && !same(a, b); round++) {
    for (const [src, dst] of [[a, b], [b, a]]) {
      for (let f = src.poll(t); f !== undefined; f = src.poll(t)) dst.receive(f.bytes, t, 1);
    }
    t += 100;
  }
  assert.ok(same(a, b));
  assert.equal(typeof a.nextDeadline(), 'number');
  assert.equal(b.receive(new Uint8Array([1, 2, 3]), t, 1), false);
  assert.ok(b.framesDropped >= 1);
});
