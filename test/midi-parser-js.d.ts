// midi-parser-js ships no types; the MIDI round-trip test reads the parts it uses.
declare module "midi-parser-js" {
  const MidiParser: { parse(input: Uint8Array): unknown };
  export default MidiParser;
}
