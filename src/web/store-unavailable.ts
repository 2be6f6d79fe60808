import { MongoError } from 'mongodb';
import { NotDurableYetError } from '../store/db';

/** Why a store step failed, as a 503's reader can act on it: only a MongoError is MongoDB not answering. */
function storeFailureCause(err: unknown): string {
  if (err instanceof MongoError) return 'MongoDB did not answer';
  if (err instanceof NotDurableYetError) return "an earlier delivery's record is not on a majority of MongoDB yet";
  return 'an internal error, logged by the service';
}

/** The message of a 503 `store_unavailable`: what happened, why, and that a redelivery is safe. */
export const storeUnavailableMessage = (happened: string, err: unknown): string =>
  `${happened} (${storeFailureCause(err)}); deliver it again later: a repeat is recognised, never applied twice.`;
