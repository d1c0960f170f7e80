// A broken invariant found by a checker. Checkers throw it from inside the
// event that broke the invariant, so the run stops at the first violation
// and the buffered logs end right where things went wrong.

export type ViolationKind =
  | 'electionSafety'
  | 'logMatching'
  | 'leaderCompleteness'
  | 'stateMachineSafety'
  | 'committedLost'
  | 'linearizability'
  | 'liveness'
  | 'session'
  /** The core broke the host contract in ready.ts (or threw). */
  | 'host';

export interface Violation {
  kind: ViolationKind;
  message: string;
  /** Virtual time at which it was found. */
  at: number;
}

export class SimViolation extends Error {
  constructor(readonly violation: Violation) {
    super(`${violation.kind} at ${violation.at}ms: ${violation.message}`);
    this.name = 'SimViolation';
  }
}

export function violation(kind: ViolationKind, at: number, message: string): SimViolation {
  return new SimViolation({ kind, at, message });
}
