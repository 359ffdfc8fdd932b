/** An address the dashboard has no page for (the gateway answers it with 404 and this page). */
import { navigate } from '../app/navigation.js';

/** The way back from a page with nothing to show: the jobs list, without a reload. */
export function SeeAllJobs() {
  return (
    <a
      href="/"
      onClick={(e) => {
        e.preventDefault();
        navigate('/');
      }}
    >
      See all jobs
    </a>
  );
}

export function NotFoundPage({ path }: { path: string }) {
  return (
    <main className="not-found">
      <h1>No page here</h1>
      <p>
        The dashboard has no page at <code>{path}</code>. <SeeAllJobs />
      </p>
    </main>
  );
}
