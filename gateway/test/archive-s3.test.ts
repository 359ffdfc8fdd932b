/**
 * The S3 archive against a real S3-protocol server (s3rver) through the AWS SDK: a long job
 * archived and read back whole with its list gone, and every object written read back: each
 * chunk's lines exactly as stored and its SHA-256 as recorded, and the manifest.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { RedisConnection } from '../../shared/redis/client.js';
import { S3TestServer } from '../../scripts/lib/s3-server.js';
import { decodeChunk, parseArchiveIndex } from '../src/archive/chunks.js';
import { range } from './harness.js';
import {
  archivedWhole,
  MAX_LINES,
  readOverHttp,
  readOverWebSocket,
  startArchiveStack,
  writeJob,
  type ArchiveStack,
} from './archive-harness.js';

let s3: S3TestServer;
let s: ArchiveStack;
let redis: RedisConnection;
let client: S3Client;
beforeAll(async () => {
  s3 = await S3TestServer.start();
  Object.assign(process.env, S3TestServer.credentials); // the SDK's standard credential chain
  s = await startArchiveStack({ url: `s3://${s3.bucket}/ci/logs`, s3Endpoint: s3.endpoint });
  redis = s.client();
  client = new S3Client({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}, 30_000);
afterAll(async () => {
  client?.destroy();
  await s?.stop();
  await s3?.stop();
});

const object = async (key: string): Promise<Buffer> => {
  const reply = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return Buffer.from(await reply.Body!.transformToByteArray());
};

it('archives a long job to S3 and reads it back whole; every object written reads back as recorded', async () => {
  const id = `${s.namespace()}-s3`;
  const total = 3 * MAX_LINES + 5;
  await writeJob(redis, id, total);
  await archivedWhole(redis, id);
  await redis.del(`job:{${id}}:output`);

  expect((await readOverWebSocket(s.url, s.token('alice'), id)).seqs).toEqual(range(1, total));
  expect(await readOverHttp(s.url, s.token('alice'), id)).toEqual(range(1, total).map((n) => `line ${n}`));

  const listed = await client.send(
    new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `ci/logs/jobs/${id}/` }),
  );
  const keys = (listed.Contents ?? []).map((o) => o.Key!).sort();
  const records = parseArchiveIndex(await redis.hgetall(`job:{${id}}:archive`));
  expect(keys).toEqual(
    [
      `ci/logs/jobs/${id}/manifest.json`,
      ...records.map((r) => `ci/logs/jobs/${id}/lines/${r.firstSeq}-${r.lastSeq}.ndjson.gz`),
    ].sort(),
  );
  const seqs: number[] = [];
  for (const record of records) {
    if (record.kind !== 'chunk') throw new Error(`unexpected hole ${JSON.stringify(record)}`);
    const key = `ci/logs/jobs/${id}/lines/${record.firstSeq}-${record.lastSeq}.ndjson.gz`;
    const body = await object(key);
    expect(body.length).toBe(record.bytes);
    const entries = await decodeChunk(body, record.sha256, key); // throws on a SHA-256 mismatch
    seqs.push(...entries.map((e) => (JSON.parse(e.toString()) as { seq: number }).seq));
  }
  expect(seqs).toEqual(range(1, total));
  const manifest = JSON.parse((await object(`ci/logs/jobs/${id}/manifest.json`)).toString()) as {
    job: { id: string; status: string };
    lastSeq: number;
    chunks: { firstSeq: number; sha256: string }[];
  };
  expect(manifest).toMatchObject({ job: { id, status: 'success' }, lastSeq: total });
  expect(manifest.chunks.map((c) => c.sha256)).toEqual(
    records.map((r) => (r.kind === 'chunk' ? r.sha256 : '')),
  );
}, 40_000);
