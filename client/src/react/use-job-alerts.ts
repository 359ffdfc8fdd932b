/**
 * What a person watching jobs sees without looking at the page: the tab title counts the running
 * and failed jobs watched ("(2 running, 1 failed) jobstream"), the favicon takes the worst
 * status's colour, and — once they opt in (the browser asks for permission) — a notification
 * when a watched job ends: its title, status and duration; a click opens the job.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { isTerminal, type Job, type JobStatus } from '../../../shared/job.js';
import { navigate } from '../app/navigation.js';
import { duration } from '../components/format.js';

const OPT_IN_KEY = 'jobstream.notify';
const BASE_TITLE = 'jobstream';

/** Worst first: the favicon shows the first status any watched job has. */
const SEVERITY: JobStatus[] = ['failed', 'running', 'queued', 'cancelled', 'success'];
const COLOUR: Record<JobStatus, string> = {
  failed: '#cf222e',
  running: '#bf8700',
  queued: '#6e7781',
  cancelled: '#57606a',
  success: '#1a7f37',
};

function setFavicon(status: JobStatus | null): void {
  let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
  if (!link) {
    link = document.createElement('link');
    link.rel = 'icon';
    document.head.append(link);
  }
  const fill = status ? COLOUR[status] : '#24292f';
  link.href = `data:image/svg+xml,${encodeURIComponent(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="${fill}"/></svg>`,
  )}`;
  link.dataset.status = status ?? '';
}

export interface JobAlerts {
  /** 'unsupported' where the browser has no notifications. */
  permission: NotificationPermission | 'unsupported';
  enabled: boolean;
  /** Asks the browser's permission (a click is needed for that) and turns notifications on. */
  enable(): Promise<void>;
  disable(): void;
}

export function useJobAlerts(jobs: readonly (Job | undefined)[]): JobAlerts {
  const supported = typeof Notification !== 'undefined';
  const [permission, setPermission] = useState<JobAlerts['permission']>(
    supported ? Notification.permission : 'unsupported',
  );
  const [enabled, setEnabled] = useState(() => localStorage.getItem(OPT_IN_KEY) === '1');
  const known = jobs.filter((j): j is Job => j !== undefined);
  const running = known.filter((j) => j.status === 'running').length;
  const failed = known.filter((j) => j.status === 'failed').length;
  const worst = SEVERITY.find((s) => known.some((j) => j.status === s)) ?? null;

  useEffect(() => {
    const counts = [running && `${running} running`, failed && `${failed} failed`].filter(Boolean);
    document.title = counts.length > 0 ? `(${counts.join(', ')}) ${BASE_TITLE}` : BASE_TITLE;
    return () => {
      document.title = BASE_TITLE;
    };
  }, [running, failed]);

  useEffect(() => {
    setFavicon(worst);
    return () => setFavicon(null);
  }, [worst]);

  // A job seen not finished and now finished has just ended: say so (once).
  const lastStatus = useRef(new Map<string, JobStatus>());
  useEffect(() => {
    for (const job of known) {
      const before = lastStatus.current.get(job.id);
      lastStatus.current.set(job.id, job.status);
      if (!before || isTerminal(before) || !isTerminal(job.status)) continue;
      if (!enabled || !supported || Notification.permission !== 'granted') continue;
      const notification = new Notification(`${job.title}: ${job.status}`, {
        body: `${job.owner} · ${duration(job, Date.now())}${job.errorMessage ? ` · ${job.errorMessage}` : ''}`,
        tag: `jobstream-${job.id}`,
      });
      notification.onclick = () => {
        window.focus();
        navigate(`/jobs/${job.id}`);
        notification.close();
      };
    }
  });

  const enable = useCallback(async () => {
    if (!supported) return;
    const answer = await Notification.requestPermission();
    setPermission(answer);
    if (answer === 'granted') {
      localStorage.setItem(OPT_IN_KEY, '1');
      setEnabled(true);
    }
  }, [supported]);
  const disable = useCallback(() => {
    localStorage.removeItem(OPT_IN_KEY);
    setEnabled(false);
  }, []);
  return { permission, enabled, enable, disable };
}
