/** Corpus checks of the eighth generation's patches (corpus-checks.ts requires each). */
import { decode, endedPhases, scheduled, type, type RawHistory } from './raw-history';
import { took } from './took';

const WITHIN_DEADLINE = 'operator-reject-within-operation-deadline';

/** The deadline (ISO) of the first phase timer started after the operator's `reject` was accepted, from its summary. */
function rejectDeadline(h: RawHistory): string | undefined {
  const accepted = h.events.findIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'reject');
  if (accepted < 0) return undefined;
  for (const e of h.events.slice(accepted)) {
    const summary = type(e) === 'TIMER_STARTED' ? decode(e.userMetadata?.summary) : undefined;
    if (typeof summary === 'string' && summary.startsWith('deadline ')) return summary.split(' ')[1];
  }
  return undefined;
}

export const STOPPED_OPERATION_CHECKS: Record<string, (h: RawHistory) => boolean> = {
  [`an operator's reject of an update stopped while applying: reverted, its rejection's deadline the update's own (${WITHIN_DEADLINE})`]: (
    h,
  ) => {
    const update = (endedPhases(h) as { phase?: string; result?: string; deadline?: string }[]).find(
      (p) => p.phase === 'updating' && p.result === 'interrupted',
    );
    const ended = endedPhases(h).map((p) => `${p.phase}:${p.result}`);
    return (
      took(h, WITHIN_DEADLINE) &&
      scheduled(h).includes('revertUpdate') &&
      ended.includes('active:rejected') &&
      update?.deadline !== undefined &&
      rejectDeadline(h) === update.deadline
    );
  },
};
