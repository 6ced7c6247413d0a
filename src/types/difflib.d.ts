// Minimal typings for the `difflib` npm package (a CommonJS port of Python's difflib).
// Only the SequenceMatcher surface used by this project is declared.
declare module 'difflib' {
  /** Sequences may be strings or arrays (elements are compared with ===, and used as object keys). */
  type Sequence<T> = string | readonly T[];

  export class SequenceMatcher<T = string> {
    constructor(
      isjunk?: ((element: T) => boolean) | null,
      a?: Sequence<T>,
      b?: Sequence<T>,
      autojunk?: boolean,
    );
    setSeqs(a: Sequence<T>, b: Sequence<T>): void;
    setSeq1(a: Sequence<T>): void;
    setSeq2(b: Sequence<T>): void;
    ratio(): number;
    quickRatio(): number;
    realQuickRatio(): number;
  }

  const difflib: {
    SequenceMatcher: typeof SequenceMatcher;
  };
  export default difflib;
}
