import { QueryTypes, type Sequelize } from 'sequelize';
import { generateSecret, hashSecret } from './secrets';
import type { ClientRole } from './tokens';

export interface ApiClientRow {
  client_id: string;
  secret_hash: string;
  role: ClientRole;
  customer_id: string | null;
  disabled_at: Date | null;
}

export async function findClient(sequelize: Sequelize, clientId: string): Promise<ApiClientRow | null> {
  const rows = await sequelize.query<ApiClientRow>(
    'SELECT client_id, secret_hash, role, customer_id, disabled_at FROM "Api_Clients" WHERE client_id = $1',
    { bind: [clientId], type: QueryTypes.SELECT },
  );
  return rows[0] ?? null;
}

/** Creates a client and returns its secret: the only time the secret exists outside a hash. */
export async function createClient(
  sequelize: Sequelize,
  input: { clientId: string; role: ClientRole; customerId?: string | null; name?: string; secret?: string },
): Promise<{ clientId: string; secret: string }> {
  const secret = input.secret ?? generateSecret();
  await sequelize.query(
    `INSERT INTO "Api_Clients" (client_id, secret_hash, role, customer_id, name) VALUES ($1, $2, $3, $4, $5)`,
    { bind: [input.clientId, await hashSecret(secret), input.role, input.role === 'customer' ? input.customerId : null, input.name ?? null] },
  );
  return { clientId: input.clientId, secret };
}
