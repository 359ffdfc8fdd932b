/** Sign-in: paste a token, or (local demo) pick a dev user. */
import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { devAuthQuery, devToken } from '../api/queries.js';
import { getToken, setToken } from '../core/token.js';
import { claims } from '../../../packages/client/src/index.js';

export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  const [pasted, setPasted] = useState('');
  const dev = useQuery(devAuthQuery());
  const expired = claims(getToken());
  return (
    <main className="signin">
      <h1>Sign in to jobstream</h1>
      {expired && expired.exp * 1000 < Date.now() && (
        <p className="notice">Your token expired. Sign in again; your place is kept.</p>
      )}
      <label>
        Paste a token <textarea value={pasted} onChange={(e) => setPasted(e.target.value.trim())} rows={4} />
      </label>
      <button
        disabled={!claims(pasted)}
        onClick={() => {
          setToken(pasted);
          onSignedIn();
        }}
      >
        Sign in
      </button>
      {dev.data && (
        <div className="dev">
          <h2>Dev sign-in</h2>
          {dev.data.users.map((u) => (
            <button
              key={u.sub}
              onClick={() => void devToken(u.sub, u.role).then((t) => (setToken(t), onSignedIn()))}
            >
              {u.sub} ({u.role})
            </button>
          ))}
        </div>
      )}
    </main>
  );
}
