/** Thrown when codec bytes (parameter sets, decoder records, ADTS, Annex-B) cannot be parsed. */
export class CodecError extends Error {
  readonly code = 'SG_ERR_CODEC_PARSE';
  override readonly name = 'CodecError';
}
