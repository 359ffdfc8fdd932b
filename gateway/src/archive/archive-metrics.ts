/** The archive's metrics (docs/operations.md "Archive"), in the gateway's registry. */
import { Counter, Gauge, type Registry } from 'prom-client';

export class ArchiveMetrics {
  readonly chunksWritten: Counter;
  readonly bytesWritten: Counter;
  readonly failures: Counter<'operation'>;
  readonly linesTrimmedUnarchived: Counter;
  readonly oldestUnarchivedSeconds: Gauge;
  readonly manifestsWritten: Counter;
  readonly chunksRead: Counter;
  readonly corruptChunks: Counter;
  readonly jobsSwept: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.chunksWritten = new Counter({
      name: 'jobstream_archive_chunks_written_total',
      help: 'Chunks this process stored in the archive and recorded',
      registers,
    });
    this.bytesWritten = new Counter({
      name: 'jobstream_archive_bytes_written_total',
      help: 'Compressed bytes of the chunks and manifests this process stored',
      registers,
    });
    this.manifestsWritten = new Counter({
      name: 'jobstream_archive_manifests_written_total',
      help: 'Finished jobs this process archived whole (manifest stored, list handed to its hot retention)',
      registers,
    });
    this.failures = new Counter({
      name: 'jobstream_archive_failures_total',
      help: 'Archive operations that failed, by operation (write: the job is retried; read: a reader got unavailable)',
      labelNames: ['operation'] as const,
      registers,
    });
    this.linesTrimmedUnarchived = new Counter({
      name: 'jobstream_archive_lines_trimmed_unarchived_total',
      help: 'Lines gone for good before they were archived (a list past JOBSTREAM_HARD_MAX_LINES, or an unarchived list that expired): the archive was down too long',
      registers,
    });
    this.oldestUnarchivedSeconds = new Gauge({
      name: 'jobstream_archive_oldest_unarchived_seconds',
      help: 'Age of the oldest finished job not yet archived whole (0 when none waits)',
      registers,
    });
    this.chunksRead = new Counter({
      name: 'jobstream_archive_chunks_read_total',
      help: 'Chunks read from the archive (not from the in-memory cache)',
      registers,
    });
    this.corruptChunks = new Counter({
      name: 'jobstream_archive_corrupt_chunks_total',
      help: 'Chunks whose SHA-256 did not match their record: readers got unavailable',
      registers,
    });
    this.jobsSwept = new Counter({
      name: 'jobstream_archive_jobs_swept_total',
      help: 'Jobs past their retention removed from the file archive',
      registers,
    });
  }
}
