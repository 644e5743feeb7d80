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

/**
 * Disables a client (its sign-ins and, within CLIENT_STATUS_REFRESH_S, its tokens are refused
 * everywhere) or enables it again. Disabling keeps the time it was first disabled.
 */
export async function setClientDisabled(clientId: string, disabled: boolean): Promise<'changed' | 'unchanged' | 'not_found'> {
  const client = await ApiClient.findOne({ attributes: ['id', 'disabledAt'], where: { clientId } });
  if (!client) return 'not_found';
  if ((client.disabledAt !== null) === disabled) return 'unchanged';
  await client.update({ disabledAt: disabled ? new Date() : null });
  return 'changed';
}

/** Every client with what an operator needs to tell them apart (never the secret's hash), oldest first. */
export function listClients(): Promise<Array<Pick<ApiClient, 'clientId' | 'role' | 'customerId' | 'name' | 'createdAt' | 'disabledAt'>>> {
  return ApiClient.findAll({
    attributes: ['clientId', 'role', 'customerId', 'name', 'createdAt', 'disabledAt'],
    order: [['createdAt', 'ASC'], ['id', 'ASC']],
    raw: true,
  });
}
