import { z } from "zod";
import type { Kind } from "../core/ids";
import { lyricsAssets, lyricsEntries, midiAssets, midiSummary, midiTracks, wavAssets } from "./family-rules";
import { LyricsItem, MarketData, MidiInstrument } from "./family-schemas";
import { marketResult } from "./market";
import type { AssetSpec, TaskResults, TrackInfo } from "./model";

/**
 * record-info of the rest of the family (PROVIDERS.md §3.4): WAV, lyrics, MIDI, and the kie.ai
 * Market `jobs/recordInfo` (polled for a task still `unknown`, the likeliest Market job). Cover
 * images have no documented record-info. Each answer is read into the fields the common mapping
 * in record-info.ts needs.
 */
export interface Details {
  /** The provider's status word; MIDI's numeric flag and Market's `state` are put into words. */
  status: string;
  assets: AssetSpec[];
  tracks: TrackInfo[];
  results?: TaskResults;
  /** A Market job's result names the kind it produced. */
  kind?: Kind;
  errorCode: number | string | null | undefined;
  errorMessage: string | null | undefined;
}

const MaybeString = z.string().nullish();
const ErrorFields = { errorCode: z.union([z.number(), z.string()]).nullish(), errorMessage: MaybeString };

const WavDetails = z.looseObject({
  successFlag: z.string(),
  response: z.looseObject({ audioWavUrl: MaybeString }).nullish(),
  ...ErrorFields,
});
const LyricsDetails = z.looseObject({
  status: z.string(),
  response: z
    .looseObject({ data: z.array(LyricsItem).nullish(), lyricsData: z.array(LyricsItem).nullish() })
    .nullish(),
  ...ErrorFields,
});
/** 0 pending, 1 success, 2 create failed, 3 generation failed. */
const MIDI_FLAGS = ["PENDING", "SUCCESS", "CREATE_TASK_FAILED", "GENERATE_MIDI_FAILED"];
const MidiDetails = z.looseObject({
  successFlag: z.union([z.number().int(), z.string()]),
  midiData: z.looseObject({ instruments: z.array(MidiInstrument).nullish() }).nullish(),
  ...ErrorFields,
});

export function familyDetails(kind: Kind | "market", taskId: string, data: unknown): Details | null {
  const none = { assets: [], tracks: [] };
  switch (kind) {
    case "wav": {
      const parsed = WavDetails.safeParse(data);
      if (!parsed.success) return null;
      const { successFlag: status, errorCode, errorMessage, response } = parsed.data;
      return { ...none, status, errorCode, errorMessage, assets: wavAssets(response?.audioWavUrl) };
    }
    case "lyrics": {
      const parsed = LyricsDetails.safeParse(data);
      if (!parsed.success) return null;
      const { status, errorCode, errorMessage, response } = parsed.data;
      const lyrics = lyricsEntries(response?.data ?? response?.lyricsData ?? []);
      return {
        ...none,
        status,
        errorCode,
        errorMessage,
        assets: lyricsAssets(taskId, lyrics),
        results: { lyrics },
      };
    }
    case "midi": {
      const parsed = MidiDetails.safeParse(data);
      if (!parsed.success) return null;
      const { successFlag, errorCode, errorMessage, midiData } = parsed.data;
      const status =
        typeof successFlag === "number" ? (MIDI_FLAGS[successFlag] ?? String(successFlag)) : successFlag;
      const instruments = midiData?.instruments;
      if (!instruments) return { ...none, status, errorCode, errorMessage };
      const tracks = midiTracks(instruments);
      return {
        ...none,
        status,
        errorCode,
        errorMessage,
        assets: midiAssets(tracks, midiData),
        results: { midi: midiSummary(tracks) },
      };
    }
    case "market": {
      const parsed = MarketData.safeParse(data);
      if (!parsed.success) return null;
      const { state, failCode, failMsg } = parsed.data;
      const status = /^fail/i.test(state) ? "GENERATE_FAILED" : state.toUpperCase();
      const produced = status === "SUCCESS" ? marketResult(parsed.data) : null;
      return {
        status,
        errorCode: failCode,
        errorMessage: failMsg,
        assets: produced?.assets ?? [],
        tracks: produced?.tracks ?? [],
        kind: produced?.kind,
      };
    }
    default:
      return null;
  }
}
