import { crc32 } from "node:zlib";
import { Midi } from "@tonejs/midi";
import { isMadeFile, MADE_FILES, madeFileKey } from "../core/keys";
import type { StoredMedia } from "../tasks/claims";
import { PermanentError } from "./errors";

/** The tempo and resolution seconds are converted at (the providers give seconds, no tempo). */
export const MIDI_BPM = 120;
export const MIDI_PPQ = 480;

interface MidiTracks {
  tracks: { name: string; notes: { pitch: number; start: number; end: number; velocity: number }[] }[];
}

/**
 * A Standard MIDI File (format 1) written by @tonejs/midi: a tempo track with the set-tempo meta
 * event (MIDI_BPM, PPQ MIDI_PPQ), then one track per instrument, each note on at its start and
 * off at its end (seconds → ticks, rounded), with its velocity. A velocity of 0 would be a
 * note-off, so it is written as 1; a note whose end is not after its start lasts one tick.
 */
export function renderMidi(content: string): Uint8Array {
  const { tracks } = JSON.parse(content) as MidiTracks;
  const midi = new Midi();
  midi.header.setTempo(MIDI_BPM);
  for (const instrument of tracks) {
    const track = midi.addTrack();
    track.name = instrument.name;
    for (const note of instrument.notes) {
      const ticks = midi.header.secondsToTicks(note.start);
      const end = midi.header.secondsToTicks(note.end);
      const velocity = Math.min(127, Math.max(1, Math.round(note.velocity)));
      track.addNote({
        midi: note.pitch,
        ticks,
        durationTicks: Math.max(1, end - ticks),
        velocity: velocity / 127,
      });
    }
  }
  return midi.toArray();
}

/**
 * Renders a file stemvault makes (lyrics.json, notes.json, notes.mid) from the JSON its asset
 * carries and writes it to R2 with its SHA-256 (and records its CRC-32), as a download would be stored. These files are
 * small (their data came in a callback, at most MAX_CALLBACK_BYTES), so they are rendered whole.
 */
export async function writeMadeFile(
  bucket: R2Bucket,
  taskId: string,
  asset: string,
  content: string,
): Promise<StoredMedia> {
  if (!isMadeFile(asset)) throw new PermanentError(`not a file stemvault makes: ${asset}`);
  const started = Date.now();
  const { contentType } = MADE_FILES[asset];
  let bytes: Uint8Array;
  try {
    bytes = asset === "midi" ? renderMidi(content) : new TextEncoder().encode(content);
  } catch (error) {
    throw new PermanentError(`cannot render ${MADE_FILES[asset].file}: ${String(error)}`);
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const sha256 = Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
  const key = madeFileKey(taskId, asset);
  const rendered = Date.now();
  await bucket.put(key, bytes, {
    httpMetadata: { contentType },
    customMetadata: { taskId, asset, sha256 },
    sha256,
  });
  return {
    key,
    bytes: bytes.byteLength,
    sha256,
    crc32: crc32(bytes),
    contentType,
    downloadMs: rendered - started,
    publishMs: Date.now() - rendered,
  };
}
