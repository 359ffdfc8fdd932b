/** The dashboard's entry: adopt a token from the address, then render the app. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { adoptTokenFromFragment } from '../core/token.js';
import { App } from './App.js';
import '../styles.css';

adoptTokenFromFragment();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
