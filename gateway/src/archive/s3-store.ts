/**
 * The archive in an S3 bucket, through the AWS SDK and its standard credential chain. Against a
 * non-AWS endpoint (JOBSTREAM_S3_ENDPOINT: MinIO, Ceph, a test server) requests are path-style and
 * bodies are sent plain (`requestChecksumCalculation: WHEN_REQUIRED`): many such stores reject
 * the SDK's default streaming checksums. Retention is a bucket lifecycle rule (docs/operations.md).
 */
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ArchiveStore } from './store.js';

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket ('' or ending without a slash). */
  prefix: string;
  endpoint: string | null;
}

export class S3Store implements ArchiveStore {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor({ bucket, prefix, endpoint }: S3StoreOptions) {
    this.bucket = bucket;
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.description = `s3://${bucket}/${this.prefix}${endpoint ? ` at ${endpoint}` : ''}`;
    this.client = new S3Client({
      ...(endpoint
        ? {
            endpoint,
            forcePathStyle: true,
            requestChecksumCalculation: 'WHEN_REQUIRED',
            responseChecksumValidation: 'WHEN_REQUIRED',
            region: process.env.AWS_REGION ?? 'us-east-1',
          }
        : {}),
      maxAttempts: 3,
    });
  }

  async put(key: string, body: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: body }));
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      const reply = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
      );
      if (!reply.Body) return Buffer.alloc(0);
      return Buffer.from(await reply.Body.transformToByteArray());
    } catch (error) {
      if (error instanceof NoSuchKey) return null;
      throw error;
    }
  }

  sweep(): Promise<number> {
    return Promise.resolve(0);
  }
}
