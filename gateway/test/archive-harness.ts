/**
 * Stacks with an archive for the archive tests: small limits (a 300-line list, 100-line chunks)
 * so that a job of a few thousand lines crosses every seam, and helpers that read a job whole
 * over WebSocket and HTTP and say exactly what came back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerFrame } from '../../shared/protocol.js';
import type { RedisConnection } from '../../shared/redis/client.js';
import type { OutputPage } from '../../shared/http-api.js';
import { appendLines, createJob, setJobStatus } from '../../shared/redis/functions.js';
import { startStack, type Stack, type Topology } from '../../scripts/lib/stack.js';
import { JOBS_UNARCHIVED } from '../src/archive/chunks.js';
import type { ArchiveConfig } from '../src/ops/config.js';
import { eventually, httpGet, range, TestClient } from './harness.js';

export const MAX_LINES = 300;
export const CHUNK_LINES = 100;

export interface ArchiveStackOptions {
  topology?: Topology;
  /** Default: a fresh temporary folder (removed by stop()). */
  url?: string;
  s3Endpoint?: string | null;
  hardMaxLines?: number;
  hotRetentionS?: number;
}

export interface ArchiveStack extends Stack {
  /** The file archive's folder (null for S3). */
  readonly dir: string | null;
}

export async function startArchiveStack(options: ArchiveStackOptions = {}): Promise<ArchiveStack> {
  const dir = options.url ? null : mkdtempSync(join(tmpdir(), 'jobstream-archive-'));
  const archive: ArchiveConfig = {
    url: options.url ?? `file://${dir}`,
    s3Endpoint: options.s3Endpoint ?? null,
    chunkLines: CHUNK_LINES,
    delayS: 0,
    intervalMs: 50,
  };
  const stack = await startStack({
    topology: options.topology ?? 'standalone',
    config: {
      archive,
      reaperIntervalMs: 200,
      library: {
        maxLines: MAX_LINES,
        retentionS: 90 * 24 * 3600,
        archive: {
          hardMaxLines: options.hardMaxLines ?? 10 * MAX_LINES,
          hotRetentionS: options.hotRetentionS ?? 3600,
        },
      },
    },
  });
  const stop = stack.stop.bind(stack);
  return Object.assign(stack, {
    dir,
    stop: async () => {
      await stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** Creates a running job of alice and writes `total` lines (`line <seq>`) in batches of `batch`. */
export async function writeJob(
  redis: RedisConnection,
  id: string,
  total: number,
  { batch = 50, finish = true }: { batch?: number; finish?: boolean } = {},
): Promise<void> {
  await createJob(redis, { id, owner: 'alice', title: `archived ${id}` });
  await setJobStatus(redis, id, 'running');
  for (let n = 1; n <= total; n += batch) {
    const count = Math.min(batch, total - n + 1);
    await appendLines(
      redis,
      id,
      range(n, n + count - 1).map((seq) => ({ stream: 'stdout' as const, line: `line ${seq}` })),
    );
  }
  if (finish) await setJobStatus(redis, id, 'success');
}

/**
 * Waits until the archiver has stored the finished job's manifest: it is out of the queue,
 * archived to its last seq, and its list handed to the hot retention (or gone).
 */
export async function archivedWhole(redis: RedisConnection, id: string, hotRetentionS = 3600): Promise<void> {
  await eventually(
    async () => {
      const [seq, archived] = await redis.hmget(`job:{${id}}`, 'seq', 'archivedSeq');
      const listTtl = await redis.ttl(`job:{${id}}:output`);
      return (
        archived !== null &&
        archived === seq &&
        (listTtl === -2 || (listTtl >= 0 && listTtl <= hotRetentionS)) &&
        (await redis.zscore(JOBS_UNARCHIVED, id)) === null
      );
    },
    20_000,
    `job ${id} archived whole`,
  );
}

/** What one subscription got: the seqs of its lines and gaps (each seq once, in order), and its frames. */
export async function readOverWebSocket(
  url: string,
  token: string,
  id: string,
  request: Record<string, unknown> = {},
): Promise<{ seqs: number[]; gaps: [number, number][]; frames: ServerFrame[] }> {
  const client = await TestClient.connect(url, { token });
  try {
    client.send({ type: 'subscribe', jobId: id, ...request });
    await client.waitFor(
      (f) => (f.type === 'done' || f.type === 'error') && 'jobId' in f && f.jobId === id,
      20_000,
    );
    const frames = client.framesFor(id);
    return {
      seqs: frames.flatMap((f) => (f.type === 'output' ? f.lines.map((l) => l.seq) : [])),
      gaps: frames.flatMap((f) =>
        f.type === 'gap' && 'fromSeq' in f ? [[f.fromSeq, f.toSeq] as [number, number]] : [],
      ),
      frames,
    };
  } finally {
    client.close();
  }
}

/** Every line of the job over `output?since=`, following `next`; the lines' text in order. */
export async function readOverHttp(url: string, token: string, id: string): Promise<string[]> {
  const lines: string[] = [];
  let since = 0;
  for (;;) {
    const answer = await httpGet(url, `/api/jobs/${id}/output?since=${since}&limit=250`, token);
    if (answer.status !== 200) throw new Error(`output?since=${since}: HTTP ${answer.status} ${answer.text}`);
    const page = answer.body as OutputPage;
    if (page.gap) throw new Error(`output?since=${since}: a gap ${JSON.stringify(page.gap)}`);
    lines.push(...page.lines.map((l) => l.line));
    if (page.next === since) return lines;
    since = page.next;
  }
}
