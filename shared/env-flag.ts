/**
 * An on/off setting from the environment, read the same way everywhere (DEV_AUTH, REDIS_TLS):
 * unset, empty, `0` and `false` (any case) are off; anything else is on.
 */
export function envFlag(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}
