import { act } from 'react';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { InfiniteData } from '@tanstack/react-query';
import type { Job } from '../../../shared/job.js';
import type { ServerFrame } from '../../../shared/protocol.js';
import type { JobListPage } from '../../../shared/http-api.js';
import { createFakeSocket, FakeSocket } from '../../../packages/client/src/testing/fake-socket.js';
import { JobSocket } from '../../../packages/client/src/index.js';
import { renderWithSocket } from '../testing/render-with-socket.js';
import { useConnectionState } from './use-connection-state.js';
import { useJobStream } from './use-job-stream.js';
import { useJobsFeed } from './use-jobs-feed.js';

const latest = () => FakeSocket.all.at(-1)!;
const deliver = (frame: ServerFrame) => act(() => latest().deliver(frame));
const job = (id: string, status: Job['status'] = 'running', createdAt = 1): Job => ({
  id,
  owner: 'alice',
  title: id,
  status,
  createdAt,
  lastSeq: 0,
});

function openSocket(): JobSocket {
  const socket = new JobSocket({
    url: 'ws://gateway/ws',
    getToken: () => 'x.e30.y',
    createSocket: createFakeSocket,
  });
  socket.connect();
  act(() => latest().open());
  return socket;
}

function Stream({ jobId }: { jobId: string }) {
  const stream = useJobStream(jobId);
  return (
    <p>
      {stream.job?.status ?? 'none'} {stream.lines.lastSeq} {stream.connection}
      {stream.done ? ` done:${stream.done.status}` : ''}
    </p>
  );
}

beforeEach(() => {
  FakeSocket.all = [];
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('useJobStream', () => {
  it('holds the job while mounted: one subscribe for two views, one unsubscribe after both leave', () => {
    const socket = openSocket();
    const first = renderWithSocket(<Stream jobId="j1" />, socket);
    const second = renderWithSocket(<Stream jobId="j1" />, socket);
    expect(latest().sent.filter((f) => f.type === 'subscribe')).toEqual([
      { type: 'subscribe', jobId: 'j1', tail: 10_000 },
    ]);
    first.unmount();
    expect(latest().sent.filter((f) => f.type === 'unsubscribe')).toEqual([]);
    second.unmount();
    expect(latest().sent.filter((f) => f.type === 'unsubscribe')).toEqual([
      { type: 'unsubscribe', jobId: 'j1' },
    ]);
  });

  it('shows status, lines and done as frames arrive, and puts the job in the query cache', () => {
    const socket = openSocket();
    const view = renderWithSocket(<Stream jobId="j2" />, socket);
    expect(view.container.textContent).toBe('none 0 open');
    deliver({ type: 'status', jobId: 'j2', job: job('j2') });
    deliver({
      type: 'output',
      jobId: 'j2',
      lines: [1, 2, 3].map((seq) => ({ seq, ts: 0, stream: 'stdout' as const, line: `l${seq}` })),
    });
    act(() => jest.advanceTimersByTime(50)); // the line store notifies once per animation frame
    expect(view.container.textContent).toBe('running 3 open');
    deliver({ type: 'done', jobId: 'j2', status: 'success', lastSeq: 3 });
    expect(view.container.textContent).toBe('success 3 open done:success');
    expect(view.queryClient.getQueryData(['job', 'j2'])).toMatchObject({ id: 'j2', status: 'success' });
    view.unmount();
  });
});

describe('useConnectionState', () => {
  function State() {
    return <p>{useConnectionState()}</p>;
  }
  it('follows the socket through a drop and a reconnect', () => {
    const socket = openSocket();
    const view = renderWithSocket(<State />, socket);
    expect(view.container.textContent).toBe('open');
    act(() => latest().drop());
    expect(view.container.textContent).toBe('reconnecting');
    act(() => jest.advanceTimersByTime(1000));
    act(() => latest().open());
    expect(view.container.textContent).toBe('open');
    view.unmount();
  });
});

describe('useJobsFeed', () => {
  function Feed() {
    useJobsFeed();
    return null;
  }
  it('merges job frames into every cached list and refetches lists on watching', () => {
    const socket = openSocket();
    const view = renderWithSocket(<Feed />, socket);
    expect(latest().sent).toContainEqual({ type: 'watch', topic: 'jobs' });
    const { queryClient } = view;
    const paged = (...jobs: Job[]): InfiniteData<JobListPage, string> => ({
      pages: [{ jobs, next: null }],
      pageParams: [''],
    });
    const ids = (key: unknown[]) =>
      queryClient
        .getQueryData<InfiniteData<JobListPage, string>>(key)!
        .pages.flatMap((p) => p.jobs.map((j) => [j.id, j.status]));
    queryClient.setQueryData(['jobs', 'all', ''], paged(job('old', 'running', 1)));
    queryClient.setQueryData(['jobs', 'running', ''], paged(job('old', 'running', 1)));
    queryClient.setQueryData(['jobs', 'all', 'NEW'], paged());
    deliver({ type: 'job', job: job('new', 'running', 2) });
    deliver({ type: 'job', job: job('old', 'success', 1) });
    expect(ids(['jobs', 'all', ''])).toEqual([
      ['new', 'running'],
      ['old', 'success'],
    ]);
    expect(ids(['jobs', 'running', ''])).toEqual([['new', 'running']]);
    expect(ids(['jobs', 'all', 'NEW'])).toEqual([['new', 'running']]); // the search matches its title
    const invalidate = jest.spyOn(queryClient, 'invalidateQueries');
    deliver({ type: 'watching', topic: 'jobs' });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ['jobs'] });
    view.unmount();
  });
});

describe('useJobsFeed after a failed list', () => {
  function Feed() {
    useJobsFeed();
    return null;
  }
  it('fetches a list again when a job frame arrives and the list has no data', () => {
    const socket = openSocket();
    const view = renderWithSocket(<Feed />, socket);
    const { queryClient } = view;
    // a list query that exists but failed: in the cache with no data
    void queryClient.prefetchQuery({
      queryKey: ['jobs', 'all'],
      queryFn: () => Promise.reject(new Error('503')),
    });
    const invalidate = jest.spyOn(queryClient, 'invalidateQueries');
    deliver({ type: 'job', job: job('late', 'running', 3) });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ['jobs', 'all'] });
    view.unmount();
  });
});
