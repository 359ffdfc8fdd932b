/** The opt-in for "tell me when a watched job ends" (use-job-alerts.ts). */
import type { JobAlerts } from '../react/use-job-alerts.js';

export function NotifyToggle({ alerts }: { alerts: JobAlerts }) {
  if (alerts.permission === 'unsupported') return null;
  if (alerts.permission === 'denied')
    return <span className="muted">Notifications are blocked for this site in the browser.</span>;
  return alerts.enabled && alerts.permission === 'granted' ? (
    <button type="button" onClick={alerts.disable}>
      Notifications on
    </button>
  ) : (
    <button type="button" onClick={() => void alerts.enable()}>
      Notify me when jobs end
    </button>
  );
}
