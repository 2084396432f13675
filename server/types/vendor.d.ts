// mistral-tokenizer-js ships no types; this is the part of its API we use.
declare module "mistral-tokenizer-js" {
  const tokenizer: { encode(text: string, addBosToken?: boolean, addPrecedingSpace?: boolean): number[] };
  export default tokenizer;
}
