// Type declarations for require("notp"): a drop-in for notp 2.0.1 on a
// native engine.

import { EventEmitter } from "node:events";
import { Readable } from "node:stream";

/** A ring key: text, or raw bytes (hashed as they are). */
export type RingKey = string | Uint8Array | ArrayBufferView;

/** Anything with `id()`, `host()` and `port()` methods, like a `Node`. */
export interface NodeLike {
  id(): string;
  host(): string;
  port(): number;
}

/** A node's JSON form. */
export interface NodeJSON {
  id: string;
  host: string;
  port: number;
}

/** A member of the cluster: a unique id and the address it listens on. */
export class Node implements NodeLike {
  constructor(id: string, host?: string, port?: number);
  /** Getter/setter; sets only when given a string. */
  id(id?: string): string;
  /** Getter/setter; sets only when given a string. */
  host(host?: string): string;
  /** Getter/setter; sets only when given a number. */
  port(port?: number): number;
  /** Same id, host and port. */
  equals(node: NodeLike): boolean;
  /** `{id, host, port}` (a fresh object). */
  toJSON(fast?: boolean): NodeJSON;
  static from(data: NodeJSON): Node;
}

/** A ring's JSON form: virtual nodes in ascending key order. */
export interface CHashJSON {
  rfactor: number;
  pfactor: number;
  tree: Array<{ key: string; value: NodeJSON }>;
}

/**
 * A cursor over a ring's virtual nodes in key order. It reads a snapshot
 * of the ring taken when it was created: later changes to the ring do not
 * move it or change what it reads.
 */
export interface RingIterator {
  /** Whether the cursor is on a virtual node. */
  readonly valid: boolean;
  /** The virtual node's key: base64(sha256(id + "_" + n)). */
  readonly key: string | undefined;
  /** The node behind the virtual node. */
  readonly value: Node | undefined;
  /** Position in the ring; the ring's size when not valid. */
  readonly index: number;
  readonly hasNext: boolean;
  readonly hasPrev: boolean;
  /** Moves to the next virtual node (past the last: not valid). */
  next(): void;
  /** Moves to the previous virtual node (before the first: not valid). */
  prev(): void;
  /** An independent cursor at the same position. */
  clone(): RingIterator;
}

/**
 * Consistent hash ring, placement-identical to notp 2.0.1. Each node owns
 * `weight` virtual nodes (default `rfactor`); a key belongs to the first
 * virtual node after base64(sha256(key)). Mutators return `this`.
 *
 * Lookups answer one shared `Node` object per node until the ring next
 * changes; treat them as read-only.
 *
 * Throws `TypeError("node must be a Node")` for anything that is not a
 * `NodeLike` with a string id, `TypeError` for keys that are neither
 * strings nor bytes, and `RangeError`/`TypeError` naming `weight` or
 * `range` for counts that are not (positive / non-negative) integers.
 */
export class CHash {
  /** Extra arguments are ignored. Defaults: rfactor 3, pfactor 2. */
  constructor(rfactor?: number, pfactor?: number, ...ignored: unknown[]);
  /** Adds `node` with `weight` virtual nodes; a known id is left alone. */
  insert(node: NodeLike, weight?: number): this;
  remove(node: NodeLike): this;
  /** Re-inserts `node` with a new weight (it moves last in `weights()`). */
  update(node: NodeLike, weight: number): this;
  /** The stored node with `node`'s id, or `def`. */
  get<D = undefined>(node: NodeLike, def?: D): Node | D;
  /** The node owning `key` (undefined on an empty ring). */
  find(key: RingKey): Node | undefined;
  /** Up to `range` (default pfactor) distinct nodes after `node`, excluding it. */
  next(node: NodeLike, range?: number): Node[];
  /** Up to `range` (default pfactor) distinct nodes before `node`, excluding it. */
  prev(node: NodeLike, range?: number): Node[];
  /** Up to `range` (default pfactor + 1) distinct nodes from `key`'s owner on. */
  rangeNext(key: RingKey, range?: number): Node[];
  /** Up to `range` (default pfactor + 1) distinct nodes before `key`. */
  rangePrev(key: RingKey, range?: number): Node[];
  /** Adds every virtual node of `chash` this ring lacks. */
  merge(chash: CHash): this;
  /** Keeps only the virtual nodes present in both rings. */
  intersect(chash: CHash): this;
  /** Number of virtual nodes. */
  size(): number;
  numberNodes(): number;
  /** Node id -> weight, in the original's order (a fresh Map). */
  weights(): Map<string, number>;
  /** The distinct nodes, in the original's order. */
  nodes(): Node[];
  isDefined(node: NodeLike): boolean;
  /** Getter/setter; sets only when given a number. */
  rfactor(r?: number): number;
  /** Getter/setter; sets only when given a number. */
  pfactor(p?: number): number;
  /** Same virtual nodes pointing at equal nodes (factors not compared). */
  equals(chash: CHash): boolean;
  /** A fresh plain object; `JSON.stringify` of it is byte-identical to the original's. */
  toJSON(fast?: boolean): CHashJSON;
  /** Replaces this ring; throws an `Error` naming the problem when malformed. */
  fromJSON(json: CHashJSON | CHash): this;
  /** A cursor on the first virtual node. */
  begin(): RingIterator;
  /** A cursor on the last virtual node. */
  end(): RingIterator;
  /** A cursor on the virtual node with exactly this key (not valid if none). */
  /** A cursor on `node`'s first virtual node (invalid if absent), or on the virtual node with exactly key `key`. */
  iterator(node: NodeLike | string): RingIterator;
}

/** One actor's state; times are µs since the Unix epoch. */
export interface ClockEntry {
  count: number;
  insert: number;
  time: number;
}

/** A vector clock's JSON form. */
export type VectorClockJSON = Record<string, ClockEntry>;

/** Trimming bounds (µs for times); missing ones take `consts.vclockOpts`. */
export interface TrimOptions {
  lowerBound?: number;
  youngBound?: number;
  upperBound?: number;
  oldBound?: number;
}

/**
 * Vector clock: actor id -> {count, insert, time}, stamped by the native
 * µs clock. Mutators return `this`. Actor ids must be strings (TypeError
 * otherwise); counts and times non-negative integers below 2^53.
 */
export class VectorClock {
  /** Seeds `node` at `count` only when `node` is a string and `count` a number. */
  constructor(node?: string, count?: number);
  /** Adds `node` at count 0 (a known actor is left alone). */
  insert(node: string): this;
  /** Sets `node`'s count and time (default: now). */
  update(node: string, count: number, time?: number): this;
  remove(node: string): this;
  /** Adds one to `node`'s count (inserting it first) and stamps it now. */
  increment(node: string): this;
  /** A copy of `node`'s entry. */
  get(node: string): ClockEntry | undefined;
  getCount(node: string): number | undefined;
  getInsert(node: string): number | undefined;
  getTimestamp(node: string): number | undefined;
  has(node: string): boolean;
  /** Per actor the larger count wins; equal counts keep the later time. */
  merge(vclock: VectorClock): this;
  /** Whether this clock has seen everything `vclock` has. */
  descends(vclock: VectorClock): boolean;
  equals(vclock: VectorClock): boolean;
  /** Drops old entries relative to `threshold` (µs since the epoch). */
  trim(threshold: number, opts?: TrimOptions): this;
  /** Actor ids, in JSON order (integer-like ids first). */
  nodes(): string[];
  size(): number;
  /** A fresh plain object in the original's key order. */
  toJSON(fast?: boolean): VectorClockJSON;
  /** Replaces this clock; throws an `Error` naming the problem when malformed. */
  fromJSON(json: VectorClockJSON | VectorClock): this;
  /** Whether `data` is a non-array object. */
  static validJSON(data: unknown): boolean;
}

/** What a message may carry: any JSON value or bytes. */
export type MessageData = unknown;

/**
 * Data to send: a JSON value, a Buffer (sent as bytes), or a Readable (sent
 * chunk by chunk as it is read, as the original streams it; paused while the
 * connection is far behind; collected into one Buffer for `multicall` and
 * before the kernel listens).
 */
export type OutgoingData = unknown;

/** Error-first callback of a call; `data` is a Buffer for byte replies, otherwise the JSON value. */
export type CallCallback = (err: (Error & Record<string, unknown>) | null, data?: any) => void;

/** Who sent a message: the reply tag (null for casts) and the sender. */
export interface From {
  tag: string | null;
  node: Node;
  /** Opaque reply address used by `reply`; do not rely on it. */
  _reply?: number;
}

/**
 * `{done: true}` for a whole message (from another node, the engine has
 * reassembled any streamed body); a Readable sent to a listener on the
 * same node arrives as `{stream, done: false}` per chunk, then
 * `{stream, done: true}` (with `error` when its source failed).
 */
export interface StreamInfo {
  readonly done: boolean;
  readonly stream?: string;
  readonly error?: unknown;
}

/**
 * A kernel's options: how it connects, signs and bounds itself. Given to
 * `createKernel` (the reference's `kernelOpts`), to `kernel.start`, or as a
 * cluster's `kernelOpts`; those given to `start` win over the
 * constructor's. An absent option takes the default shown (the
 * reference's for `retry`, `maxRetries` and `maxLen`, the engine's, the
 * same as the C and Rust doors', for the others). Numbers are passed to
 * the engine as they are: a value it refuses fails the start (a thrown
 * error, or `error` emitted); a non-number throws a TypeError naming the
 * option. Sizes are in bytes or counts, times in ms; Infinity means no
 * bound (sizes saturate).
 */
export interface KernelStartOpts {
  /** Signs and checks every message; none (or "") accepts all. */
  cookie?: string | null;
  /** ms between reconnection attempts (5000); 0 or absent: the default. */
  retry?: number;
  /** Failed attempts in a row before a peer is given up (Infinity: never); 0 or absent: the default. */
  maxRetries?: number;
  /** Frames queued per peer while it is unreachable (1024); past it the oldest is dropped. */
  maxLen?: number;
  /** Bytes a connected peer's writer may fall behind by (64 MiB); past it the oldest frames are dropped. */
  maxQueueBytes?: number;
  /** Largest frame accepted (16 MiB); a larger one closes its connection (`_skip` FRAME_TOO_LARGE). */
  maxFrame?: number;
  /** Bytes of partly received streamed bodies held per connection (64 MiB); more drops the stream (STREAM_TOO_LARGE). */
  maxStreamBytes?: number;
  /** Accepted connections open at once (1024); more are closed at once (TOO_MANY_CONNECTIONS). */
  maxInbound?: number;
  /** Calls awaiting replies at once (65536); more fail at once. */
  maxPending?: number;
  /** Messages waiting for one local target (65536); this node's own past it are dropped (MAILBOX_FULL), a peer's wait for room. */
  mailbox?: number;
  /** ms a streamed body may take to arrive completely (30000); a slower one is dropped (STREAM_TIMEOUT). */
  streamTimeout?: number;
  /** Only null: anything else throws "TLS is not supported yet". */
  tls?: null;
}

/** Options of `createKernel`: the start options, plus where to listen when `host`/`port` are absent. */
export interface KernelOpts extends KernelStartOpts {
  networkHost?: string;
  networkPort?: number;
  /** Accepted for compatibility; the engine logs nothing to the console. */
  silent?: boolean;
}

/** An outbound connection of a kernel; every method reads the engine's current state. */
/** What `Connection.queue()` answers: the frames waiting (it also reads as that number). */
export interface QueueView {
  size(): number;
  valueOf(): number;
}

/** An outbound connection (the engine's), with the original's methods. */
export class Connection extends EventEmitter {
  /** Opens it (the kernel's `connect`). */
  start(): this;
  /** Closes it after what it holds, or at once with `force`. */
  stop(force?: boolean): this;
  /** What the kernel's `ipc()` answers: there is no node-ipc. */
  ipc(): KernelIpc;
  node(): Node;
  /** Not stopped (connected, or trying to). */
  active(): boolean;
  /** Waiting for the socket to come (back) up. */
  connecting(): boolean;
  /** Nothing waiting to be written and no stream marked in flight. */
  idle(): boolean;
  /** Frames waiting to be written. */
  queue(): QueueView;
  maxLen(): number;
  /**
   * Writes one frame of type `event` carrying envelope `data`
   * (`{id, tag, from, stream, data}`), signed with the kernel's cookie;
   * an Error is answered (not thrown) when the connection is stopped.
   */
  send(event: "message" | "ping", data: object): this | Error;
  /** Marks `{stream: id}` in flight until a frame of it is sent with `done`. */
  initiateStream(stream: { stream: string | number }): this;
  on(event: "connect" | "idle", listener: () => void): this;
  on(event: "send", listener: (event: string, data: object) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** What `kernel.ipc()` answers: there is no node-ipc instance. */
export interface KernelIpc {
  readonly native: true;
  readonly description: string;
  readonly config: { id: string; retry: number; maxRetries: number; tls: null };
}

/**
 * The network kernel of a node. Messages for a local target `id` are
 * emitted as `(data, stream, from)`; adding the first listener for a name
 * registers it with the engine, removing the last releases it. A message
 * from this node to one of its own listeners never leaves JavaScript: the
 * listener runs inside the `cast`/`call` with the data object itself (a
 * call's callback still runs after `call` returned). `start()` binds the
 * port before it returns (and `stop()` frees it before it returns);
 * `_ready` follows, and from then on `port()` is the bound port (port 0
 * picks a free one). Requests to other nodes made before `_ready` are
 * sent then.
 */
export class NetKernel extends EventEmitter {
  constructor(id: string, host: string, port: number, opts?: KernelOpts);
  start(opts?: KernelStartOpts): this;
  /** Closes everything, fails waiting calls, releases the event loop; emits `_stop`. */
  stop(): this;
  id(id?: string): string;
  host(host?: string): string;
  port(port?: number): number;
  self(node?: Node): Node;
  cookie(cookie?: string): string | null;
  /** Nodes seen sending to this kernel since it started (approximate). */
  sources(sources?: Map<string, Node>): Map<string, Node>;
  /** There is no node-ipc: an object saying so (a value given is ignored). */
  ipc(ipc?: unknown): KernelIpc;
  /** Outbound connections by node id; given a Map (id → Connection or Node), opens and closes connections to match it. */
  sinks(sinks?: Map<string, Connection | NodeLike>): Map<string, Connection>;
  connect(node: NodeLike, cb?: () => void): this;
  disconnect(node: NodeLike, force?: boolean): this;
  isConnected(node: NodeLike): boolean;
  connection(node: NodeLike): Connection | null;
  /** `cb(null, "pong")`, or an error ("Unknown node <id>", "Timeout."). */
  ping(node: NodeLike, cb?: CallCallback, timeout?: number): this;
  /** With `cb`: `cb(err, data)`; without: a Readable (object mode) of the reply. */
  call(node: NodeLike, event: string, data: OutgoingData, cb: CallCallback, timeout?: number): void;
  call(node: NodeLike, event: string, data: OutgoingData, cb?: null, timeout?: number): Readable;
  callSingleton(node: NodeLike, event: string, data: OutgoingData, cb: CallCallback, timeout?: number): void;
  multicall(nodes: NodeLike[], event: string, data: OutgoingData, cb: (err: Error | null, data?: any[]) => void, timeout?: number): void;
  multicall(nodes: NodeLike[], event: string, data: OutgoingData, cb?: null, timeout?: number): Readable[];
  multicallSingleton(nodes: NodeLike[], event: string, data: OutgoingData, cb: (err: Error | null, data?: any[]) => void, timeout?: number): void;
  /** Throws when `from` has no tag (a cast), as the original does. */
  reply(from: From, data: OutgoingData): this;
  /** Silently skips a node without a connection. */
  cast(node: NodeLike, event: string, data: OutgoingData): this;
  abcast(nodes: NodeLike[], event: string, data: OutgoingData): this;
  /** Messages dropped so far, by reason. */
  skipped(): Record<string, number>;
  on(event: "_ready" | "_stop", listener: () => void): this;
  on(event: "_skip", listener: (err: Error & { type: string; peer?: string }) => void): this;
  on(event: "error", listener: (err: Error) => void): this;
  on(event: string, listener: (data: MessageData, stream: StreamInfo, from: From) => void): this;
}

/** Options of a GenServer. */
export interface GenServerOpts {
  /** ms a streamed request from this node may take to finish (30000); from other nodes the engine applies the kernel's `streamTimeout`. */
  streamTimeout?: number;
}

/** Where a GenServer request goes: a name on this node, or a name on a node. */
export type Recipient = string | { id: string; node: NodeLike };

/**
 * A generic server on a kernel: requests `{event, data}` are emitted as
 * `(data, from)`. Extend it and answer with `this.reply(from, data)`.
 * Events: `pause`, `resume`, `stop`, `idle`, and the user's own.
 */
export class GenServer extends EventEmitter {
  constructor(kernel: NetKernel, opts?: GenServerOpts);
  /** Throws when the name is taken on this node. */
  start(name?: string): this;
  stop(force?: boolean): this;
  pause(): this;
  resume(): this;
  id(id?: string): string;
  kernel(kernel?: NetKernel): NetKernel;
  streams(streams?: Map<string, unknown>): Map<string, unknown>;
  idle(): boolean;
  /** A reply to a cast (no tag) is logged and ignored. */
  reply(from: From, data: OutgoingData): this;
  call(id: Recipient, event: string, data: MessageData, cb: CallCallback, timeout?: number): void;
  call(id: Recipient, event: string, data: MessageData, cb?: null, timeout?: number): Readable;
  multicall(nodes: NodeLike[], id: string, event: string, data: MessageData, cb: (err: Error | null, data?: any[]) => void, timeout?: number): void;
  cast(id: Recipient, event: string, data: MessageData): this;
  abcast(nodes: NodeLike[], id: string, event: string, data: MessageData): this;
  /** Hook: parses a whole Buffer (streamed) body; an Error drops it. */
  decodeJob(job: Buffer): { event: string; data: unknown } | Error;
  /** Hook: prepares a JSON body `{event, data}`; an Error drops it. */
  decodeSingleton(msg: any): { event: string; data: unknown } | Error | any;
  on(event: "pause" | "resume" | "stop" | "idle", listener: () => void): this;
  on(event: string, listener: (data: any, from: From) => void): this;
}

/**
 * A kernel for node `id` on `host:port` (defaults: os.hostname(), 7022;
 * port 0 picks a free port, known after `_ready`).
 */
export function createKernel(id: string, host?: string, port?: number, opts?: KernelOpts): NetKernel;
/** A GenServer on `cluster.kernel()`. */
export function createGenServer(cluster: { kernel(): NetKernel }, opts?: GenServerOpts): GenServer;

export function createCHash(rfactor?: number, pfactor?: number): CHash;
export function createVClock(id?: string, count?: number): VectorClock;

// ---- gossip and cluster ----------------------------------------------------

/** Gossip ring options (defaults: `consts.gossipOpts`). */
export interface GossipOpts {
  rfactor?: number;
  pfactor?: number;
  /** ms between gossip rounds (1000). */
  interval?: number;
  /** ms between saves of the ring to `flushPath` (1000). */
  flushInterval?: number;
  /** Where the ring is saved and restored from; null (the default): nowhere. */
  flushPath?: string | null;
  /** Clock trimming, at every gossip round. */
  vclockOpts?: Partial<VClockOpts>;
  /** Gossip rounds an unfinished `meet` is retried for (30). */
  meetRetries?: number;
  /** Gossip rounds a removal is remembered for (600). */
  tombstonePolls?: number;
  /** Events waiting for JavaScript before changes collapse and others are dropped (1024). */
  eventBacklog?: number;
}

/** `createCluster` options. */
export interface ClusterOpts {
  /** The kernel's options (see `KernelStartOpts`). */
  kernelOpts?: KernelOpts;
  gossipOpts?: GossipOpts;
}

/** A ring message as `GossipRing.decodeJob` answers it. */
export interface RingJob {
  event: string;
  data: {
    type: "join" | "update" | "leave";
    data: CHash;
    vclock: VectorClock;
    round: number;
    actor: string;
  };
}

/**
 * A node's gossip ring (a GenServer named after the ring id): membership as
 * a consistent hash ring, versioned by a vector clock, spread by gossip.
 * Reads are snapshots of the live state (`ring()` answers a fresh CHash
 * per call). The setters (`ring(chash)`, `vclock(clock)`, `actor(id)`,
 * `ringID(id)`) replace that part of the state at once, without a new
 * version, an event or a message; on a running ring the connections
 * follow the new ring and a new ring id moves the ring's server. Events
 * are emitted on the JavaScript thread.
 */
export class GossipRing extends GenServer {
  /** The original's form: `chash` and `vclock` are the initial state. */
  constructor(kernel: NetKernel, chash: CHash, vclock?: VectorClock | null, opts?: GossipOpts);
  /** A ring of this node alone. */
  constructor(kernel: NetKernel, opts?: GossipOpts);
  /** Last-write-wins: `state2` when `clock2` holds a later insert than any of `clock1`'s, else `state1`. */
  static LWW<T>(state1: T, clock1: VectorClock, state2: T, clock2: VectorClock): T;
  /** 0 for an empty ring, 1 for one node, else ceil(log2(nodes)). */
  static maxMsgRound(ring: CHash): number;
  /** Starts gossiping in `ringID` (once the kernel listens); `ringID()` answers it at once. */
  start(ringID: string): this;
  /** Saves the ring it has (with a `flushPath`), leaves it; emits `stop` once out of it. */
  stop(force?: boolean): this;
  /** Stops gossiping (rounds, flushes, incoming ring messages) until `resume()`. */
  pause(): this;
  resume(): this;
  /** Whether no message to the ring is partly received. */
  idle(): boolean;
  /** A fresh copy of the ring as it is now. */
  ring(): CHash;
  /** Replaces the ring (see the class). */
  ring(chash: CHash): CHash;
  /** A fresh copy of the clock as it is now. */
  vclock(): VectorClock;
  vclock(clock: VectorClock): VectorClock;
  actor(): string | null;
  actor(actor: string): string;
  ringID(): string | null;
  /** A new ring id (`null`: out of any ring, telling no one). */
  ringID(ringID: string | null): string | null;
  /** Joins `ringID`; an Error (returned, not thrown) when already in a ring. */
  join(ringID: string): this | Error;
  meet(node: NodeLike): this;
  insert(node: NodeLike, weight?: number, force?: boolean): this;
  minsert(nodes: NodeLike[], weight?: number, force?: boolean): this;
  update(node: NodeLike, weight?: number, force?: boolean): this;
  remove(node: NodeLike, force?: boolean): this;
  mremove(nodes: NodeLike[], force?: boolean): this;
  /** Leaves the ring and goes on alone, in no ring; emits `leave` and `close`. */
  leave(force?: boolean): this;
  /** `size` nodes holding `key` (default: pfactor + 1): its owner, then its successors. */
  find(key: RingKey, size?: number): Node[];
  /** `size` distinct nodes from `key`'s position on. */
  range(key: RingKey, size?: number): Node[];
  /** Sends the ring now with `n` (default 1) rounds left, to two random members. */
  sendRing(n?: number): this;
  /** `n` (default 1) random members other than this node. */
  selectRandom(n?: number): Node[];
  /** `n` (default 1) distinct random items of `nodes`. */
  selectRandomFrom<T>(nodes: T[], n?: number): T[];
  /** A ring message, with its ring and clock as objects; an Error for one the engine would drop. */
  decodeJob(job: Buffer): RingJob | Error;
  decodeSingleton(msg: { event: string; data: unknown }): RingJob | Error;
  /** Sends the ring to two members now. */
  poll(): this;
  /** Saves the ring to `flushPath` now; throws when it cannot be written. */
  flush(): this;
  /** Restores the ring saved at `flushPath`. */
  load(cb?: (err?: Error) => void): this;
  on(event: "process", listener: (oldRing: CHash, newRing: CHash) => void): this;
  on(event: "conflict", listener: (ring: CHash, clock: VectorClock) => void): this;
  on(event: "leave", listener: (ring: CHash) => void): this;
  on(event: "send", listener: (clock: VectorClock, event: "ring", ring: CHashJSON) => void): this;
  on(event: "close" | "stop" | "flushing" | "pause" | "resume" | "idle", listener: () => void): this;
  on(event: "error", listener: (err: Error) => void): this;
  on(event: string, listener: (data: any, from: From) => void): this;
  once(event: "process", listener: (oldRing: CHash, newRing: CHash) => void): this;
  once(event: "conflict", listener: (ring: CHash, clock: VectorClock) => void): this;
  once(event: "leave", listener: (ring: CHash) => void): this;
  once(event: "send", listener: (clock: VectorClock, event: "ring", ring: CHashJSON) => void): this;
  once(event: "close" | "stop" | "flushing" | "pause" | "resume" | "idle", listener: () => void): this;
  once(event: "error", listener: (err: Error) => void): this;
  once(event: string, listener: (data: any, from: From) => void): this;
}

/**
 * The command server every cluster node runs for the CLI (`ncl`), the
 * GenServer named "command" (`node.commandServer()`; not exported).
 */
export interface CommandServer extends GenServer {
  gossip(gossip?: GossipRing): GossipRing;
  /** Serves the commands under `name` (default "command") once its ring runs. */
  start(name?: string): this;
  stop(force?: boolean): this;
  /** An Error (returned) for an unknown command or missing arguments; else `{event, data}` with Nodes. */
  decodeJob(job: Buffer): { event: string; data: any } | Error;
  decodeSingleton(msg: { event: string; data: unknown }): { event: string; data: any } | Error;
  join(data: { id: string }, from?: From): CommandAnswer;
  meet(data: { node: NodeLike }, from?: From): CommandAnswer;
  leave(data?: { force?: boolean } | null, from?: From): CommandAnswer;
  insert(data: { node: NodeLike; weight?: number; force?: boolean }, from?: From): CommandAnswer;
  minsert(data: { nodes: NodeLike[]; weight?: number; force?: boolean }, from?: From): CommandAnswer;
  update(data: { node: NodeLike; weight?: number; force?: boolean }, from?: From): CommandAnswer;
  remove(data: { node: NodeLike; force?: boolean }, from?: From): CommandAnswer;
  mremove(data: { nodes: NodeLike[]; force?: boolean }, from?: From): CommandAnswer;
  inspect(data?: null, from?: From): CommandAnswer<CHashJSON>;
  nodes(data?: null, from?: From): CommandAnswer<NodeJSON[]>;
  has(data: { id: string }, from?: From): CommandAnswer<boolean>;
  get(data: { id: string }, from?: From): CommandAnswer<NodeJSON>;
  weight(data: { id: string }, from?: From): CommandAnswer<number>;
  weights(data?: null, from?: From): CommandAnswer<{ [id: string]: number }>;
  ping(data?: null, from?: From): CommandAnswer<"pong">;
}

/**
 * What a command answers (the CLI's answer): also sent to `from` when it
 * carries a reply tag.
 */
export type CommandAnswer<T = never> =
  | { ok: true; data?: T }
  | { ok: false; error: { message: string; _error: true } };

/** A node of a cluster: kernel, gossip ring and command server together. */
export class ClusterNode extends EventEmitter {
  constructor(kernel: NetKernel, gossip: GossipRing, comms?: CommandServer);
  kernel(kernel?: NetKernel): NetKernel;
  gossip(gossip?: GossipRing): GossipRing;
  commandServer(comms?: CommandServer): CommandServer;
  /** Restores the ring saved at `flushPath` and connects to its members. */
  load(cb?: (err?: Error) => void): this;
  /**
   * Starts the kernel and, once it listens, the gossip ring in `ringID`
   * and the command server; emits `ready` (then `cb()`), or `cb(err)`.
   */
  start(cookie: string | null | undefined, ringID: string, cb?: (err?: Error) => void, kernelOpts?: KernelStartOpts): this;
  /** Leaves the ring and stops the kernel; emits `stop`. */
  stop(force?: boolean): this;
  on(event: "ready" | "stop", listener: () => void): this;
  on(event: "error", listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: "ready" | "stop", listener: () => void): this;
  once(event: "error", listener: (err: Error) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** A gossip ring on `kernel` (start it with `gossip.start(ringID)`). */
export function createGossip(kernel: NetKernel, opts?: GossipOpts): GossipRing;
/**
 * A cluster node `id` on `host:port` (defaults: os.hostname(), 7022; port
 * 0 picks a free port).
 */
export function createCluster(id: string, host?: string, port?: number, opts?: ClusterOpts): ClusterNode;

/**
 * The native wall clock: microseconds since the Unix epoch, never going
 * backwards within the process. A stand-in for node-microtime:
 * `microtime()` and `microtime.now()` are its `now()`.
 */
export interface Microtime {
  (): number;
  /** Microseconds since the epoch (same as calling `microtime()`). */
  now(): number;
  /** Seconds since the epoch, with microseconds as the fraction. */
  nowDouble(): number;
  /** `[seconds, microseconds]` since the epoch. */
  nowStruct(): [number, number];
}
export const microtime: Microtime;

export interface VClockOpts {
  lowerBound: number;
  youngBound: number;
  upperBound: number;
  oldBound: number;
}

export interface DTableOpts {
  writeThreshold: number;
  autoSave: number;
  fsyncInterval: number;
}

/**
 * The reference defaults, a plain object a program may extend or change;
 * objects read their defaults from it when they are made.
 */
export const consts: {
  networkHost: string;
  networkPort: number;
  kernelOpts: {
    networkHost: string;
    networkPort: number;
    retry: number;
    tls: null;
    maxRetries: number;
    silent: boolean;
  };
  connDefaults: { maxLen: number };
  gossipOpts: {
    rfactor: number;
    pfactor: number;
    interval: number;
    flushInterval: number;
    flushPath: string | null;
    vclockOpts: VClockOpts;
    connOpts: { maxLen: number };
  };
  vclockOpts: VClockOpts;
  chashOpts: { maxCacheSize: number };
  dtableOpts: DTableOpts;
  dlmOpts: DTableOpts & {
    rquorum: number;
    wquorum: number;
    rfactor: number;
    minWaitTimeout: number;
    maxWaitTimeout: number;
    disk: boolean;
  };
  dsemOpts: DTableOpts & {
    minWaitTimeout: number;
    maxWaitTimeout: number;
    disk: boolean;
  };
};
