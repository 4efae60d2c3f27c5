import { z } from "zod";
import { TaskId } from "../core/ids";

/**
 * The rest of the callback family (PROVIDERS.md §2, §9): WAV conversion, cover images, lyrics,
 * MIDI and the kie.ai Market jobs callback. Loose objects, like the music family's: a field the
 * providers add later is carried along, never a reason to refuse the callback.
 */

const MaybeUrl = z.string().nullish();
const Text = z.string().nullish();
const taskIdKeys = { task_id: TaskId.optional(), taskId: TaskId.optional() };

/** `audioWavUrl` (current pages) or `audio_wav_url` (older ones); null on failure. */
export const WavData = z.looseObject({ ...taskIdKeys, audioWavUrl: MaybeUrl, audio_wav_url: MaybeUrl });

/** Usually two PNG URLs; `images: null` on failure. */
export const CoverData = z.looseObject({ ...taskIdKeys, images: z.array(z.string()).nullish() });

/** One lyrics text; sunoapi.org spells `errorMessage`, kie.ai `error_message`. */
export const LyricsItem = z.looseObject({
  text: Text,
  title: Text,
  status: Text,
  errorMessage: Text,
  error_message: Text,
});
export type LyricsItem = z.infer<typeof LyricsItem>;

/** The texts under `data.data`, or `data.lyricsData` (old apibox pages); null on failure. */
export const LyricsData = z.looseObject({
  ...taskIdKeys,
  callbackType: Text,
  data: z.array(LyricsItem).nullish(),
  lyricsData: z.array(LyricsItem).nullish(),
});

/** Seconds, as a number or a numeric string (both occur). */
const Seconds = z.union([
  z.number(),
  z
    .string()
    .trim()
    .regex(/^\d+(?:\.\d+)?$/, "must be a number of seconds")
    .transform(Number),
]);

export const MidiNote = z.looseObject({
  pitch: z.number().int().min(0).max(127),
  start: Seconds.pipe(z.number().min(0).finite()),
  end: Seconds.pipe(z.number().min(0).finite()),
  velocity: z.number().min(0).max(127),
});
export type MidiNote = z.infer<typeof MidiNote>;

export const MidiInstrument = z.looseObject({ name: Text, notes: z.array(MidiNote) });
export type MidiInstrument = z.infer<typeof MidiInstrument>;

export const MidiData = z.looseObject({
  ...taskIdKeys,
  state: Text,
  instruments: z.array(MidiInstrument).nullish(),
});

/** kie.ai Market jobs: `resultJson` is a JSON string, parsed a second time (see market.ts). */
export const MarketData = z.looseObject({
  ...taskIdKeys,
  callbackType: Text,
  state: z.string(),
  resultJson: z.string().nullish(),
  failCode: z.union([z.string(), z.number()]).nullish(),
  failMsg: Text,
  model: Text,
});
export type MarketData = z.infer<typeof MarketData>;
