/**
 * Client-side navigation: the address bar is the router's state (pushState + a popstate event),
 * and Link is an anchor that navigates without a reload (a modified click opens a tab as usual).
 */
import type { ReactNode } from 'react';

export function navigate(path: string): void {
  history.pushState(null, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function subscribeToLocation(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  return () => window.removeEventListener('popstate', onChange);
}

export const Link = ({
  to,
  children,
  className,
}: {
  to: string;
  children: ReactNode;
  className?: string;
}) => (
  <a
    href={to}
    className={className}
    onClick={(e) => {
      if (e.metaKey || e.ctrlKey) return;
      e.preventDefault();
      navigate(to);
    }}
  >
    {children}
  </a>
);
