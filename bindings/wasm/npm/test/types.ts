// A TypeScript user of the package, type-checked by `tsc --strict` (never run): the
// declarations must describe the API the way the README uses it.
import {
  createReplica, loadReplica, BroadcastChannelTransport, WebSocketTransport, ManualTransport,
  type Replica, type Value, type Element, type DocumentJSON, type OutgoingFrame,
} from '../index.js';

export async function example(): Promise<DocumentJSON> {
  const doc: Replica = await createReplica({ id: 1, syncIntervalMs: 200 });
  const tabs = doc.connect(new BroadcastChannelTransport('groceries'));
  tabs.pause();
  tabs.resume();
  doc.counter('visits').increment();
  const n: number = doc.counter('visits').value;
  doc.set('items').add('milk');
  doc.set('items').add(2);
  const items: Element[] = doc.set('items').values();
  doc.register('title').set('Groceries');
  const title: Value | undefined = doc.register('title').get();
  doc.flag('online').enable();
  const on: boolean = doc.flag('online').enabled;
  doc.map('milk').set('qty', n + items.length + (on ? 1 : 0));
  const unsubscribe = doc.subscribe((e) => console.log(e.local, title));
  unsubscribe();
  const copy = await loadReplica(doc.save(), { id: 2 });
  const frame: OutgoingFrame | undefined = copy.poll(Date.now());
  if (frame) doc.receive(frame.bytes, Date.now(), frame.to);
  const deadline: number | undefined = doc.nextDeadline();
  const manual = new ManualTransport((bytes: Uint8Array) => void bytes.length);
  manual.deliver(new Uint8Array(deadline ?? 0));
  copy.connect(manual);
  const ws = new WebSocketTransport('ws://127.0.0.1:9000/');
  void ws.key;
  // @ts-expect-error: sets hold strings and numbers only
  doc.set('items').add({ nested: true });
  // @ts-expect-error: register values are JSON scalars
  doc.register('title').set([1, 2]);
  // @ts-expect-error: unknown kind
  doc.names('tables');
  return doc.toJSON();
}
