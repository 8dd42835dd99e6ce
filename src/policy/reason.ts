/**
 * Why a tag goes, held as its parts where most of its words are shared: a candidate
 * beyond the count is `<rule's words>; #<rank><the group's words>`, e.g. `matches include
 * key "dev"; #12345 newest of 66666 candidates by image creation time, beyond
 * mix-count 10`. The head and tail are one string per rule and group, the rank a number;
 * the text is made where it is read (String(), a template) or written (toJSON, which the
 * plan's writers follow). As one string each, these were ~128 bytes a deleted tag, kept
 * until the plan was written (~98 MiB at 1,000,000 tags); held so, ~24.
 */
export class RankedReason {
  constructor(
    readonly head: string,
    readonly rank: number,
    readonly tail: string,
  ) {}

  toString(): string {
    return `${this.head}${this.rank}${this.tail}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** A tag's reason: words, or a RankedReason (its text is String(reason)). */
export type Reason = string | RankedReason;
