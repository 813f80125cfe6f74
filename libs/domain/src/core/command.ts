/**
 * A request to change one stream, as a decider receives it: plain data, never a class.
 * `metadata.now` is the business time of the decision; adapters read the clock, deciders
 * never do. Ids (of the stream and of anything new, such as a run or a hint) travel in `data`.
 */
export type Command<Type extends string = string, Data extends object = object> = Readonly<{
  type: Type;
  data: Readonly<Data>;
  metadata: Readonly<{ now: Date }>;
}>;
