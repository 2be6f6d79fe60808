/** The JSON of a recorded history (test/histories/), as the corpus checks read it: event types as names, payloads base64 JSON. */
export interface Payload {
  data?: string;
}
export interface RawEvent {
  eventId: string;
  eventType: string;
  userMetadata?: { summary?: Payload };
  workflowExecutionStartedEventAttributes?: { continuedExecutionRunId?: string; input?: { payloads?: Payload[] } };
  markerRecordedEventAttributes?: { markerName?: string; details?: Record<string, { payloads?: Payload[] }>; failure?: unknown };
  workflowExecutionSignaledEventAttributes?: { signalName?: string; input?: { payloads?: Payload[] } };
  workflowExecutionUpdateAcceptedEventAttributes?: { acceptedRequest?: { input?: { name?: string } } };
  timerFiredEventAttributes?: { startedEventId?: string };
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string }; input?: { payloads?: Payload[] } };
  activityTaskCompletedEventAttributes?: { scheduledEventId?: string; result?: { payloads?: Payload[] } };
  activityTaskFailedEventAttributes?: { scheduledEventId?: string };
  workflowExecutionCompletedEventAttributes?: { result?: { payloads?: Payload[] } };
}
export interface RawHistory {
  events: RawEvent[];
}

export const decode = (p: Payload | undefined): unknown =>
  p?.data ? JSON.parse(Buffer.from(p.data, 'base64').toString('utf8')) : undefined;
export const type = (e: RawEvent) => e.eventType.replace(/^EVENT_TYPE_/, '');

export function signals(h: RawHistory, name: string): unknown[] {
  return h.events
    .filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === name)
    .map((e) => decode(e.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0]));
}
