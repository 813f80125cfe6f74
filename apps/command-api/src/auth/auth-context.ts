/** Who is calling, as the auth guard established it from `x-api-key`. */
export interface AuthContext {
  /** The caller's tenant; null for the admin key. */
  tenantId: string | null;
  /** The API key's id; null for the admin key. */
  keyId: string | null;
  isAdmin: boolean;
  /** Goes into event metadata: `apikey:<keyId>` or `admin`. */
  actor: string;
}

/** The context on routes marked `@TenantAuth()`: a tenant key, never the admin key. */
export interface TenantAuthContext extends AuthContext {
  tenantId: string;
  keyId: string;
  isAdmin: false;
}

export const ADMIN_CONTEXT: AuthContext = Object.freeze({
  tenantId: null,
  keyId: null,
  isAdmin: true,
  actor: 'admin',
});

export function tenantContext(tenantId: string, keyId: string): TenantAuthContext {
  return { tenantId, keyId, isAdmin: false, actor: `apikey:${keyId}` };
}

/** The request property the guard stores the context under. */
export const AUTH_REQUEST_PROPERTY = 'auth';
