/**
 * The offered load, the same for every server: lines stamped with their publish time
 * (line-stamp.ts), published to each job at a fixed rate. Jobs of the gateway and the bare relay
 * are written as runners write them (`FCALL jobstream_append`, which keeps the history and
 * publishes on `job:{J}:events`); Socket.IO's are published as its documentation says to publish
 * from outside a server, through `@socket.io/redis-emitter` to the job's room, carrying the same
 * `output` frame.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Emitter } from '@socket.io/redis-emitter';
import type { Redis } from 'ioredis';
import type { OutputFrame } from '../../shared/protocol.js';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { microsNow, stampedLine } from '../lib/line-stamp.js';
import type { ServerKind } from './servers.js';

export interface LinePublisher {
  /** Publishes one line to every job, resolving once Redis has taken them. */
  publishToAll(): Promise<void>;
}

/** Creates the jobs (running) and returns what publishes to them for `kind`. */
export async function linePublisher(
  redis: Redis,
  kind: ServerKind,
  jobIds: string[],
): Promise<LinePublisher> {
  if (kind === 'socketio') {
    const emitter = new Emitter(redis);
    const seqs = new Map(jobIds.map((id) => [id, 0]));
    return {
      publishToAll: async () => {
        for (const jobId of jobIds) {
          const seq = seqs.get(jobId)! + 1;
          seqs.set(jobId, seq);
          const frame: OutputFrame = {
            type: 'output',
            jobId,
            lines: [{ seq, ts: Date.now(), stream: 'stdout', line: stampedLine(microsNow()) }],
          };
          emitter.to(jobId).emit('output', frame);
        }
        await redis.ping(); // after every PUBLISH on this connection: Redis has taken them
      },
    };
  }
  for (const id of jobIds) {
    await createJob(redis, { id, owner: 'bench', title: id });
    await setJobStatus(redis, id, 'running');
  }
  return {
    publishToAll: async () => {
      await Promise.all(
        jobIds.map((id) => appendLines(redis, id, [{ stream: 'stdout', line: stampedLine(microsNow()) }])),
      );
    },
  };
}

/** Calls `tick` `ratePerSecond` times a second for `seconds`, on a schedule that does not drift. */
export async function atRate(
  ratePerSecond: number,
  seconds: number,
  tick: () => Promise<void>,
): Promise<void> {
  const ticks = Math.round(ratePerSecond * seconds);
  const tickMs = 1000 / ratePerSecond;
  const started = performance.now();
  for (let i = 0; i < ticks; i++) {
    await tick();
    const wait = started + (i + 1) * tickMs - performance.now();
    if (wait > 0) await sleep(wait);
  }
}
