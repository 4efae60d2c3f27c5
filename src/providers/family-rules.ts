import type { LyricsItem, MidiInstrument } from "./family-schemas";
import type { AssetSpec, LyricsEntry, MidiSummary } from "./model";

const present = (url: string | null | undefined): url is string =>
  typeof url === "string" && url.trim() !== "";

/** WAV conversion: one file, role `audio`, name `audio` (key `wav/<taskId>/audio.wav`). */
export function wavAssets(url: string | null | undefined): AssetSpec[] {
  return present(url) ? [{ name: "audio", role: "audio", url: url.trim(), fallbackUrl: null }] : [];
}

/**
 * Cover images: `image-<n>`, n from 1 in payload order (an empty entry keeps its number, so a
 * later callback naming the same list gives each image the same name).
 */
export function coverAssets(images: readonly string[] | null | undefined): AssetSpec[] {
  return (images ?? []).flatMap((url, index) =>
    present(url)
      ? [{ name: `image-${index + 1}`, role: "image" as const, url: url.trim(), fallbackUrl: null }]
      : [],
  );
}

export const lyricsEntries = (items: readonly LyricsItem[]): LyricsEntry[] =>
  items.map((item) => ({
    title: item.title ?? null,
    text: item.text ?? null,
    status: item.status ?? null,
    error: item.errorMessage || item.error_message || null,
  }));

/**
 * `lyrics/<taskId>/lyrics.json`, made by stemvault: every text with its title and status. The
 * asset carries the JSON; the media consumer writes it (see src/media/made-files.ts).
 */
export function lyricsAssets(taskId: string, lyrics: LyricsEntry[]): AssetSpec[] {
  if (lyrics.length === 0) return [];
  const content = `${JSON.stringify({ taskId, lyrics }, null, 2)}\n`;
  return [{ name: "lyrics", role: "lyrics", url: "made:lyrics.json", fallbackUrl: null, content }];
}

/** The notes of one instrument, as the MIDI writer takes them: seconds as numbers. */
export interface MidiTrack {
  name: string;
  notes: { pitch: number; start: number; end: number; velocity: number }[];
}

export const midiTracks = (instruments: readonly MidiInstrument[]): MidiTrack[] =>
  instruments.map((instrument, index) => ({
    name: instrument.name ?? `instrument ${index + 1}`,
    notes: instrument.notes.map(({ pitch, start, end, velocity }) => ({ pitch, start, end, velocity })),
  }));

export function midiSummary(tracks: readonly MidiTrack[]): MidiSummary {
  const notes = tracks.flatMap((track) => track.notes);
  return {
    instruments: tracks.length,
    notes: notes.length,
    durationSeconds: notes.reduce((longest, note) => Math.max(longest, note.end), 0),
  };
}

/**
 * MIDI, made by stemvault: `notes.mid` (a Standard MIDI File rendered from the tracks) and
 * `notes.json` (the provider's `data` as received).
 */
export function midiAssets(tracks: MidiTrack[], received: unknown): AssetSpec[] {
  return [
    {
      name: "midi",
      role: "midi",
      url: "made:notes.mid",
      fallbackUrl: null,
      content: JSON.stringify({ tracks }),
    },
    {
      name: "notes",
      role: "notes",
      url: "made:notes.json",
      fallbackUrl: null,
      content: `${JSON.stringify(received, null, 2)}\n`,
    },
  ];
}
