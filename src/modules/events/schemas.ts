import Joi from 'joi';
import { ALL_EVENTS, EVENT_TYPES } from './catalog';
import { DELIVERY_STATUSES, type DeliveryStatus } from './models';

export interface CreateEndpointInput {
  url: string;
  events: string[];
  description?: string;
}

export interface UpdateEndpointInput {
  url?: string;
  events?: string[];
  enabled?: boolean;
  description?: string | null;
}

export interface ListDeliveriesQuery {
  status?: DeliveryStatus;
  cursor?: string;
  limit: number;
}

const url = Joi.string().max(2048).uri({ scheme: ['http', 'https'] }).messages({
  'string.uriCustomScheme': 'url must be an absolute http or https URL',
  'string.uri': 'url must be an absolute http or https URL',
});
const events = Joi.array()
  .items(Joi.string().valid(ALL_EVENTS, ...EVENT_TYPES).messages({ 'any.only': `each event must be "${ALL_EVENTS}" or one of ${EVENT_TYPES.join(', ')}` }))
  .min(1)
  .max(EVENT_TYPES.length + 1)
  .unique();
const description = Joi.string().max(500);

export const createEndpointSchema = Joi.object<CreateEndpointInput>({
  url: url.required(),
  events: events.required(),
  description,
});

export const updateEndpointSchema = Joi.object<UpdateEndpointInput>({
  url,
  events,
  enabled: Joi.boolean(),
  description: description.allow(null),
}).min(1).messages({ 'object.min': 'give at least one of url, events, enabled, description' });

export const endpointIdSchema = Joi.string().guid({ version: ['uuidv4'] }).messages({ 'string.guid': '{#label} must be a UUID' });

export const listDeliveriesSchema = Joi.object<ListDeliveriesQuery>({
  status: Joi.string().valid(...DELIVERY_STATUSES),
  cursor: Joi.string().max(200),
  limit: Joi.number().integer().min(1).max(100).default(20),
});

export const emptyBodySchema = Joi.object({});
