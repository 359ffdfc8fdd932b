/**
 * A real S3-protocol server for tests (s3rver, on a free loopback port, its objects in a
 * temporary folder), with one bucket, and the settings the gateway and the AWS SDK need to reach
 * it: endpoint, bucket and the fixed credentials s3rver accepts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export class S3TestServer {
  private constructor(
    private readonly server: S3rver,
    private readonly dir: string,
    readonly endpoint: string,
    readonly bucket: string,
  ) {}

  /** s3rver's fixed credentials, as the SDK's standard chain reads them from the environment. */
  static readonly credentials = {
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  };

  static async start(bucket = 'jobstream-logs'): Promise<S3TestServer> {
    const dir = mkdtempSync(join(tmpdir(), 'jobstream-s3-'));
    const server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: dir,
      configureBuckets: [{ name: bucket }],
    });
    const { port } = await server.run();
    return new S3TestServer(server, dir, `http://127.0.0.1:${port}`, bucket);
  }

  async stop(): Promise<void> {
    await this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
