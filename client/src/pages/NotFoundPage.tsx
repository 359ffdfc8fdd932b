/** An address the dashboard has no page for (the gateway answers it with 404 and this page). */
import { navigate } from '../app/navigation.js';

export function NotFoundPage({ path }: { path: string }) {
  return (
    <main className="not-found">
      <h1>No page here</h1>
      <p>
        The dashboard has no page at <code>{path}</code>.{' '}
        <a
          href="/"
          onClick={(e) => {
            e.preventDefault();
            navigate('/');
          }}
        >
          See all jobs
        </a>
      </p>
    </main>
  );
}
