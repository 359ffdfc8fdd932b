/**
 * The archive in a directory. A put writes a temporary file beside the object, fsyncs it and
 * renames it into place, so a reader (or a process that died mid-write) never sees half an
 * object.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ArchiveStore } from './store.js';

const isMissing = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === 'ENOENT';

export class FileStore implements ArchiveStore {
  readonly description: string;

  constructor(private readonly root: string) {
    this.description = `file://${root}`;
  }

  async put(key: string, body: Buffer): Promise<void> {
    const path = join(this.root, key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    const file = await open(temporary, 'w');
    try {
      await file.writeFile(body);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(join(this.root, key));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async sweep(retentionS: number, now: number): Promise<number> {
    const jobsDir = join(this.root, 'jobs');
    let names: string[];
    try {
      names = await readdir(jobsDir);
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    const cutoff = now - retentionS * 1000;
    let removed = 0;
    for (const name of names) {
      const dir = join(jobsDir, name);
      if ((await this.finishedAt(dir)) < cutoff) {
        await rm(dir, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  /** A job's finish time from its manifest; without one, when its folder last changed. */
  private async finishedAt(dir: string): Promise<number> {
    try {
      const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as {
        job?: { finishedAt?: unknown };
      };
      if (typeof manifest.job?.finishedAt === 'number') return manifest.job.finishedAt;
    } catch {
      // no manifest (still running, or abandoned): the folder's age decides
    }
    try {
      return (await stat(dir)).mtimeMs;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }
}
