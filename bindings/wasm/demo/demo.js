// The demo: a checklist (a set of item names), per item a "done" flag and a vote
// counter, an edit counter, and presence flags, synced between tabs.
import { createReplica, BroadcastChannelTransport } from '../npm/index.js';

const replica = await createReplica({ syncIntervalMs: 200 });
const transport = replica.connect(new BroadcastChannelTransport('starling-demo'));

const items = replica.set('items');
const edits = replica.counter('edits');
const presence = replica.flag(`online:${replica.id}`);
const $ = (id) => document.getElementById(id);

presence.enable();
addEventListener('pagehide', () => presence.disable());

function render() {
  $('me').textContent = String(replica.id);
  $('edits').textContent = String(edits.value);
  const list = $('items');
  list.replaceChildren();
  for (const name of items.values()) {
    const li = document.createElement('li');
    const done = replica.flag(`done:${name}`);
    const votes = replica.counter(`votes:${name}`);
    li.className = done.enabled ? 'done' : '';
    li.dataset.item = String(name);
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = done.enabled;
    box.onchange = () => { done.set(box.checked); edits.increment(); };
    const label = document.createElement('span');
    label.className = 'name';
    label.textContent = String(name);
    const count = document.createElement('span');
    count.className = 'votes';
    count.textContent = String(votes.value);
    const up = document.createElement('button');
    up.textContent = '+1';
    up.className = 'vote';
    up.onclick = () => { votes.increment(); edits.increment(); };
    const remove = document.createElement('button');
    remove.textContent = '✕';
    remove.className = 'remove';
    remove.onclick = () => { items.delete(name); edits.increment(); };
    li.append(box, label, count, up, remove);
    list.append(li);
  }
  const online = replica.names('flag').filter((n) => n.startsWith('online:') && replica.flag(n).enabled);
  $('presence').replaceChildren(...online.map((n) => {
    const s = document.createElement('span');
    s.textContent = n.slice('online:'.length);
    return s;
  }));
  $('state').textContent = JSON.stringify(replica.toJSON(), null, 1);
}

$('add-form').onsubmit = (event) => {
  event.preventDefault();
  const name = $('new-item').value.trim();
  if (name) {
    items.add(name);
    edits.increment();
  }
  $('new-item').value = '';
};

$('offline').onchange = () => {
  const offline = $('offline').checked;
  if (offline) transport.pause();
  else transport.resume();
  $('status').textContent = offline ? 'offline' : 'online';
  $('status').className = offline ? 'offline' : '';
};

replica.subscribe(render);
render();

// For the end-to-end test: the document's bytes, to compare tabs.
window.starling = {
  replica,
  transport,
  digest: () => Array.from(replica.save(), (b) => b.toString(16).padStart(2, '0')).join(''),
};
window.starlingReady = true;
