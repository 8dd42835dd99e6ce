/** A registry's name in the config (and so in plans and state): an identifier, never `__proto__`. */
export const REGISTRY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
