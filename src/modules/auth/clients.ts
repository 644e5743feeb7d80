import type { Sequelize } from 'sequelize';
import { ApiClient } from './models';
import { generateSecret, hashSecret } from './secrets';
import type { ClientRole } from './tokens';

export interface ApiClientRow {
  client_id: string;
  secret_hash: string;
  role: ClientRole;
  customer_id: string | null;
  disabled_at: Date | null;
}

/** Models are bound to one Sequelize instance: refuse to act silently on another than the caller's. */
function assertRegistered(sequelize: Sequelize): void {
  if (ApiClient.sequelize !== sequelize) {
    throw new Error('ApiClient is not registered on this Sequelize instance: call registerModels(sequelize) first');
  }
}

export async function findClient(sequelize: Sequelize, clientId: string): Promise<ApiClientRow | null> {
  assertRegistered(sequelize);
  const client = await ApiClient.findOne({
    attributes: ['clientId', 'secretHash', 'role', 'customerId', 'disabledAt'],
    where: { clientId },
  });
  return client
    ? { client_id: client.clientId, secret_hash: client.secretHash, role: client.role, customer_id: client.customerId, disabled_at: client.disabledAt }
    : null;
}

/** Creates a client and returns its secret: the only time the secret exists outside a hash. */
export async function createClient(
  sequelize: Sequelize,
  input: { clientId: string; role: ClientRole; customerId?: string | null; name?: string; secret?: string },
): Promise<{ clientId: string; secret: string }> {
  assertRegistered(sequelize);
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
