/** Talkdesk's installation states as the workflow and the activities both read them (no Node imports: workflow code). */

/**
 * What Talkdesk shows while an update or an uninstall waits for its state call. The API's documented states name
 * none of them but `pending` (what the simulator shows); the launch guide's prose says the app "is set to the
 * updating status" and "to the uninstalled status". Those names are taken as open too, each for its own operation
 * only: were the prose the API's words, an uninstall (which reads first) would never be acknowledged otherwise.
 */
export const UPDATE_OPEN_STATES = ['pending', 'updating'] as const;
export const UNINSTALL_OPEN_STATES = ['pending', 'uninstalled'] as const;

/** Talkdesk shows an update or an uninstall open (an operation opened since, for a phase before it). */
export const showsOperationOpen = (state: string | undefined): state is string =>
  state !== undefined && [...UPDATE_OPEN_STATES, ...UNINSTALL_OPEN_STATES].some((open) => open === state);
