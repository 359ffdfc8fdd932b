/** Several jobs side by side over the one socket; the list lives in the address (`?jobs=a,b`). */
import { useMemo, useState } from 'react';
import { useQueries } from '@tanstack/react-query';
import { jobQuery } from '../api/queries.js';
import { Link } from '../app/navigation.js';
import { NotifyToggle } from '../components/NotifyToggle.js';
import { useJobAlerts } from '../react/use-job-alerts.js';
import { StatusBadge } from '../components/badges.js';
import { CancelButton } from '../components/CancelButton.js';
import { OutputViewer } from '../components/OutputViewer.js';
import { useJobStream } from '../react/use-job-stream.js';

function WatchPane({ jobId, onRemove }: { jobId: string; onRemove: () => void }) {
  const stream = useJobStream(jobId);
  return (
    <section className="pane" data-testid={`pane-${jobId}`}>
      <header>
        <Link to={`/jobs/${jobId}`}>{stream.job?.title ?? jobId}</Link>
        {stream.job && <StatusBadge status={stream.job.status} />}
        {stream.job && <CancelButton job={stream.job} compact />}
        <button aria-label={`Stop watching ${jobId}`} onClick={onRemove}>
          ×
        </button>
      </header>
      <OutputViewer jobId={jobId} stream={stream} compact />
    </section>
  );
}

export function WatchPage() {
  const ids = useMemo(
    () => (new URLSearchParams(window.location.search).get('jobs') ?? '').split(',').filter(Boolean),
    [],
  );
  const [jobs, setJobs] = useState(ids);
  const [adding, setAdding] = useState('');
  const watched = useQueries({ queries: jobs.map((id) => jobQuery(id)) });
  const alerts = useJobAlerts(watched.map((q) => q.data));
  const update = (next: string[]) => {
    setJobs(next);
    history.replaceState(null, '', `/watch?jobs=${next.join(',')}`);
  };
  return (
    <main className="watch">
      <div className="bar">
        <h1>Watching {jobs.length} jobs</h1>
        <NotifyToggle alerts={alerts} />
        <input placeholder="Add a job id" value={adding} onChange={(e) => setAdding(e.target.value.trim())} />
        <button
          disabled={!adding || jobs.includes(adding)}
          onClick={() => (update([...jobs, adding]), setAdding(''))}
        >
          Add
        </button>
      </div>
      <div
        className="grid watch-grid"
        style={{ gridTemplateColumns: `repeat(${Math.min(jobs.length, 3) || 1}, 1fr)` }}
      >
        {jobs.map((id) => (
          <WatchPane key={id} jobId={id} onRemove={() => update(jobs.filter((j) => j !== id))} />
        ))}
      </div>
    </main>
  );
}
