/**
 * npm run token -- --sub <user> [--role admin] [--ttl 1h]
 * Prints a JWT (HS256) signed with JWT_SECRET, for the gateway and the load tester.
 */
import { readCommandLine } from './lib/cli.js';
import { signToken, parseTtl } from '../shared/auth/tokens.js';

const USAGE = 'usage: JWT_SECRET=… npm run token -- --sub <user> [--role user|admin] [--ttl 1h]';

const HELP = {
  usage: USAGE,
  description: `
Prints a JWT (HS256) signed with JWT_SECRET, for the gateway, the dashboard and the load tester.

  --sub <user>          who the token names (required)
  --role user|admin     admins see every job and the wall (default: user)
  --ttl 1h              how long it is valid: 90s, 15m, 1h, 7d (default: 1h)
  -h, --help            this text`,
};
const { values } = readCommandLine(HELP, {
  options: {
    sub: { type: 'string' },
    role: { type: 'string', default: 'user' },
    ttl: { type: 'string', default: '1h' },
  },
});
const secret = process.env.JWT_SECRET;
if (!secret || !values.sub || (values.role !== 'user' && values.role !== 'admin')) {
  console.error(USAGE);
  process.exit(2);
}
try {
  console.log(signToken(secret, { sub: values.sub, role: values.role }, parseTtl(values.ttl)));
} catch (error) {
  console.error(`token: ${(error as Error).message}`);
  process.exit(2);
}
