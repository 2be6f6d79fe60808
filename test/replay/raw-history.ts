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
  activityTaskScheduledEventAttributes?: {
    activityType?: { name?: string };
    input?: { payloads?: Payload[] };
    /** Durations as the JSON history writes them (`"30s"`). */
    startToCloseTimeout?: string;
    heartbeatTimeout?: string;
  };
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

/** The patch ids an event's core_patch marker names (none for other events). */
export const patchesOf = (e: RawEvent): string[] =>
  Object.values(e.markerRecordedEventAttributes?.details ?? {}).map(
    (d) => (decode(d.payloads?.[0]) as { id?: string } | undefined)?.id ?? '',
  );
/** The patches a run recorded (core_patch markers). */
export const patches = (h: RawHistory): string[] => h.events.flatMap(patchesOf);

/** The activity type a completion or failure event belongs to. */
export const activityOf = (h: RawHistory, e: RawEvent): string | undefined => {
  const id = e.activityTaskCompletedEventAttributes?.scheduledEventId ?? e.activityTaskFailedEventAttributes?.scheduledEventId;
  return h.events.find((s) => s.eventId === id)?.activityTaskScheduledEventAttributes?.activityType?.name;
};
export const scheduled = (h: RawHistory) => h.events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name);

/** The phase history (phase and result of each entry) of the run's completion; empty when it did not complete. */
export const endedPhases = (h: RawHistory): { phase?: string; result?: string }[] =>
  (
    decode(h.events.at(-1)?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0]) as
      { history?: { phase?: string; result?: string }[] } | undefined
  )?.history ?? [];
/** The activity types of the run's local-activity markers. */
export const localActivities = (h: RawHistory): (string | undefined)[] =>
  h.events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
    .map(
      (e) =>
        (decode(e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]) as { activity_type?: string } | undefined)?.activity_type,
    );

/** Where the first `event` signal of a lifecycle event of this type is in the history (-1 when none). */
export const eventSignalIndex = (h: RawHistory, eventType: string): number =>
  h.events.findIndex(
    (e) => (decode(e.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0]) as { type?: string } | undefined)?.type === eventType,
  );

/** A patch's marker recorded after the first signal of one event type and before the first of another. */
export function askedBetween(h: RawHistory, id: string, afterType: string, beforeType: string): boolean {
  const at = h.events.findIndex((e) => patchesOf(e).includes(id));
  return at > eventSignalIndex(h, afterType) && eventSignalIndex(h, afterType) >= 0 && at < eventSignalIndex(h, beforeType);
}

/** The client id of each state call scheduled, in order. */
export const stateCallClients = (h: RawHistory): (string | undefined)[] =>
  h.events
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'setInstallationState')
    .map((e) => (decode(e.activityTaskScheduledEventAttributes?.input?.payloads?.[0]) as { clientId?: string } | undefined)?.clientId);

/** The reasons of the events the run ignored, from its result (the view it completed with). */
export const ignoredReasons = (h: RawHistory): string[] =>
  (
    (
      decode(h.events.at(-1)?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0]) as
        { ignoredEvents?: { reason: string }[] } | undefined
    )?.ignoredEvents ?? []
  ).map((i) => i.reason);
