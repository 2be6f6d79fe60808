import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes operators filter on in the Temporal UI (all Keyword). */
export const TalkdeskAccountId = defineSearchAttributeKey('TalkdeskAccountId', SearchAttributeType.KEYWORD);
export const TalkdeskAccountName = defineSearchAttributeKey('TalkdeskAccountName', SearchAttributeType.KEYWORD);
export const TalkdeskAppId = defineSearchAttributeKey('TalkdeskAppId', SearchAttributeType.KEYWORD);
/** The installation's phase (the attribute keeps the name `InstallationPhase`). */
export const InstallationPhaseKey = defineSearchAttributeKey('InstallationPhase', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [TalkdeskAccountId, TalkdeskAccountName, TalkdeskAppId, InstallationPhaseKey];
