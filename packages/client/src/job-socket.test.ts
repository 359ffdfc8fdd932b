import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { ServerFrame } from '../../../shared/protocol.js';
import { JobSocket } from './job-socket.js';
import { FakeSocket } from './testing/fake-socket.js';

const latest = () => FakeSocket.all.at(-1)!;
const output = (jobId: string, from: number, to: number): ServerFrame => ({
  type: 'output',
  jobId,
  lines: Array.from({ length: to - from + 1 }, (_, i) => ({
    seq: from + i,
    ts: 0,
    stream: 'stdout' as const,
    line: `l${from + i}`,
  })),
});

function newSocket(random = () => 0.5) {
  return new JobSocket({
    // Longer than any test's clock jumps: no pong ever comes from a fake socket.
    pingIntervalMs: 600_000,
    url: 'ws://gateway/ws',
    getToken: () => 'header.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.sig',
    createSocket: (url, protocols) => new FakeSocket(url, protocols) as unknown as WebSocket,
    backoff: { initialMs: 100, maxMs: 1000 },
    random,
  });
}

beforeEach(() => {
  FakeSocket.all = [];
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('JobSocket', () => {
  it('authenticates with the bearer subprotocol', () => {
    newSocket().connect();
    expect(latest().protocols).toEqual([
      'jobstream.v1',
      'bearer.header.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.sig',
    ]);
  });

  it('reference-counts holders: one subscribe, one unsubscribe after the last release', () => {
    const socket = newSocket();
    socket.connect();
    latest().open();
    const a = socket.hold('job1');
    const b = socket.hold('job1');
    expect(latest().sent.filter((f) => f.type === 'subscribe')).toHaveLength(1);
    a();
    a(); // releasing twice is harmless
    expect(latest().sent.filter((f) => f.type === 'unsubscribe')).toHaveLength(0);
    b();
    expect(latest().sent.filter((f) => f.type === 'unsubscribe')).toEqual([
      { type: 'unsubscribe', jobId: 'job1' },
    ]);
  });

  it('subscribes jobs held before the socket opened, once it opens', () => {
    const socket = newSocket();
    socket.hold('early');
    socket.connect();
    expect(latest().sent).toEqual([]);
    latest().open();
    expect(latest().sent.filter((f) => f.type === 'subscribe')).toEqual([
      { type: 'subscribe', jobId: 'early', tail: 10_000 },
    ]);
  });

  it('reconnects with backoff and resubscribes with since = the last seq held, dropping duplicates', () => {
    const socket = newSocket();
    socket.connect();
    latest().open();
    socket.hold('job1');
    latest().deliver(output('job1', 1, 7));
    latest().drop();
    expect(socket.getState()).toBe('reconnecting');
    expect(FakeSocket.all).toHaveLength(1);
    jest.advanceTimersByTime(74); // first delay: 100 ms × (0.5 + 0.5 / 2) = 75 ms
    expect(FakeSocket.all).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    latest().open();
    expect(latest().sent.filter((f) => f.type === 'subscribe')).toEqual([
      { type: 'subscribe', jobId: 'job1', since: 7 },
    ]);
    latest().deliver(output('job1', 6, 9)); // an overlap must not duplicate
    jest.runOnlyPendingTimers(); // the store's frame scheduler
    expect(
      socket
        .store('job1')!
        .getSnapshot()
        .lines.map((l) => l.seq),
    ).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(socket.getState()).toBe('open');
  });

  it('backs off exponentially up to the cap, with jitter', () => {
    const socket = newSocket(() => 1); // no jitter reduction: delay = min(max, initial × 2^n)
    socket.connect();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      const before = FakeSocket.all.length;
      latest().drop();
      let waited = 0;
      while (FakeSocket.all.length === before) {
        jest.advanceTimersByTime(25);
        waited += 25;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('tells a program every frame of a held job once: since, overlaps after a reconnect, gaps, done', () => {
    const socket = newSocket();
    socket.connect();
    latest().open();
    socket.hold('job1', { since: 3 });
    const heard: string[] = [];
    socket.onJobEvent('job1', (event) => {
      if (event.type === 'output') heard.push(...event.lines.map((l) => l.line));
      else heard.push(event.type === 'gap' ? `gap ${event.fromSeq}-${event.toSeq}` : event.type);
    });
    expect(latest().sent.filter((f) => f.type === 'subscribe')).toEqual([
      { type: 'subscribe', jobId: 'job1', since: 3 },
    ]);
    latest().deliver(output('job1', 4, 6));
    latest().drop();
    jest.advanceTimersByTime(75);
    latest().open();
    expect(latest().sent.filter((f) => f.type === 'subscribe')).toEqual([
      { type: 'subscribe', jobId: 'job1', since: 6 },
    ]);
    latest().deliver(output('job1', 5, 8)); // 5 and 6 again: not told twice
    latest().deliver({ type: 'gap', jobId: 'job1', fromSeq: 7, toSeq: 8, reason: 'trimmed' }); // already held
    latest().deliver({ type: 'gap', jobId: 'job1', fromSeq: 9, toSeq: 10, reason: 'trimmed' });
    latest().deliver(output('job1', 11, 11));
    latest().deliver({ type: 'done', jobId: 'job1', status: 'success', lastSeq: 11 });
    expect(heard).toEqual(['l4', 'l5', 'l6', 'l7', 'l8', 'gap 9-10', 'l11', 'done']);
  });

  it('does not resubscribe a job that is done', () => {
    const socket = newSocket();
    socket.connect();
    latest().open();
    socket.hold('finished');
    latest().deliver({ type: 'done', jobId: 'finished', status: 'success', lastSeq: 0 });
    latest().drop(1012);
    jest.advanceTimersByTime(200);
    latest().open();
    expect(latest().sent.filter((f) => f.type === 'subscribe')).toEqual([]);
  });

  it('stays offline after close 4001 until a new token arrives, then reconnects with it', async () => {
    let supply: (token: string | null) => void = () => undefined;
    let token = 'x.e30.y';
    const refreshToken = jest.fn(
      () =>
        new Promise<string | null>((resolve) => {
          supply = resolve;
        }),
    );
    const socket = new JobSocket({
      url: 'ws://gateway/ws',
      getToken: () => token,
      refreshToken,
      createSocket: (url, protocols) => new FakeSocket(url, protocols) as unknown as WebSocket,
    });
    socket.connect();
    latest().open();
    latest().drop(4001);
    jest.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(socket.getState()).toBe('offline');
    expect(refreshToken).toHaveBeenCalled();
    token = 'x.eyJzdWIiOiJhbGljZSJ9.fresh'; // what the person signed in with
    supply(token);
    await Promise.resolve(); // the promise's reaction
    expect(FakeSocket.all).toHaveLength(2);
    expect(latest().protocols).toEqual(['jobstream.v1', `bearer.${token}`]);
    latest().open();
    expect(socket.getState()).toBe('open');
  });

  it('after connects keep failing, asks over HTTP whether the token is refused, and then asks for sign-in', async () => {
    const refreshToken = jest.fn(() => new Promise<string | null>(() => undefined));
    let verdict: 'refused' | 'unreachable' = 'unreachable';
    const checkToken = jest.fn(() => Promise.resolve(verdict));
    const socket = new JobSocket({
      url: 'ws://gateway/ws',
      getToken: () => 'x.e30.y',
      refreshToken,
      checkToken,
      createSocket: (url, protocols) => new FakeSocket(url, protocols) as unknown as WebSocket,
      backoff: { initialMs: 100, maxMs: 100 },
      random: () => 0.5,
    });
    socket.connect();
    // A gateway down: connects fail; the token is fine as far as anyone can tell.
    for (let i = 0; i < 3; i++) {
      latest().drop(1006);
      jest.advanceTimersByTime(200);
    }
    await Promise.resolve();
    expect(checkToken).toHaveBeenCalledTimes(1);
    expect(refreshToken).not.toHaveBeenCalled();
    expect(socket.getState()).toBe('reconnecting');
    // Back, but with another secret: the handshake is refused every time.
    latest().open();
    verdict = 'refused';
    latest().drop(1006);
    for (let i = 0; i < 3; i++) {
      jest.advanceTimersByTime(200);
      latest().drop(1006);
    }
    await Promise.resolve();
    await Promise.resolve();
    expect(checkToken).toHaveBeenCalledTimes(2);
    expect(refreshToken).toHaveBeenCalledTimes(1);
    expect(socket.getState()).toBe('offline');
    const attempts = FakeSocket.all.length;
    jest.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(attempts); // no more blind retries
  });

  it('declares a connection dead when a ping goes unanswered, and reconnects', () => {
    const socket = new JobSocket({
      url: 'ws://gateway/ws',
      getToken: () => 'x.e30.y',
      createSocket: (url, protocols) => new FakeSocket(url, protocols) as unknown as WebSocket,
      pingIntervalMs: 1000,
      backoff: { initialMs: 100, maxMs: 100 },
    });
    socket.connect();
    latest().open();
    jest.advanceTimersByTime(1000);
    expect(latest().sent.at(-1)).toEqual({ type: 'ping', id: 1 });
    jest.advanceTimersByTime(1000); // no pong
    expect(socket.getState()).toBe('reconnecting');
    jest.advanceTimersByTime(100);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it('sends a subscribe refused with rate_limited again after retryAfterMs, and keeps its position', () => {
    const socket = newSocket();
    socket.connect();
    latest().open();
    socket.hold('busy');
    latest().deliver({
      type: 'error',
      jobId: 'busy',
      code: 'rate_limited',
      message: 'slow down',
      retryAfterMs: 300,
    });
    expect(socket.view('busy')!.error).toBeNull(); // a refusal that heals itself is not shown as a failure
    jest.advanceTimersByTime(299);
    expect(latest().sent.filter((f) => f.type === 'subscribe')).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(latest().sent.filter((f) => f.type === 'subscribe')).toEqual([
      { type: 'subscribe', jobId: 'busy', tail: 10_000 },
      { type: 'subscribe', jobId: 'busy', tail: 10_000 },
    ]);
    latest().deliver(output('busy', 1, 3));
    latest().deliver({ type: 'error', jobId: 'busy', code: 'unavailable', message: 'Redis' });
    jest.advanceTimersByTime(1000);
    expect(
      latest()
        .sent.filter((f) => f.type === 'subscribe')
        .at(-1),
    ).toEqual({
      type: 'subscribe',
      jobId: 'busy',
      since: 3,
    });
  });

  it('shows a refusal that will not heal (not_found) and does not retry it', () => {
    const socket = newSocket();
    socket.connect();
    latest().open();
    socket.hold('ghost');
    latest().deliver({ type: 'error', jobId: 'ghost', code: 'not_found', message: 'job ghost not found' });
    jest.advanceTimersByTime(20_000); // past every retry delay
    expect(latest().sent.filter((f) => f.type === 'subscribe')).toHaveLength(1);
    expect(socket.view('ghost')!.error).toEqual({ code: 'not_found', message: 'job ghost not found' });
  });

  it('lists jobs again on watching and on a feed gap', () => {
    const socket = newSocket();
    const relist = jest.fn();
    socket.onFeedReady(relist);
    socket.connect();
    latest().open();
    socket.watchJobs(() => undefined);
    expect(latest().sent).toContainEqual({ type: 'watch', topic: 'jobs' });
    expect(relist).not.toHaveBeenCalled();
    latest().deliver({ type: 'watching', topic: 'jobs' });
    expect(relist).toHaveBeenCalledTimes(1);
    latest().deliver({ type: 'gap', topic: 'jobs', reason: 'lagged' });
    expect(relist).toHaveBeenCalledTimes(2);
  });

  it('reconnects after a close for flooding (1008), only after a longer backoff', () => {
    const socket = newSocket();
    socket.connect();
    latest().open();
    socket.hold('job1');
    latest().deliver(output('job1', 1, 4));
    latest().drop(1008);
    expect(socket.getState()).toBe('reconnecting');
    jest.advanceTimersByTime(4999);
    expect(FakeSocket.all).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    latest().open();
    expect(latest().sent.filter((f) => f.type === 'subscribe')).toEqual([
      { type: 'subscribe', jobId: 'job1', since: 4 },
    ]);
  });
});
