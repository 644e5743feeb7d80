import { ApiClient } from './models';
import { generateSecret, hashSecret } from './secrets';
import type { ClientRole } from './tokens';

/** The client that signs in with `clientId`, with what sign-in checks (its secret's hash, role, customer, disabled). */
export function findClient(clientId: string): Promise<ApiClient | null> {
  return ApiClient.findOne({
    attributes: ['clientId', 'secretHash', 'role', 'customerId', 'disabledAt'],
    where: { clientId },
  });
}

/** Creates a client and returns its secret: the only time the secret exists outside a hash. */
export async function createClient(
  input: { clientId: string; role: ClientRole; customerId?: string | null; name?: string; secret?: string },
): Promise<{ clientId: string; secret: string }> {
  const secret = input.secret ?? generateSecret();
  await ApiClient.create({
    clientId: input.clientId,
    secretHash: await hashSecret(secret),
    role: input.role,
    customerId: input.role === 'customer' ? (input.customerId ?? null) : null,
    name: input.name ?? null,
  });
  return { clientId: input.clientId, secret };
}
